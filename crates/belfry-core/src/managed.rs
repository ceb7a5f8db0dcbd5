//! The organization's configuration for this machine, as an admin deploys
//! it: **defaults** the user may change and **enforced** values the user may
//! not. Read-only for the app; the per-user config never overrides an
//! enforced value.
//!
//! Linux reads a TOML file under `/etc` (see `docs/admin.md`); the Windows
//! registry policy keys and macOS managed preferences come with the
//! packaging work and feed the same [`Managed`] value.

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
    /// This machine's managed configuration: none when there is no file.
    ///
    /// # Errors
    ///
    /// An unreadable or invalid file: the admin must hear about it rather
    /// than have the app quietly ignore their policy.
    pub fn load_platform() -> Result<Self, ConfigError> {
        match Self::platform_path() {
            Some(path) => Self::load(&path),
            None => Ok(Self::default()),
        }
    }

    /// Where this platform's file is, if the platform uses a file.
    pub fn platform_path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os(PATH_ENV).filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        cfg!(target_os = "linux").then(|| PathBuf::from(LINUX_PATH))
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
