//! Live fan-out: one broadcast channel per operator that every open stream of
//! that operator listens to. Frames are serialized once, here, and shared.

use axum::extract::ws::Utf8Bytes;
use belfry_proto::stream::ServerFrame;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::broadcast;

/// How many live events a slow stream may fall behind before it catches up
/// from the database instead (see `stream.rs`, `Lagged`). Every operator
/// with a stream open has a channel of this many slots (32 bytes each):
/// 1,024 was 32 KB per operator, more than an idle stream's whole budget
/// (issue 32); a burst past this is read from the log as before.
const CAPACITY: usize = 128;

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

/// Per-operator channels, and stream counts per operator and per token.
#[derive(Debug, Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    /// Woken when the last open stream closes (see [`Hub::all_closed`]).
    drained: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Inner {
    operators: HashMap<i64, Entry>,
    /// Open streams per token row id; a token with none has no entry.
    tokens: HashMap<i64, usize>,
    /// Open streams, all operators together.
    open: usize,
}

#[derive(Debug)]
struct Entry {
    tx: broadcast::Sender<Arc<HubEvent>>,
    streams: usize,
    /// Frames without a sequence (settings, status, revocations) published
    /// so far: a stream that fell behind resends the state only when this
    /// moved while it was behind.
    states: u64,
}

/// How many streams may be open at once.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// On this node, all operators together.
    pub per_node: usize,
    /// Per operator.
    pub per_operator: usize,
    /// Per token.
    pub per_token: usize,
}

/// Why [`Hub::join`] refused a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    /// The token has its maximum of streams open.
    #[error("too many streams for this token")]
    Token,
    /// The operator has its maximum of streams open.
    #[error("too many streams for this operator")]
    Operator,
    /// This node has its maximum of streams open.
    #[error("this node has its maximum of streams open")]
    Node,
}

