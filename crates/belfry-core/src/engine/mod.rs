//! The running core: the connection task, the outbox task and the delivery
//! task around one local store, and the handle front ends hold.

mod channels;
mod connection;
mod delivery;
mod outbox;
mod reminder;
mod resync;

use crate::backoff::Backoff;
use crate::event::{ConnState, CoreEvent, Quiet};
use crate::links::{self, LinkRefused};
use crate::net::Api;
use crate::patch::Patch;
use crate::router::{Input, Local};
use crate::sinks::{Sinks, ToastEvent};
use crate::store::{Op, Retention, Store, StoreError};
use belfry_proto::api::{Availability, OperatorStatus};
use belfry_proto::settings::{self, FieldError, Policy, Preferences, SettingsDocument};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use url::Url;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Reconnect delays.
    pub backoff: Backoff,
    /// How much read history the local store keeps.
    pub retention: Retention,
    /// Heartbeat interval until the server's `welcome` says otherwise.
    pub heartbeat: Duration,
    /// How long to wait for the stream to open and answer `hello`.
    pub connect_timeout: Duration,
    /// The local store gives its page cache back after this long unused.
    pub release_after: Duration,
    /// Called after it has: the binary hands freed memory back to the OS.
    pub after_release: Option<fn()>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            backoff: Backoff::default(),
            retention: Retention::default(),
            heartbeat: Duration::from_secs(u64::from(belfry_proto::stream::DEFAULT_HEARTBEAT_S)),
            connect_timeout: Duration::from_secs(10),
            // Long enough that a burst or an operator reading the inbox
            // keeps its cache, short enough to be done within the first
            // minute after start (sign-in, catch-up).
            release_after: Duration::from_secs(20),
            after_release: None,
        }
    }
}

/// A settings edit that could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The policy forbids these fields; nothing was changed.
    #[error("the instance policy does not allow this change")]
    Refused(Vec<FieldError>),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The edit did not survive a round trip.
    #[error(transparent)]
    Patch(#[from] crate::patch::PatchError),
}

