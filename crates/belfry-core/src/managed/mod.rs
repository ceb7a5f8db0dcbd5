//! The organization's configuration for this machine, as an admin deploys
//! it: **defaults** the user may change and **enforced** values the user may
//! not. Read-only for the app; the per-user config never overrides an
//! enforced value.
//!
//! Where it comes from (see `docs/admin.md`): on Linux a TOML file under
//! `/etc`; on Windows the policy keys Group Policy writes, over a
//! `managed.toml` an installer placed beside the executable; on macOS the
//! managed preferences a configuration profile installs, over a file in
//! `/Library/Application Support/Belfry`. All feed the same [`Managed`]
//! value.

pub mod native;
pub mod templates;

use crate::config::{ConfigError, DeviceConfig, read_if_present};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the Linux file lives.
pub const LINUX_PATH: &str = "/etc/belfry/managed.toml";

/// Overrides [`LINUX_PATH`] (tests, and admins who keep it elsewhere).
pub const PATH_ENV: &str = "BELFRY_MANAGED_CONFIG";

/// Values an admin can preset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Values {
    /// The instance address.
    pub instance: Option<String>,
    /// An extra CA certificate (PEM) for an on-premises instance.
    pub extra_ca: Option<PathBuf>,
    /// Start at login.
    pub autostart: Option<bool>,
    /// UI language (`en`, `uk`).
    pub language: Option<String>,
    /// Where the app looks for updates, instead of the built-in feed.
    pub update_feed: Option<String>,
    /// Updates on (`true`) or off (`false`: the app never checks).
    pub updates: Option<bool>,
    /// The public key updates must be signed with, instead of the one
    /// built in (an organization that signs its own builds).
    pub update_pubkey: Option<String>,
}

impl Values {
    /// These values, with `under`'s filling what these leave unset.
    fn or(self, under: Self) -> Self {
        Self {
            instance: self.instance.or(under.instance),
            extra_ca: self.extra_ca.or(under.extra_ca),
            autostart: self.autostart.or(under.autostart),
            language: self.language.or(under.language),
            update_feed: self.update_feed.or(under.update_feed),
            updates: self.updates.or(under.updates),
            update_pubkey: self.update_pubkey.or(under.update_pubkey),
        }
    }
}

/// The managed configuration: defaults and enforced values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Managed {
    /// Used where the user has not chosen.
    pub defaults: Values,
    /// Always used; the UI shows them locked.
    pub enforced: Values,
}

impl Managed {
    /// This machine's managed configuration: none when nothing is set.
    /// `BELFRY_MANAGED_CONFIG`, when set, names the one file to read.
    ///
    /// # Errors
    ///
    /// An unreadable or invalid file or key: the admin must hear about it
    /// rather than have the app quietly ignore their policy.
    pub fn load_platform() -> Result<Self, ConfigError> {
        if let Some(p) = std::env::var_os(PATH_ENV).filter(|p| !p.is_empty()) {
            return Self::load(Path::new(&p));
        }
        if cfg!(target_os = "linux") {
            return Self::load(Path::new(LINUX_PATH));
        }
        let provisioned = match Self::provisioned_path() {
            Some(p) => Self::load(&p)?,
            None => Self::default(),
        };
        #[cfg(windows)]
        let native = native::read_registry()?;
        #[cfg(target_os = "macos")]
        let native = native::read_plist(Path::new(native::MACOS_MANAGED_PLIST))?;
        #[cfg(not(any(windows, target_os = "macos")))]
        let native = Self::default();
        Ok(native.or(provisioned))
    }

    /// The file under the platform's managed values: on Windows the one the
    /// installer copied beside `belfry.exe` from the `belfry-managed.toml`
    /// an admin shipped next to it; on macOS a file in the admin-only
    /// `/Library/Application Support/Belfry` (a signed app bundle cannot
    /// carry it).
    fn provisioned_path() -> Option<PathBuf> {
        if cfg!(target_os = "macos") {
            return Some(PathBuf::from(
                "/Library/Application Support/Belfry/managed.toml",
            ));
        }
        let exe = std::env::current_exe().ok()?;
        Some(exe.parent()?.join("managed.toml"))
    }

    /// These settings, with `under`'s filling what these leave unset (the
    /// platform's policy store over an installer's file).
    pub fn or(self, under: Self) -> Self {
        Self {
            defaults: self.defaults.or(under.defaults),
            enforced: self.enforced.or(under.enforced),
        }
    }

