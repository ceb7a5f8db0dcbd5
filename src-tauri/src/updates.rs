//! Updates, through the official updater plugin: checked at start and once
//! a day, offered in the tray and the General tab, and installed only when
//! the downloaded bytes verify against the update key (the plugin checks the
//! minisign signature, and the version signed into it, before it writes
//! anything).
//!
//! Where they come from: the feed and key built into the app
//! (`plugins.updater` in `tauri.conf.json`, filled in by the release
//! workflow), unless the organization's managed configuration names its own
//! or turns updates off. A feed address may carry `{{channel}}`, replaced by
//! the user's channel (stable or beta). Working out the source, and the
//! schedule, are `belfry_app::updates`', which the small tray shares.

use crate::shell::Shell;
use belfry_app::menu::UpdateStep;
use belfry_app::updates::{self as shared, BuiltIn, Schedule, Source};
use belfry_core::config::UpdateChannel;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};

/// The event the General tab listens to: the new [`UpdateInfo`].
pub const UPDATE_EVENT: &str = "update";

/// The shortest sleep between two looks at the schedule, so a state in
/// which a check changes nothing cannot spin.
const MIN_NAP: Duration = Duration::from_secs(60);

/// Longest a download may take (a few megabytes on a slow office link).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What the General tab and the tray show about updates.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpdateInfo {
    /// Why this app does not look for updates; `None` when it does.
    pub off: Option<Off>,
    /// Which releases it follows.
    pub channel: UpdateChannel,
    /// The organization's feed decides the channel.
    pub channel_locked: bool,
    /// The feed has one channel only (its address has no `{{channel}}`).
    pub single_channel: bool,
    /// When it last asked the feed.
    pub last_checked: Option<DateTime<Utc>>,
    /// Where it stands.
    pub state: UpdateState,
}

pub use belfry_app::updates::Off;

/// Where updating stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UpdateState {
    /// Not checked yet.
    Idle,
    /// Asking the feed.
    Checking,
    /// This is the newest version.
    UpToDate,
    /// A newer version is offered.
    Available {
        /// Its version.
        version: String,
        /// Its release notes.
        notes: Option<String>,
    },
    /// Downloading, verifying and installing it.
    Installing {
        /// Its version.
        version: String,
    },
    /// Installed: a restart runs it.
    Installed {
        /// Its version.
        version: String,
    },
    /// The download did not verify against the update key: nothing was
    /// installed.
    Refused {
        /// The version it claimed to be.
        version: String,
        /// What did not verify.
        reason: String,
    },
    /// Asking the feed failed (network, TLS, the feed itself).
    CheckFailed {
        /// What went wrong.
        message: String,
    },
    /// The update verified but could not be written (disk, permissions).
    InstallFailed {
        /// The version.
        version: String,
        /// What went wrong.
        message: String,
    },
}

struct Inner {
    info: UpdateInfo,
    /// The offered update, kept for the install.
    pending: Option<Update>,
    source: Result<Source, Off>,
}

/// The app's update state (managed by Tauri).
pub struct Updates {
    inner: Mutex<Inner>,
    /// One check or install at a time.
    busy: tokio::sync::Mutex<()>,
}

