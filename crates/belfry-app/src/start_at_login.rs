//! Start at login: the OS's login entry, the user's choice kept in the
//! device settings, and the organization's say over both. The desktop
//! shell (its General tab) and headless (`--start-at-login`, and every
//! start) decide it here, the same way.

use belfry_core::config::DeviceConfig;
use belfry_core::managed::Managed;
use belfry_os::autostart::Autostart;
use std::path::Path;

/// What the login entry starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starts {
    /// The tray app (its small form at login, see `crate::tray`).
    Tray,
    /// Headless Belfry.
    Headless,
}

impl Starts {
    fn args(self) -> &'static [&'static str] {
        match self {
            Self::Tray => &[],
            Self::Headless => &["--headless"],
        }
    }
}

/// Why start at login could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum StartAtLoginError {
    /// The organization decides it.
    #[error("your organization manages start at login (it is {})", if *.on { "on" } else { "off" })]
    Locked {
        /// What it decided.
        on: bool,
    },
    /// The OS's login entry could not be written or removed.
    #[error("the login entry could not be changed: {0}")]
    Entry(#[from] belfry_os::autostart::AutostartError),
    /// The choice could not be saved.
    #[error("the choice could not be saved: {0}")]
    Save(#[from] belfry_core::config::ConfigError),
}

/// Makes or removes the login entry as the organization asks at this
/// start (enforced always, a default on a fresh install); an entry that is
/// already there stays as it is (it may start the tray rather than
/// headless, or the other way round). A failure is logged and the run
/// goes on.
pub fn apply_organizations(managed: &Managed, fresh_install: bool, starts: Starts) {
    let Some(on) = managed.autostart_at_start(fresh_install) else {
        return;
    };
    let applied = Autostart::for_this_app(starts.args()).and_then(|entry| {
        if on && entry.is_enabled()? {
            return Ok(());
        }
        entry.set(on)
    });
    match applied {
        Ok(()) => tracing::info!(on, "start at login as the organization set it"),
        Err(e) => {
            tracing::warn!(error = %e, "could not apply the organization's start-at-login")
        }
    }
}

/// Turns start at login on or off (the entry starting `starts`) and keeps
/// the choice in `cfg`, saved to `config_file`, unless the organization
/// decides it.
///
/// # Errors
///
/// The organization decides it, or the entry or the settings cannot be
/// written.
pub fn set(
    managed: &Managed,
    on: bool,
    starts: Starts,
    cfg: &mut DeviceConfig,
    config_file: &Path,
) -> Result<(), StartAtLoginError> {
    if let Some(on) = managed.enforced.autostart {
        return Err(StartAtLoginError::Locked { on });
    }
    Autostart::for_this_app(starts.args())?.set(on)?;
    cfg.autostart = on;
    cfg.save(config_file)?;
    tracing::info!(on, ?starts, "start at login");
    Ok(())
}

/// Whether Belfry starts at login: the OS's entry is the truth (the user
/// may have removed it in the desktop's own settings); `saved` where the
/// entry cannot be read.
pub fn is_on(saved: bool) -> bool {
    Autostart::for_this_app(&[])
        .and_then(|entry| entry.is_enabled())
        .unwrap_or(saved)
}
