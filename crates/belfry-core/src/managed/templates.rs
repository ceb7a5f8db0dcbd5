//! The admin templates for the managed keys, made from [`KEYS`] so they
//! cover every key and cannot drift from what the app reads: a Group
//! Policy template for Windows (ADMX with its English ADML) and an example
//! configuration profile for macOS (`.mobileconfig`). The files are
//! committed under `src-tauri/packaging/`; a test here fails when they
//! differ from what this module makes (`BELFRY_BLESS_TEMPLATES=1` rewrites
//! them).
//!
//! Written out by hand rather than with an XML library: the output is a
//! fixed, small shape and must be byte-stable for that comparison.

use super::native::{KEYS, Key, Kind};

/// The policy registry key; the defaults live in its `Recommended` subkey.
const POLICY_KEY: &str = r"Software\Policies\Belfry";

/// The levels as Group Policy shows them: a policy per key and level.
const LEVELS: [(&str, &str, &str); 2] = [
    ("", "Belfry", ""),
    ("_Recommended", "Belfry_Recommended", r"\Recommended"),
];

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn admx_policy(k: &Key, suffix: &str, category: &str, subkey: &str) -> String {
    let name = format!("{}{suffix}", k.native);
    let key = format!("{POLICY_KEY}{subkey}");
    let head = format!(
        "    <policy name=\"{name}\" class=\"Machine\" displayName=\"$(string.{name})\" explainText=\"$(string.{name}_Explain)\"",
    );
    let common = format!(
        "      <parentCategory ref=\"{category}\" />\n      <supportedOn ref=\"SUPPORTED_Belfry_0_1\" />\n"
    );
    match k.kind {
        Kind::Bool => format!(
            "{head} key=\"{key}\" valueName=\"{v}\">\n{common}      <enabledValue><decimal value=\"1\" /></enabledValue>\n      <disabledValue><decimal value=\"0\" /></disabledValue>\n    </policy>\n",
            v = k.native
        ),
        Kind::Text | Kind::Path => format!(
            "{head} presentation=\"$(presentation.{name})\" key=\"{key}\">\n{common}      <elements>\n        <text id=\"{v}\" valueName=\"{v}\" required=\"true\" />\n      </elements>\n    </policy>\n",
            v = k.native
        ),
    }
}

/// The Group Policy template (`belfry.admx`).
pub fn admx() -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <!-- Made by belfry_core::managed::templates from the managed keys; do not edit. -->\n\
         <policyDefinitions xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\" schemaVersion=\"1.0\" xmlns=\"http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions\">\n\
         \x20 <policyNamespaces>\n\
         \x20   <target prefix=\"belfry\" namespace=\"Belfry.Policies.Belfry\" />\n\
         \x20 </policyNamespaces>\n\
         \x20 <resources minRequiredRevision=\"1.0\" />\n\
         \x20 <supportedOn>\n\
         \x20   <definitions>\n\
         \x20     <definition name=\"SUPPORTED_Belfry_0_1\" displayName=\"$(string.SUPPORTED_Belfry_0_1)\" />\n\
         \x20   </definitions>\n\
         \x20 </supportedOn>\n\
         \x20 <categories>\n\
         \x20   <category name=\"Belfry\" displayName=\"$(string.Belfry)\" />\n\
         \x20   <category name=\"Belfry_Recommended\" displayName=\"$(string.Belfry_Recommended)\" />\n\
         \x20 </categories>\n\
         \x20 <policies>\n",
    );
    for (suffix, category, subkey) in LEVELS {
        for k in KEYS {
            out.push_str(&admx_policy(k, suffix, category, subkey));
        }
    }
    out.push_str("  </policies>\n</policyDefinitions>\n");
    out
}

