//! Live fan-out: one broadcast channel per operator that every open stream of
//! that operator listens to. Frames are serialized once, here, and shared.

use axum::extract::ws::Utf8Bytes;
use belfry_proto::stream::ServerFrame;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::broadcast;

/// How many live events a slow stream may fall behind before it catches up
/// from the database instead (see `stream.rs`, `Lagged`).
const CAPACITY: usize = 1024;

/// Something that happened to an operator.
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// A frame with a stream sequence (notification, read, read_all).
    Seq {
        /// Its sequence.
        seq: u64,
        /// The serialized frame.
        frame: Utf8Bytes,
    },
    /// A frame without a sequence (settings, status).
    State(Utf8Bytes),
    /// A token was revoked: streams authenticated with it close with 4401.
    Revoked {
        /// The token's row id.
        token_id: i64,
    },
}

impl HubEvent {
    /// Serializes a frame for fan-out.
    pub fn frame(frame: &ServerFrame) -> Self {
        let text = Utf8Bytes::from(serde_json::to_string(frame).unwrap_or_default());
        match frame.seq() {
            Some(seq) => HubEvent::Seq { seq, frame: text },
            None => HubEvent::State(text),
        }
    }
}

/// Per-operator channels and stream counts.
#[derive(Debug, Default)]
pub struct Hub {
    inner: Mutex<HashMap<i64, Entry>>,
}

#[derive(Debug)]
struct Entry {
    tx: broadcast::Sender<Arc<HubEvent>>,
    streams: usize,
}

/// Holds one stream slot of an operator; frees it on drop.
pub struct StreamSlot {
    hub: Arc<Hub>,
    operator_id: i64,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut map = self
            .hub
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get_mut(&self.operator_id) {
            entry.streams = entry.streams.saturating_sub(1);
        }
    }
}

impl Hub {
    /// Sends `event` to every open stream of `operator_id`. Never blocks.
    pub fn publish(&self, operator_id: i64, event: HubEvent) {
        let map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get(&operator_id) {
            // No receivers is fine: nobody is connected.
            let _ = entry.tx.send(Arc::new(event));
        }
    }

    /// Opens a stream slot for `operator_id` and subscribes to its events, or
    /// returns `None` when the operator already has `max_streams` open.
    pub fn join(
        self: &Arc<Self>,
        operator_id: i64,
        max_streams: usize,
    ) -> Option<(StreamSlot, broadcast::Receiver<Arc<HubEvent>>)> {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(operator_id).or_insert_with(|| Entry {
            tx: broadcast::channel(CAPACITY).0,
            streams: 0,
        });
        if entry.streams >= max_streams {
            return None;
        }
        entry.streams += 1;
        let rx = entry.tx.subscribe();
        let slot = StreamSlot {
            hub: Arc::clone(self),
            operator_id,
        };
        Some((slot, rx))
    }

    /// Open streams of `operator_id`.
    pub fn streams(&self, operator_id: i64) -> usize {
        let map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&operator_id).map_or(0, |e| e.streams)
    }
}
