//! The instance under load (issue 32, point 4): 1,000, 5,000 and 10,000
//! streams on loopback, one per operator, each held by a Rust client that
//! answers heartbeats, pings on its own beat and acknowledges what it gets,
//! as the desktop does. Measured per count, on one node (SQLite, its own
//! process), on two nodes on one PostgreSQL (streams on node B, events
//! published on node A), and on the floor: a bare tokio-tungstenite fan-out
//! of the same frames (this binary as `load-floor`, its own process):
//!
//! - memory per stream: the server's PSS after connecting and idling,
//!   minus before, over the streams;
//! - CPU at idle (heartbeats only), from `/proc/PID/stat` sampled each
//!   second: the mean, and the busiest second (waves show as a busiest
//!   second far above the mean);
//! - publish → delivered for events to single operators at 1,000 and
//!   5,000 a second (one POST `/api/v1/admin/events` each, at most 1,000 in
//!   flight, timed from the event's place in the schedule to the frame at
//!   the client, so a bench that falls behind counts the wait), how many
//!   were taken and never came, and how many were not taken;
//! - one change every operator receives (`/api/v1/admin/events/batch`, one
//!   event per operator) → the last client to have it;
//! - all streams connecting at once: each connect, from the TCP connect
//!   to `replay_done`.
//!
//! `BELFRY_BENCH_LOAD_SIZES` (default `1000,5000,10000`),
//! `BELFRY_BENCH_IDLE_S` (default 60) and `BELFRY_BENCH_LOAD_SETUPS`
//! (default `floor,sqlite,postgres`) shorten a run.

use crate::{Row, Unit};
use belfry_instance::store::Store;
use belfry_proto::api::{EmitBatch, EmitEvent, Role};
use belfry_proto::stream::{ClientFrame, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, http};

