//! A burst and a catch-up: 10,000 events in one second to a connected
//! core, and 10,000 missed while it was offline, delivered when it comes
//! back. The instance runs as its own process (`belfry-instance`, built
//! beside this binary) so this process's memory is the core's alone.
//!
//! The core delivers to a recorder (what it shows and plays, with when):
//! the figures are about what the core decides, stores and keeps, not a
//! daemon's speed (the latency part measures those).

use crate::{Row, Unit, percentile};
use belfry_core::router::ToastKey;
use belfry_core::sinks::Record;
use belfry_proto::stream::ServerFrame;
use belfry_tests::{ADMIN, Api, Desk, OPERATOR, Stream, quick_config};
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Events in a burst and in an outage.
const EVENTS: usize = 10_000;
/// How many batches the burst's second is cut into.
const SLICES: usize = 10;
/// Burst and catch-up rounds.
const ROUNDS: usize = 3;

/// The reference instance in a process of its own.
pub struct Instance {
    child: Child,
    /// Its address.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Instance {
    /// Starts it with the bench's admin and operator accounts.
    pub fn start() -> Self {
        let exe = std::env::current_exe().expect("the bench's path");
        let bin = exe.with_file_name("belfry-instance");
        assert!(
            bin.exists(),
            "{} is missing: `cargo xtask bench` builds it",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("instance.db");
        for (login, password, admin) in [(ADMIN.0, ADMIN.1, true), (OPERATOR.0, OPERATOR.1, false)]
        {
            let mut cmd = Command::new(&bin);
            cmd.args(["create-operator", "--login", login])
                .arg("--db")
                .arg(&db)
                .env("BELFRY_PASSWORD", password)
                .stdout(Stdio::null());
            if admin {
                cmd.arg("--admin");
            }
            assert!(cmd.status().expect("create-operator runs").success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--db")
            .arg(&db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the instance starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the instance never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This process's proportional set size, in MB.
fn pss_mb() -> f64 {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb * 1024.0 / 1e6)
}

/// The most toasts on screen at once in `records` after `from`: a toast
/// stays until it is closed, replaced or its timeout ends (as a daemon
/// expires it).
fn most_on_screen(records: &[Record], from: usize) -> usize {
    let mut until: HashMap<ToastKey, Instant> = HashMap::new();
    let mut most = 0;
    for r in &records[from..] {
        match r {
            Record::Shown(at, toast) => {
                until.retain(|_, end| *end > *at);
                until.insert(toast.key.clone(), *at + toast.timeout);
                most = most.max(until.len());
            }
            Record::Closed(_, key) => {
                until.remove(key);
            }
            Record::Played(..) => {}
        }
    }
    most
}

fn played(records: &[Record], from: usize) -> usize {
    records[from..]
        .iter()
        .filter(|r| matches!(r, Record::Played(..)))
        .count()
}

fn shown(records: &[Record], from: usize) -> usize {
    records[from..]
        .iter()
        .filter(|r| matches!(r, Record::Shown(..)))
        .count()
}

/// Waits until the store holds `n` notifications; false after `limit`.
async fn until_stored(desk: &Desk, n: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if desk.engine.store().all_ids().map(|v| v.len()).unwrap_or(0) >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

/// Lost and duplicated: the server's ids against the store's.
fn lost_and_doubled(desk: &Desk, sent: &HashSet<String>) -> (usize, usize) {
    let stored = desk.engine.store().all_ids().expect("the store reads");
    let ids: HashSet<&String> = stored.iter().map(|(_, id)| id).collect();
    let seqs: HashSet<u64> = stored.iter().map(|(s, _)| *s).collect();
    let lost = sent.iter().filter(|id| !ids.contains(id)).count();
    let doubled = (stored.len() - ids.len()) + (stored.len() - seqs.len());
    (lost, doubled)
}

/// Receives frames until `n` notifications came, on a bare stream client.
async fn receive(stream: &mut Stream, n: usize) {
    let mut got = 0;
    while got < n {
        if let ServerFrame::Notification { .. } = stream.next().await {
            got += 1;
        }
    }
}

/// Emits `EVENTS` events over one second, in `SLICES` batches.
async fn burst(admin: &Api) -> Vec<String> {
    let start = Instant::now();
    let mut ids = Vec::with_capacity(EVENTS);
    for i in 0..SLICES {
        ids.extend(
            admin
                .emit_many(OPERATOR.0, "chat_created", EVENTS / SLICES)
                .await,
        );
        let next = start + Duration::from_secs(1) * (i as u32 + 1) / SLICES as u32;
        tokio::time::sleep_until(next.into()).await;
    }
    ids
}

/// Starts the core again on its store, signed in with `token`; with when
/// the engine started.
async fn restart(dir: tempfile::TempDir, token: String, url: &str) -> (Desk, Instant) {
    use belfry_core::{net, secret::Secret, sinks::Sinks, store::Store};
    let base = net::instance_url(url, false).expect("the url");
    let tls = net::tls_config(None).expect("TLS");
    let api = net::Api::new(base, Secret::new(&token), &tls).expect("the client");
    let store = Store::open(&dir.path().join("inbox.db")).expect("the store");
    let recorder = belfry_core::sinks::Recorder::default();
    let started = Instant::now();
    let engine = belfry_core::engine::Engine::start(
        quick_config(),
        store,
        api,
        tls,
        Sinks::recording(&recorder),
    )
    .await;
    (
        Desk {
            engine,
            token,
            recorder,
            dir,
        },
        started,
    )
}

/// The burst and catch-up figures.
pub fn run() -> Vec<Row> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(measure())
}

async fn measure() -> Vec<Row> {
    let instance = Instance::start();
    let url = instance.url.clone();
    let admin = Api::login(&url, ADMIN.0, ADMIN.1).await;
    // Sound on for new chats (off by default), so "at most one melody" is tested.
    let operator = Api::login(&url, OPERATOR.0, OPERATOR.1).await;
    let mut doc: belfry_proto::settings::SettingsDocument = operator.get("/api/v1/settings").await;
    doc.preferences.channels.sound.enabled = true;
    if let Some(t) = doc.preferences.types.get_mut("chat_created")
        && !t.channels.iter().any(|c| c == "sound")
    {
        t.channels.push("sound".into());
    }
    let _: belfry_proto::settings::SettingsDocument = operator
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings",
            &belfry_proto::settings::SettingsWrite {
                base_version: doc.version,
                preferences: doc.preferences,
            },
        )
        .await;
    let desk_dir = tempfile::tempdir().expect("a temp dir");
    let mut desk = Desk::start_in(desk_dir, &url, OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.wait_state("connected", |s| {
        *s == belfry_core::event::ConnState::Connected
    })
    .await;
    let max_simultaneous = desk
        .engine
        .settings()
        .preferences
        .channels
        .banner
        .max_simultaneous as usize;

    let mut stored_in = Vec::new();
    let mut stored_floor = Vec::new();
    let mut losses = Vec::new();
    let mut on_screen = Vec::new();
    let mut melodies = Vec::new();
    let mut growth = Vec::new();
    let mut page_times: Vec<f64> = Vec::new();
    let mut sent: HashSet<String> = HashSet::new();

    for _ in 0..ROUNDS {
        let before = desk.recorder.records().len();
        let have = desk.engine.store().all_ids().expect("reads").len();
        let pss_before = pss_mb();
        // The floor: a bare stream client receiving the same burst.
        let (mut bare, _) = Stream::connect(&instance.url, &desk.token, None).await;
        let bare_done = tokio::spawn(async move {
            receive(&mut bare, EVENTS).await;
            Instant::now()
        });
        // The inbox stays responsive: its first page, asked every 10 ms
        // while the burst is stored.
        let busy = Arc::new(AtomicBool::new(true));
        let probe = {
            let store = desk.engine.store().clone();
            let busy = Arc::clone(&busy);
            std::thread::spawn(move || {
                let filter = belfry_core::store::Filter {
                    limit: 50,
                    ..Default::default()
                };
                let mut times = Vec::new();
                while busy.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let _ = store.page(&filter);
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                    std::thread::sleep(Duration::from_millis(10));
                }
                times
            })
        };
        let ids = burst(&admin).await;
        // From the last event's emit: how far the core lags the burst.
        let t0 = Instant::now();
        let all = until_stored(&desk, have + EVENTS, Duration::from_secs(60)).await;
        let took = t0.elapsed();
        busy.store(false, Ordering::Relaxed);
        page_times.extend(probe.join().expect("the probe"));
        let bare_end = bare_done.await.expect("the bare client");
        stored_floor.push(bare_end.saturating_duration_since(t0).as_secs_f64() * 1e3);
        stored_in.push(if all {
            took.as_secs_f64() * 1e3
        } else {
            f64::NAN
        });
        sent.extend(ids);
        // Let the router's toasts and the store's writes settle.
        tokio::time::sleep(Duration::from_secs(1)).await;
        growth.push(pss_mb() - pss_before);
        let (lost, doubled) = lost_and_doubled(&desk, &sent);
        losses.push((lost + doubled) as f64);
        let records = desk.recorder.records();
        on_screen.push(most_on_screen(&records, before) as f64);
        melodies.push(played(&records, before) as f64);
    }

    // Catch-up: offline while 10,000 arrive, then back.
    let mut caught_up = Vec::new();
    let mut catch_floor = Vec::new();
    let mut catch_toasts = Vec::new();
    let mut catch_losses = Vec::new();
    for _ in 0..ROUNDS {
        let last = desk.engine.store().max_seq().expect("reads");
        let have = desk.engine.store().all_ids().expect("reads").len();
        desk.engine.shutdown().await;
        let Desk { dir, token, .. } = desk;
        for _ in 0..SLICES {
            sent.extend(
                admin
                    .emit_many(OPERATOR.0, "chat_created", EVENTS / SLICES)
                    .await,
            );
        }
        // The floor: a bare client replaying the same 10,000 from the same place.
        let t = Instant::now();
        let (mut bare, _) = Stream::connect(&instance.url, &token, last).await;
        receive(&mut bare, EVENTS).await;
        catch_floor.push(t.elapsed().as_secs_f64() * 1e3);
        drop(bare);

        // Back from the outage: the core starts on its kept store and token
        // (an outage signs nobody out, so sign-in is not timed).
        let (back, t0) = restart(dir, token, &url).await;
        desk = back;
        let all = until_stored(&desk, have + EVENTS, Duration::from_secs(60)).await;
        let took = t0.elapsed();
        caught_up.push(if all {
            took.as_secs_f64() * 1e3
        } else {
            f64::NAN
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (lost, doubled) = lost_and_doubled(&desk, &sent);
        catch_losses.push((lost + doubled) as f64);
        catch_toasts.push(shown(&desk.recorder.records(), 0) as f64);
    }
    desk.engine.shutdown().await;

    let mut sorted_pages = page_times.clone();
    sorted_pages.sort_by(f64::total_cmp);
    println!(
        "burst: {EVENTS} new chats in 1 s ({SLICES} batches), {ROUNDS} rounds; \
         max simultaneous toasts {max_simultaneous}; first page probed {} times during bursts (max {:.1} ms); \
         catch-up: {EVENTS} missed, {ROUNDS} rounds (restart on the kept store and token); \
         a bare stream client had the burst {:.1} ms after the last emit (median)",
        page_times.len(),
        percentile(&sorted_pages, 1.0),
        {
            let mut f = stored_floor.clone();
            f.sort_by(f64::total_cmp);
            percentile(&f, 0.5)
        },
    );
    let count = |figure: &str, samples: Vec<f64>, budget: f64| Row {
        figure: figure.to_owned(),
        unit: Unit::Count,
        samples,
        floor: Vec::new(),
        budget,
        budget_at: 1.0,
    };
    vec![
        Row {
            figure: format!("burst: {EVENTS} events in 1 s, last emitted → all stored"),
            unit: Unit::Ms,
            samples: stored_in,
            // A bare stream client has them all before the last emit
            // returns: no floor to divide by (printed above instead).
            floor: Vec::new(),
            budget: 250.0,
            budget_at: 1.0,
        },
        count("burst: lost + duplicated", losses, 0.0),
        count(
            "burst: toasts on screen at most",
            on_screen,
            (max_simultaneous + 1) as f64,
        ),
        count("burst: melodies played", melodies, 1.0),
        Row {
            figure: "burst: memory growth (PSS)".into(),
            unit: Unit::Mb,
            samples: growth,
            floor: Vec::new(),
            budget: 10.0,
            budget_at: 1.0,
        },
        Row {
            figure: "burst: inbox first page while storing".into(),
            unit: Unit::Ms,
            samples: page_times,
            floor: Vec::new(),
            budget: 16.0,
            budget_at: 0.99,
        },
        Row {
            figure: format!("catch-up: {EVENTS} missed, core started → all stored"),
            unit: Unit::Ms,
            samples: caught_up,
            floor: catch_floor,
            budget: 1000.0,
            budget_at: 1.0,
        },
        count("catch-up: lost + duplicated", catch_losses, 0.0),
        count("catch-up: toasts shown", catch_toasts, 1.0),
    ]
}
