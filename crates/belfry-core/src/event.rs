//! What the core tells its front ends (the tray app's UI, the headless
//! mode's log): one event enum and the connection state.

use crate::store::Unread;
use belfry_proto::api::OperatorStatus;
use belfry_proto::inbox::Notification;
use belfry_proto::settings::{FieldError, SettingsDocument};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The connection as a user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnState {
    /// Opening the stream.
    Connecting,
    /// Live.
    Connected,
    /// The connection dropped; the next attempt is at `next_attempt`.
    Reconnecting {
        /// When.
        next_attempt: DateTime<Utc>,
        /// Attempts since the last good connection.
        attempt: u32,
    },
    /// The instance cannot be reached (no network, DNS, refused); cached
    /// items are shown; the next attempt is at `next_attempt`.
    Offline {
        /// When.
        next_attempt: DateTime<Utc>,
        /// Attempts since the last good connection.
        attempt: u32,
    },
    /// The token was revoked or expired: sign in again. No retries.
    SignedOut,
    /// The instance speaks no protocol version this app knows. No retries.
    Incompatible {
        /// What the server said.
        reason: String,
    },
    /// The core was shut down.
    Stopped,
}

/// Why toasts and sounds are held back (the inbox still fills): the tray
/// says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Quiet {
    /// The user paused notifications from the tray, until this time.
    Paused {
        /// When notifications resume.
        until: DateTime<Utc>,
    },
    /// The operating system's do-not-disturb is on.
    DoNotDisturb {
        /// Which setting, for people ("dunst is paused").
        source: String,
    },
}

/// Something the front end shows.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CoreEvent {
    /// The connection state changed.
    State(ConnState),
    /// Notifications were stored (live, replayed or from a resync).
    Added {
        /// The new ones, oldest first.
        items: Vec<Notification>,
    },
    /// Notifications became read (here or elsewhere).
    Read {
        /// Their ids.
        ids: Vec<String>,
    },
    /// Everything up to a sequence became read.
    ReadAll {
        /// Up to here.
        up_to_seq: u64,
    },
    /// The unread counts changed.
    Unread(Unread),
    /// The effective settings changed (the server's document plus local
    /// edits on their way).
    Settings(Box<SettingsDocument>),
    /// A settings edit was refused, field by field; the controls go back.
    Refused {
        /// Why, per field.
        fields: Vec<FieldError>,
    },
    /// The operator's availability changed.
    Status(OperatorStatus),
    /// Toasts and sounds are held back (`Some`), or are back (`None`).
    Quiet {
        /// Why, while they are held back.
        quiet: Option<Quiet>,
    },
    /// Something is wrong that the user should know (disk full, …); the app goes on.
    Problem {
        /// What failed, in words that also key it: "storing notifications".
        what: String,
        /// For people: `what` and the error.
        message: String,
    },
    /// A [`CoreEvent::Problem`] is over: what failed works again.
    Resolved {
        /// The problem's `what`.
        what: String,
    },
}
