//! Where the router's decisions go: a toaster and a melody player behind
//! traits. The real ones (notify-rust, rodio) live in the OS crate; this
//! module has the trait and a recorder that keeps what it was asked, for the
//! headless log and for tests that check what the user would have seen.

use crate::router::{Toast, ToastKey};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// A sink failed; the core reports it once and goes on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// What a toaster's calls return: the toast worker awaits it on the app's
/// runtime. A toaster whose service speaks asynchronously (freedesktop over
/// D-Bus) sends from that task with no thread hand-off (a tenth of the
/// path to the daemon, docs/benchmarks.md); one whose platform call blocks
/// (WinRT, the macOS notification center) moves it to a blocking thread
/// itself.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// Shows toasts. A call may take long (a slow notification daemon): the
/// core awaits it in a worker task of its own, never in the stream reader.
pub trait Toaster: Send + Sync + 'static {
    /// Shows `toast`, replacing the one with the same key if it is still up.
    fn show<'a>(&'a self, toast: &'a Toast) -> SinkFuture<'a>;
    /// Closes the toast with `key` if it is up.
    fn close<'a>(&'a self, key: &'a ToastKey) -> SinkFuture<'a>;
    /// Whether toasts can be shown at all, asked once at start so a missing
    /// notification service is reported before the first event needs it.
    fn ready(&self) -> SinkFuture<'_> {
        Box::pin(std::future::ready(Ok(())))
    }
    /// Whether a toast stays on screen until the service closes it (and
    /// reports [`ToastEvent::Closed`]), whatever its timeout: a service
    /// with no notification list to move it to. The router then counts it
    /// on screen until that report ([`crate::router::Local::toasts_stay`]).
    fn toasts_stay(&self) -> bool {
        false
    }
}

/// A sound to play: the melody the settings chose, and the type it is
/// for, so a player can use the user's own file for that type instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sound {
    /// Built-in melody id.
    pub melody: String,
    /// The notification type; `None` for summaries ("N new while away").
    pub type_id: Option<String>,
}

/// What the user did with a toast, reported by the toaster from the
/// notification service's own signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToastEvent {
    /// Clicked the toast or its Open button: open the item (`Some(id)`),
    /// or the inbox for a summary toast (`None`).
    Open(ToastKey, Option<String>),
    /// Pressed Mark read.
    MarkRead(ToastKey, String),
    /// Pressed Set ready on the status reminder.
    SetReady(ToastKey),
    /// Dismissed it, or it expired.
    Closed(ToastKey),
}

/// Where a toaster reports [`ToastEvent`]s; called from the toaster's own
/// thread, so it must not block.
pub type OnToastEvent = Arc<dyn Fn(ToastEvent) + Send + Sync>;

/// Plays sounds. May block; called from its own worker.
pub trait Player: Send + Sync + 'static {
    /// Plays `sound` (stopping any other).
    fn play(&self, sound: &Sound) -> Result<(), SinkError>;
}

/// One thing a sink was asked to do, with when.
#[derive(Debug, Clone)]
pub enum Record {
    /// A toast shown.
    Shown(Instant, Toast),
    /// A toast closed.
    Closed(Instant, ToastKey),
    /// A sound played.
    Played(Instant, Sound),
}

/// A toaster and player that records instead of showing: the sink of the
/// headless mode when no desktop is there, and of tests.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    log: Arc<Mutex<Vec<Record>>>,
}

impl Recorder {
    /// A copy of everything recorded.
    pub fn records(&self) -> Vec<Record> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, r: Record) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(r);
    }
}

impl Toaster for Recorder {
    fn show<'a>(&'a self, toast: &'a Toast) -> SinkFuture<'a> {
        self.push(Record::Shown(Instant::now(), toast.clone()));
        Box::pin(std::future::ready(Ok(())))
    }

    fn close<'a>(&'a self, key: &'a ToastKey) -> SinkFuture<'a> {
        self.push(Record::Closed(Instant::now(), key.clone()));
        Box::pin(std::future::ready(Ok(())))
    }
}

impl Player for Recorder {
    fn play(&self, sound: &Sound) -> Result<(), SinkError> {
        self.push(Record::Played(Instant::now(), sound.clone()));
        Ok(())
    }
}

/// The sinks the core delivers to.
#[derive(Clone)]
pub struct Sinks {
    /// Toasts.
    pub toaster: Arc<dyn Toaster>,
    /// Melodies.
    pub player: Arc<dyn Player>,
}

impl Sinks {
    /// Both sinks from one recorder.
    pub fn recording(r: &Recorder) -> Self {
        Self {
            toaster: Arc::new(r.clone()),
            player: Arc::new(r.clone()),
        }
    }
}