/// The heartbeat the instance and the floor use (the protocol's default).
const HEARTBEAT: Duration = Duration::from_secs(belfry_proto::stream::DEFAULT_HEARTBEAT_S as u64);
/// Event rates and how long each runs.
const RATES: [(u64, u64); 2] = [(1_000, 10), (5_000, 5)];
/// Rounds of the change for everyone.
const ROUNDS: usize = 5;
/// The admin's login (its token is made directly in the database).
const ADMIN: &str = "bench-admin";
/// The bench's mode that runs the floor server.
pub const FLOOR_MODE: &str = "load-floor";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sizes() -> Vec<usize> {
    std::env::var("BELFRY_BENCH_LOAD_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 5_000, 10_000])
}

fn setups() -> Vec<String> {
    std::env::var("BELFRY_BENCH_LOAD_SETUPS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_else(|| vec!["floor".into(), "sqlite".into(), "postgres".into()])
}

/// The server side of one run: a process whose memory and CPU are read,
/// where the streams connect, and how events are published.
struct Server {
    /// The process the streams are on.
    pid: u32,
    /// Where the streams connect (`ws://…/api/v1/stream`).
    stream_url: String,
    /// Each stream's token, by operator index.
    tokens: Vec<String>,
    publish: Publish,
    _keep: Vec<Keep>,
}

/// Things that live as long as a run: processes (killed on drop), temp
/// dirs, a PostgreSQL cluster.
enum Keep {
    Process(Child),
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Pg(#[allow(dead_code)] belfry_tests::pg::Database),
}

impl Drop for Keep {
    fn drop(&mut self) {
        if let Keep::Process(child) = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How a run publishes.
enum Publish {
    /// The instance's admin REST (on node A for two nodes).
    Rest {
        base: String,
        token: String,
        http: reqwest::Client,
    },
    /// The floor's control socket: `<index> <frame>` or `* <frame>`.
    Floor(tokio::sync::mpsc::UnboundedSender<String>),
}

/// Reads the instance's memory: PSS and RSS in kB.
fn memory_kb(pid: u32) -> (f64, f64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (field("Pss:"), field("Rss:"))
}

/// CPU seconds of `pid` so far (user + system, every thread, the dead ones
/// too), from `/proc/PID/stat` in clock ticks of 10 ms.
fn cpu_ticks(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's closing parenthesis: fields 3.. of stat(5).
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime is field 14, stime 15: indices 11 and 12 after the parenthesis.
    (num(11) + num(12)) / 100.0
}

/// What every client shares: when each event and each change for
/// everyone arrived, in nanoseconds since `base` (0: not yet).
struct Shared {
    base: Instant,
    events: Vec<AtomicU64>,
    twice: AtomicU64,
    /// Per client: the round of the last change for everyone it had, and when.
    round: Vec<AtomicU64>,
    round_at: Vec<AtomicU64>,
    connected: AtomicUsize,
    connect_ms: Mutex<Vec<f64>>,
    failed: AtomicUsize,
}

impl Shared {
    fn nanos(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One client: connects, says hello, then answers pings, pings on its own
/// beat and acknowledges every notification, until `stop`.
async fn client(
    url: String,
    token: String,
    index: usize,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let started = Instant::now();
    let Ok(mut req) = url.as_str().into_client_request() else {
        shared.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    req.headers_mut().insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    // As the desktop reads (connection.rs): a 16 KiB read buffer.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let Ok((mut ws, _)) =
        tokio_tungstenite::connect_async_with_config(req, Some(config), true).await
    else {
        shared.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let send = |f: &ClientFrame| Message::Text(serde_json::to_string(f).unwrap().into());
    let hello = ClientFrame::Hello {
        protocol: belfry_proto::PROTOCOL_VERSION,
        last_seq: None,
        client: Some("bench-load".into()),
    };
    if ws.send(send(&hello)).await.is_err() {
        shared.failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut replayed = false;
    // The desktop's own beat; its phase is spread here (see docs/benchmarks.md).
    let offset = HEARTBEAT.mul_f64(fastrand::f64());
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + offset, HEARTBEAT);
    let mut ping_id = 0u64;
    loop {
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = beat.tick() => {
                ping_id += 1;
                if ws.send(send(&ClientFrame::Ping { id: Some(ping_id) })).await.is_err() {
                    break;
                }
                continue;
            }
            _ = stop.changed() => break,
        };
        let Some(Ok(Message::Text(text))) = msg else {
            match msg {
                Some(Ok(_)) => continue,
                _ => break,
            }
        };
        let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
            continue;
        };
        match frame {
            ServerFrame::ReplayDone { .. } if !replayed => {
                replayed = true;
                shared
                    .connect_ms
                    .lock()
                    .unwrap()
                    .push(started.elapsed().as_secs_f64() * 1e3);
                shared.connected.fetch_add(1, Ordering::Relaxed);
            }
            ServerFrame::Ping { id } if ws.send(send(&ClientFrame::Pong { id })).await.is_err() => {
                break;
            }
            ServerFrame::Notification { notification, .. } => {
                let at = shared.nanos();
                let title = notification.title.as_str();
                if let Some(k) = title
                    .strip_prefix('p')
                    .and_then(|k| k.parse::<usize>().ok())
                {
                    if let Some(slot) = shared.events.get(k)
                        && slot.swap(at, Ordering::Relaxed) != 0
                    {
                        shared.twice.fetch_add(1, Ordering::Relaxed);
                    }
                } else if let Some(r) = title.strip_prefix('a').and_then(|r| r.parse::<u64>().ok())
                {
                    shared.round_at[index].store(at, Ordering::Relaxed);
                    shared.round[index].store(r, Ordering::Relaxed);
                }
                let ack = ClientFrame::Ack {
                    ids: vec![notification.id],
                };
                if ws.send(send(&ack)).await.is_err() {
                    break;
                }
            }
            _ => {}
        }
    }
    let _ = ws.close(None).await;
}

/// A frame as the instance would send it, for the floor.
fn notification_frame(seq: u64, title: &str) -> String {
    let n = belfry_proto::inbox::Notification {
        id: uuid_like(seq),
        seq,
        type_id: "ticket_created".into(),
        category: belfry_proto::catalogue::Category::Events,
        title: title.into(),
        body: "a ticket for the load bench".into(),
        link: Some("http://127.0.0.1/tickets/1".into()),
        created_at: chrono::Utc::now(),
        read_at: None,
        data: serde_json::Map::new(),
    };
    serde_json::to_string(&ServerFrame::Notification {
        seq,
        notification: n,
    })
    .unwrap()
}

fn uuid_like(seq: u64) -> String {
    format!("0190a0b0-0000-7000-8000-{seq:012x}")
}

/// POSTs in flight at most: past this the schedule slips, and the time
/// waited counts (each event is timed from its place in the schedule).
/// Without a cap, an instance that fell behind made the bench open a
/// connection per waiting request, past its own open-file limit.
const IN_FLIGHT: usize = 1_000;

/// The events of one rate: sends `rate * secs` events, each to the operator
/// `k % n`, on schedule; returns each one's place in the schedule (since
/// `base`) and whether it was taken (a 2xx).
async fn paced(
    publish: &Publish,
    shared: &Arc<Shared>,
    first: usize,
    n: usize,
    rate: u64,
    secs: u64,
) -> Vec<(u64, bool)> {
    let total = (rate * secs) as usize;
    let out: Arc<Mutex<Vec<(u64, bool)>>> = Arc::new(Mutex::new(vec![(0, false); total]));
    let start = tokio::time::Instant::now();
    let start_nanos = shared.nanos();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let offset = Duration::from_micros(i as u64 * 1_000_000 / rate);
        tokio::time::sleep_until(start + offset).await;
        let scheduled = start_nanos + u64::try_from(offset.as_nanos()).unwrap_or(u64::MAX);
        let k = first + i;
        let op = k % n;
        let title = format!("p{k}");
        let out = Arc::clone(&out);
        let shared = Arc::clone(shared);
        match publish {
            Publish::Rest { base, token, http } => {
                let req = http
                    .post(format!("{base}/api/v1/admin/events"))
                    .bearer_auth(token)
                    .json(&EmitEvent {
                        operator: format!("op-{op}"),
                        type_id: "ticket_created".into(),
                        title: Some(title),
                        body: Some("a ticket for the load bench".into()),
                        path: Some("/tickets/1".into()),
                        data: Default::default(),
                    });
                let permit = Arc::clone(&in_flight).acquire_owned().await.unwrap();
                tasks.push(tokio::spawn(async move {
                    let ok = matches!(req.send().await, Ok(r) if r.status().is_success());
                    out.lock().unwrap()[i] = (scheduled, ok);
                    drop((permit, shared));
                }));
            }
            Publish::Floor(tx) => {
                let sent = scheduled;
                let ok = tx
                    .send(format!("{op} {}", notification_frame(k as u64, &title)))
                    .is_ok();
                out.lock().unwrap()[i] = (sent, ok);
            }
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    out.lock().unwrap().clone()
}

/// One change every operator receives, `round` (one event per operator
/// in one batch); returns the time from the request's start to the last
/// client having it, or None when not every client had it within 30 s.
async fn everyone(publish: &Publish, shared: &Arc<Shared>, n: usize, round: u64) -> Option<f64> {
    let title = format!("a{round}");
    let sent = shared.nanos();
    match publish {
        Publish::Rest { base, token, http } => {
            let events = (0..n)
                .map(|op| EmitEvent {
                    operator: format!("op-{op}"),
                    type_id: "ticket_reassign".into(),
                    title: Some(title.clone()),
                    body: Some("a change for everyone".into()),
                    path: None,
                    data: Default::default(),
                })
                .collect();
            let answer = http
                .post(format!("{base}/api/v1/admin/events/batch"))
                .bearer_auth(token)
                .json(&EmitBatch { events })
                .send()
                .await;
            match answer {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    println!("load: the batch was refused: {}", r.status());
                    return None;
                }
                Err(e) => {
                    println!("load: the batch failed: {e}");
                    return None;
                }
            }
        }
        Publish::Floor(tx) => {
            let _ = tx.send(format!("* {}", notification_frame(round, &title)));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = shared.round[..n]
            .iter()
            .all(|r| r.load(Ordering::Relaxed) == round);
        if done {
            break;
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let last = shared.round_at[..n]
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    Some(last.saturating_sub(sent) as f64 / 1e6)
}

/// What one setup measured at one count.
#[derive(Default)]
struct Measured {
    pss_per_stream_kb: f64,
    rss_per_stream_kb: f64,
    cpu_mean: f64,
    cpu_max: f64,
    cpu_seconds: Vec<f64>,
    /// Per rate: delivery times (ms), how many were taken but never
    /// arrived, and how many were not taken (no 2xx).
    rates: Vec<(u64, Vec<f64>, usize, usize)>,
    everyone_ms: Vec<f64>,
    connect_ms: Vec<f64>,
    connect_failed: usize,
    twice: u64,
}

async fn measure(server: &Server, n: usize, idle: Duration) -> Measured {
    let total_events: usize = RATES.iter().map(|(r, s)| (r * s) as usize).sum();
    let shared = Arc::new(Shared {
        base: Instant::now(),
        events: (0..total_events).map(|_| AtomicU64::new(0)).collect(),
        twice: AtomicU64::new(0),
        round: (0..n).map(|_| AtomicU64::new(0)).collect(),
        round_at: (0..n).map(|_| AtomicU64::new(0)).collect(),
        connected: AtomicUsize::new(0),
        connect_ms: Mutex::new(Vec::with_capacity(n)),
        failed: AtomicUsize::new(0),
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (pss0, rss0) = memory_kb(server.pid);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // All at once: every client task is spawned before any is polled.
    let clients: Vec<_> = (0..n)
        .map(|i| {
            tokio::spawn(client(
                server.stream_url.clone(),
                server.tokens[i].clone(),
                i,
                Arc::clone(&shared),
                stop_rx.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while shared.connected.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed) < n
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut m = Measured {
        connect_failed: n - shared.connected.load(Ordering::Relaxed),
        connect_ms: shared.connect_ms.lock().unwrap().clone(),
        ..Measured::default()
    };
    // Idle: heartbeats only. CPU each second.
    let mut last = cpu_ticks(server.pid);
    let mut at = Instant::now();
    let idle_end = Instant::now() + idle;
    while Instant::now() < idle_end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = cpu_ticks(server.pid);
        let secs = at.elapsed().as_secs_f64();
        at = Instant::now();
        m.cpu_seconds.push((now - last).max(0.0) / secs * 100.0);
        last = now;
    }
    let (pss1, rss1) = memory_kb(server.pid);
    m.pss_per_stream_kb = (pss1 - pss0) / n as f64;
    m.rss_per_stream_kb = (rss1 - rss0) / n as f64;
    m.cpu_mean = m.cpu_seconds.iter().sum::<f64>() / m.cpu_seconds.len().max(1) as f64;
    m.cpu_max = m.cpu_seconds.iter().copied().fold(0.0, f64::max);
    // Events to single operators.
    let mut first = 0;
    for (rate, secs) in RATES {
        let sent = paced(&server.publish, &shared, first, n, rate, secs).await;
        // Wait for the stragglers: up to 30 s after the last, or all in.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let missing = sent
                .iter()
                .enumerate()
                .filter(|(i, (_, ok))| *ok && shared.events[first + i].load(Ordering::Relaxed) == 0)
                .count();
            if missing == 0 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut times = Vec::with_capacity(sent.len());
        let (mut lost, mut refused) = (0, 0);
        for (i, (at, ok)) in sent.iter().enumerate() {
            let got = shared.events[first + i].load(Ordering::Relaxed);
            if !ok {
                refused += 1;
            } else if got == 0 {
                lost += 1;
            } else {
                times.push(got.saturating_sub(*at) as f64 / 1e6);
            }
        }
        m.rates.push((rate, times, lost, refused));
        first += sent.len();
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // One change for everyone.
    for round in 1..=ROUNDS as u64 {
        match everyone(&server.publish, &shared, n, round).await {
            Some(ms) => m.everyone_ms.push(ms),
            None => println!("load: round {round}: not every client had the change within 30 s"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    m.twice = shared.twice.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    for c in clients {
        let _ = c.await;
    }
    m
}

/// The bench's own process may open as many files as the system allows.
fn raise_files() {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => println!("load: open-file limit {n}"),
        Err(e) => println!("load: the open-file limit could not be raised: {e}"),
    }
}

/// Operators `op-0…op-{n-1}` and the admin, each with a token, written
/// straight to the database (signing in 10,000 times would be 10,000
/// argon2 hashes); the tokens by operator index, then the admin's.
fn populate(location: &str, n: usize) -> (Vec<String>, String) {
    let hub = Arc::new(belfry_instance::hub::Hub::default());
    let store = Store::open_at(Some(location), hub, 100_000).expect("the bench's database");
    let hash = belfry_instance::auth::hash_password("load-bench-password").unwrap();
    let expires = chrono::Utc::now() + chrono::Duration::days(1);
    let token_for = |login: &str, role: Role| {
        let op = store.create_operator(login, login, role, &hash).unwrap();
        let (token, token_hash) = belfry_instance::auth::new_token().unwrap();
        store
            .insert_token(op.id, &token_hash, Some("bench-load"), expires)
            .unwrap();
        token
    };
    let tokens = (0..n)
        .map(|i| token_for(&format!("op-{i}"), Role::Operator))
        .collect();
    let admin = token_for(ADMIN, Role::Admin);
    (tokens, admin)
}

/// Starts `belfry-instance serve` (built beside this binary) on `db`;
/// returns it and its base URL once it listens.
fn instance(db: &str) -> (Child, String) {
    let exe = std::env::current_exe().expect("the bench's path");
    let bin = exe.with_file_name("belfry-instance");
    assert!(
        bin.exists(),
        "{} is missing: `cargo xtask bench` builds it",
        bin.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&bin)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--db",
            db,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the instance starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the instance never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

fn ws(base: &str) -> String {
    format!("{}/api/v1/stream", base.replacen("http", "ws", 1))
}

fn rest(base: &str, token: String) -> Publish {
    Publish::Rest {
        base: base.to_owned(),
        token,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .unwrap(),
    }
}

fn sqlite_server(n: usize) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = dir
        .path()
        .join("instance.db")
        .to_string_lossy()
        .into_owned();
    let (tokens, admin) = populate(&db, n);
    let (child, base) = instance(&db);
    Server {
        pid: child.id(),
        stream_url: ws(&base),
        tokens,
        publish: rest(&base, admin),
        _keep: vec![Keep::Process(child), Keep::Dir(dir)],
    }
}

fn postgres_server(n: usize) -> Server {
    let cluster = Arc::new(belfry_tests::pg::Cluster::start());
    let db = belfry_tests::pg::Database::on_cluster(&cluster);
    let (tokens, admin) = populate(&db.url, n);
    let (a, base_a) = instance(&db.url);
    let (b, base_b) = instance(&db.url);
    Server {
        pid: b.id(),
        stream_url: ws(&base_b),
        tokens,
        publish: rest(&base_a, admin),
        _keep: vec![Keep::Process(a), Keep::Process(b), Keep::Pg(db)],
    }
}

async fn floor_server(n: usize) -> Server {
    let exe = std::env::current_exe().expect("the bench's path");
    let mut child = Command::new(exe)
        .arg(FLOOR_MODE)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the floor starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().strip_prefix("listening ").unwrap().to_owned();
    // Without Nagle's algorithm, as the instance's sockets.
    let (control, _) =
        tokio_tungstenite::connect_async_with_config(format!("ws://{addr}/publish"), None, true)
            .await
            .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut control = control;
        while let Some(m) = rx.recv().await {
            if control.send(Message::Text(m.into())).await.is_err() {
                break;
            }
        }
    });
    Server {
        pid: child.id(),
        stream_url: format!("ws://{addr}/api/v1/stream"),
        tokens: (0..n).map(|i| format!("floor-{i}")).collect(),
        publish: Publish::Floor(tx),
        _keep: vec![Keep::Process(child)],
    }
}

/// The floor: a bare tokio-tungstenite server that sends each stream the
/// same frames the instance would (welcome, replay done, a ping every
/// heartbeat from a random phase, pong to a ping, notifications), with the
/// same small buffers, and nothing else: no database, no HTTP routing.
/// A control socket (`/publish`) sends `<index> <frame>` to one stream or
/// `* <frame>` to all.
pub fn floor_main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = belfry_instance::serve::bind("127.0.0.1:0").await.unwrap();
        println!("listening {}", listener.local_addr().unwrap());
        type Streams = Arc<Mutex<HashMap<usize, tokio::sync::mpsc::UnboundedSender<Arc<str>>>>>;
        let streams: Streams = Arc::default();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let streams = Arc::clone(&streams);
            tokio::spawn(async move {
                let who: Arc<Mutex<Option<String>>> = Arc::default();
                let seen = Arc::clone(&who);
                // tungstenite's callback type: its error is a whole response.
                #[allow(clippy::result_large_err)]
                let callback = move |req: &http::Request<()>, resp| {
                    let auth = req
                        .headers()
                        .get(http::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let path = req.uri().path().to_owned();
                    *seen.lock().unwrap() = auth.or(Some(path));
                    Ok(resp)
                };
                let config = WebSocketConfig::default()
                    .read_buffer_size(4 * 1024)
                    .write_buffer_size(0);
                let Ok(mut ws) =
                    tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(config))
                        .await
                else {
                    return;
                };
                let who = who.lock().unwrap().clone().unwrap_or_default();
                if who == "/publish" {
                    while let Some(Ok(Message::Text(t))) = ws.next().await {
                        let Some((to, frame)) = t.split_once(' ') else {
                            continue;
                        };
                        let frame: Arc<str> = Arc::from(frame);
                        let streams = streams.lock().unwrap();
                        if to == "*" {
                            for s in streams.values() {
                                let _ = s.send(Arc::clone(&frame));
                            }
                        } else if let Some(s) = to.parse().ok().and_then(|i: usize| streams.get(&i))
                        {
                            let _ = s.send(frame);
                        }
                    }
                    return;
                }
                let Some(index) = who
                    .strip_prefix("Bearer floor-")
                    .and_then(|i| i.parse::<usize>().ok())
                else {
                    return;
                };
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                streams.lock().unwrap().insert(index, tx);
                floor_stream(&mut ws, &mut rx).await;
                streams.lock().unwrap().remove(&index);
            });
        }
    });
}

async fn floor_stream<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Arc<str>>,
) {
    let text = |f: &ServerFrame| Message::Text(serde_json::to_string(f).unwrap().into());
    // The hello.
    if !matches!(ws.next().await, Some(Ok(Message::Text(_)))) {
        return;
    }
    let welcome = ServerFrame::Welcome {
        protocol: belfry_proto::PROTOCOL_VERSION,
        server_seq: 0,
        heartbeat_s: belfry_proto::stream::DEFAULT_HEARTBEAT_S,
        max_frame_bytes: belfry_proto::stream::MAX_FRAME_BYTES,
        settings_version: 1,
        status: belfry_proto::api::OperatorStatus {
            status: belfry_proto::api::Availability::Ready,
            since: None,
        },
    };
    if ws.send(text(&welcome)).await.is_err()
        || ws
            .send(text(&ServerFrame::ReplayDone { seq: 0 }))
            .await
            .is_err()
    {
        return;
    }
    let offset = HEARTBEAT.mul_f64(fastrand::f64());
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + offset, HEARTBEAT);
    let mut ping_id = 0;
    loop {
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(ClientFrame::Ping { id }) = serde_json::from_str(&t)
                        && ws.send(text(&ServerFrame::Pong { id })).await.is_err()
                    {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            f = rx.recv() => match f {
                Some(f) => if ws.send(Message::Text(f.as_ref().into())).await.is_err() { return },
                None => return,
            },
            _ = beat.tick() => {
                ping_id += 1;
                if ws.send(text(&ServerFrame::Ping { id: Some(ping_id) })).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Runs the part.
pub fn run() -> Vec<Row> {
    raise_files();
    let idle = Duration::from_secs(env_or("BELFRY_BENCH_IDLE_S", 60));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut results: HashMap<(String, usize), Measured> = HashMap::new();
    for n in sizes() {
        for setup in setups() {
            let server = match setup.as_str() {
                "floor" => rt.block_on(floor_server(n)),
                "sqlite" => sqlite_server(n),
                "postgres" => postgres_server(n),
                other => panic!("unknown load setup {other:?}"),
            };
            let m = rt.block_on(measure(&server, n, idle));
            println!(
                "load: {setup}, {n} streams: {} connected ({} failed), slowest connect {:.0} ms; \
                 PSS +{:.1} KB/stream (RSS +{:.1}); idle CPU mean {:.2} %, busiest second {:.2} %; \
                 {} twice",
                n - m.connect_failed,
                m.connect_failed,
                m.connect_ms.iter().copied().fold(0.0, f64::max),
                m.pss_per_stream_kb,
                m.rss_per_stream_kb,
                m.cpu_mean,
                m.cpu_max,
                m.twice,
            );
            println!(
                "load: {setup}, {n}: CPU by second {:?}",
                round2(&m.cpu_seconds)
            );
            for (rate, times, lost, refused) in &m.rates {
                let mut t = times.clone();
                t.sort_by(f64::total_cmp);
                println!(
                    "load: {setup}, {n}: {rate}/s: p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms, {lost} lost, {refused} refused",
                    crate::percentile(&t, 0.5),
                    crate::percentile(&t, 0.99),
                    t.last().copied().unwrap_or(f64::NAN),
                );
            }
            println!(
                "load: {setup}, {n}: change for everyone, last client {:?} ms",
                round2(&m.everyone_ms)
            );
            drop(server);
            results.insert((setup, n), m);
        }
    }
    rows(&results, idle)
}

fn round2(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| (x * 100.0).round() / 100.0).collect()
}

fn rows(results: &HashMap<(String, usize), Measured>, idle: Duration) -> Vec<Row> {
    let mut out = Vec::new();
    let idle_s = idle.as_secs();
    for n in sizes() {
        let floor = results.get(&("floor".to_owned(), n));
        for (setup, name, p99_budget) in [
            ("sqlite", "one node, SQLite", 50.0),
            ("postgres", "two nodes, PostgreSQL, across", 100.0),
        ] {
            let Some(m) = results.get(&(setup.to_owned(), n)) else {
                continue;
            };
            let f = |g: &dyn Fn(&Measured) -> Vec<f64>| floor.map(g).unwrap_or_default();
            out.push(Row {
                figure: format!(
                    "load, {name}, {n} streams: memory per stream (PSS, after {idle_s} s idle)"
                ),
                unit: Unit::Kb,
                samples: vec![m.pss_per_stream_kb],
                floor: f(&|m| vec![m.pss_per_stream_kb]),
                budget: 30.0,
                budget_at: 0.5,
            });
            out.push(Row {
                figure: format!("load, {name}, {n} streams: idle CPU, mean over {idle_s} s"),
                unit: Unit::Percent,
                samples: vec![m.cpu_mean],
                floor: f(&|m| vec![m.cpu_mean]),
                budget: 2.0,
                budget_at: 0.5,
            });
            out.push(Row {
                figure: format!("load, {name}, {n} streams: idle CPU, busiest second (waves)"),
                unit: Unit::Percent,
                samples: vec![m.cpu_max],
                floor: f(&|m| vec![m.cpu_max]),
                budget: f64::NAN,
                budget_at: 0.5,
            });
            for (rate, times, lost, refused) in &m.rates {
                let floor_times = floor
                    .and_then(|fm| fm.rates.iter().find(|(r, ..)| r == rate))
                    .map(|(_, t, ..)| t.clone())
                    .unwrap_or_default();
                out.push(
                    Row {
                        figure: format!(
                            "load, {name}, {n} streams: event → client at {rate}/s (POST to frame)"
                        ),
                        unit: Unit::Ms,
                        samples: times.clone(),
                        floor: floor_times,
                        budget: p99_budget,
                        budget_at: 0.5,
                    }
                    .at(0.99),
                );
                out.push(Row::count(
                    format!("load, {name}, {n} streams: {rate}/s taken and not delivered in 30 s"),
                    *lost as f64,
                    0.0,
                ));
                out.push(Row::count(
                    format!("load, {name}, {n} streams: {rate}/s not taken (no 2xx)"),
                    *refused as f64,
                    0.0,
                ));
            }
            out.push(Row {
                figure: format!(
                    "load, {name}, {n} streams: one change for all {n} operators (batch) → last client"
                ),
                unit: Unit::Ms,
                samples: m.everyone_ms.clone(),
                floor: f(&|m| m.everyone_ms.clone()),
                budget: 250.0,
                budget_at: 0.5,
            });
            out.push(
                Row {
                    figure: format!("load, {name}, {n} connecting at once: each connect"),
                    unit: Unit::Ms,
                    samples: m.connect_ms.clone(),
                    floor: f(&|m| m.connect_ms.clone()),
                    budget: 1000.0,
                    budget_at: 0.5,
                }
                .at(1.0),
            );
            out.push(Row::count(
                format!("load, {name}, {n} connecting at once: failed"),
                m.connect_failed as f64,
                0.0,
            ));
        }
    }
    out
}
