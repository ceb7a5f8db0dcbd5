//! Where the router's decisions go: a toaster and a melody player behind
//! traits. The real ones (notify-rust, rodio) live in the OS crate; this
//! module has the trait and a recorder that keeps what it was asked, for the
//! headless log and for tests that check what the user would have seen.

use crate::router::{Toast, ToastKey};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// A sink failed; the core reports it once and goes on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Shows toasts. Calls may block (a slow notification daemon): the core
/// calls them from a worker of their own, never from the stream reader.
pub trait Toaster: Send + Sync + 'static {
    /// Shows `toast`, replacing the one with the same key if it is still up.
    fn show(&self, toast: &Toast) -> Result<(), SinkError>;
    /// Closes the toast with `key` if it is up.
    fn close(&self, key: &ToastKey) -> Result<(), SinkError>;
    /// Whether toasts can be shown at all, asked once at start so a missing
    /// notification service is reported before the first event needs it.
    fn ready(&self) -> Result<(), SinkError> {
        Ok(())
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
    fn show(&self, toast: &Toast) -> Result<(), SinkError> {
        self.push(Record::Shown(Instant::now(), toast.clone()));
        Ok(())
    }

    fn close(&self, key: &ToastKey) -> Result<(), SinkError> {
        self.push(Record::Closed(Instant::now(), key.clone()));
        Ok(())
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
