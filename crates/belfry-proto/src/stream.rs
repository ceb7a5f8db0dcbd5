//! The WebSocket stream at `/api/v1/stream`: JSON text frames, one object
//! each, tagged by `type`.
//!
//! The order of a session: the client connects with its bearer token, sends
//! [`ClientFrame::Hello`] with the last sequence it stored; the server answers
//! [`ServerFrame::Welcome`], replays every event after that sequence (or sends
//! [`ServerFrame::ResyncRequired`] when it no longer has them), sends
//! [`ServerFrame::ReplayDone`], then streams live events. Both sides send
//! `ping` every `heartbeat_s` and answer each `ping` with `pong`; a side that
//! hears nothing for two intervals closes the connection.

use crate::api::OperatorStatus;
use crate::inbox::Notification;
use crate::settings::SettingsDocument;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Seconds between heartbeats, unless the server's `welcome` says otherwise.
pub const DEFAULT_HEARTBEAT_S: u32 = 15;
/// Largest frame either side sends or accepts.
pub const MAX_FRAME_BYTES: u32 = 64 * 1024;

/// WebSocket close codes and what a client does on each.
pub mod close {
    /// Normal closure (client logout, server shutdown): reconnect later.
    pub const NORMAL: u16 = 1000;
    /// The server is going away (restart): reconnect with backoff.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame larger than `max_frame_bytes`: reconnect; the client has a bug.
    pub const TOO_BIG: u16 = 1009;
    /// The client broke the protocol (no `hello`, or too many bad frames): reconnect with backoff.
    pub const PROTOCOL_ERROR: u16 = 4400;
    /// The token was revoked or expired: do not reconnect, sign in again.
    pub const SIGNED_OUT: u16 = 4401;
    /// No protocol version in common: do not reconnect; the app or the instance needs an update.
    pub const INCOMPATIBLE: u16 = 4406;
    /// Nothing heard for two heartbeat intervals: reconnect at once.
    pub const HEARTBEAT_TIMEOUT: u16 = 4408;
    /// Too many streams for this token or operator, or too many frames from
    /// this client (the reason says which): reconnect with backoff.
    pub const TOO_MANY_CONNECTIONS: u16 = 4429;

    /// Should a client stop reconnecting after this close code?
    pub fn is_final(code: u16) -> bool {
        matches!(code, SIGNED_OUT | INCOMPATIBLE)
    }
}

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First frame: the protocol version and where the client is.
    Hello {
        /// Protocol version the client speaks.
        protocol: u32,
        /// Highest sequence the client has stored; null on first start.
        last_seq: Option<u64>,
        /// Free text: app name and version.
        #[serde(default)]
        client: Option<String>,
    },
    /// Heartbeat; the server answers `pong` with the same `id`.
    Ping {
        /// Echoed in the answer.
        #[serde(default)]
        id: Option<u64>,
    },
    /// Answer to a server `ping`.
    Pong {
        /// The `id` of the ping.
        #[serde(default)]
        id: Option<u64>,
    },
    /// Delivery acknowledgement: these notifications reached the operator's desktop.
    Ack {
        /// Notification ids.
        ids: Vec<String>,
    },
}

/// Frames a server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Answer to `hello`.
    Welcome {
        /// Protocol version in use.
        protocol: u32,
        /// The operator's latest sequence at this moment.
        server_seq: u64,
        /// Heartbeat interval in seconds.
        heartbeat_s: u32,
        /// Largest frame either side may send.
        max_frame_bytes: u32,
        /// Current settings version; fetch the document when yours differs.
        settings_version: u64,
        /// The operator's availability.
        status: OperatorStatus,
    },
    /// The client's `last_seq` is older than the server keeps: fetch the inbox
    /// over REST. Live events after `server_seq` follow on this connection.
    ResyncRequired {
        /// Oldest sequence the server can still replay from.
        oldest_seq: u64,
        /// The position a REST resync brings the client to.
        server_seq: u64,
    },
    /// The replay is complete; what follows is live.
    ReplayDone {
        /// Last replayed sequence (the client's position now).
        seq: u64,
    },
    /// A new notification.
    Notification {
        /// Stream position (equals `notification.seq`).
        seq: u64,
        /// The notification.
        notification: Notification,
    },
    /// Notifications read somewhere (another client, the web UI).
    Read {
        /// Stream position.
        seq: u64,
        /// The ids that became read.
        ids: Vec<String>,
        /// When.
        read_at: DateTime<Utc>,
    },
    /// Everything up to a sequence was marked read somewhere.
    ReadAll {
        /// Stream position.
        seq: u64,
        /// Every notification with `seq <= up_to_seq` is read.
        up_to_seq: u64,
        /// When.
        read_at: DateTime<Utc>,
    },
    /// The settings document changed (an edit elsewhere or a new policy).
    Settings {
        /// The whole new document.
        document: Box<SettingsDocument>,
    },
    /// The operator's availability changed.
    Status {
        /// New status.
        status: OperatorStatus,
    },
    /// Heartbeat; answer with `pong`.
    Ping {
        /// Echo in the `pong`.
        id: Option<u64>,
    },
    /// Answer to a client `ping`.
    Pong {
        /// The `id` of the ping.
        id: Option<u64>,
    },
    /// A frame the server could not use; the connection stays open.
    Error {
        /// `bad_frame`, `unexpected_frame`, `rate_limited`.
        code: String,
        /// For people.
        message: String,
    },
}

impl ServerFrame {
    /// The stream sequence this frame carries, for frames that are part of the
    /// replayable history.
    pub fn seq(&self) -> Option<u64> {
        match self {
            ServerFrame::Notification { seq, .. }
            | ServerFrame::Read { seq, .. }
            | ServerFrame::ReadAll { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}
