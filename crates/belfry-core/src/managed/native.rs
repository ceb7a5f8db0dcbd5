//! The managed keys as the platforms' own policy stores name them: the
//! Windows registry (`HKLM\Software\Policies\Belfry`, written by Group
//! Policy from the ADMX template) and macOS managed preferences (a
//! configuration profile's payload for `app.belfry.desktop`). Both give
//! name → value pairs; [`values_from`] turns them into [`Values`] with the
//! same checks as the TOML file, so an unknown name or a wrong type is an
//! error that names it. The property-list reader is plain Rust and runs on
//! every platform (tested here); the registry reader is built on Windows
//! only.

use super::{Language, Managed, Values};
use crate::config::ConfigError;
use std::path::{Path, PathBuf};

/// How a key's value is typed in a native store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string (REG_SZ, `<string>`).
    Text,
    /// A file path, as a string.
    Path,
    /// On or off (REG_DWORD 0/1, `<true/>` / `<false/>`).
    Bool,
}

/// One managed key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Its name in the TOML file.
    pub toml: &'static str,
    /// Its name in the registry and in macOS preferences.
    pub native: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Its name in the admin's tools (Group Policy, the profile).
    pub title: &'static str,
    /// What it does, for the admin.
    pub explain: &'static str,
}

/// Every managed key. The ADMX template and the example configuration
/// profile cover exactly these (a test checks).
pub const KEYS: &[Key] = &[
    Key {
        toml: "instance",
        native: "Instance",
        kind: Kind::Text,
        title: "Helpdesk address",
        explain: "The address of your helpdesk instance, for example https://help.example.com. Enforced, the sign-in form shows it read-only; recommended, it is prefilled and the operator may change it.",
    },
    Key {
        toml: "extra_ca",
        native: "ExtraCa",
        kind: Kind::Path,
        title: "Extra CA certificate",
        explain: "A PEM file with the certificate authority of an on-premises instance that uses its own, for example C:\\ProgramData\\Belfry\\corp-ca.pem. Belfry trusts it in addition to the system's certificates.",
    },
    Key {
        toml: "autostart",
        native: "Autostart",
        kind: Kind::Bool,
        title: "Start at login",
        explain: "Starts Belfry in the tray when the user logs in. Enforced, the operator cannot turn it off; recommended, it applies to a fresh install.",
    },
    Key {
        toml: "language",
        native: "Language",
        kind: Kind::Text,
        title: "Language",
        explain: "The language of the window: en (English) or uk (Ukrainian).",
    },
    Key {
        toml: "update_feed",
        native: "UpdateFeed",
        kind: Kind::Text,
        title: "Update feed",
        explain: "The address Belfry checks for updates instead of the built-in one, for an organization that hosts its own. Updates install only when their signature verifies.",
    },
    Key {
        toml: "updates",
        native: "Updates",
        kind: Kind::Bool,
        title: "Updates",
        explain: "Whether Belfry checks for updates. Disabled, it never checks; the organization then deploys new versions itself.",
    },
    Key {
        toml: "update_pubkey",
        native: "UpdatePublicKey",
        kind: Kind::Text,
        title: "Update signing key",
        explain: "The public key (as `tauri signer generate` prints it) that updates must be signed with, instead of the one built into Belfry: for an organization that builds and signs its own releases. An update whose signature does not verify with it is never installed.",
    },
];

/// A value as a native store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Native {
    /// A string.
    Text(String),
    /// A number (the registry's DWORD).
    Int(i64),
    /// A boolean (a property list's).
    Bool(bool),
}

/// Builds [`Values`] from a store's pairs; `source` names the store in errors.
///
/// # Errors
///
/// A name that is not a managed key, or a value of the wrong type.
pub fn values_from(
    pairs: impl IntoIterator<Item = (String, Native)>,
    source: &Path,
) -> Result<Values, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: source.to_owned(),
        message,
    };
    let mut v = Values::default();
    for (name, value) in pairs {
        let key = KEYS
            .iter()
            .find(|k| k.native == name)
            .ok_or_else(|| invalid(format!("unknown managed key {name:?}")))?;
        let wrong = || invalid(format!("{name}: expected {:?}, found {value:?}", key.kind));
        match (key.kind, &value) {
            (Kind::Text | Kind::Path, Native::Text(s)) if !s.trim().is_empty() => {
                let s = s.trim().to_owned();
                match key.toml {
                    "instance" => v.instance = Some(s),
                    "extra_ca" => v.extra_ca = Some(PathBuf::from(s)),
                    "language" => {
                        v.language =
                            Some(Language::from_code(&s).ok_or_else(|| {
                                invalid(format!("{name}: {s:?} is not en or uk"))
                            })?);
                    }
                    "update_feed" => v.update_feed = Some(s),
                    "update_pubkey" => v.update_pubkey = Some(s),
                    _ => return Err(wrong()),
                }
            }
            (Kind::Bool, Native::Bool(_) | Native::Int(0 | 1)) => {
                let on = matches!(value, Native::Bool(true) | Native::Int(1));
                match key.toml {
                    "autostart" => v.autostart = Some(on),
                    "updates" => v.updates = Some(on),
                    _ => return Err(wrong()),
                }
            }
            _ => return Err(wrong()),
        }
    }
    Ok(v)
}

/// Where macOS keeps the managed preferences a configuration profile (MDM)
/// installs for Belfry's bundle identifier.
pub const MACOS_MANAGED_PLIST: &str = "/Library/Managed Preferences/app.belfry.desktop.plist";