    /// Whether the app may look for updates: off only when the
    /// organization says so.
    pub fn updates_enabled(&self) -> bool {
        self.enforced
            .updates
            .or(self.defaults.updates)
            .unwrap_or(true)
    }

    /// The organization's update feed, if it replaces the built-in one.
    pub fn update_feed(&self) -> Option<&str> {
        self.enforced
            .update_feed
            .as_deref()
            .or(self.defaults.update_feed.as_deref())
    }

    /// The organization's update key, if it replaces the built-in one.
    pub fn update_pubkey(&self) -> Option<&str> {
        self.enforced
            .update_pubkey
            .as_deref()
            .or(self.defaults.update_pubkey.as_deref())
    }

    /// Reads `path`; a missing file is no managed configuration.
    ///
    /// # Errors
    ///
    /// The file cannot be read or is not valid.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let Some(text) = read_if_present(path)? else {
            return Ok(Self::default());
        };
        toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Whether the instance address is locked by the organization.
    pub fn instance_locked(&self) -> bool {
        self.enforced.instance.is_some()
    }

    /// The user's config with the organization's values applied: enforced
    /// ones replace the user's, defaults fill what the user has not set.
    pub fn apply(&self, cfg: &DeviceConfig) -> DeviceConfig {
        let mut out = cfg.clone();
        let fill = |mine: &mut Option<String>, d: &Option<String>, e: &Option<String>| {
            if e.is_some() {
                mine.clone_from(e);
            } else if mine.is_none() {
                mine.clone_from(d);
            }
        };
        fill(
            &mut out.instance,
            &self.defaults.instance,
            &self.enforced.instance,
        );
        fill(
            &mut out.language,
            &self.defaults.language,
            &self.enforced.language,
        );
        if self.enforced.extra_ca.is_some() {
            out.extra_ca.clone_from(&self.enforced.extra_ca);
        } else if out.extra_ca.is_none() {
            out.extra_ca.clone_from(&self.defaults.extra_ca);
        }
        // Start at login is a plain bool in the user's file: a default only
        // applies to a fresh config, an enforced value always.
        if let Some(on) = self.enforced.autostart {
            out.autostart = on;
        } else if let Some(on) = self.defaults.autostart
            && *cfg == DeviceConfig::default()
        {
            out.autostart = on;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn managed(text: &str) -> Managed {
        toml::from_str(text).expect("valid managed config")
    }

    #[test]
    fn a_default_fills_only_what_the_user_left_empty() {
        let m = managed("[defaults]\ninstance = \"https://help.example.com\"\n");
        let fresh = m.apply(&DeviceConfig::default());
        assert_eq!(fresh.instance.as_deref(), Some("https://help.example.com"));
        assert!(!m.instance_locked());
        let mine = DeviceConfig {
            instance: Some("https://other.example.com".into()),
            ..DeviceConfig::default()
        };
        assert_eq!(
            m.apply(&mine).instance.as_deref(),
            Some("https://other.example.com")
        );
    }

    #[test]
    fn an_enforced_value_wins_over_the_user() {
        let m = managed(
            "[enforced]\ninstance = \"https://help.example.com\"\nautostart = true\nlanguage = \"uk\"\n",
        );
        let mine = DeviceConfig {
            instance: Some("https://other.example.com".into()),
            language: Some("en".into()),
            ..DeviceConfig::default()
        };
        let out = m.apply(&mine);
        assert_eq!(out.instance.as_deref(), Some("https://help.example.com"));
        assert_eq!(out.language.as_deref(), Some("uk"));
        assert!(out.autostart);
        assert!(m.instance_locked());
    }

    #[test]
    fn a_policy_store_wins_over_an_installers_file_key_by_key() {
        let registry = managed("[enforced]\nupdates = false\n");
        let file = managed(
            "[enforced]\nupdates = true\ninstance = \"https://help.example.com\"\n[defaults]\nupdate_feed = \"https://u.example.com/feed\"\n",
        );
        let m = registry.or(file);
        assert!(!m.updates_enabled());
        assert!(m.instance_locked());
        assert_eq!(m.update_feed(), Some("https://u.example.com/feed"));
        assert!(Managed::default().updates_enabled(), "on unless turned off");
    }

    #[test]
    fn a_missing_file_is_nothing_managed_and_a_bad_one_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            Managed::load(&dir.path().join("none.toml")).expect("missing is fine"),
            Managed::default()
        );
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[enforced]\ninstanse = \"typo\"\n").expect("write");
        let err = Managed::load(&bad).expect_err("an unknown key is refused");
        assert!(err.to_string().contains("instanse"), "{err}");
    }
}