/// The English strings of the template (`en-US/belfry.adml`).
pub fn adml() -> String {
    let mut strings = String::new();
    let mut presentations = String::new();
    let mut string = |id: &str, text: &str| {
        strings.push_str(&format!(
            "      <string id=\"{id}\">{}</string>\n",
            xml_escape(text)
        ));
    };
    string("Belfry", "Belfry (enforced)");
    string(
        "Belfry_Recommended",
        "Belfry (recommended: operators may change these)",
    );
    string("SUPPORTED_Belfry_0_1", "Belfry 0.1 and later");
    for (suffix, _, _) in LEVELS {
        let level = if suffix.is_empty() {
            "Enforced: operators cannot change it, and the app shows it locked."
        } else {
            "Recommended: used until the operator chooses otherwise."
        };
        for k in KEYS {
            let name = format!("{}{suffix}", k.native);
            string(&name, k.title);
            string(
                &format!("{name}_Explain"),
                &format!("{}\n\n{level}", k.explain),
            );
            if k.kind != Kind::Bool {
                presentations.push_str(&format!(
                    "      <presentation id=\"{name}\">\n        <textBox refId=\"{}\">\n          <label>{}</label>\n        </textBox>\n      </presentation>\n",
                    k.native,
                    xml_escape(k.title)
                ));
            }
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <!-- Made by belfry_core::managed::templates from the managed keys; do not edit. -->\n\
         <policyDefinitionResources xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\" schemaVersion=\"1.0\" xmlns=\"http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions\">\n\
         \x20 <displayName>Belfry</displayName>\n\
         \x20 <description>Managed settings for the Belfry helpdesk notifications app</description>\n\
         \x20 <resources>\n\
         \x20   <stringTable>\n{strings}    </stringTable>\n\
         \x20   <presentationTable>\n{presentations}    </presentationTable>\n\
         \x20 </resources>\n\
         </policyDefinitionResources>\n"
    )
}

/// An example value for a key in the profile.
fn example(k: &Key) -> &'static str {
    match k.toml {
        "instance" => "<string>https://help.example.com</string>",
        "extra_ca" => "<string>/Library/Application Support/Belfry/corp-ca.pem</string>",
        "language" => "<string>en</string>",
        "update_feed" => "<string>https://updates.example.com/belfry/latest.json</string>",
        "update_pubkey" => {
            "<string>dW50cnVzdGVkIGNvbW1lbnQ6IG1pbmlzaWduIHB1YmxpYyBrZXk6IC4uLgo=</string>"
        }
        "updates" | "autostart" => "<true/>",
        _ => "<string></string>",
    }
}