/// A notification that could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Not in the local store (pruned, or never seen).
    #[error("notification {0} is not in the inbox")]
    Unknown(String),
    /// Its link is not on the instance.
    #[error(transparent)]
    Refused(#[from] LinkRefused),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the tasks share.
pub(crate) struct Ctx {
    pub store: Store,
    pub api: Api,
    pub tls: Arc<rustls::ClientConfig>,
    pub config: EngineConfig,
    pub events: broadcast::Sender<CoreEvent>,
    pub state: watch::Sender<ConnState>,
    pub settings: watch::Sender<SettingsDocument>,
    pub router: mpsc::UnboundedSender<Input>,
    pub outbox_kick: Notify,
    /// The operator's availability, as the stream last said.
    pub status: watch::Sender<Option<OperatorStatus>>,
    /// The problems reported and not yet over, by their `what`.
    pub problems: std::sync::Mutex<std::collections::BTreeSet<&'static str>>,
    /// The link origins the instance last announced in `/info`
    /// (`links::check_with`); asked again when a link is on another one.
    pub link_origins: std::sync::Mutex<Vec<String>>,
}

impl Ctx {
    pub fn emit(&self, event: CoreEvent) {
        // No subscribers is fine: a headless run may not listen.
        let _ = self.events.send(event);
    }

    pub fn set_state(&self, state: ConnState) {
        if *self.state.borrow() != state {
            tracing::info!(?state, "connection");
            self.state.send_replace(state.clone());
            self.emit(CoreEvent::State(state));
        }
    }

    /// The operator's availability changed (or was confirmed).
    pub fn set_availability(&self, status: OperatorStatus) {
        self.status.send_replace(Some(status));
        self.emit(CoreEvent::Status(status));
    }

    pub fn route(&self, input: Input) {
        let _ = self.router.send(input);
    }

    /// Blocking store work off the async threads.
    pub async fn db<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Sqlite(rusqlite::Error::ToSqlConversionFailure(
                Box::new(e),
            ))),
        }
    }

    /// Reports a failure to the user and the log; the app goes on. It stays
    /// reported until [`Ctx::resolved`] says it is over.
    pub fn problem(&self, what: &'static str, e: &dyn std::fmt::Display) {
        tracing::warn!(error = %e, "{what}");
        self.problems
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(what);
        self.emit(CoreEvent::Problem {
            what: what.to_owned(),
            message: format!("{what}: {e}"),
        });
    }

    /// `r` told the user: a failure as the problem `what`, a success as the
    /// end of it. The value, when there is one.
    pub fn report<T, E: std::fmt::Display>(
        &self,
        what: &'static str,
        r: Result<T, E>,
    ) -> Option<T> {
        match r {
            Ok(v) => {
                self.resolved(what);
                Some(v)
            }
            Err(e) => {
                self.problem(what, &e);
                None
            }
        }
    }

    /// `what` worked: if it was reported as a problem, that is over.
    pub fn resolved(&self, what: &'static str) {
        let was = self
            .problems
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(what);
        if was {
            tracing::info!("{what} works again");
            self.emit(CoreEvent::Resolved {
                what: what.to_owned(),
            });
        }
    }

    /// Recomputes the effective settings: the server's document with the
    /// queued edits applied on top, in order.
    pub async fn refresh_settings(&self) {
        let computed = self
            .db(|s| {
                let doc = s.settings()?;
                let ops = s.outbox()?;
                Ok((doc, ops))
            })
            .await;
        let Some((doc, ops)) = self.report("reading settings", computed) else {
            return;
        };
        let mut doc = doc.unwrap_or_else(default_document);
        for (_, op) in ops {
            if let Op::Settings { patch } = op {
                match patch.apply(&doc.preferences) {
                    Ok(p) => doc.preferences = p,
                    Err(e) => tracing::warn!(error = %e, "skipping an unusable queued edit"),
                }
            }
        }
        if *self.settings.borrow() != doc {
            self.settings.send_replace(doc.clone());
            self.emit(CoreEvent::Settings(Box::new(doc)));
        }
    }
}

/// The document used before the server's first one arrives.
pub fn default_document() -> SettingsDocument {
    SettingsDocument {
        version: 0,
        policy: Policy::default(),
        links: Default::default(),
        preferences: Preferences::default(),
    }
}

/// How often the local store is trimmed to the retention.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Trims read history to the retention at start and then hourly.
async fn maintain(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        let retention = ctx.config.retention;
        match ctx.report(
            "trimming the local inbox",
            ctx.db(move |s| s.prune(retention)).await,
        ) {
            None | Some(0) => {}
            Some(n) => tracing::info!(dropped = n, "trimmed read history"),
        }
    }
}

/// Gives the store's cache back whenever it goes quiet (see
/// [`Store::release_when_idle`]).
async fn release_when_idle(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    let config = &ctx.config;
    tokio::select! {
        () = ctx.store.release_when_idle(config.release_after, config.after_release) => {}
        _ = shutdown.changed() => {}
    }
}

/// Local state the router needs, as the front end sets it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocalState {
    pub paused_until: Option<DateTime<Utc>>,
    pub inbox_focused: bool,
    /// The OS's do-not-disturb, with where it was read.
    pub os_quiet: Option<String>,
}

impl LocalState {
    /// The router's view at `now`.
    pub fn at(&self, now: DateTime<Utc>) -> Local {
        Local {
            paused: self.paused_until.is_some_and(|t| t > now),
            inbox_focused: self.inbox_focused,
            os_quiet: self.os_quiet.is_some(),
            // The delivery task asks the toaster.
            toasts_stay: false,
        }
    }

