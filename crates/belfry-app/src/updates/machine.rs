//! One update state machine and schedule for both apps, behind an
//! [`Installer`]: the full app's installs through the official updater
//! plugin (download, verify, install); the small tray's hands the process
//! over to the full app, which checks again and installs. Where updating
//! stands, when to ask the feed, what the tray's entry says and which
//! states a check or an install may leave are decided here, once.

use super::{BuiltIn, MAX_NAP, Off, Schedule, Source};
use crate::menu::UpdateStep;
use belfry_core::config::UpdateChannel;
use belfry_core::managed::Managed;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The shortest sleep between two looks at the schedule, so a state in
/// which a check changes nothing cannot spin.
const MIN_NAP: Duration = Duration::from_secs(60);

/// What the General tab and the trays show about updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

/// Where updating stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

/// A newer version a check found.
#[derive(Debug, Clone)]
pub struct Found<O> {
    /// Its version.
    pub version: String,
    /// Its release notes.
    pub notes: Option<String>,
    /// What the installer needs to install it.
    pub offer: O,
}

/// Why an install did not happen.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The download is not what the update key signed: nothing was written.
    #[error("{0}")]
    Refused(String),
    /// It verified but could not be written, or could not be handed over.
    #[error("{0}")]
    Failed(String),
}

/// How one app asks the feed and installs what it offers.
pub trait Installer: Send + Sync + 'static {
    /// What a check hands to the install (the updater's download handle;
    /// nothing for a hand-over).
    type Offer: Clone + Send + Sync + 'static;

    /// Asks the feed at `source` for a version newer than this one; the
    /// error says what failed, in words for the log.
    fn check(
        &self,
        source: &Source,
    ) -> impl Future<Output = Result<Option<Found<Self::Offer>>, String>> + Send;

    /// Installs `offer` (verified before anything is written) or hands it
    /// to the app that does. Returns once it is installed.
    fn install(&self, offer: Self::Offer) -> impl Future<Output = Result<(), InstallError>> + Send;

    /// The tray's entry for an offered version.
    fn offer_label(&self, version: &str) -> String {
        format!("Install update {version}…")
    }
}

/// A request the state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Nothing is on offer.
    #[error("there is no update to install")]
    NothingToInstall,
    /// The organization's feed decides the channel.
    #[error("your organization sets the update feed")]
    ChannelLocked,
    /// The feed has one channel.
    #[error("this build's update feed has one channel")]
    SingleChannel,
}

struct Inner<O> {
    info: UpdateInfo,
    /// The offered update, kept for the install.
    pending: Option<O>,
    source: Result<Source, Off>,
}

/// Where updating stands and the steps that change it; every change is
/// told to the `on_change` the app gave.
pub struct Updater<I: Installer> {
    installer: I,
    managed: Managed,
    built_in: BuiltIn,
    inner: Mutex<Inner<I::Offer>>,
    /// One check or install at a time.
    busy: tokio::sync::Mutex<()>,
    on_change: Box<dyn Fn(&UpdateInfo) + Send + Sync>,
}

impl<I: Installer> Updater<I> {
    /// The state at start, for the user's `channel`: not checked yet, or
    /// off with its reason (logged).
    pub fn new(
        installer: I,
        managed: &Managed,
        built_in: BuiltIn,
        channel: UpdateChannel,
        on_change: impl Fn(&UpdateInfo) + Send + Sync + 'static,
    ) -> Self {
        let source = super::source(managed, &built_in, channel);
        if let Err(why) = &source {
            tracing::info!(%why, "updates are off");
        }
        Self {
            installer,
            managed: managed.clone(),
            inner: Mutex::new(Inner {
                info: UpdateInfo {
                    off: source.as_ref().err().cloned(),
                    channel,
                    channel_locked: super::channel_locked(managed),
                    single_channel: super::single_channel(managed, &built_in),
                    last_checked: None,
                    state: UpdateState::Idle,
                },
                pending: None,
                source,
            }),
            built_in,
            busy: tokio::sync::Mutex::new(()),
            on_change: Box::new(on_change),
        }
    }

