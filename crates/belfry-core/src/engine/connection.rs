//! The stream: connect, hello from the stored position, store every frame
//! the moment it arrives, heartbeats, and reconnect with backoff on anything
//! but "signed out" and "incompatible".

use super::{ConnCmd, Ctx};
use crate::clock::SleepDetector;
use crate::event::{ConnState, CoreEvent};
use crate::net::{self, ApiError};
use crate::router::Input;
use crate::store::Event;
use belfry_proto::PROTOCOL_VERSION;
use belfry_proto::stream::{ClientFrame, MAX_FRAME_BYTES, ServerFrame, close};
use chrono::Utc;
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, http};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Most frames stored in one transaction.
const BATCH: usize = 2000;
/// How often the sleep detector looks at the clocks.
const WAKE_CHECK: Duration = Duration::from_secs(5);
/// A clock gap this large means the machine slept.
const SLEEP_GAP: Duration = Duration::from_secs(20);
/// Inbox pages a resync reads at most (500 each).
const RESYNC_PAGES: usize = 40;

/// How a session ended.
enum Outcome {
    SignedOut,
    Incompatible(String),
    Shutdown,
    /// Lost: `welcomed` if the session got as far as `welcome`; `offline`
    /// if the server could not be reached at all; `now` to skip the backoff.
    Lost {
        welcomed: bool,
        offline: bool,
        now: bool,
        why: String,
    },
}

pub(super) async fn run(ctx: Arc<Ctx>, mut cmds: mpsc::Receiver<ConnCmd>) {
    let mut attempt: u32 = 0;
    loop {
        ctx.set_state(ConnState::Connecting);
        let outcome = session(&ctx, &mut cmds).await;
        let (offline, now) = match outcome {
            Outcome::SignedOut => {
                ctx.set_state(ConnState::SignedOut);
                return wait_for_shutdown(&mut cmds).await;
            }
            Outcome::Incompatible(reason) => {
                ctx.set_state(ConnState::Incompatible { reason });
                return wait_for_shutdown(&mut cmds).await;
            }
            Outcome::Shutdown => return,
            Outcome::Lost {
                welcomed,
                offline,
                now,
                why,
            } => {
                tracing::info!(%why, "stream lost");
                if welcomed {
                    attempt = 0;
                }
                (offline, now)
            }
        };
        attempt = attempt.saturating_add(1);
        let delay = if now {
            Duration::ZERO
        } else {
            ctx.config.backoff.delay(attempt, fastrand::f64())
        };
        let next_attempt = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        ctx.set_state(if offline {
            ConnState::Offline {
                next_attempt,
                attempt,
            }
        } else {
            ConnState::Reconnecting {
                next_attempt,
                attempt,
            }
        });
        let mut detector = SleepDetector::new(SLEEP_GAP);
        let mut wake = interval(WAKE_CHECK);
        wake.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let wait = sleep(delay);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                _ = wake.tick() => if detector.check() { break },
                cmd = cmds.recv() => match cmd {
                    Some(ConnCmd::RetryNow) => break,
                    Some(ConnCmd::Shutdown) | None => return,
                },
            }
        }
    }
}

async fn wait_for_shutdown(cmds: &mut mpsc::Receiver<ConnCmd>) {
    while let Some(cmd) = cmds.recv().await {
        if matches!(cmd, ConnCmd::Shutdown) {
            return;
        }
    }
}

fn lost(welcomed: bool, why: impl Into<String>) -> Outcome {
    Outcome::Lost {
        welcomed,
        offline: false,
        now: false,
        why: why.into(),
    }
}

fn by_close_code(code: u16, reason: &str, welcomed: bool) -> Outcome {
    match code {
        close::SIGNED_OUT => Outcome::SignedOut,
        close::INCOMPATIBLE => Outcome::Incompatible(reason.to_owned()),
        close::HEARTBEAT_TIMEOUT => Outcome::Lost {
            welcomed,
            offline: false,
            now: true,
            why: format!("closed {code} {reason}"),
        },
        _ => lost(welcomed, format!("closed {code} {reason}")),
    }
}

