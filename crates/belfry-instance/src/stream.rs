//! The WebSocket stream: hello, replay from the client's position (or a
//! resync request), then live events, with heartbeats both ways.
//!
//! A hostile client is bounded here: its streams hold slots per token and
//! per operator (see `hub.rs`), its frames draw on a [`FrameBudget`], a
//! client that stops reading is dropped once a send has waited the write
//! timeout, and every close waits briefly for the client's own close so the
//! close code reaches it.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::hub::{Full, HubEvent, StreamLimits};
use crate::state::AppState;
use crate::store::Session;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use belfry_proto::PROTOCOL_VERSION;
use belfry_proto::inbox::MAX_READ_IDS;
use belfry_proto::stream::{ClientFrame, MAX_FRAME_BYTES, ServerFrame, close};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};

/// Frames read from the log per query while replaying.
const REPLAY_CHUNK: u32 = 1000;
/// Consecutive unusable frames before the server gives up on a client.
const MAX_BAD_FRAMES: u32 = 50;
/// How long a server-side close waits for the client's close frame. Without
/// the wait, a socket dropped with the client's frames still unread can be
/// reset before the client has read why it was closed.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// Heartbeats between two looks at the token's row (see `live`).
const TOKEN_CHECK_EVERY: u64 = 4;
/// The stream's read buffer. A client's frames are pongs and acks of a few
/// hundred bytes; tungstenite's default, 128 KiB, zero-filled at once, was
/// most of an idle stream's memory (174 KB each, issue 32). A larger frame
/// grows the buffer for as long as it needs.
const READ_BUFFER: usize = 4 * 1024;
/// Frames are written to the socket as they are sent (each is due at
/// once), so no write buffer is kept beyond the frame in flight.
const WRITE_BUFFER: usize = 0;

type Events = broadcast::Receiver<Arc<HubEvent>>;

/// `GET /api/v1/stream`: authenticates, takes a stream slot, then upgrades.
/// A missing, revoked or expired token gets a plain 401 before any upgrade; a
/// request that is not a WebSocket upgrade gets the error body with the
/// status axum gives it (400, 405 or 426).
pub async fn stream(
    State(state): State<AppState>,
    Auth(session): Auth,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return ApiError::Rejected(rejection.status(), rejection.body_text()).into_response();
        }
    };
    let limits = StreamLimits {
        per_node: state.config.max_streams.unwrap_or(usize::MAX),
        per_operator: state.config.max_streams_per_operator,
        per_token: state.config.max_streams_per_token,
    };
    // Taken before the upgrade, so a stream still waiting for its hello holds
    // a slot too, and one over the cap is closed at once.
    let joined = state
        .store
        .hub()
        .join(session.operator.id, session.token_id, limits);
    if let Err(Full::Node) = joined {
        // Refused before the upgrade: no socket is kept for it, and the
        // descriptors left over answer REST (issue 32).
        tracing::debug!(login = %session.operator.login, "stream refused: the node is full");
        return ApiError::Busy("this node holds all the streams it may; retry later".into())
            .into_response();
    }
    let max = MAX_FRAME_BYTES as usize;
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        // A client that stops reading is dropped after the write timeout;
        // meanwhile at most one largest frame waits here.
        .max_write_buffer_size(max * 2)
        .on_upgrade(move |socket| async move {
            let login = session.operator.login.clone();
            let budget = FrameBudget::new(
                state.config.stream_frame_rate,
                state.config.stream_frame_burst,
            );
            let mut conn = Connection {
                socket,
                write_timeout: state.config.stream_write_timeout,
                state,
                session,
                sent: 0,
                budget,
            };
            let end = match joined {
                Ok((slot, mut rx)) => conn.run(&mut rx, slot.states).await,
                Err(full) => {
                    let reason = match full {
                        Full::Token => "too many streams for this token",
                        Full::Operator => "too many streams for this operator",
                        Full::Node => "this node holds all the streams it may",
                    };
                    tracing::info!(%login, reason, "stream refused");
                    conn.close(close::TOO_MANY_CONNECTIONS, reason).await
                }
            };
            match end {
                End::ClientGone => tracing::debug!(%login, "stream ended by the client"),
                End::Stalled => {
                    tracing::info!(%login, "stream dropped: the client stopped reading")
                }
                End::Closed(code, reason) => {
                    tracing::debug!(%login, code, reason, "stream closed by the server");
                }
                End::Store(error) => tracing::warn!(%login, %error, "stream ended: store failed"),
            }
        })
}