/// An example configuration profile for macOS (`belfry.mobileconfig`):
/// every key, enforced, with a value to replace; move a key under
/// `Defaults` to let operators change it.
pub fn mobileconfig() -> String {
    let mut enforced = String::new();
    for k in KEYS {
        enforced.push_str(&format!(
            "\t\t\t\t<!-- {} -->\n\t\t\t\t<key>{}</key>\n\t\t\t\t{}\n",
            xml_escape(k.title),
            k.native,
            example(k)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <!-- Made by belfry_core::managed::templates from the managed keys. Replace the\n\
         \x20    example values and the two PayloadUUIDs (uuidgen) before deploying. -->\n\
         <plist version=\"1.0\">\n\
         <dict>\n\
         \t<key>PayloadContent</key>\n\
         \t<array>\n\
         \t\t<dict>\n\
         \t\t\t<key>PayloadType</key>\n\t\t\t<string>app.belfry.desktop</string>\n\
         \t\t\t<key>PayloadIdentifier</key>\n\t\t\t<string>com.example.belfry.settings</string>\n\
         \t\t\t<key>PayloadUUID</key>\n\t\t\t<string>5C1D7F3A-9E2B-4B8E-8F0A-6B2D1C3E4F50</string>\n\
         \t\t\t<key>PayloadVersion</key>\n\t\t\t<integer>1</integer>\n\
         \t\t\t<key>PayloadDisplayName</key>\n\t\t\t<string>Belfry settings</string>\n\
         \t\t\t<key>Enforced</key>\n\
         \t\t\t<dict>\n{enforced}\t\t\t</dict>\n\
         \t\t\t<key>Defaults</key>\n\
         \t\t\t<dict>\n\t\t\t</dict>\n\
         \t\t</dict>\n\
         \t</array>\n\
         \t<key>PayloadDisplayName</key>\n\t<string>Belfry</string>\n\
         \t<key>PayloadIdentifier</key>\n\t<string>com.example.belfry</string>\n\
         \t<key>PayloadOrganization</key>\n\t<string>Example Org</string>\n\
         \t<key>PayloadScope</key>\n\t<string>System</string>\n\
         \t<key>PayloadType</key>\n\t<string>Configuration</string>\n\
         \t<key>PayloadUUID</key>\n\t<string>9A4E2C1B-7D3F-4E6A-B5C8-0F1E2D3C4B5A</string>\n\
         \t<key>PayloadVersion</key>\n\t<integer>1</integer>\n\
         </dict>\n\
         </plist>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed::native::read_plist;
    use std::path::{Path, PathBuf};

    const BLESS: &str = "BELFRY_BLESS_TEMPLATES";

    fn packaging() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src-tauri/packaging")
    }

    #[test]
    fn the_committed_templates_are_the_ones_the_keys_make() {
        let files = [
            ("windows/belfry.admx", admx()),
            ("windows/en-US/belfry.adml", adml()),
            ("macos/belfry.mobileconfig", mobileconfig()),
        ];
        for (rel, made) in files {
            let path = packaging().join(rel);
            if std::env::var_os(BLESS).is_some() {
                std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
                std::fs::write(&path, &made).expect("write");
                continue;
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == made,
                "{rel} is stale: run `BELFRY_BLESS_TEMPLATES=1 cargo test -p belfry-core templates`"
            );
        }
    }

    #[test]
    fn every_key_has_a_policy_per_level_with_its_strings() {
        let (x, l) = (admx(), adml());
        for k in KEYS {
            for suffix in ["", "_Recommended"] {
                let name = format!("{}{suffix}", k.native);
                assert!(x.contains(&format!("<policy name=\"{name}\"")), "{name}");
                assert!(l.contains(&format!("<string id=\"{name}\">")), "{name}");
                assert!(
                    l.contains(&format!("<string id=\"{name}_Explain\">")),
                    "{name}"
                );
                if k.kind != Kind::Bool {
                    assert!(
                        l.contains(&format!("<presentation id=\"{name}\">")),
                        "{name}"
                    );
                }
            }
        }
        // Every string and presentation the ADMX refers to is defined.
        for part in x.split("$(").skip(1) {
            let Some((kind, rest)) = part.split_once('.') else {
                continue;
            };
            let id = rest.split(')').next().unwrap_or_default();
            let tag = if kind == "string" {
                "string"
            } else {
                "presentation"
            };
            assert!(l.contains(&format!("<{tag} id=\"{id}\"")), "{kind}.{id}");
        }
    }

    #[test]
    fn the_profile_payload_is_what_the_app_reads_on_macos() {
        // The payload dictionary is what macOS writes to the managed
        // preferences file: cut it out and read it as the app does.
        let profile = plist::Value::from_reader_xml(mobileconfig().as_bytes()).expect("a plist");
        let payload = profile
            .as_dictionary()
            .and_then(|d| d.get("PayloadContent"))
            .and_then(|c| c.as_array())
            .and_then(|a| a.first())
            .cloned()
            .expect("one payload");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.belfry.desktop.plist");
        payload.to_file_xml(&path).expect("write");
        let m = read_plist(&path).expect("the app reads it");
        assert_eq!(
            m.enforced.instance.as_deref(),
            Some("https://help.example.com")
        );
        assert_eq!(m.enforced.updates, Some(true));
        assert!(m.enforced.update_feed.is_some() && m.enforced.extra_ca.is_some());
        assert_eq!(m.enforced.language, Some(crate::managed::Language::En));
        assert_eq!(m.enforced.autostart, Some(true));
    }
}
