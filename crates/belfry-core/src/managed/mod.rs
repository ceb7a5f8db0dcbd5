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
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// The window's language.
    pub language: Option<Language>,
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

/// A language the window speaks, as the organization names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    En,
    /// Ukrainian.
    Uk,
}

impl Language {
    /// The language for its code (`en`, `uk`, any case), if the window
    /// speaks it.
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "uk" => Some(Self::Uk),
            _ => None,
        }
    }
}

/// The organization's language for the window, as the UI gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ManagedLanguage {
    /// The language.
    pub language: Language,
    /// Enforced: always used, and the window's language cannot be changed;
    /// otherwise a default, used until the user picks one in the window.
    pub enforced: bool,
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

    /// The organization's language for the window, if it sets one.
    pub fn language(&self) -> Option<ManagedLanguage> {
        let at = |language, enforced| ManagedLanguage { language, enforced };
        self.enforced
            .language
            .map(|l| at(l, true))
            .or_else(|| self.defaults.language.map(|l| at(l, false)))
    }

    /// Whether the organization decides start at login.
    pub fn autostart_locked(&self) -> bool {
        self.enforced.autostart.is_some()
    }

    /// The start-at-login entry the organization asks for at this start:
    /// an enforced value always, a default on a fresh install only (no
    /// user settings yet), so an operator who turned it off keeps it off.
    pub fn autostart_at_start(&self, fresh_install: bool) -> Option<bool> {
        self.enforced
            .autostart
            .or(self.defaults.autostart.filter(|_| fresh_install))
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
    /// The result remembers the user's own values, so saving it writes
    /// those and never the organization's (see [`DeviceConfig::save`]).
    /// The language is not here: the window keeps the user's choice, and
    /// gets the organization's from [`Managed::language`].
    pub fn apply(&self, cfg: &DeviceConfig) -> DeviceConfig {
        let own = cfg.own();
        let mut out = own.clone();
        if *self == Self::default() {
            return out;
        }
        fill(
            &mut out.instance,
            &self.defaults.instance,
            &self.enforced.instance,
        );
        fill(
            &mut out.extra_ca,
            &self.defaults.extra_ca,
            &self.enforced.extra_ca,
        );
        // Start at login is a plain bool in the user's file: a default only
        // applies to a fresh config, an enforced value always.
        if let Some(on) = self.autostart_at_start(own == DeviceConfig::default()) {
            out.autostart = on;
        }
        out.managed = Some(Arc::new(Applied {
            managed: self.clone(),
            own,
        }));
        out
    }
}

/// An enforced value replaces `mine`; a default fills it when empty.
fn fill<T: Clone>(mine: &mut Option<T>, default: &Option<T>, enforced: &Option<T>) {
    if enforced.is_some() {
        mine.clone_from(enforced);
    } else if mine.is_none() {
        mine.clone_from(default);
    }
}

/// What [`Managed::apply`] put into a config, kept inside it so that saving
/// the config writes the user's own values rather than the organization's.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    managed: Managed,
    /// The user's config as it was read, before the organization's values.
    own: DeviceConfig,
}

impl Applied {
    /// `effective` (the config in use, maybe changed since) with the
    /// organization's values taken out again: an enforced key goes back to
    /// what the user had (they could not change it), a default the user
    /// never replaced back to unset (so a new default reaches them). A
    /// start-at-login default stays: it was applied once, to a fresh
    /// install, and the login entry it made is the user's from then on.
    pub(crate) fn own_part(&self, effective: &DeviceConfig) -> DeviceConfig {
        let (d, e, own) = (&self.managed.defaults, &self.managed.enforced, &self.own);
        let mut out = effective.clone();
        out.managed = None;
        unfill(&mut out.instance, &own.instance, &d.instance, &e.instance);
        unfill(&mut out.extra_ca, &own.extra_ca, &d.extra_ca, &e.extra_ca);
        if e.autostart.is_some() {
            out.autostart = own.autostart;
        }
        out
    }
}