/// Holds one stream slot of an operator and its token; frees both on drop.
pub struct StreamSlot {
    /// The operator's state frames published before this stream joined
    /// (see [`Hub::states`]); the receiver has every later one.
    pub states: u64,
    hub: Arc<Hub>,
    operator_id: i64,
    token_id: i64,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut inner = self.hub.lock();
        if let Some(entry) = inner.operators.get_mut(&self.operator_id) {
            entry.streams = entry.streams.saturating_sub(1);
        }
        if let Some(n) = inner.tokens.get_mut(&self.token_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // Tokens come and go; do not keep a row for each one ever seen.
                inner.tokens.remove(&self.token_id);
            }
        }
        inner.open = inner.open.saturating_sub(1);
        let open = inner.open;
        drop(inner);
        if open == 0 {
            self.hub.drained.notify_waiters();
        }
    }
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `event` to every open stream of `operator_id`. Never blocks.
    pub fn publish(&self, operator_id: i64, event: HubEvent) {
        let mut inner = self.lock();
        if let HubEvent::Seq { seq, .. } = &event {
            // The instant an event leaves the server for its streams: the
            // benchmarks start their delivery clocks here (docs/benchmarks.md).
            tracing::trace!(operator_id, seq, "published");
        }
        if let Some(entry) = inner.operators.get_mut(&operator_id) {
            if !matches!(event, HubEvent::Seq { .. }) {
                entry.states += 1;
            }
            // No receivers is fine: nobody is connected.
            let _ = entry.tx.send(Arc::new(event));
        }
    }

    /// Opens a stream slot for `operator_id` through token `token_id` and
    /// subscribes to the operator's events, unless the token or the operator
    /// already has its maximum of streams open.
    pub fn join(
        self: &Arc<Self>,
        operator_id: i64,
        token_id: i64,
        limits: StreamLimits,
    ) -> Result<(StreamSlot, broadcast::Receiver<Arc<HubEvent>>), Full> {
        let mut inner = self.lock();
        if inner.open >= limits.per_node {
            return Err(Full::Node);
        }
        if inner.tokens.get(&token_id).copied().unwrap_or(0) >= limits.per_token {
            return Err(Full::Token);
        }
        let entry = inner.operators.entry(operator_id).or_insert_with(|| Entry {
            tx: broadcast::channel(CAPACITY).0,
            streams: 0,
            states: 0,
        });
        if entry.streams >= limits.per_operator {
            return Err(Full::Operator);
        }
        entry.streams += 1;
        let rx = entry.tx.subscribe();
        let states = entry.states;
        *inner.tokens.entry(token_id).or_insert(0) += 1;
        inner.open += 1;
        let slot = StreamSlot {
            states,
            hub: Arc::clone(self),
            operator_id,
            token_id,
        };
        Ok((slot, rx))
    }

    /// Open streams, all operators together.
    pub fn open_streams(&self) -> usize {
        self.lock().open
    }

    /// Resolves once no stream is open: on shutdown, each stream sends its
    /// close frame (1001) and waits for the client's before it lets go, so
    /// a process that waits for this before exiting closes every stream
    /// properly instead of dropping it.
    pub async fn all_closed(&self) {
        loop {
            // Registered before the check, so a close in between still wakes it.
            let drained = self.drained.notified();
            if self.open_streams() == 0 {
                return;
            }
            drained.await;
        }
    }

    /// The operators with at least one stream open here.
    pub fn operators_with_streams(&self) -> Vec<i64> {
        self.lock()
            .operators
            .iter()
            .filter(|(_, e)| e.streams > 0)
            .map(|(id, _)| *id)
            .collect()
    }

    /// How many state frames (settings, status, revocations) `operator_id`'s
    /// streams were sent so far (see [`Entry`]).
    pub fn states(&self, operator_id: i64) -> u64 {
        self.lock()
            .operators
            .get(&operator_id)
            .map_or(0, |e| e.states)
    }

    /// Open streams of `operator_id`.
    pub fn streams(&self, operator_id: i64) -> usize {
        self.lock()
            .operators
            .get(&operator_id)
            .map_or(0, |e| e.streams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_token_and_per_operator_and_freed_on_drop() {
        let hub = Arc::new(Hub::default());
        let limits = StreamLimits {
            per_node: 100,
            per_operator: 3,
            per_token: 2,
        };
        let a1 = hub.join(1, 10, limits).unwrap();
        let _a2 = hub.join(1, 10, limits).unwrap();
        assert_eq!(hub.join(1, 10, limits).err(), Some(Full::Token));
        let _b1 = hub.join(1, 11, limits).unwrap();
        assert_eq!(hub.join(1, 11, limits).err(), Some(Full::Operator));
        assert!(hub.join(2, 12, limits).is_ok(), "other operators are apart");
        assert_eq!(hub.streams(1), 3);
        drop(a1);
        assert_eq!(hub.streams(1), 2);
        let _a3 = hub.join(1, 10, limits).unwrap();
        assert_eq!(hub.join(1, 10, limits).err(), Some(Full::Token));
    }

    #[test]
    fn a_refused_join_takes_nothing() {
        let hub = Arc::new(Hub::default());
        let limits = StreamLimits {
            per_node: 100,
            per_operator: 1,
            per_token: 1,
        };
        let _a = hub.join(1, 10, limits).unwrap();
        for _ in 0..5 {
            assert_eq!(hub.join(1, 11, limits).err(), Some(Full::Operator));
        }
        drop(_a);
        assert_eq!(hub.streams(1), 0);
        assert!(
            hub.lock().tokens.is_empty(),
            "no row kept for a token with no stream"
        );
        assert!(hub.join(1, 11, limits).is_ok());
    }

    #[test]
    fn the_node_cap_counts_every_operator_and_frees_on_drop() {
        let hub = Arc::new(Hub::default());
        let limits = StreamLimits {
            per_node: 2,
            per_operator: 8,
            per_token: 8,
        };
        let a = hub.join(1, 10, limits).unwrap();
        let _b = hub.join(2, 20, limits).unwrap();
        assert_eq!(hub.join(3, 30, limits).err(), Some(Full::Node));
        assert_eq!(hub.open_streams(), 2);
        drop(a);
        assert!(hub.join(3, 30, limits).is_ok());
    }
}
