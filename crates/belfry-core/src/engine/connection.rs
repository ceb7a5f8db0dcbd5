//! The stream: connect, hello from the stored position, store every frame
//! the moment it arrives, heartbeats, and reconnect with backoff on anything
//! but "signed out" and "incompatible".

use super::resync::resync;
use super::{ConnCmd, Ctx};
use crate::clock::SleepDetector;
use crate::event::{ConnState, CoreEvent};
use crate::net::{self, ApiError};
use crate::router::Input;
use crate::store::Event;
use belfry_proto::PROTOCOL_VERSION;
use belfry_proto::settings::{self, SettingsDocument};
use belfry_proto::stream::{ClientFrame, MAX_FRAME_BYTES, ServerFrame, close};
use chrono::Utc;
use futures_util::{FutureExt, SinkExt, StreamExt};
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
/// How often the sleep detector looks at the clocks while waiting to
/// reconnect (connected, it looks at each heartbeat).
const WAKE_CHECK: Duration = Duration::from_secs(5);
/// A clock gap this large means the machine slept.
const SLEEP_GAP: Duration = Duration::from_secs(20);
/// How often a store that refused writes is tried again.
const REFILL_EVERY: Duration = Duration::from_secs(5);
/// The longest notification id the client accepts (the instance's are 26).
const MAX_ID_LEN: usize = 128;

/// Where a sequenced frame stands against the connection's position.
enum Place {
    /// The next event: apply it.
    Next,
    /// Already applied (or not a valid number): drop it.
    Stale,
    /// Events are missing before it: resync from the stored position.
    Gap,
}

/// Checks a sequenced frame against the position and moves the position on.
fn place(s: &mut Stream, seq: u64, what: &str) -> Place {
    if seq == 0 || i64::try_from(seq).is_err() {
        tracing::warn!(
            seq,
            "ignoring a {what} frame with an impossible sequence number"
        );
        return Place::Stale;
    }
    match s.position {
        Some(p) if seq <= p => {
            tracing::warn!(seq, position = p, "ignoring a {what} frame already applied");
            Place::Stale
        }
        Some(p) if seq > p + 1 => {
            tracing::warn!(
                seq,
                position = p,
                "a gap in the stream before a {what} frame; resyncing"
            );
            Place::Gap
        }
        _ => {
            s.position = Some(seq);
            Place::Next
        }
    }
}

/// How a session ended.
pub(super) enum Outcome {
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
    // Reads of 16 KiB, not tungstenite's 128: its read buffer is made whole
    // at the handshake and was the idle app's largest single allocation
    // (heaptrack), while a frame here is about half a kilobyte. A larger
    // frame still grows the buffer as it needs; a catch-up of 10,000
    // costs a few hundred more reads.
    let config = WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit))
        .read_buffer_size(16 * 1024);
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

/// One stream connection's state: where it stands in the operator's
/// sequence and how it is kept alive.
struct Stream {
    /// Frames before `replay_done` are history, not live.
    replaying: bool,
    /// The last sequence applied on this connection: every sequenced frame
    /// must be the next one (the protocol numbers each operator's events
    /// without gaps), so a gap or a repeat is caught here, not stored.
    position: Option<u64>,
    /// Events that arrived while the store failed (disk full, read-only):
    /// delivered, not stored; filled in over REST once the store works.
    unsaved: bool,
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
    let last_seq = ctx
        .report("reading the local inbox", ctx.db(|s| s.last_seq()).await)
        .flatten();
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
    ctx.set_availability(status);
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
        resync(ctx, server_seq, false, rest_limit).await?;
    }
    ctx.set_state(ConnState::Connected);
    ctx.outbox_kick.notify_one();
    let position = match ctx.db(|st| st.last_seq()).await {
        Ok(p) => p,
        Err(_) => last_seq.or(Some(server_seq)),
    };
    let mut s = Stream {
        replaying: true,
        position,
        unsaved: false,
        heartbeat,
        rest_limit,
        last_heard: Instant::now(),
    };
    let mut beat = interval(s.heartbeat);
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    beat.tick().await;
    // Looked at on each heartbeat rather than on a timer of its own, so an
    // idle connection wakes only for heartbeats (a sleep is then noticed
    // within a heartbeat of waking, not 5 s). The gap allowed stays above
    // the heartbeat's, or every tick would look like a sleep.
    let mut detector = SleepDetector::new(SLEEP_GAP.max(s.heartbeat * 3 / 2));
    // Only while the store has missed something (see `unsaved`); an idle,
    // healthy connection does not wake for it.
    let mut refill = interval(REFILL_EVERY);
    refill.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut ping_id = 0u64;
    loop {
        // In this order, not at random: the timers and commands come before
        // the stream so a flood cannot starve them (each is ready at most
        // once a tick).
        tokio::select! {
            biased;
            cmd = cmds.recv() => match cmd {
                Some(ConnCmd::RetryNow) => {}
                Some(ConnCmd::Shutdown) | None => return Ok(Outcome::Shutdown),
            },
            _ = beat.tick() => {
                if s.last_heard.elapsed() > s.heartbeat * 2 {
                    return Ok(Outcome::Lost { welcomed: true, offline: false, now: true, why: "heartbeat timeout".into() });
                }
                if detector.check() {
                    return Ok(Outcome::Lost { welcomed: true, offline: false, now: true, why: "the machine slept".into() });
                }
                ping_id += 1;
                send(ws, &ClientFrame::Ping { id: Some(ping_id) }).await?;
            }
            _ = refill.tick(), if s.unsaved => {
                // The store failed earlier: once it takes writes again, the
                // events it missed come back over REST, quietly (they were
                // shown when they arrived).
                if ctx.db(|st| st.writable()).await.is_ok() {
                    let at = s.position.unwrap_or(0);
                    if let Some(p) = resync(ctx, at, false, s.rest_limit).await? {
                        s.position = Some(p);
                        s.unsaved = false;
                        ctx.resolved("storing notifications");
                        tracing::info!("the local inbox takes writes again; what it missed was filled in");
                    }
                }
            }
            msg = ws.next() => {
                if s.last_heard.elapsed() > s.heartbeat * 2 {
                    // Frames that waited in the socket while the process was
                    // stopped or the machine slept: the stream is past its
                    // heartbeat whichever woke first. They are not applied
                    // (the position stays), so the reconnect replays them
                    // as one "while you were away" summary, not a toast each.
                    return Ok(Outcome::Lost { welcomed: true, offline: false, now: true, why: "heartbeat timeout".into() });
                }
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
                // Time spent storing (or resyncing, up to `rest_limit`) is
                // not silence from the server.
                s.last_heard = Instant::now();
            }
        }
    }
}