/// A random offset in `[0, period)`. Not secret: the OS's random source
/// only so streams opened in the same instant differ; a failed read gives
/// no offset, which only brings the waves back.
fn spread(period: Duration) -> Duration {
    let mut b = [0u8; 4];
    if getrandom::fill(&mut b).is_err() {
        return Duration::ZERO;
    }
    period.mul_f64(f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0))
}

/// Why a stream ended (for the log).
enum End {
    ClientGone,
    /// A send waited longer than the write timeout: the client is not reading.
    Stalled,
    Closed(u16, &'static str),
    Store(String),
}

/// What the client may send: a token bucket of `burst` frames that refills
/// at `rate` frames a second. An `ack` is free for as many ids as the server
/// has sent events not yet acknowledged, so a client that acknowledges what
/// it receives is never limited by a burst of events; each id beyond those
/// costs a frame, and an ack with no free id costs at least one.
struct FrameBudget {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
    unacked: u64,
}

impl FrameBudget {
    fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            at: Instant::now(),
            unacked: 0,
        }
    }

    /// The server sent one more event the client may acknowledge.
    fn sent_event(&mut self) {
        self.unacked = self.unacked.saturating_add(1);
    }

    /// Charges one received frame; false when the budget cannot pay for it.
    fn charge(&mut self, incoming: &Incoming) -> bool {
        let cost = match incoming {
            Incoming::Frame(ClientFrame::Ack { ids }) => {
                let n = u64::try_from(ids.len()).unwrap_or(u64::MAX);
                let free = n.min(self.unacked);
                self.unacked -= free;
                if free == 0 { n.max(1) } else { n - free }
            }
            _ => 1,
        };
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.at = now;
        let cost = u32::try_from(cost).map_or(f64::INFINITY, f64::from);
        if cost > self.tokens {
            return false;
        }
        self.tokens -= cost;
        true
    }
}

struct Connection {
    socket: WebSocket,
    state: AppState,
    session: Session,
    /// Highest sequence sent to this client.
    sent: u64,
    budget: FrameBudget,
    /// How long one send may wait for the client to read.
    write_timeout: Duration,
}

/// One read from the client.
enum Incoming {
    Frame(ClientFrame),
    Bad(String),
    /// A WebSocket ping or pong (answered by the library).
    Other,
    /// The client closed or the connection dropped.
    Gone,
    /// A frame over the size limit, or not WebSocket at all.
    Broken(String),
}

impl Connection {
    async fn send(&mut self, frame: &ServerFrame) -> Result<(), End> {
        let text = serde_json::to_string(frame).map_err(|e| End::Store(e.to_string()))?;
        self.send_text(Utf8Bytes::from(text)).await
    }

    async fn send_text(&mut self, text: Utf8Bytes) -> Result<(), End> {
        self.send_message(Message::Text(text)).await
    }

    /// Sends an event with a sequence number, which the client may then ack.
    async fn send_event(&mut self, seq: u64, text: Utf8Bytes) -> Result<(), End> {
        self.send_text(text).await?;
        self.sent = seq;
        self.budget.sent_event();
        Ok(())
    }