/// Undoes [`fill`] for saving.
fn unfill<T: Clone + PartialEq>(
    now: &mut Option<T>,
    own: &Option<T>,
    default: &Option<T>,
    enforced: &Option<T>,
) {
    if enforced.is_some() {
        now.clone_from(own);
    } else if own.is_none() && default.is_some() && now == default {
        *now = None;
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
            ..DeviceConfig::default()
        };
        let out = m.apply(&mine);
        assert_eq!(out.instance.as_deref(), Some("https://help.example.com"));
        assert!(out.autostart);
        assert!(m.instance_locked() && m.autostart_locked());
        assert_eq!(
            m.language(),
            Some(ManagedLanguage {
                language: Language::Uk,
                enforced: true
            })
        );
    }

    #[test]
    fn the_language_is_a_default_or_enforced_and_only_one_the_window_speaks() {
        let m = managed("[defaults]\nlanguage = \"uk\"\n");
        assert_eq!(
            m.language(),
            Some(ManagedLanguage {
                language: Language::Uk,
                enforced: false
            })
        );
        let both = managed("[defaults]\nlanguage = \"uk\"\n[enforced]\nlanguage = \"en\"\n");
        assert_eq!(both.language().map(|l| l.language), Some(Language::En));
        assert_eq!(Managed::default().language(), None);
        let err = toml::from_str::<Managed>("[enforced]\nlanguage = \"de\"\n")
            .expect_err("a language the window does not speak");
        assert!(err.to_string().contains("de"), "{err}");
    }

    #[test]
    fn start_at_login_default_is_for_a_fresh_install_and_enforced_always() {
        let d = managed("[defaults]\nautostart = true\n");
        assert_eq!(d.autostart_at_start(true), Some(true));
        assert_eq!(d.autostart_at_start(false), None);
        assert!(!d.autostart_locked());
        let e = managed("[enforced]\nautostart = false\n");
        assert_eq!(e.autostart_at_start(true), Some(false));
        assert_eq!(e.autostart_at_start(false), Some(false));
        assert_eq!(Managed::default().autostart_at_start(true), None);
    }

    #[test]
    fn saving_writes_the_users_own_values_never_the_organizations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        let mine = DeviceConfig {
            instance: Some("https://mine.example.com".into()),
            login: Some("olga".into()),
            ..DeviceConfig::default()
        };
        mine.save(&path).expect("save");
        let m = managed(
            "[enforced]\ninstance = \"https://help.example.com\"\nautostart = true\n\
             [defaults]\nextra_ca = \"/etc/belfry/ca.pem\"\n",
        );
        let mut effective = m.apply(&DeviceConfig::load(&path).expect("load"));
        assert_eq!(
            effective.instance.as_deref(),
            Some("https://help.example.com")
        );
        // The app changes what the user may (and writes back what it uses).
        effective.login = Some("ivan".into());
        effective.sound.volume = 0.5;
        effective.instance = Some("https://help.example.com".into());
        effective.save(&path).expect("save");
        let saved = DeviceConfig::load(&path).expect("load");
        assert_eq!(saved.instance.as_deref(), Some("https://mine.example.com"));
        assert!(
            !saved.autostart,
            "the enforced start at login is not the user's"
        );
        assert_eq!(saved.extra_ca, None, "a default stays the organization's");
        assert_eq!(saved.login.as_deref(), Some("ivan"));
        assert!((saved.sound.volume - 0.5).abs() < f32::EPSILON);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("help.example.com"), "{text}");
        // The admin lifts the lock: the user's own address is back.
        let lifted = managed("[defaults]\nextra_ca = \"/etc/belfry/ca.pem\"\n").apply(&saved);
        assert_eq!(lifted.instance.as_deref(), Some("https://mine.example.com"));
        assert!(!lifted.autostart);
        // A value the user set over a default is theirs.
        let mut chose = lifted.clone();
        chose.extra_ca = Some("/home/olga/ca.pem".into());
        chose.save(&path).expect("save");
        assert_eq!(
            DeviceConfig::load(&path).expect("load").extra_ca,
            Some(PathBuf::from("/home/olga/ca.pem"))
        );
    }

    #[test]
    fn a_start_at_login_default_applied_to_a_fresh_install_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        let m = managed("[defaults]\nautostart = true\n");
        let mut fresh = m.apply(&DeviceConfig::default());
        assert!(fresh.autostart);
        fresh.login = Some("olga".into());
        fresh.save(&path).expect("save");
        let again = m.apply(&DeviceConfig::load(&path).expect("load"));
        assert!(again.autostart, "the login entry it made stays the user's");
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