async fn open(ctx: &Ctx) -> Result<Ws, Outcome> {
    let offline = |why: String| Outcome::Lost {
        welcomed: false,
        offline: true,
        now: false,
        why,
    };
    let url = net::stream_url(ctx.api.base());
    let mut req = url
        .into_client_request()
        .map_err(|e| lost(false, e.to_string()))?;
    let bearer = format!("Bearer {}", ctx.api.token().expose());
    let value = http::HeaderValue::from_str(&bearer).map_err(|_| Outcome::SignedOut)?;
    req.headers_mut().insert(http::header::AUTHORIZATION, value);
    let limit = MAX_FRAME_BYTES as usize;
    let config = WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let connector = Connector::Rustls(Arc::clone(&ctx.tls));
    let connecting =
        tokio_tungstenite::connect_async_tls_with_config(req, Some(config), true, Some(connector));
    match timeout(ctx.config.connect_timeout, connecting).await {
        Err(_) => Err(offline("connect timed out".into())),
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tungstenite::Error::Http(res)))
            if res.status() == http::StatusCode::UNAUTHORIZED =>
        {
            Err(Outcome::SignedOut)
        }
        Ok(Err(tungstenite::Error::Http(res))) => {
            Err(lost(false, format!("upgrade refused: {}", res.status())))
        }
        Ok(Err(tungstenite::Error::Io(e))) => Err(offline(e.to_string())),
        Ok(Err(e)) => Err(lost(false, e.to_string())),
    }
}

async fn send(ws: &mut Ws, frame: &ClientFrame) -> Result<(), Outcome> {
    let text = serde_json::to_string(frame).map_err(|e| lost(true, e.to_string()))?;
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| lost(true, format!("send: {e}")))
}

/// One connection, from open to loss.
async fn session(ctx: &Ctx, cmds: &mut mpsc::Receiver<ConnCmd>) -> Outcome {
    let mut ws = match open(ctx).await {
        Ok(ws) => ws,
        Err(outcome) => return outcome,
    };
    match run_session(ctx, &mut ws, cmds).await {
        Ok(outcome) | Err(outcome) => {
            if matches!(outcome, Outcome::Shutdown) {
                let _ = ws.close(None).await;
            }
            outcome
        }
    }
}

struct Session {
    /// Frames before `replay_done` are history, not live.
    replaying: bool,
    heartbeat: Duration,
    rest_limit: Duration,
    last_heard: Instant,
}

/// Runs REST work under a time limit; past it, the connection is treated as lost.
async fn limited(
    limit: Duration,
    work: impl Future<Output = Result<(), Outcome>>,
) -> Result<(), Outcome> {
    match timeout(limit, work).await {
        Ok(r) => r,
        Err(_) => Err(Outcome::Lost {
            welcomed: true,
            offline: false,
            now: false,
            why: "the instance stopped answering REST calls".into(),
        }),
    }
}

async fn run_session(
    ctx: &Ctx,
    ws: &mut Ws,
    cmds: &mut mpsc::Receiver<ConnCmd>,
) -> Result<Outcome, Outcome> {
    let last_seq = match ctx.db(|s| s.last_seq()).await {
        Ok(v) => v,
        Err(e) => {
            ctx.problem("reading the local inbox", &e);
            None
        }
    };
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        last_seq,
        client: Some(concat!("Belfry ", env!("CARGO_PKG_VERSION")).to_owned()),
    };
    send(ws, &hello).await?;

    // The welcome.
    let welcome = loop {
        let next = timeout(ctx.config.connect_timeout, ws.next()).await;
        match next {
            Err(_) => return Ok(lost(false, "no welcome")),
            Ok(None) | Ok(Some(Err(_))) => return Ok(lost(false, "closed before welcome")),
            Ok(Some(Ok(Message::Close(frame)))) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                return Ok(by_close_code(code, &reason, false));
            }
            Ok(Some(Ok(Message::Text(text)))) => match serde_json::from_str::<ServerFrame>(&text) {
                Ok(frame @ ServerFrame::Welcome { .. }) => break frame,
                Ok(other) => tracing::debug!(?other, "frame before welcome ignored"),
                Err(e) => tracing::warn!(error = %e, "undecodable frame before welcome"),
            },
            Ok(Some(Ok(_))) => {}
        }
    };
    let ServerFrame::Welcome {
        heartbeat_s,
        settings_version,
        status,
        server_seq,
        ..
    } = welcome
    else {
        return Ok(lost(false, "no welcome"));
    };
    ctx.set_status(status);
    let heartbeat = Duration::from_secs(u64::from(heartbeat_s.max(1)));
    // REST work while the stream waits must not outlast what a heartbeat
    // would tolerate by much, or a stalled network hides behind it.
    let rest_limit = (heartbeat * 2).max(Duration::from_secs(10));
    let stored_version = ctx
        .db(|s| s.settings())
        .await
        .ok()
        .flatten()
        .map(|d| d.version);
    if stored_version != Some(settings_version) {
        limited(rest_limit, fetch_settings(ctx)).await?;
    }
    if last_seq.is_none() {
        // First sync of this account: fill the inbox quietly.
        limited(rest_limit, resync(ctx, server_seq, false)).await?;
    }
    ctx.set_state(ConnState::Connected);
    ctx.outbox_kick.notify_one();
    let mut s = Session {
        replaying: true,
        heartbeat,
        rest_limit,
        last_heard: Instant::now(),
    };
    let mut beat = interval(s.heartbeat);
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    beat.tick().await;
    let mut wake = interval(WAKE_CHECK);
    wake.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut detector = SleepDetector::new(SLEEP_GAP);
    let mut ping_id = 0u64;
    loop {
        tokio::select! {
            msg = ws.next() => {
                s.last_heard = Instant::now();
                let mut batch = vec![msg];
                // Drain everything already received: one transaction for a burst.
                while batch.len() < BATCH {
                    match ws.next().now_or_never() {
                        Some(m) => batch.push(m),
                        None => break,
                    }
                }
                process(ctx, ws, &mut s, batch).await?;
            }
            _ = beat.tick() => {
                if s.last_heard.elapsed() > s.heartbeat * 2 {
                    return Ok(Outcome::Lost { welcomed: true, offline: false, now: true, why: "heartbeat timeout".into() });
                }
                ping_id += 1;
                send(ws, &ClientFrame::Ping { id: Some(ping_id) }).await?;
            }
            _ = wake.tick() => {
                if detector.check() {
                    return Ok(Outcome::Lost { welcomed: true, offline: false, now: true, why: "the machine slept".into() });
                }
            }
            cmd = cmds.recv() => match cmd {
                Some(ConnCmd::RetryNow) => {}
                Some(ConnCmd::Shutdown) | None => return Ok(Outcome::Shutdown),
            }
        }
    }
}