/// Handles a batch of received messages in order: stream events are stored
/// together, control frames act at their place in the order.
async fn process(
    ctx: &Ctx,
    ws: &mut Ws,
    s: &mut Stream,
    batch: Vec<Option<Result<Message, tungstenite::Error>>>,
) -> Result<(), Outcome> {
    let mut pending: Vec<Event> = Vec::new();
    let mut routed = false;
    for msg in batch {
        let text = match msg {
            None => {
                store(ctx, ws, s, std::mem::take(&mut pending)).await?;
                return Err(lost(true, "stream ended"));
            }
            Some(Err(e)) => {
                store(ctx, ws, s, std::mem::take(&mut pending)).await?;
                use tungstenite::error::ProtocolError;
                if matches!(
                    e,
                    tungstenite::Error::Io(_)
                        | tungstenite::Error::ConnectionClosed
                        | tungstenite::Error::AlreadyClosed
                        | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)
                ) {
                    return Err(lost(true, format!("read: {e}")));
                }
                // Not the network: the server broke the WebSocket rules
                // (a frame too large, text that is not UTF-8, ...).
                tracing::warn!(error = %e, "the stream broke the WebSocket protocol; reconnecting");
                return Err(lost(true, format!("protocol: {e}")));
            }
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(frame))) => {
                store(ctx, ws, s, std::mem::take(&mut pending)).await?;
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                return Err(by_close_code(code, &reason, true));
            }
            Some(Ok(Message::Binary(b))) => {
                tracing::warn!(
                    len = b.len(),
                    "ignoring a binary frame (the protocol is text)"
                );
                continue;
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
            ServerFrame::Notification { seq, notification } => {
                if notification.seq != seq
                    || notification.id.is_empty()
                    || notification.id.len() > MAX_ID_LEN
                {
                    tracing::warn!(
                        seq,
                        inner_seq = notification.seq,
                        id_len = notification.id.len(),
                        "ignoring a notification frame that breaks the protocol"
                    );
                    continue;
                }
                match place(s, seq, "notification") {
                    Place::Next => {
                        // A live one goes to the router now, not after the
                        // store's write (0.4 ms at the median on the bench
                        // machine, over 1 ms at p99): the toast does not
                        // wait for the disk. It is new by its sequence
                        // number, which is what the store's check would say.
                        if !s.replaying {
                            ctx.route(Input::Live(notification.clone()));
                            routed = true;
                        }
                        pending.push(Event::Notification(notification));
                    }
                    Place::Stale => {}
                    Place::Gap => return gap(ctx, ws, s, pending).await,
                }
            }
            ServerFrame::Read { seq, ids, read_at } => match place(s, seq, "read") {
                Place::Next => pending.push(Event::Read { seq, ids, read_at }),
                Place::Stale => {}
                Place::Gap => return gap(ctx, ws, s, pending).await,
            },
            ServerFrame::ReadAll {
                seq,
                up_to_seq,
                read_at,
            } => match place(s, seq, "read_all") {
                Place::Next => pending.push(Event::ReadAll {
                    seq,
                    up_to_seq,
                    read_at,
                }),
                Place::Stale => {}
                Place::Gap => return gap(ctx, ws, s, pending).await,
            },
            ServerFrame::Ping { id } => send(ws, &ClientFrame::Pong { id }).await?,
            ServerFrame::Pong { .. } => {}
            ServerFrame::ReplayDone { seq } => {
                if s.position.is_some_and(|p| p != seq) {
                    tracing::warn!(seq, position = ?s.position, "replay_done names another position than the replay reached");
                }
                store(ctx, ws, s, std::mem::take(&mut pending)).await?;
                s.replaying = false;
                ctx.route(Input::ReplayDone);
            }
            ServerFrame::ResyncRequired { server_seq, .. } => {
                store(ctx, ws, s, std::mem::take(&mut pending)).await?;
                match resync(ctx, server_seq, true, s.rest_limit).await? {
                    Some(p) => s.position = Some(p),
                    None => s.unsaved = true,
                }
            }
            ServerFrame::Settings { document } => {
                let doc = checked(*document);
                let saved = ctx.db(move |st| st.set_settings(&doc)).await;
                ctx.report("saving settings", saved);
                ctx.refresh_settings().await;
            }
            ServerFrame::Status { status } => ctx.set_availability(status),
            ServerFrame::Error { code, message } => {
                tracing::warn!(%code, %message, "the server did not accept a frame")
            }
            ServerFrame::Welcome { .. } => tracing::warn!("a second welcome ignored"),
        }
    }
    if routed {
        // Let the router's task, just woken, run first on this thread, and
        // the toast worker it wakes: the toast is on its way to the daemon
        // before the store's write competes for the machine's cores (the
        // toast bench's p99 2.1-2.3 -> 1.8-1.9 ms on two cores).
        tokio::task::yield_now().await;
    }
    store(ctx, ws, s, pending).await
}

