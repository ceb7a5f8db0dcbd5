//! Device-local settings: what is not the server's (the instance address,
//! sound output, custom melody files, autostart, pause) in a TOML file in the
//! platform's config directory. The token is never here: it lives in the OS
//! keyring.

use crate::store::Retention;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The config file's format version; bumped with a migration when a field changes meaning.
pub const CONFIG_VERSION: u32 = 1;

/// A config problem, with the file it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// No home directory to put things in.
    #[error("no home directory: set HOME")]
    NoHome,
}

/// Sound output on this device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SoundConfig {
    /// 0.0–1.0.
    pub volume: f32,
    /// Output device name; the system default when absent.
    pub output_device: Option<String>,
    /// The user's own sound file per type id (copied into the data directory).
    pub custom: BTreeMap<String, PathBuf>,
}

impl Default for SoundConfig {
    fn default() -> Self {
        Self {
            volume: 0.8,
            output_device: None,
            custom: BTreeMap::new(),
        }
    }
}

/// Everything device-local.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceConfig {
    /// Format version of this file.
    pub version: u32,
    /// The instance address, e.g. `https://help.example.com`.
    pub instance: Option<String>,
    /// The login last signed in with (the token is in the keyring under it).
    pub login: Option<String>,
    /// Allow plain http to a non-loopback instance (never by default).
    pub allow_insecure: bool,
    /// An extra CA certificate (PEM) for an on-premises instance.
    pub extra_ca: Option<PathBuf>,
    /// Sound output.
    pub sound: SoundConfig,
    /// Start at login.
    pub autostart: bool,
    /// Notifications paused until then (toasts and melodies; the inbox fills).
    pub paused_until: Option<DateTime<Utc>>,
    /// How much read history to keep.
    pub retention: Retention,
    /// Which releases updates come from.
    pub update_channel: UpdateChannel,
    /// The organization's values in this config and the user's own under
    /// them, when [`Managed::apply`](crate::managed::Managed::apply) made it:
    /// [`DeviceConfig::save`] writes the user's own, so an enforced value
    /// never becomes the user's and a lifted lock gives their choice back.
    /// Never in the file.
    #[serde(skip)]
    pub managed: Option<Arc<crate::managed::Applied>>,
}

/// Which releases the app updates to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum UpdateChannel {
    /// Releases.
    #[default]
    Stable,
    /// Release candidates too, a few days before everyone.
    Beta,
}

impl UpdateChannel {
    /// Its name in an update feed's address (`{{channel}}`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stable => "stable",
            Self::Beta => "beta",
        }
    }
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            instance: None,
            login: None,
            allow_insecure: false,
            extra_ca: None,
            sound: SoundConfig::default(),
            autostart: false,
            paused_until: None,
            retention: Retention::default(),
            update_channel: UpdateChannel::default(),
            managed: None,
        }
    }
}

impl DeviceConfig {
    /// Reads the file; a missing file is the defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let Some(text) = read_if_present(path)? else {
            return Ok(Self::default());
        };
        let mut cfg: Self = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        cfg.version = CONFIG_VERSION;
        cfg.sound.volume = cfg.sound.volume.clamp(0.0, 1.0);
        Ok(cfg)
    }

    /// Writes the file atomically (a temp file renamed over it), so a crash
    /// or a full disk never leaves half a config. Only the user's own values
    /// are written: what the organization enforces or presets stays out.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        let text = toml::to_string_pretty(&self.own()).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The user's own settings: these without the organization's values.
    pub fn own(&self) -> Self {
        match &self.managed {
            Some(m) => m.own_part(self),
            None => self.clone(),
        }
    }

    /// Are notifications paused at `now`?
    pub fn paused(&self, now: DateTime<Utc>) -> bool {
        self.paused_until.is_some_and(|t| t > now)
    }
}

/// The text of a settings file, or `None` when there is no such file.
pub(crate) fn read_if_present(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Where Belfry keeps its files on this platform.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `config.toml` lives here.
    pub config_dir: PathBuf,
    /// Local stores and copied sound files: the machine's own folder
    /// (`%LOCALAPPDATA%` on Windows, never the roaming profile, which a
    /// domain copies at every sign-in and sign-out; the inbox is the
    /// server's and comes back by itself).
    pub data_dir: PathBuf,
    /// Rolling log files.
    pub log_dir: PathBuf,
    /// Things that can be made again (the toast icon).
    pub cache_dir: PathBuf,
}

impl Paths {
    /// The platform's directories (XDG on Linux, Application Support on
    /// macOS, AppData on Windows).
    pub fn platform() -> Result<Self, ConfigError> {
        let dirs =
            directories::ProjectDirs::from("app", "Belfry", "Belfry").ok_or(ConfigError::NoHome)?;
        Ok(Self {
            config_dir: dirs.config_dir().to_owned(),
            // The same folder as `data_dir()` on Linux and macOS.
            data_dir: dirs.data_local_dir().to_owned(),
            log_dir: dirs.data_local_dir().join("logs"),
            cache_dir: dirs.cache_dir().to_owned(),
        })
    }

    /// Creates every directory, readable by this user only (0700 on Unix:
    /// the store holds ticket text; other accounts on a shared machine must
    /// not read it). Existing directories are tightened too.
    pub fn create(&self) -> Result<(), ConfigError> {
        for dir in [
            &self.config_dir,
            &self.data_dir,
            &self.log_dir,
            &self.cache_dir,
        ] {
            private_dir(dir).map_err(|source| ConfigError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// The config file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// The local store of one account: one file per instance and login, so
    /// switching accounts never mixes inboxes.
    pub fn store_file(&self, instance: &str, login: &str) -> PathBuf {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in instance.bytes().chain([0]).chain(login.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.data_dir.join(format!("inbox-{h:016x}.db"))
    }
}

/// `create_dir_all`, then user-only permissions where the platform has them
/// (on Windows the profile directories are private already).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_missing_file_and_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        assert_eq!(DeviceConfig::load(&path).unwrap(), DeviceConfig::default());
        let cfg = DeviceConfig {
            instance: Some("https://help.example.com".into()),
            autostart: true,
            ..Default::default()
        };
        cfg.save(&path).unwrap();
        assert_eq!(DeviceConfig::load(&path).unwrap(), cfg);
        std::fs::write(&path, "instance = 42\n").unwrap();
        let err = DeviceConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("config.toml") && err.contains("line 1"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn directories_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let p = Paths {
            config_dir: root.path().join("c"),
            data_dir: root.path().join("d/e"),
            log_dir: root.path().join("l"),
            cache_dir: root.path().join("x"),
        };
        std::fs::create_dir_all(&p.log_dir).unwrap();
        std::fs::set_permissions(&p.log_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        p.create().unwrap();
        for d in [&p.config_dir, &p.data_dir, &p.log_dir, &p.cache_dir] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
    }

    #[test]
    fn one_store_per_account() {
        let p = Paths {
            config_dir: "/c".into(),
            data_dir: "/d".into(),
            log_dir: "/l".into(),
            cache_dir: "/x".into(),
        };
        assert_ne!(
            p.store_file("https://a", "olga"),
            p.store_file("https://a", "ivan")
        );
        assert_eq!(
            p.store_file("https://a", "olga"),
            p.store_file("https://a", "olga")
        );
    }
}