    async fn send_message(&mut self, message: Message) -> Result<(), End> {
        match timeout(self.write_timeout, self.socket.send(message)).await {
            Err(_) => Err(End::Stalled),
            Ok(Err(_)) => Err(End::ClientGone),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Closes with `code`, then reads (and drops) what the client still
    /// sends until its close frame arrives or [`CLOSE_LINGER`] passes.
    async fn close(&mut self, code: u16, reason: &'static str) -> End {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        if self.send_message(Message::Close(Some(frame))).await.is_ok() {
            let _ = timeout(CLOSE_LINGER, async {
                while let Some(Ok(message)) = self.socket.recv().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
        End::Closed(code, reason)
    }

    /// Store work; the future holds a clone of the state, not `self`, so it
    /// stays `Send` (the socket is not `Sync`).
    fn db<T, F>(&self, f: F) -> impl Future<Output = Result<T, End>> + Send + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce(&crate::store::Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    {
        let state = self.state.clone();
        async move { state.db(f).await.map_err(|e| End::Store(e.to_string())) }
    }

    /// The next read, decoded. Cancel-safe: nothing is lost if it is dropped
    /// before it resolves (it is raced against live events).
    async fn receive(&mut self) -> Incoming {
        match self.socket.recv().await {
            None | Some(Ok(Message::Close(_))) => Incoming::Gone,
            Some(Err(e)) => Incoming::Broken(e.to_string()),
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientFrame>(&text) {
                Ok(frame) => Incoming::Frame(frame),
                Err(e) => Incoming::Bad(e.to_string()),
            },
            Some(Ok(Message::Binary(_))) => Incoming::Bad("binary frames are not used".into()),
            Some(Ok(_)) => Incoming::Other,
        }
    }

    /// The next read that is not the end of the stream or over a limit;
    /// those end the stream here.
    async fn usable(&mut self, incoming: Incoming) -> Result<Incoming, End> {
        match incoming {
            Incoming::Gone => Err(End::ClientGone),
            Incoming::Broken(error) => {
                // The usual cause is a frame over the size limit.
                tracing::info!(%error, "stream read failed");
                Err(self
                    .close(close::TOO_BIG, "frame too large or malformed")
                    .await)
            }
            other if !self.budget.charge(&other) => {
                let login = &self.session.operator.login;
                tracing::info!(%login, "stream closed: too many frames");
                Err(self
                    .close(close::TOO_MANY_CONNECTIONS, "too many frames")
                    .await)
            }
            other => Ok(other),
        }
    }

    async fn run(&mut self, rx: &mut Events, states: u64) -> End {
        match self.run_inner(rx, states).await {
            Ok(end) | Err(end) => end,
        }
    }

    async fn run_inner(&mut self, rx: &mut Events, states: u64) -> Result<End, End> {
        let hb = self.state.config.heartbeat;
        let first = match timeout(hb * 2, self.receive()).await {
            Err(_) => return Ok(self.close(close::PROTOCOL_ERROR, "expected hello").await),
            Ok(incoming) => self.usable(incoming).await?,
        };
        let last_seq = match first {
            Incoming::Frame(ClientFrame::Hello {
                protocol, last_seq, ..
            }) => {
                if protocol != PROTOCOL_VERSION {
                    return Ok(self
                        .close(close::INCOMPATIBLE, "unsupported protocol version")
                        .await);
                }
                last_seq
            }
            _ => return Ok(self.close(close::PROTOCOL_ERROR, "expected hello").await),
        };
        let op = self.session.operator.id;
        let (log, status, doc) = self
            .db(move |s| Ok((s.log_state(op)?, s.status(op)?, s.settings(op)?)))
            .await?;
        self.send(&ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            server_seq: log.head,
            heartbeat_s: u32::try_from(hb.as_secs().max(1)).unwrap_or(u32::MAX),
            max_frame_bytes: MAX_FRAME_BYTES,
            settings_version: doc.version,
            status,
        })
        .await?;
        match last_seq {
            None => self.sent = log.head,
            Some(l) if l > log.head || l < log.pruned_through => {
                self.sent = log.head;
                self.send(&ServerFrame::ResyncRequired {
                    oldest_seq: log.pruned_through + 1,
                    server_seq: log.head,
                })
                .await?;
            }
            Some(l) => {
                self.sent = l;
                self.catch_up().await?;
            }
        }
        self.send(&ServerFrame::ReplayDone { seq: self.sent })
            .await?;
        self.live(rx, hb, states).await
    }

    /// Sends every logged frame after `self.sent`.
    async fn catch_up(&mut self) -> Result<(), End> {
        let op = self.session.operator.id;
        loop {
            let after = self.sent;
            let chunk = self.db(move |s| s.replay(op, after, REPLAY_CHUNK)).await?;
            if chunk.is_empty() {
                return Ok(());
            }
            for (seq, frame) in chunk {
                self.send_event(seq, Utf8Bytes::from(frame)).await?;
            }
        }
    }

    /// `states`: the state frames published before the stream joined.
    async fn live(&mut self, rx: &mut Events, hb: Duration, mut states: u64) -> Result<End, End> {
        // The first ping at a random point of the first interval: streams
        // that connected together (a node restarting, a balancer moving
        // everyone) would otherwise ping together for good, in waves of
        // CPU every interval (issue 32: 35 % for 4 s every 15 s at 19,000).
        let mut ticker = interval_at(Instant::now() + spread(hb), hb);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        let op = self.session.operator.id;
        let mut bad_frames = 0u32;
        let mut ping_id = 0u64;
        // Which beat of every TOKEN_CHECK_EVERY asks the database, chosen
        // per stream: with the same beat for all, streams that connected
        // together all asked in the same interval (the load bench saw
        // 10,000 queries in one 15 s window of each minute, 14 % CPU).
        let check_at =
            u64::try_from(spread(hb).as_nanos() % u128::from(TOKEN_CHECK_EVERY)).unwrap_or(0);
        let mut shutdown = self.state.shutdown.clone();
        loop {
            tokio::select! {
                incoming = self.receive() => {
                    last_heard = Instant::now();
                    match self.usable(incoming).await? {
                        Incoming::Frame(frame) => {
                            bad_frames = 0;
                            self.handle(frame).await?;
                        }
                        Incoming::Bad(why) => {
                            bad_frames += 1;
                            if bad_frames > MAX_BAD_FRAMES {
                                return Ok(self.close(close::PROTOCOL_ERROR, "too many bad frames").await);
                            }
                            self.send(&ServerFrame::Error { code: "bad_frame".into(), message: why }).await?;
                        }
                        Incoming::Other | Incoming::Gone | Incoming::Broken(_) => {}
                    }
                }
                event = rx.recv() => match event {
                    Ok(event) => match &*event {
                        HubEvent::Seq { seq, frame } => {
                            if *seq == self.sent + 1 {
                                self.send_event(*seq, frame.clone()).await?;
                            } else if *seq > self.sent {
                                // A gap: fetch what we missed from the log, in order.
                                self.catch_up().await?;
                            }
                        }
                        HubEvent::State(frame) => {
                            states += 1;
                            self.send_text(frame.clone()).await?;
                        }
                        HubEvent::Revoked { token_id } if *token_id == self.session.token_id => {
                            return Ok(self.close(close::SIGNED_OUT, "token revoked").await);
                        }
                        HubEvent::Revoked { .. } => states += 1,
                    },
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "stream fell behind; catching up from the log");
                        self.catch_up().await?;
                        // Only when a state frame (or a revocation) was among
                        // what it missed: a burst of events alone changes neither.
                        let now = self.state.store.hub().states(op);
                        if now != states {
                            states = now;
                            let token = self.session.token_id;
                            if !self.db(move |s| s.token_alive(token)).await? {
                                return Ok(self.close(close::SIGNED_OUT, "token revoked").await);
                            }
                            self.resend_state().await?;
                        }
                    }
                    Err(RecvError::Closed) => return Ok(self.close(close::GOING_AWAY, "shutting down").await),
                },
                _ = ticker.tick() => {
                    if last_heard.elapsed() > hb * 2 {
                        return Ok(self.close(close::HEARTBEAT_TIMEOUT, "heartbeat timeout").await);
                    }
                    // Expiry is known here; a revocation comes through the
                    // hub (relayed from other nodes). The database is asked
                    // only every few beats, for a revocation a relay missed:
                    // asking at every beat was 667 queries a second at
                    // 10,000 idle streams.
                    if chrono::Utc::now() >= self.session.expires_at {
                        return Ok(self.close(close::SIGNED_OUT, "token expired").await);
                    }
                    if ping_id % TOKEN_CHECK_EVERY == check_at {
                        let token = self.session.token_id;
                        if !self.db(move |s| s.token_alive(token)).await? {
                            return Ok(self.close(close::SIGNED_OUT, "token expired").await);
                        }
                    }
                    ping_id += 1;
                    self.send(&ServerFrame::Ping { id: Some(ping_id) }).await?;
                }
                _ = shutdown.changed() => {
                    return Ok(self.close(close::GOING_AWAY, "server restarting").await);
                }
            }
        }
    }

    /// After a lag, the settings and status may have changed unseen.
    async fn resend_state(&mut self) -> Result<(), End> {
        let op = self.session.operator.id;
        let (doc, status) = self
            .db(move |s| Ok((s.settings(op)?, s.status(op)?)))
            .await?;
        self.send(&ServerFrame::Settings {
            document: Box::new(doc),
        })
        .await?;
        self.send(&ServerFrame::Status { status }).await
    }

    async fn handle(&mut self, frame: ClientFrame) -> Result<(), End> {
        match frame {
            ClientFrame::Ping { id } => self.send(&ServerFrame::Pong { id }).await,
            ClientFrame::Pong { .. } => Ok(()),
            ClientFrame::Ack { ids } => {
                if ids.len() > MAX_READ_IDS {
                    return self
                        .send(&ServerFrame::Error {
                            code: "bad_frame".into(),
                            message: format!("at most {MAX_READ_IDS} ids per ack"),
                        })
                        .await;
                }
                let op = self.session.operator.id;
                self.state
                    .acks
                    .ack(op, ids)
                    .await
                    .map(|_| ())
                    .map_err(End::Store)
            }
            ClientFrame::Hello { .. } => {
                self.send(&ServerFrame::Error {
                    code: "unexpected_frame".into(),
                    message: "hello was already received".into(),
                })
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(n: usize) -> Incoming {
        Incoming::Frame(ClientFrame::Ack {
            ids: vec![String::new(); n],
        })
    }

    #[test]
    fn the_burst_is_spent_frame_by_frame() {
        // No refill: what is left is exactly the burst.
        let mut b = FrameBudget::new(0, 3);
        let ping = Incoming::Frame(ClientFrame::Ping { id: None });
        assert!(b.charge(&ping));
        assert!(b.charge(&Incoming::Bad(String::new())));
        assert!(b.charge(&Incoming::Other));
        assert!(!b.charge(&ping));
    }

    #[test]
    fn acks_of_what_was_sent_are_free_and_others_cost_per_id() {
        let mut b = FrameBudget::new(0, 10);
        for _ in 0..5000 {
            b.sent_event();
        }
        // 5000 events acknowledged one by one and in chunks: all free.
        for _ in 0..2000 {
            assert!(b.charge(&ack(1)));
        }
        assert!(b.charge(&ack(1000)));
        assert!(b.charge(&ack(1000)));
        assert!(b.charge(&ack(1000)));
        assert!(
            b.charge(&ack(0)) && b.charge(&ack(0)),
            "an empty ack costs one"
        );
        // Nothing owed any more: 10 - 2 left, so 8 unknown ids pass, 1 more does not.
        assert!(b.charge(&ack(8)));
        assert!(!b.charge(&ack(1)));
        assert!(!b.charge(&ack(1000)));
    }
}