    /// Why it is quiet at `now`, for the tray; the OS's reason first, as
    /// it outlasts a pause.
    pub fn quiet(&self, now: DateTime<Utc>) -> Option<Quiet> {
        if let Some(source) = &self.os_quiet {
            return Some(Quiet::DoNotDisturb {
                source: source.clone(),
            });
        }
        self.paused_until
            .filter(|t| *t > now)
            .map(|until| Quiet::Paused { until })
    }
}

enum ConnCmd {
    RetryNow,
    Shutdown,
}

/// The running core.
pub struct Engine {
    ctx: Arc<Ctx>,
    conn_cmd: mpsc::Sender<ConnCmd>,
    local: watch::Sender<LocalState>,
    shutdown: watch::Sender<bool>,
    /// Taken by the first shutdown (the engine is shared by the front ends).
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Engine {
    /// Starts the core for an account: `api` is signed in, `store` is that
    /// account's local store.
    pub async fn start(
        config: EngineConfig,
        store: Store,
        api: Api,
        tls: Arc<rustls::ClientConfig>,
        sinks: Sinks,
    ) -> Self {
        let (events, _) = broadcast::channel(1024);
        let (state, _) = watch::channel(ConnState::Connecting);
        let (settings_tx, _) = watch::channel(default_document());
        let (router_tx, router_rx) = mpsc::unbounded_channel();
        let (local, local_rx) = watch::channel(LocalState::default());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (conn_cmd, conn_rx) = mpsc::channel(16);
        if let Err(e) = store.defer_checkpoints() {
            tracing::debug!(error = %e, "SQLite keeps checkpointing in commits");
        }
        let ctx = Arc::new(Ctx {
            store,
            api,
            tls,
            config,
            events,
            state,
            settings: settings_tx,
            router: router_tx,
            outbox_kick: Notify::new(),
            status: watch::channel(None).0,
            problems: std::sync::Mutex::default(),
            link_origins: std::sync::Mutex::default(),
        });
        ctx.refresh_settings().await;
        let tasks = vec![
            tokio::spawn(delivery::run(
                Arc::clone(&ctx),
                router_rx,
                local_rx,
                sinks,
                shutdown_rx.clone(),
            )),
            tokio::spawn(outbox::run(Arc::clone(&ctx), shutdown_rx.clone())),
            tokio::spawn(reminder::run(Arc::clone(&ctx), shutdown_rx.clone())),
            tokio::spawn(maintain(Arc::clone(&ctx), shutdown_rx.clone())),
            tokio::spawn(release_when_idle(Arc::clone(&ctx), shutdown_rx)),
            tokio::spawn(connection::run(Arc::clone(&ctx), conn_rx)),
        ];
        Self {
            ctx,
            conn_cmd,
            local,
            shutdown,
            tasks: std::sync::Mutex::new(tasks),
        }
    }

    /// Events for a front end.
    pub fn events(&self) -> broadcast::Receiver<CoreEvent> {
        self.ctx.events.subscribe()
    }

    /// The connection state, as it changes.
    pub fn state(&self) -> watch::Receiver<ConnState> {
        self.ctx.state.subscribe()
    }

    /// The effective settings (server's document plus queued edits).
    pub fn settings(&self) -> SettingsDocument {
        self.ctx.settings.borrow().clone()
    }

    /// The local store (pages and counts for the inbox window).
    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// Marks notifications read: at once locally, then on the server.
    pub async fn mark_read(&self, ids: Vec<String>) -> Result<Vec<String>, StoreError> {
        let changed = self.ctx.db(move |s| s.mark_read(&ids)).await?;
        if !changed.is_empty() {
            self.ctx.route(Input::Read(changed.clone()));
            self.ctx.emit(CoreEvent::Read {
                ids: changed.clone(),
            });
            self.after_read().await;
        }
        Ok(changed)
    }

    /// Marks everything stored read.
    pub async fn mark_all_read(&self) -> Result<usize, StoreError> {
        let Some(up_to) = self.ctx.db(|s| s.max_seq()).await? else {
            return Ok(0);
        };
        let n = self.ctx.db(move |s| s.mark_all_read(up_to)).await?;
        self.ctx.route(Input::ReadAll(up_to));
        self.ctx.emit(CoreEvent::ReadAll { up_to_seq: up_to });
        self.after_read().await;
        Ok(n)
    }

    async fn after_read(&self) {
        if let Ok(u) = self.ctx.db(|s| s.unread()).await {
            self.ctx.emit(CoreEvent::Unread(u));
        }
        self.ctx.outbox_kick.notify_one();
    }

    /// Edits the preferences: the bell rule applied
    /// ([`Preferences::follow_bell`]: the window sends the switches the
    /// user flipped), checked against the policy, applied at once locally,
    /// queued for the server. Returns the new effective document.
    pub async fn edit_settings(
        &self,
        mut next: Preferences,
    ) -> Result<SettingsDocument, EditError> {
        let current = self.settings();
        next.follow_bell(&current.preferences);
        let errors = settings::validate(&current.policy, &current.preferences, &next);
        if !errors.is_empty() {
            self.ctx.emit(CoreEvent::Refused {
                fields: errors.clone(),
            });
            return Err(EditError::Refused(errors));
        }
        let patch = Patch::diff(&current.preferences, &next)?;
        if patch.is_empty() {
            return Ok(current);
        }
        self.ctx
            .db(move |s| s.push(&Op::Settings { patch }))
            .await?;
        self.ctx.refresh_settings().await;
        self.ctx.outbox_kick.notify_one();
        Ok(self.settings())
    }

    /// Whether settings edits are waiting for the server (offline, or not
    /// sent yet): the window marks them "will sync".
    pub async fn settings_pending(&self) -> Result<bool, StoreError> {
        let ops = self.ctx.db(|s| s.outbox()).await?;
        Ok(ops.iter().any(|(_, op)| matches!(op, Op::Settings { .. })))
    }

    /// Asks the instance for a test notification on `channel` ("Send test"
    /// in Settings); the desktop shows or plays it when it arrives.
    pub async fn send_test(&self, channel: &str) -> Result<(), crate::net::ApiError> {
        self.ctx.api.test_notification(channel).await.map(|_| ())
    }

    /// The operator's availability, once the stream said it.
    pub fn availability(&self) -> Option<OperatorStatus> {
        *self.ctx.status.borrow()
    }

    /// Changes the operator's availability on the instance (the tray's
    /// status menu, a reminder's Set ready). The stream's `status` frame
    /// confirms it to every device; this one shows it at once. A failure
    /// is also reported as a problem until a change goes through.
    pub async fn set_availability(
        &self,
        status: Availability,
    ) -> Result<OperatorStatus, crate::net::ApiError> {
        let result = self.ctx.api.put_status(status).await;
        let reported = result.as_ref().map_err(|e| e.to_string());
        if let Some(now) = self.ctx.report("changing your status", reported) {
            self.ctx.set_availability(*now);
        }
        result
    }

    /// Reconnects now instead of waiting for the backoff (the network came
    /// back, or the user pressed Retry).
    pub fn retry_now(&self) {
        let _ = self.conn_cmd.try_send(ConnCmd::RetryNow);
    }

    /// Pauses toasts and melodies until `until` (the inbox still fills);
    /// `None` resumes. The pause ends by itself at that time.
    pub fn pause_until(&self, until: Option<DateTime<Utc>>) {
        self.local.send_modify(|l| l.paused_until = until);
        self.emit_quiet();
    }

    /// The OS's do-not-disturb turned on (`Some(where it was read)`) or off.
    /// Toasts and sounds hold back while it is on; the inbox still fills.
    pub fn set_os_quiet(&self, source: Option<String>) {
        let changed = self.local.send_if_modified(|l| {
            let changed = l.os_quiet != source;
            l.os_quiet = source;
            changed
        });
        if changed {
            self.emit_quiet();
        }
    }

    /// Why toasts and sounds are held back now, if they are.
    pub fn quiet(&self) -> Option<Quiet> {
        self.local.borrow().quiet(Utc::now())
    }

    fn emit_quiet(&self) {
        self.ctx.emit(CoreEvent::Quiet {
            quiet: self.quiet(),
        });
    }

    /// Opens a stored notification: checks its link against the instance's
    /// origin, marks it read, and returns the URL for the browser. A refused
    /// link is logged and still marks the item read (the user saw it).
    pub async fn open_item(&self, id: &str) -> Result<Url, OpenError> {
        let owned = id.to_owned();
        let item = self
            .ctx
            .db(move |s| s.get(&owned))
            .await?
            .ok_or_else(|| OpenError::Unknown(id.to_owned()))?;
        let url = self.checked_link(item.link.as_deref()).await;
        self.mark_read(vec![item.id]).await?;
        Ok(url?)
    }

    /// Checks a link against the instance's origin and the origins it
    /// announces. A link off the instance's own origin makes the engine ask
    /// the instance for its `link_origins` now (an admin may have added or
    /// removed a helpdesk since); offline, the last answer stands.
    async fn checked_link(&self, link: Option<&str>) -> Result<Url, LinkRefused> {
        let base = self.ctx.api.base();
        let own = link.map_or(Err(LinkRefused::None), |l| links::check(base, l));
        if !matches!(own, Err(LinkRefused::Origin(_))) {
            return links::checked(base, link);
        }
        let announced = match self.ctx.api.server_info().await {
            Ok(info) => {
                let mut cached = self
                    .ctx
                    .link_origins
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                cached.clone_from(&info.link_origins);
                info.link_origins
            }
            Err(error) => {
                tracing::info!(%error, "could not ask the instance for its link origins");
                self.ctx
                    .link_origins
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
            }
        };
        links::checked_with(base, &announced, link)
    }

    /// Acts on what the user did with a toast. Returns the URL to open in
    /// the browser, if any; `Ok(None)` for a summary's Open means "show the
    /// inbox", which is the front end's to do.
    pub async fn on_toast(&self, event: ToastEvent) -> Result<Option<Url>, OpenError> {
        match event {
            ToastEvent::Open(_, Some(id)) => self.open_item(&id).await.map(Some),
            ToastEvent::Open(_, None) => Ok(None),
            ToastEvent::MarkRead(_, id) => {
                self.mark_read(vec![id]).await?;
                Ok(None)
            }
            ToastEvent::SetReady(_) => {
                // Reported as a problem by `set_availability` when it fails.
                let _ = self.set_availability(Availability::Ready).await;
                Ok(None)
            }
            ToastEvent::Closed(key) => {
                self.toast_closed(key);
                Ok(None)
            }
        }
    }

    /// Tells the router whether the inbox window has focus.
    pub fn set_inbox_focused(&self, focused: bool) {
        self.local.send_modify(|l| l.inbox_focused = focused);
    }

    /// Tells the router a toast was closed by the user.
    pub fn toast_closed(&self, key: crate::router::ToastKey) {
        self.ctx.route(Input::Closed(key));
    }

    /// Stops every task and closes the stream. A second call does nothing
    /// more.
    pub async fn shutdown(&self) {
        let _ = self.conn_cmd.send(ConnCmd::Shutdown).await;
        let _ = self.shutdown.send(true);
        let tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for t in tasks {
            let _ = t.await;
        }
        self.ctx.set_state(ConnState::Stopped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_ends_by_itself() {
        let now = Utc::now();
        let local = LocalState {
            paused_until: Some(now + chrono::Duration::minutes(30)),
            inbox_focused: false,
            os_quiet: None,
        };
        assert!(local.at(now).paused);
        assert!(!local.at(now + chrono::Duration::minutes(31)).paused);
        assert!(!LocalState::default().at(now).paused);
    }
}