/// Handles a batch of received messages in order: stream events are stored
/// together, control frames act at their place in the order.
async fn process(
    ctx: &Ctx,
    ws: &mut Ws,
    s: &mut Session,
    batch: Vec<Option<Result<Message, tungstenite::Error>>>,
) -> Result<(), Outcome> {
    let mut pending: Vec<Event> = Vec::new();
    for msg in batch {
        let text = match msg {
            None => {
                store(ctx, ws, s, std::mem::take(&mut pending)).await?;
                return Err(lost(true, "stream ended"));
            }
            Some(Err(e)) => {
                store(ctx, ws, s, std::mem::take(&mut pending)).await?;
                return Err(lost(true, format!("read: {e}")));
            }
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(frame))) => {
                store(ctx, ws, s, std::mem::take(&mut pending)).await?;
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                return Err(by_close_code(code, &reason, true));
            }
            Some(Ok(_)) => continue,
        };
        let frame = match serde_json::from_str::<ServerFrame>(&text) {
            Ok(f) => f,
            Err(e) => {
                // Unknown frame types are how the protocol grows; bad ones are logged.
                tracing::warn!(error = %e, len = text.len(), "ignoring a frame this version cannot use");
                continue;
            }
        };
        match frame {
            ServerFrame::Notification { notification, .. } => {
                pending.push(Event::Notification(notification))
            }
            ServerFrame::Read { seq, ids, read_at } => {
                pending.push(Event::Read { seq, ids, read_at })
            }
            ServerFrame::ReadAll {
                seq,
                up_to_seq,
                read_at,
            } => pending.push(Event::ReadAll {
                seq,
                up_to_seq,
                read_at,
            }),
            ServerFrame::Ping { id } => send(ws, &ClientFrame::Pong { id }).await?,
            ServerFrame::Pong { .. } => {}
            ServerFrame::ReplayDone { .. } => {
                store(ctx, ws, s, std::mem::take(&mut pending)).await?;
                s.replaying = false;
                ctx.route(Input::ReplayDone);
            }
            ServerFrame::ResyncRequired { server_seq, .. } => {
                store(ctx, ws, s, std::mem::take(&mut pending)).await?;
                limited(s.rest_limit, resync(ctx, server_seq, true)).await?;
            }
            ServerFrame::Settings { document } => {
                let doc = *document;
                if let Err(e) = ctx.db(move |st| st.set_settings(&doc)).await {
                    ctx.problem("saving settings", &e);
                }
                ctx.refresh_settings().await;
            }
            ServerFrame::Status { status } => ctx.set_status(status),
            ServerFrame::Error { code, message } => {
                tracing::warn!(%code, %message, "the server did not accept a frame")
            }
            ServerFrame::Welcome { .. } => tracing::warn!("a second welcome ignored"),
        }
    }
    store(ctx, ws, s, pending).await
}