impl Updates {
    fn info(&self) -> UpdateInfo {
        self.lock().info.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the built-in configuration says (`plugins.updater`, with the
/// release's `--config` merged in by Tauri).
fn built_in<R: Runtime>(app: &AppHandle<R>) -> BuiltIn {
    BuiltIn::from_updater(app.config().plugins.0.get("updater"))
}

/// Works out the source from the managed configuration and the built-in
/// one; `Err` says why updates are off.
fn source<R: Runtime>(app: &AppHandle<R>, channel: UpdateChannel) -> Result<Source, Off> {
    let managed = &app.state::<Shell>().managed;
    shared::source(managed, &built_in(app), channel)
}

/// Sets up the update state; call once, in `setup`.
pub fn init<R: Runtime>(app: &AppHandle<R>) {
    let shell = app.state::<Shell>();
    let channel = shell.config().update_channel;
    let channel_locked = shared::channel_locked(&shell.managed);
    let single_channel = shared::single_channel(&shell.managed, &built_in(app));
    let source = source(app, channel);
    if let Err(why) = &source {
        tracing::info!(%why, "updates are off");
    }
    app.manage(Updates {
        inner: Mutex::new(Inner {
            info: UpdateInfo {
                off: source.as_ref().err().cloned(),
                channel,
                channel_locked,
                single_channel,
                last_checked: None,
                state: UpdateState::Idle,
            },
            pending: None,
            source,
        }),
        busy: tokio::sync::Mutex::new(()),
    });
}

/// Checks now, then a day after each check that got an answer and an
/// hour after one that failed (by the wall clock: [`Schedule`]), sleeping
/// until the next is due rather than ticking. `install_first`: the small
/// tray's "Update to X…" handed over, so what the first check finds is
/// installed (verified as every install is) without a second click.
pub fn schedule<R: Runtime>(app: AppHandle<R>, mut install_first: bool) {
    tauri::async_runtime::spawn(async move {
        loop {
            let info = app.state::<Updates>().info();
            // Off, or an installed update waiting for the restart: a check
            // would change nothing; the state is looked at again later (a
            // channel switched in Settings makes its own check).
            let idle = info.off.is_some() || matches!(info.state, UpdateState::Installed { .. });
            let failed = matches!(info.state, UpdateState::CheckFailed { .. });
            let nap = Schedule::after(info.last_checked, failed).nap(Utc::now());
            if !idle && nap.is_zero() {
                let found = check(&app).await;
                if std::mem::take(&mut install_first)
                    && matches!(found.state, UpdateState::Available { .. })
                    && let Err(e) = install(&app).await
                {
                    tracing::warn!(error = %e, "installing the update the small tray offered");
                }
                tokio::time::sleep(MIN_NAP).await;
                continue;
            }
            let nap = if idle { shared::MAX_NAP } else { nap };
            tokio::time::sleep(nap.max(MIN_NAP)).await;
        }
    });
}

/// Tells the tray and the window.
fn publish<R: Runtime>(app: &AppHandle<R>, info: &UpdateInfo) {
    let _ = app.emit(UPDATE_EVENT, info);
    let status = app.state::<Shell>().status();
    crate::tray::show(app, &status);
}

fn set<R: Runtime>(app: &AppHandle<R>, f: impl FnOnce(&mut Inner)) -> UpdateInfo {
    let info = {
        let updates = app.state::<Updates>();
        let mut inner = updates.lock();
        f(&mut inner);
        inner.info.clone()
    };
    publish(app, &info);
    info
}

/// The updater for the current source, its TLS the app's own (the
/// system's roots plus the organization's extra CA).
fn updater<R: Runtime>(
    app: &AppHandle<R>,
    source: &Source,
) -> Result<tauri_plugin_updater::Updater, String> {
    let extra_ca = app.state::<Shell>().config().extra_ca;
    let tls = belfry_core::net::tls_config(extra_ca.as_deref()).map_err(|e| e.to_string())?;
    app.updater_builder()
        .endpoints(vec![source.feed.clone()])
        .and_then(|b| {
            b.pubkey(source.pubkey.clone())
                .timeout(shared::CHECK_TIMEOUT)
                .configure_client(move |client| client.use_preconfigured_tls((*tls).clone()))
                .build()
        })
        .map_err(|e| e.to_string())
}

/// Asks the feed whether there is a newer version.
pub async fn check<R: Runtime>(app: &AppHandle<R>) -> UpdateInfo {
    let updates = app.state::<Updates>();
    let _busy = updates.busy.lock().await;
    let source = {
        let inner = updates.lock();
        // An installed update waits for the restart; asking again would
        // offer it a second time.
        if matches!(inner.info.state, UpdateState::Installed { .. }) {
            return inner.info.clone();
        }
        inner.source.clone()
    };
    let Ok(source) = source else {
        return updates.info();
    };
    set(app, |i| i.info.state = UpdateState::Checking);
    let found = match updater(app, &source) {
        Ok(u) => u.check().await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let state = match &found {
        Ok(Some(update)) => {
            tracing::info!(version = %update.version, feed = %source.feed, "an update is available");
            UpdateState::Available {
                version: update.version.clone(),
                notes: update.body.clone().filter(|b| !b.trim().is_empty()),
            }
        }
        Ok(None) => {
            tracing::info!(feed = %source.feed, "Belfry is up to date");
            UpdateState::UpToDate
        }
        Err(message) => {
            tracing::warn!(error = %message, feed = %source.feed, "could not check for updates; trying again within the hour");
            UpdateState::CheckFailed {
                message: message.clone(),
            }
        }
    };
    let pending = found.ok().flatten();
    set(app, move |i| {
        i.info.state = state;
        i.info.last_checked = Some(Utc::now());
        i.pending = pending;
    })
}

/// Whether `e` says the download is not what the key signed.
fn is_refusal(e: &tauri_plugin_updater::Error) -> bool {
    use tauri_plugin_updater::Error as E;
    matches!(
        e,
        E::Minisign(_)
            | E::Base64(_)
            | E::SignatureUtf8(_)
            | E::SignedVersionMismatch { .. }
            | E::MissingSignedVersion
    )
}

/// Downloads the offered update, verifies it and installs it. Nothing is
/// written unless the signature verifies.
pub async fn install<R: Runtime>(app: &AppHandle<R>) -> Result<UpdateInfo, String> {
    let updates = app.state::<Updates>();
    let _busy = updates.busy.lock().await;
    let Some(mut update) = updates.lock().pending.clone() else {
        return Err("there is no update to install".into());
    };
    update.timeout = Some(DOWNLOAD_TIMEOUT);
    let version = update.version.clone();
    set(app, |i| {
        i.info.state = UpdateState::Installing {
            version: version.clone(),
        }
    });
    // `download` verifies the bytes against the key before handing them
    // over; `install` verifies them again before it writes anything.
    let result = match update.download(|_, _| {}, || {}).await {
        Ok(bytes) => {
            tracing::info!(%version, bytes = bytes.len(), "update downloaded and its signature verified");
            update.install(bytes)
        }
        Err(e) => Err(e),
    };
    let state = match result {
        Ok(()) => {
            tracing::info!(%version, "update installed: a restart runs it");
            UpdateState::Installed { version }
        }
        Err(e) if is_refusal(&e) => {
            tracing::error!(%version, error = %e, "update refused: its signature does not verify, nothing was installed");
            UpdateState::Refused {
                version,
                reason: e.to_string(),
            }
        }
        Err(e) => {
            tracing::warn!(%version, error = %e, "the update could not be installed");
            UpdateState::InstallFailed {
                version,
                message: e.to_string(),
            }
        }
    };
    let installed = matches!(state, UpdateState::Installed { .. });
    Ok(set(app, move |i| {
        i.info.state = state;
        if installed {
            i.pending = None;
        }
    }))
}

/// Switches the channel and checks it at once.
pub async fn set_channel<R: Runtime>(
    app: &AppHandle<R>,
    channel: UpdateChannel,
) -> Result<UpdateInfo, String> {
    let shell = app.state::<Shell>();
    let info = updates_info(app);
    if info.channel_locked {
        return Err("your organization sets the update feed".into());
    }
    if info.single_channel {
        return Err("this build's update feed has one channel".into());
    }
    shell.save_config(|c| c.update_channel = channel);
    let source = source(app, channel);
    set(app, |i| {
        i.info.channel = channel;
        i.info.off = source.as_ref().err().cloned();
        i.source = source;
        i.pending = None;
        if !matches!(i.info.state, UpdateState::Installed { .. }) {
            i.info.state = UpdateState::Idle;
        }
    });
    tracing::info!(channel = channel.as_str(), "update channel");
    Ok(check(app).await)
}

/// The current update state.
pub fn updates_info<R: Runtime>(app: &AppHandle<R>) -> UpdateInfo {
    app.state::<Updates>().info()
}

/// What the tray shows about updates: a label and the step a click takes
/// (`None`: it only says).
pub fn tray_entry<R: Runtime>(app: &AppHandle<R>) -> Option<(String, Option<UpdateStep>)> {
    let updates = app.try_state::<Updates>()?;
    match updates.info().state {
        UpdateState::Available { version, .. } => Some((
            format!("Install update {version}…"),
            Some(UpdateStep::Install),
        )),
        UpdateState::Installing { version } => {
            Some((format!("Installing update {version}…"), None))
        }
        UpdateState::Installed { version } => Some((
            format!("Restart to finish updating to {version}"),
            Some(UpdateStep::Restart),
        )),
        UpdateState::Refused { version, .. } => Some((
            format!("Update {version} refused: its signature does not verify"),
            None,
        )),
        // Offered again: the cause (a full disk, say) may be gone.
        UpdateState::InstallFailed { version, .. } => Some((
            format!("Update {version} failed: try again…"),
            Some(UpdateStep::Install),
        )),
        _ => None,
    }
}

/// The tray's update items.
pub fn on_tray<R: Runtime>(app: &AppHandle<R>, step: UpdateStep) {
    match step {
        UpdateStep::Install => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = install(&app).await {
                    tracing::warn!(error = %e, "installing from the tray");
                }
            });
        }
        UpdateStep::Restart => app.request_restart(),
    }
}