/// Reads a managed-preferences property list: its `Enforced` and `Defaults`
/// dictionaries, each holding [`KEYS`] by their native names. A missing
/// file is nothing managed.
///
/// # Errors
///
/// The file cannot be read, is not a property list, or holds an unknown
/// key or a wrong type.
pub fn read_plist(path: &Path) -> Result<Managed, ConfigError> {
    if !path.exists() {
        return Ok(Managed::default());
    }
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    let root = plist::Value::from_file(path).map_err(|e| invalid(e.to_string()))?;
    let root = root
        .as_dictionary()
        .ok_or_else(|| invalid("not a dictionary".into()))?;
    let mut out = Managed::default();
    for (name, value) in root {
        let level = match name.as_str() {
            "Enforced" => &mut out.enforced,
            "Defaults" => &mut out.defaults,
            // What macOS itself adds to every managed-preferences file.
            n if n.starts_with("Payload") || n == "PolicyTimestamp" => continue,
            other => return Err(invalid(format!("unknown managed key {other:?}"))),
        };
        let dict = value
            .as_dictionary()
            .ok_or_else(|| invalid(format!("{name} is not a dictionary")))?;
        let pairs = dict.iter().map(|(k, v)| {
            let native = match v {
                plist::Value::String(s) => Native::Text(s.clone()),
                plist::Value::Boolean(b) => Native::Bool(*b),
                plist::Value::Integer(i) => Native::Int(i.as_signed().unwrap_or(-1)),
                other => Native::Text(format!("<{other:?}>")),
            };
            (k.clone(), native)
        });
        *level = values_from(pairs, path)?;
    }
    Ok(out)
}

/// The Windows policy keys: `HKLM\Software\Policies\Belfry` holds the
/// enforced values, its `Recommended` subkey the defaults (the layout
/// Chrome and Edge use, which admins know).
///
/// Built on Windows only (not compiled or run by the Linux CI); the pairs it
/// reads go through the same [`values_from`] the tests cover.
///
/// # Errors
///
/// A value with an unknown name or the wrong type.
#[cfg(windows)]
pub fn read_registry() -> Result<Managed, ConfigError> {
    use winreg::RegKey;
    use winreg::enums::{HKEY_LOCAL_MACHINE, RegType};
    use winreg::types::FromRegValue;
    const POLICY: &str = r"Software\Policies\Belfry";
    let source = Path::new(r"HKLM\Software\Policies\Belfry");
    let level = |path: &str| -> Result<Values, ConfigError> {
        // No key: nothing set at this level.
        let Ok(key) = RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey(path) else {
            return Ok(Values::default());
        };
        let pairs = key
            .enum_values()
            .filter_map(Result::ok)
            .map(|(name, value)| {
                let native = match value.vtype {
                    RegType::REG_DWORD => {
                        Native::Int(u32::from_reg_value(&value).map_or(-1, i64::from))
                    }
                    _ => Native::Text(String::from_reg_value(&value).unwrap_or_default()),
                };
                (name, native)
            });
        values_from(pairs, source)
    };
    Ok(Managed {
        enforced: level(POLICY)?,
        defaults: level(&format!(r"{POLICY}\Recommended"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_style_pairs_become_values_and_mistakes_are_named() {
        let src = Path::new("HKLM");
        let v = values_from(
            [
                (
                    "Instance".into(),
                    Native::Text(" https://help.example.com ".into()),
                ),
                ("Autostart".into(), Native::Int(1)),
                ("Updates".into(), Native::Int(0)),
                (
                    "UpdateFeed".into(),
                    Native::Text("https://updates.example.com/belfry".into()),
                ),
            ],
            src,
        )
        .expect("valid");
        assert_eq!(v.instance.as_deref(), Some("https://help.example.com"));
        assert_eq!((v.autostart, v.updates), (Some(true), Some(false)));
        assert_eq!(
            v.update_feed.as_deref(),
            Some("https://updates.example.com/belfry")
        );
        let e =
            values_from([("Instanse".into(), Native::Text("x".into()))], src).expect_err("unknown");
        assert!(e.to_string().contains("Instanse"), "{e}");
        let e = values_from([("Autostart".into(), Native::Int(7))], src).expect_err("not 0/1");
        assert!(e.to_string().contains("Autostart"), "{e}");
        let e = values_from([("Language".into(), Native::Text("de".into()))], src)
            .expect_err("not a language of the window");
        assert!(e.to_string().contains("Language"), "{e}");
        let e = values_from([("Instance".into(), Native::Int(1))], src).expect_err("a number");
        assert!(e.to_string().contains("Instance"), "{e}");
    }

    #[test]
    fn a_managed_preferences_plist_gives_both_levels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.belfry.desktop.plist");
        std::fs::write(
            &path,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>PolicyTimestamp</key><date>2026-11-30T10:00:00Z</date>
  <key>Enforced</key><dict>
    <key>Instance</key><string>https://help.example.com</string>
    <key>Updates</key><false/>
  </dict>
  <key>Defaults</key><dict>
    <key>Language</key><string>uk</string>
    <key>Autostart</key><true/>
  </dict>
</dict></plist>"#,
        )
        .expect("write");
        let m = read_plist(&path).expect("valid");
        assert_eq!(
            m.enforced.instance.as_deref(),
            Some("https://help.example.com")
        );
        assert_eq!(m.enforced.updates, Some(false));
        assert_eq!(m.defaults.language, Some(Language::Uk));
        assert_eq!(m.defaults.autostart, Some(true));
        assert_eq!(
            read_plist(&dir.path().join("none.plist")).expect("missing is fine"),
            Managed::default()
        );
        std::fs::write(
            &path,
            "<plist><dict><key>Enforced</key><string>x</string></dict></plist>",
        )
        .expect("write");
        assert!(read_plist(&path).is_err());
    }
}