/// Stores events, then tells the router (history and reads; live
/// notifications were routed as they arrived), the front end and the server.
async fn store(ctx: &Ctx, ws: &mut Ws, s: &mut Stream, events: Vec<Event>) -> Result<(), Outcome> {
    if events.is_empty() {
        return Ok(());
    }
    // History is routed from here when the store fails; live ones already were.
    let for_router = s.replaying.then(|| events.clone());
    let applied = match ctx.db(move |st| st.apply(&events)).await {
        Ok(a) => {
            ctx.resolved("storing notifications");
            a
        }
        Err(e) => {
            // Disk full or read-only: say so, and still deliver what arrived.
            ctx.problem("storing notifications", &e);
            s.unsaved = true;
            for e in for_router.into_iter().flatten() {
                if let Event::Notification(n) = e {
                    ctx.route(Input::Replayed(n));
                }
            }
            return Ok(());
        }
    };
    // Live ones were routed as they arrived; history counts toward the
    // summary once stored, so a repeat of what the store has is not counted.
    if s.replaying {
        for n in &applied.new {
            ctx.route(Input::Replayed(n.clone()));
        }
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
    checkpoint_if_due(ctx).await;
    Ok(())
}

/// Checkpoints the store once enough is written, here, after the events
/// are on their way to the screen (see `Store::defer_checkpoints`).
pub(super) async fn checkpoint_if_due(ctx: &Ctx) {
    if ctx.store.checkpoint_due()
        && let Err(e) = ctx.db(|st| st.checkpoint()).await
    {
        // SQLite checkpoints when the store closes, and the log only grows
        // meanwhile: worth a line, not a problem for the user.
        tracing::debug!(error = %e, "checkpoint");
    }
}

pub(super) fn api_outcome(e: ApiError) -> Outcome {
    match e {
        ApiError::Unauthorized => Outcome::SignedOut,
        other => lost(true, other.to_string()),
    }
}

/// The server's settings, repaired where they break the instance's own
/// policy (the policy wins), with what was wrong in the log.
fn checked(mut doc: SettingsDocument) -> SettingsDocument {
    let policy = doc.policy.clone();
    let errors = settings::repair(&policy, &mut doc.preferences);
    if !errors.is_empty() {
        let fields: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.reason.message()))
            .collect();
        tracing::warn!(
            version = doc.version,
            ?fields,
            "the instance sent settings that break its own rules; using them repaired"
        );
    }
    doc
}

/// Stores what arrived before a gap and ends the session: the next one
/// says hello from the stored position and the server replays the rest.
async fn gap(ctx: &Ctx, ws: &mut Ws, s: &mut Stream, pending: Vec<Event>) -> Result<(), Outcome> {
    store(ctx, ws, s, pending).await?;
    Err(lost(true, "a gap in the stream"))
}

async fn fetch_settings(ctx: &Ctx) -> Result<(), Outcome> {
    let doc = checked(ctx.api.settings().await.map_err(api_outcome)?);
    let saved = ctx.db(move |s| s.set_settings(&doc)).await;
    ctx.report("saving settings", saved);
    ctx.refresh_settings().await;
    Ok(())
}
