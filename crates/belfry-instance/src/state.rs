//! Shared state of the running instance and its configuration.

use crate::error::ApiError;
use crate::store::{Store, StoreError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How an instance runs. `Default` is what the binary uses without flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// SQLite file, or a PostgreSQL URL (`postgres://…`, several nodes may
    /// share one); `None` keeps everything in memory (tests that need no restart).
    pub db: Option<PathBuf>,
    /// Origin that notification links and `/info` advertise; the listening
    /// address over http when `None`.
    pub public_url: Option<String>,
    /// Heartbeat interval on the stream.
    pub heartbeat: Duration,
    /// How long a token lives.
    pub token_ttl: Duration,
    /// Events per operator the stream can replay before asking for a resync.
    pub replay_window: u64,
    /// Open streams on this node, all operators together; one more is
    /// refused before the upgrade with 503 (`too_many_requests`), so the
    /// descriptors left keep REST answering. `None`: as many as the
    /// open-file limit leaves room for ([`crate::fds::streams_for`]).
    pub max_streams: Option<usize>,
    /// Open streams per operator, counted from the upgrade (a stream still
    /// waiting for its `hello` holds a slot); one more is closed with 4429.
    pub max_streams_per_operator: usize,
    /// Open streams per token, counted the same way. A desktop holds one; a
    /// few more let a reconnect overlap the old stream's heartbeat timeout.
    pub max_streams_per_token: usize,
    /// Client frames per second a stream may send, sustained (see
    /// `stream.rs`, `FrameBudget`); a client over it is closed with 4429.
    pub stream_frame_rate: u32,
    /// Client frames a stream may send at once before the rate applies.
    pub stream_frame_burst: u32,
    /// How long one frame to a client may wait to be sent; a client that
    /// reads slower than that (or not at all) is dropped.
    pub stream_write_timeout: Duration,
    /// Largest REST body.
    pub max_body_bytes: usize,
    /// Largest webhook body a source may post (`/api/v1/hooks/…`); a
    /// larger one is refused with 413 and recorded for the admin.
    pub max_hook_body_bytes: usize,
    /// Largest request head (request line and headers); hyper answers a
    /// larger one with 431. At least 8 KiB (hyper's minimum buffer).
    pub max_header_bytes: usize,
    /// How long a client may take to send a request head, and how long an
    /// idle keep-alive connection stays open; the connection is then closed.
    pub header_read_timeout: Duration,
    /// How long a REST request may take from its head to the answer (the
    /// body's upload included); later it is answered 408.
    pub request_timeout: Duration,
    /// A directory served read-only under `/updates/`: an update feed
    /// (`latest.json` per channel) and its signed artifacts, for an
    /// organization that hosts Belfry's updates beside its instance.
    pub updates_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            db: None,
            public_url: None,
            heartbeat: Duration::from_secs(u64::from(belfry_proto::stream::DEFAULT_HEARTBEAT_S)),
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            replay_window: 100_000,
            max_streams: None,
            max_streams_per_operator: 8,
            max_streams_per_token: 4,
            stream_frame_rate: 50,
            stream_frame_burst: 500,
            stream_write_timeout: Duration::from_secs(30),
            max_body_bytes: 4 * 1024 * 1024,
            max_hook_body_bytes: 1024 * 1024,
            max_header_bytes: 32 * 1024,
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            updates_dir: None,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The configuration.
    pub config: Arc<Config>,
    /// The origin links point to (no trailing slash).
    pub public_url: Arc<str>,
    /// Flips when the server shuts down, so streams close with 1001.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Where the streams' delivery acknowledgements are written, together.
    pub acks: crate::acks::Acks,
    /// Where accepted webhooks go to be mapped.
    pub gateway: crate::connectors::worker::Gateway,
}

impl AppState {
    /// Runs blocking store work off the async threads.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ApiError::Internal(format!("store task: {e}")))?
            .map_err(ApiError::from)
    }
}
