//! The WebSocket stream: hello, replay from the client's position (or a
//! resync request), then live events, with heartbeats both ways.

use crate::auth::Auth;
use crate::hub::HubEvent;
use crate::state::AppState;
use crate::store::Session;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use belfry_proto::PROTOCOL_VERSION;
use belfry_proto::inbox::MAX_READ_IDS;
use belfry_proto::stream::{ClientFrame, MAX_FRAME_BYTES, ServerFrame, close};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, MissedTickBehavior, interval, timeout};

/// Frames read from the log per query while replaying.
const REPLAY_CHUNK: u32 = 1000;
/// Consecutive unusable frames before the server gives up on a client.
const MAX_BAD_FRAMES: u32 = 50;

/// `GET /api/v1/stream`: authenticates, then upgrades. A missing, revoked or
/// expired token gets a plain 401 before any upgrade.
pub async fn stream(
    State(state): State<AppState>,
    Auth(session): Auth,
    ws: WebSocketUpgrade,
) -> Response {
    let max = MAX_FRAME_BYTES as usize;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            let login = session.operator.login.clone();
            let mut conn = Connection {
                socket,
                state,
                session,
                sent: 0,
            };
            match conn.run().await {
                End::ClientGone => tracing::debug!(%login, "stream ended by the client"),
                End::Closed(code) => tracing::debug!(%login, code, "stream closed by the server"),
                End::Store(error) => tracing::warn!(%login, %error, "stream ended: store failed"),
            }
        })
}

/// Why a stream ended (for the log).
enum End {
    ClientGone,
    Closed(u16),
    Store(String),
}

struct Connection {
    socket: WebSocket,
    state: AppState,
    session: Session,
    /// Highest sequence sent to this client.
    sent: u64,
}

enum Incoming {
    Frame(ClientFrame),
    Bad(String),
    Other,
}

impl Connection {
    async fn send(&mut self, frame: &ServerFrame) -> Result<(), End> {
        let text = serde_json::to_string(frame).map_err(|e| End::Store(e.to_string()))?;
        self.send_text(Utf8Bytes::from(text)).await
    }

    async fn send_text(&mut self, text: Utf8Bytes) -> Result<(), End> {
        self.socket
            .send(Message::Text(text))
            .await
            .map_err(|_| End::ClientGone)
    }

    async fn close(&mut self, code: u16, reason: &'static str) -> End {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
        End::Closed(code)
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

    async fn receive(&mut self) -> Result<Incoming, End> {
        match self.socket.recv().await {
            None | Some(Ok(Message::Close(_))) => Err(End::ClientGone),
            Some(Err(e)) => {
                // The usual cause is a frame over the size limit.
                tracing::info!(error = %e, "stream read failed");
                Err(self
                    .close(close::TOO_BIG, "frame too large or malformed")
                    .await)
            }
            Some(Ok(Message::Text(text))) => Ok(match serde_json::from_str::<ClientFrame>(&text) {
                Ok(frame) => Incoming::Frame(frame),
                Err(e) => Incoming::Bad(e.to_string()),
            }),
            Some(Ok(Message::Binary(_))) => Ok(Incoming::Bad("binary frames are not used".into())),
            Some(Ok(_)) => Ok(Incoming::Other),
        }
    }

    async fn run(&mut self) -> End {
        match self.run_inner().await {
            Ok(end) | Err(end) => end,
        }
    }

    async fn run_inner(&mut self) -> Result<End, End> {
        let hb = self.state.config.heartbeat;
        let last_seq = match timeout(hb * 2, self.receive()).await {
            Err(_) => return Ok(self.close(close::PROTOCOL_ERROR, "expected hello").await),
            Ok(incoming) => match incoming? {
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
            },
        };
        let op = self.session.operator.id;
        let max = self.state.config.max_streams_per_operator;
        let Some((_slot, mut rx)) = self.state.store.hub().join(op, max) else {
            return Ok(self
                .close(close::TOO_MANY_CONNECTIONS, "too many streams")
                .await);
        };
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
        self.live(&mut rx, hb).await
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
                self.send_text(Utf8Bytes::from(frame)).await?;
                self.sent = seq;
            }
        }
    }

    async fn live(
        &mut self,
        rx: &mut tokio::sync::broadcast::Receiver<Arc<HubEvent>>,
        hb: Duration,
    ) -> Result<End, End> {
        let mut ticker = interval(hb);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker.tick().await;
        let mut last_heard = Instant::now();
        let mut bad_frames = 0u32;
        let mut ping_id = 0u64;
        let mut shutdown = self.state.shutdown.clone();
        loop {
            tokio::select! {
                incoming = self.receive() => {
                    last_heard = Instant::now();
                    match incoming? {
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
                        Incoming::Other => {}
                    }
                }
                event = rx.recv() => match event {
                    Ok(event) => match &*event {
                        HubEvent::Seq { seq, frame } => {
                            if *seq == self.sent + 1 {
                                self.send_text(frame.clone()).await?;
                                self.sent = *seq;
                            } else if *seq > self.sent {
                                // A gap: fetch what we missed from the log, in order.
                                self.catch_up().await?;
                            }
                        }
                        HubEvent::State(frame) => self.send_text(frame.clone()).await?,
                        HubEvent::Revoked { token_id } if *token_id == self.session.token_id => {
                            return Ok(self.close(close::SIGNED_OUT, "token revoked").await);
                        }
                        HubEvent::Revoked { .. } => {}
                    },
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "stream fell behind; catching up from the log");
                        self.catch_up().await?;
                        self.resend_state().await?;
                    }
                    Err(RecvError::Closed) => return Ok(self.close(close::GOING_AWAY, "shutting down").await),
                },
                _ = ticker.tick() => {
                    if last_heard.elapsed() > hb * 2 {
                        return Ok(self.close(close::HEARTBEAT_TIMEOUT, "heartbeat timeout").await);
                    }
                    let token = self.session.token_id;
                    if !self.db(move |s| s.token_alive(token)).await? {
                        return Ok(self.close(close::SIGNED_OUT, "token expired").await);
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
                self.db(move |s| s.acknowledge(op, &ids)).await.map(|_| ())
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
