//! The bell inbox: notifications, listing pages and read marks.

use crate::catalogue::Category;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest title a server sends, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest body a server sends, in characters.
pub const MAX_BODY_CHARS: usize = 2000;
/// Longest link, in bytes.
pub const MAX_LINK_BYTES: usize = 2048;
/// Most ids in one mark-read request.
pub const MAX_READ_IDS: usize = 1000;
/// Largest inbox page.
pub const MAX_PAGE: u32 = 500;

/// Cuts `s` to at most `max` characters, marking a cut with an ellipsis.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One notification in an operator's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Notification {
    /// Stable id, unique on the instance.
    pub id: String,
    /// The operator's stream sequence number at which it was created.
    pub seq: u64,
    /// Type id from the catalogue. Clients must accept ids they do not know.
    #[serde(rename = "type")]
    pub type_id: String,
    /// Inbox section.
    pub category: Category,
    /// Plain text, never markup.
    pub title: String,
    /// Plain text, never markup.
    pub body: String,
    /// The item on the instance (ticket, chat), an absolute URL on the
    /// instance's own origin, or null.
    pub link: Option<String>,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// When the operator read it (anywhere), or null.
    pub read_at: Option<DateTime<Utc>>,
    /// Type-specific extras, e.g. `{"score": 2}` for CSAT, `{"channel": "banner"}` for a test.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[serde(default)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// `GET /api/v1/inbox`: one page, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InboxPage {
    /// Up to `limit` notifications, highest `seq` first.
    pub items: Vec<Notification>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
    /// The stream position this page reflects: everything up to here is included.
    pub server_seq: u64,
}

/// `GET /api/v1/inbox/unread-count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnreadCount {
    /// All unread.
    pub unread: u64,
    /// Unread in the events section.
    pub events: u64,
    /// Unread in the system section.
    pub system: u64,
    /// The stream position this count reflects.
    pub server_seq: u64,
}

/// `POST /api/v1/inbox/read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MarkRead {
    /// Notification ids, at most [`MAX_READ_IDS`]. Unknown and already-read ids are ignored.
    pub ids: Vec<String>,
}

/// `POST /api/v1/inbox/read-all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MarkAllRead {
    /// Mark everything with `seq <= up_to_seq` (what the client has seen); null means everything.
    pub up_to_seq: Option<u64>,
}

/// Answer to a mark-read request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReadResult {
    /// Ids that this request changed from unread to read.
    pub marked: Vec<String>,
    /// Unread left afterwards.
    pub unread: u64,
    /// The stream sequence of the read event, or null when nothing changed.
    pub seq: Option<u64>,
}