    /// Where updating stands now.
    pub fn info(&self) -> UpdateInfo {
        self.lock().info.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner<I::Offer>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state and tells the app.
    fn set(&self, f: impl FnOnce(&mut Inner<I::Offer>)) -> UpdateInfo {
        let info = {
            let mut inner = self.lock();
            f(&mut inner);
            inner.info.clone()
        };
        (self.on_change)(&info);
        info
    }

    /// Asks the feed whether there is a newer version (not while one is
    /// installed and waits for the restart: it would be offered twice).
    pub async fn check(&self) -> UpdateInfo {
        let _busy = self.busy.lock().await;
        let source = {
            let inner = self.lock();
            if matches!(inner.info.state, UpdateState::Installed { .. }) {
                return inner.info.clone();
            }
            inner.source.clone()
        };
        let Ok(source) = source else {
            return self.info();
        };
        self.set(|i| i.info.state = UpdateState::Checking);
        let (state, pending) = match self.installer.check(&source).await {
            Ok(Some(found)) => {
                tracing::info!(version = %found.version, feed = %source.feed, "an update is available");
                let state = UpdateState::Available {
                    version: found.version,
                    notes: found.notes.filter(|b| !b.trim().is_empty()),
                };
                (state, Some(found.offer))
            }
            Ok(None) => {
                tracing::info!(feed = %source.feed, "Belfry is up to date");
                (UpdateState::UpToDate, None)
            }
            Err(message) => {
                tracing::warn!(error = %message, feed = %source.feed, "could not check for updates; trying again within the hour");
                (UpdateState::CheckFailed { message }, None)
            }
        };
        self.set(move |i| {
            i.info.state = state;
            i.info.last_checked = Some(Utc::now());
            i.pending = pending;
        })
    }

    /// Installs the offered update (the installer verifies it before it
    /// writes anything).
    ///
    /// # Errors
    ///
    /// [`Refusal::NothingToInstall`] when nothing is on offer; what the
    /// install itself did is in the state returned.
    pub async fn install(&self) -> Result<UpdateInfo, Refusal> {
        let _busy = self.busy.lock().await;
        let (offer, version) = {
            let inner = self.lock();
            let version = match &inner.info.state {
                UpdateState::Available { version, .. }
                | UpdateState::InstallFailed { version, .. }
                | UpdateState::Refused { version, .. } => version.clone(),
                _ => return Err(Refusal::NothingToInstall),
            };
            match inner.pending.clone() {
                Some(offer) => (offer, version),
                None => return Err(Refusal::NothingToInstall),
            }
        };
        self.set(|i| {
            i.info.state = UpdateState::Installing {
                version: version.clone(),
            }
        });
        let state = match self.installer.install(offer).await {
            Ok(()) => {
                tracing::info!(%version, "update installed: a restart runs it");
                UpdateState::Installed { version }
            }
            Err(InstallError::Refused(reason)) => {
                tracing::error!(%version, error = %reason, "update refused: its signature does not verify, nothing was installed");
                UpdateState::Refused { version, reason }
            }
            Err(InstallError::Failed(message)) => {
                tracing::warn!(%version, error = %message, "the update could not be installed");
                UpdateState::InstallFailed { version, message }
            }
        };
        let installed = matches!(state, UpdateState::Installed { .. });
        Ok(self.set(move |i| {
            i.info.state = state;
            if installed {
                i.pending = None;
            }
        }))
    }

    /// Switches the channel (the caller saves the choice, then checks it).
    ///
    /// # Errors
    ///
    /// When the feed has no channels to switch between.
    pub fn set_channel(&self, channel: UpdateChannel) -> Result<UpdateInfo, Refusal> {
        let info = self.info();
        if info.channel_locked {
            return Err(Refusal::ChannelLocked);
        }
        if info.single_channel {
            return Err(Refusal::SingleChannel);
        }
        let source = super::source(&self.managed, &self.built_in, channel);
        self.set(|i| {
            i.info.channel = channel;
            i.info.off = source.as_ref().err().cloned();
            i.source = source;
            i.pending = None;
            if !matches!(i.info.state, UpdateState::Installed { .. }) {
                i.info.state = UpdateState::Idle;
            }
        });
        tracing::info!(channel = channel.as_str(), "update channel");
        Ok(self.info())
    }

    /// What the tray shows about updates: a label and the step a click
    /// takes (`None`: it only says).
    pub fn tray_entry(&self) -> Option<(String, Option<UpdateStep>)> {
        match self.info().state {
            UpdateState::Available { version, .. } => Some((
                self.installer.offer_label(&version),
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

    /// Checks now (or once `ready` resolves), then a day after each check
    /// that got an answer and an hour after one that failed (by the wall
    /// clock: [`Schedule`]), sleeping until the next is due rather than
    /// ticking. `install_first`: what the first check finds is installed
    /// without a second click (the small tray's "Update to X…" handed
    /// over). Runs for as long as the app does.
    pub async fn run(
        self: Arc<Self>,
        ready: impl Future<Output = ()> + Send,
        mut install_first: bool,
    ) {
        ready.await;
        loop {
            let info = self.info();
            // Off, or an installed update waiting for the restart: a check
            // would change nothing; the state is looked at again later (a
            // channel switched in Settings makes its own check).
            let idle = info.off.is_some() || matches!(info.state, UpdateState::Installed { .. });
            let failed = matches!(info.state, UpdateState::CheckFailed { .. });
            let nap = Schedule::after(info.last_checked, failed).nap(Utc::now());
            if !idle && nap.is_zero() {
                let found = self.check().await;
                if std::mem::take(&mut install_first)
                    && matches!(found.state, UpdateState::Available { .. })
                    && let Err(e) = self.install().await
                {
                    tracing::warn!(error = %e, "installing the update the small tray offered");
                }
                tokio::time::sleep(MIN_NAP).await;
                continue;
            }
            let nap = if idle { MAX_NAP } else { nap };
            tokio::time::sleep(nap.max(MIN_NAP)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An installer whose answers the test sets: the state machine's
    /// rules, apart from any feed (the real installers are tested against
    /// a real feed in src-tauri/tests/tray.rs).
    struct Scripted {
        found: Option<&'static str>,
        install: fn() -> Result<(), InstallError>,
    }

    impl Installer for Scripted {
        type Offer = ();
        async fn check(&self, _: &Source) -> Result<Option<Found<()>>, String> {
            Ok(self.found.map(|v| Found {
                version: v.to_owned(),
                notes: Some("  ".into()),
                offer: (),
            }))
        }
        async fn install(&self, (): ()) -> Result<(), InstallError> {
            (self.install)()
        }
    }

    fn updater(
        found: Option<&'static str>,
        install: fn() -> Result<(), InstallError>,
    ) -> (Updater<Scripted>, Arc<AtomicUsize>) {
        let told = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&told);
        let built_in = BuiltIn {
            feed: Some("https://updates.example/{{channel}}.json".into()),
            pubkey: Some("key".into()),
        };
        let u = Updater::new(
            Scripted { found, install },
            &Managed::default(),
            built_in,
            UpdateChannel::Stable,
            move |_| {
                count.fetch_add(1, Ordering::SeqCst);
            },
        );
        (u, told)
    }

    #[tokio::test]
    async fn an_offer_installs_once_and_a_failed_install_is_offered_again() {
        let (u, told) = updater(Some("9.0.0"), || {
            Err(InstallError::Failed("disk full".into()))
        });
        assert_eq!(u.install().await.unwrap_err(), Refusal::NothingToInstall);
        let info = u.check().await;
        // Blank notes are no notes.
        assert_eq!(
            info.state,
            UpdateState::Available {
                version: "9.0.0".into(),
                notes: None
            }
        );
        assert!(
            told.load(Ordering::SeqCst) >= 2,
            "checking and its answer are told"
        );
        let failed = u.install().await.unwrap();
        assert!(matches!(failed.state, UpdateState::InstallFailed { .. }));
        assert_eq!(
            u.tray_entry(),
            Some((
                "Update 9.0.0 failed: try again…".into(),
                Some(UpdateStep::Install)
            ))
        );
    }

    #[tokio::test]
    async fn an_installed_update_is_not_offered_again_and_a_refused_one_is_said() {
        let (u, _) = updater(Some("9.0.0"), || Ok(()));
        u.check().await;
        assert!(matches!(
            u.install().await.unwrap().state,
            UpdateState::Installed { .. }
        ));
        // A check now would offer the installed version a second time.
        assert!(matches!(
            u.check().await.state,
            UpdateState::Installed { .. }
        ));
        assert_eq!(u.tray_entry().and_then(|e| e.1), Some(UpdateStep::Restart));

        let (u, _) = updater(Some("9.0.0"), || Err(InstallError::Refused("bad".into())));
        u.check().await;
        let refused = u.install().await.unwrap();
        assert!(matches!(refused.state, UpdateState::Refused { .. }));
        assert_eq!(u.tray_entry().and_then(|e| e.1), None, "nothing to click");
    }

    #[test]
    fn the_organizations_feed_decides_the_channel() {
        let (u, _) = updater(None, || Ok(()));
        assert!(u.set_channel(UpdateChannel::Beta).is_ok());
        assert_eq!(u.info().channel, UpdateChannel::Beta);
        let mut managed = Managed::default();
        managed.enforced.update_feed = Some("https://updates.acme.example/belfry.json".into());
        let fixed = Updater::new(
            Scripted {
                found: None,
                install: || Ok(()),
            },
            &managed,
            BuiltIn::default(),
            UpdateChannel::Stable,
            |_| {},
        );
        assert_eq!(
            fixed.set_channel(UpdateChannel::Beta),
            Err(Refusal::ChannelLocked)
        );
        assert_eq!(fixed.info().channel, UpdateChannel::Stable);
    }
}