/// Stores events, then tells the router, the front end and the server.
async fn store(ctx: &Ctx, ws: &mut Ws, s: &Session, events: Vec<Event>) -> Result<(), Outcome> {
    if events.is_empty() {
        return Ok(());
    }
    let for_router = events.clone();
    let applied = match ctx.db(move |st| st.apply(&events)).await {
        Ok(a) => a,
        Err(e) => {
            // Disk full or read-only: say so, and still deliver what arrived.
            ctx.problem("storing notifications", &e);
            for e in for_router {
                if let Event::Notification(n) = e {
                    ctx.route(if s.replaying {
                        Input::Replayed(n)
                    } else {
                        Input::Live(n)
                    });
                }
            }
            return Ok(());
        }
    };
    for n in &applied.new {
        ctx.route(if s.replaying {
            Input::Replayed(n.clone())
        } else {
            Input::Live(n.clone())
        });
    }
    if !applied.read.is_empty() {
        ctx.route(Input::Read(applied.read.clone()));
        ctx.emit(CoreEvent::Read {
            ids: applied.read.clone(),
        });
    }
    if let Some(up_to_seq) = applied.read_all {
        ctx.route(Input::ReadAll(up_to_seq));
        ctx.emit(CoreEvent::ReadAll { up_to_seq });
    }
    if !applied.new.is_empty() {
        let ids: Vec<String> = applied.new.iter().map(|n| n.id.clone()).collect();
        ctx.emit(CoreEvent::Added { items: applied.new });
        for chunk in ids.chunks(belfry_proto::inbox::MAX_READ_IDS) {
            send(
                ws,
                &ClientFrame::Ack {
                    ids: chunk.to_vec(),
                },
            )
            .await?;
        }
    }
    if let Ok(u) = ctx.db(|st| st.unread()).await {
        ctx.emit(CoreEvent::Unread(u));
    }
    Ok(())
}

fn api_outcome(e: ApiError) -> Outcome {
    match e {
        ApiError::Unauthorized => Outcome::SignedOut,
        other => lost(true, other.to_string()),
    }
}

async fn fetch_settings(ctx: &Ctx) -> Result<(), Outcome> {
    let doc = ctx.api.settings().await.map_err(api_outcome)?;
    if let Err(e) = ctx.db(move |s| s.set_settings(&doc)).await {
        ctx.problem("saving settings", &e);
    }
    ctx.refresh_settings().await;
    Ok(())
}

/// Rebuilds the local inbox from REST when the stream cannot replay: the
/// server's unread set, and the newest pages down to what is stored.
/// `announce`: the new items count toward the "while you were away" summary.
async fn resync(ctx: &Ctx, server_seq: u64, announce: bool) -> Result<(), Outcome> {
    tracing::info!(server_seq, "resync over REST");
    let mut unread = HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..RESYNC_PAGES {
        let page = ctx
            .api
            .inbox(true, cursor.as_deref(), 500)
            .await
            .map_err(api_outcome)?;
        unread.extend(page.items.iter().map(|n| n.id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let known: HashSet<String> = ctx
        .db(|s| Ok(s.all_ids()?.into_iter().map(|(_, id)| id).collect()))
        .await
        .unwrap_or_default();
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..RESYNC_PAGES {
        let page = ctx
            .api
            .inbox(false, cursor.as_deref(), 500)
            .await
            .map_err(api_outcome)?;
        let overlap = page.items.iter().any(|n| known.contains(&n.id));
        items.extend(page.items.into_iter().filter(|n| !known.contains(&n.id)));
        match page.next_cursor {
            Some(c) if !overlap => cursor = Some(c),
            _ => break,
        }
    }
    items.sort_by_key(|n| n.seq);
    let merged = ctx
        .db(move |s| s.merge_snapshot(&items, &unread, server_seq))
        .await;
    match merged {
        Ok((new, read)) => {
            if announce {
                for n in &new {
                    ctx.route(Input::Replayed(n.clone()));
                }
            }
            if !read.is_empty() {
                ctx.route(Input::Read(read.clone()));
                ctx.emit(CoreEvent::Read { ids: read });
            }
            if !new.is_empty() {
                ctx.emit(CoreEvent::Added { items: new });
            }
            if let Ok(u) = ctx.db(|st| st.unread()).await {
                ctx.emit(CoreEvent::Unread(u));
            }
        }
        Err(e) => ctx.problem("storing the inbox", &e),
    }
    Ok(())
}
