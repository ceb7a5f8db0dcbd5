//! The shell's state, shared by the commands, the tray and the event loop:
//! the session once signed in, what the tray and the window show
//! ([`Status`]), the device settings and the organization's, and the
//! window's [`Focus`].

use crate::focus::Focus;
use crate::ui_error::UiError;
use belfry_app::front::Front;
use belfry_app::session::Session;
use belfry_core::config::{DeviceConfig, Paths};
use belfry_core::managed::Managed;
use serde::Serialize;
use std::sync::{Arc, Mutex, PoisonError};

/// What the tray and the window's status line show: the session's
/// [`Front`] and what only the window has.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Status {
    /// The state at a glance, as the core's events left it.
    #[serde(flatten)]
    #[cfg_attr(test, ts(flatten))]
    pub front: Front,
    /// Why the session did not start.
    pub problem: Option<String>,
    /// The instance and login, once signed in.
    pub account: Option<String>,
    /// Not signed in: what the sign-in form starts with.
    pub sign_in: Option<SignInForm>,
}

/// What the sign-in form starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SignInForm {
    /// The instance address: the last one used, or the organization's.
    pub address: Option<String>,
    /// The login last used.
    pub login: Option<String>,
    /// The organization set the address: it cannot be changed here.
    pub address_locked: bool,
    /// Why signing in is needed, or why the last try failed.
    pub reason: Option<UiError>,
}

/// The shell's state, shared by commands, the tray and the event loop.
pub struct Shell {
    pub(crate) session: tokio::sync::RwLock<Option<Arc<Session>>>,
    /// Held while signing in, so two clicks make one session.
    pub(crate) signing_in: tokio::sync::Mutex<()>,
    pub(crate) status: Mutex<Status>,
    pub(crate) paths: Paths,
    pub(crate) config: Mutex<DeviceConfig>,
    pub(crate) managed: Managed,
    /// Whether the user is looking at the inbox: toasts for what the inbox
    /// shows live would be noise.
    pub(crate) focus: Mutex<Focus>,
    /// The view a window opened from the tray starts on (taken once).
    pub(crate) start_view: Mutex<Option<&'static str>>,
}

impl Shell {
    /// The state at start: signed out until the session starts.
    pub(crate) fn new(paths: Paths, config: DeviceConfig, managed: Managed) -> Self {
        Self {
            session: tokio::sync::RwLock::new(None),
            signing_in: tokio::sync::Mutex::new(()),
            status: Mutex::new(Status::default()),
            paths,
            config: Mutex::new(config),
            managed,
            start_view: Mutex::new(None),
            focus: Mutex::new(Focus::default()),
        }
    }

    pub(crate) fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut Status)) -> Status {
        let mut s = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut s);
        s.clone()
    }

    pub(crate) async fn session(&self) -> Result<Arc<Session>, String> {
        self.session
            .read()
            .await
            .clone()
            .ok_or_else(|| "not signed in".to_owned())
    }

    pub(crate) fn update_focus(&self, f: impl FnOnce(&mut Focus)) {
        f(&mut self.focus.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub(crate) fn config(&self) -> DeviceConfig {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The sign-in form for the saved settings, saying `reason`.
    pub(crate) fn sign_in_form(&self, reason: Option<UiError>) -> SignInForm {
        let cfg = self.config();
        SignInForm {
            address: cfg.instance,
            login: cfg.login,
            address_locked: self.managed.instance_locked(),
            reason,
        }
    }

    /// Does what the tray's shared entries ask, and a pause (from the tray
    /// or the General tab) with the device settings this shell keeps.
    pub(crate) async fn act(
        &self,
        id: belfry_app::menu::MenuId,
        session: &Session,
    ) -> belfry_app::menu::Acted {
        use belfry_app::menu::{self, Acted, MenuId};
        match menu::act(id, session).await {
            Acted::Yours(MenuId::Pause(choice)) => {
                let mut cfg = self.config.lock().unwrap_or_else(PoisonError::into_inner);
                menu::pause(session, choice, &mut cfg, &self.paths.config_file());
                Acted::Done
            }
            acted => acted,
        }
    }

    /// Saves a change to the device settings; a failure is logged (the
    /// change still holds for this run).
    pub(crate) fn save_config(&self, f: impl FnOnce(&mut DeviceConfig)) {
        let mut cfg = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut cfg);
        if let Err(e) = cfg.save(&self.paths.config_file()) {
            tracing::warn!(error = %e, "could not save the settings");
        }
    }
}
