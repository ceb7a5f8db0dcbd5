//! The app's footprint, measured from outside as an operator's machine
//! sees it: the real `belfry` binary (built beside this one), signed in to
//! an instance on loopback with 10,000 notifications stored, idle.
//!
//! - memory: the sum of PSS over the app's processes (the WebKit ones too
//!   while the window is open), from `/proc/PID/smaps_rollup`;
//! - CPU: time on a CPU (the scheduler's count, every thread) over the
//!   window, as a share of one core;
//! - wake-ups: context switches of all the app's threads per second;
//! - cold start: process start to the stream connected (headless), read
//!   from the app's own log line.
//!
//! The floor beside each idle figure is a bare peer: this binary in
//! `idle-peer` mode, a WebSocket client that answers heartbeats and holds
//! nothing else. Needs the rig (display, session bus, keyring).

use crate::{Row, Unit};
use belfry_tests::{ADMIN, Api, OPERATOR};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Notifications stored before the idle figures are taken.
const STORED: usize = 10_000;
/// Seconds after start when the idle window opens.
const SETTLE: Duration = Duration::from_secs(60);
/// The idle window, cut into this many slices for the spread.
const WINDOW: Duration = Duration::from_secs(30);
const SLICES: u32 = 6;
/// Cold starts.
const STARTS: usize = 10;

/// Every process in the tree under `root` (itself included).
fn tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The fields after the command, which may hold spaces.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// Sum of PSS over `pids`, in MB.
fn pss_mb(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .sum::<f64>()
        * 1024.0
        / 1e6
}

/// Each process of the tree under `root` with its PSS, largest first
/// ("belfry 80.1 MB, WebKitWebProces 150.2 MB"): where the memory is.
fn by_process(root: u32) -> String {
    let mut all: Vec<(String, f64)> = tree(root)
        .into_iter()
        .map(|p| {
            let name = std::fs::read_to_string(format!("/proc/{p}/comm"))
                .map_or_else(|_| p.to_string(), |c| c.trim().to_owned());
            (name, pss_mb(&[p]))
        })
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.iter()
        .map(|(n, mb)| format!("{n} {mb:.1} MB"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The largest mappings of `pid` by PSS ("[heap] 3.1 MB, libsqlite…"),
/// anonymous ones together: where one process's memory is, for the doc.
fn by_mapping(pid: u32, top: usize) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut sums: HashMap<String, f64> = HashMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: range, perms, offset, dev, inode, path.
            let path = fields.nth(4).unwrap_or("[anon]");
            current = path.rsplit('/').next().unwrap_or(path).to_owned();
        } else if first == "Pss:"
            && let Some(kb) = fields.next().and_then(|v| v.parse::<f64>().ok())
        {
            *sums.entry(current.clone()).or_default() += kb;
        }
    }
    let mut all: Vec<(String, f64)> = sums.into_iter().collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.iter()
        .take(top)
        .map(|(n, kb)| format!("{n} {:.1}", kb * 1024.0 / 1e6))
        .collect::<Vec<_>>()
        .join(", ")
}

/// CPU seconds used so far by every thread of `pids`, from the scheduler's
/// own count in nanoseconds (`/proc/PID/task/TID/schedstat`): the clock
/// ticks of `/proc/PID/stat` are 10 ms apiece, so over a 5 s slice one
/// tick is 0.2 %, twice the budget, and an idle process is charged a tick
/// now and then for running when the timer fires.
fn cpu_s(pids: &[u32]) -> f64 {
    let mut ns = 0.0;
    for p in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if let Some(run) = std::fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
            {
                ns += run;
            }
        }
    }
    ns / 1e9
}

/// Context switches so far of every thread of `pids`.
fn switches(pids: &[u32]) -> f64 {
    let mut n = 0.0;
    for p in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(status) = std::fs::read_to_string(t.path().join("status")) else {
                continue;
            };
            for l in status.lines() {
                if let Some(v) = l
                    .strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                {
                    n += v.trim().parse::<f64>().unwrap_or(0.0);
                }
            }
        }
    }
    n
}

/// One idle reading per slice of the window: (PSS MB, CPU %, wake-ups/s).
fn idle(root: u32, start: Instant) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    if let Some(wait) = SETTLE.checked_sub(start.elapsed()) {
        std::thread::sleep(wait);
    }
    let slice = WINDOW / SLICES;
    let (mut pss, mut cpu, mut wake) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SLICES {
        let pids = tree(root);
        let (c0, w0, t0) = (cpu_s(&pids), switches(&pids), Instant::now());
        std::thread::sleep(slice);
        let pids = tree(root);
        let secs = t0.elapsed().as_secs_f64();
        cpu.push((cpu_s(&pids) - c0) / secs * 100.0);
        wake.push((switches(&pids) - w0) / secs);
        pss.push(pss_mb(&pids));
    }
    (pss, cpu, wake)
}

/// The app under measurement, with its own HOME (its store and config).
pub struct App {
    pub child: Child,
    start: Instant,
}

impl App {
    pub fn start(bin: &Path, home: &Path, url: &str, mode: &[&str]) -> Self {
        Self::start_with(bin, home, url, mode, &[])
    }

    /// [`App::start`] with more environment.
    pub fn start_with(
        bin: &Path,
        home: &Path,
        url: &str,
        mode: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let start = Instant::now();
        let child = Command::new(bin)
            .args(mode)
            .envs(env.iter().copied())
            .args(["--instance", url, "--login", OPERATOR.0, "--verbose"])
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("BELFRY_PASSWORD", OPERATOR.1)
            .env("BELFRY_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("belfry starts");
        Self { child, start }
    }

    /// The log's lines that hold any of `wanted`, as they come (ANSI
    /// colours taken out).
    pub fn lines(&mut self, wanted: &[&str]) -> std::sync::mpsc::Receiver<String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let wanted: Vec<String> = wanted.iter().map(|w| (*w).to_owned()).collect();
        if let Some(err) = self.child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let plain = strip_ansi(&line);
                    if wanted.iter().any(|w| plain.contains(w.as_str())) && tx.send(plain).is_err()
                    {
                        return;
                    }
                }
            });
        }
        rx
    }

    /// Waits for the log to say the stream is connected; the time it took.
    pub fn connected(&mut self) -> Option<Duration> {
        let err = self.child.stderr.take()?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                // The log may be coloured: look past the escape codes.
                let plain: String = strip_ansi(&line);
                if !sent && plain.contains("state=Connected") {
                    let _ = tx.send(());
                    sent = true;
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(60))
            .ok()
            .map(|()| self.start.elapsed())
    }
}

/// `line` without its terminal colour codes (`ESC [ … m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for App {
    fn drop(&mut self) {
        // SIGTERM first, so the app closes its store and stream cleanly.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of the rig's HOME (its ALSA setup) for one app.
pub fn home() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("a temp dir");
    if let Some(rig) = std::env::var_os("HOME") {
        let _ = std::fs::copy(
            Path::new(&rig).join(".asoundrc"),
            home.path().join(".asoundrc"),
        );
    }
    home
}

/// The idle peer (the floor): connects to the stream and answers pings.
pub fn idle_peer(url: &str, token: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        use futures_util::StreamExt as _;
        use tokio_tungstenite::tungstenite::Message;
        let (mut stream, _) = belfry_tests::Stream::connect(url, token, None).await;
        // Heartbeats only: answer each ping, ignore the rest, no timeout.
        while let Some(Ok(msg)) = stream.ws.next().await {
            if let Message::Text(t) = msg
                && let Ok(belfry_proto::stream::ServerFrame::Ping { id }) = serde_json::from_str(&t)
            {
                stream
                    .send(&belfry_proto::stream::ClientFrame::Pong { id })
                    .await;
            }
        }
    });
}

/// The footprint figures; `instance_url` is a running instance.
pub fn run() -> Vec<Row> {
    if std::env::var_os("BELFRY_RIG").is_none() {
        println!("footprint: skipped (needs the rig: `cargo xtask bench` runs it there)");
        return Vec::new();
    }
    let exe = std::env::current_exe().expect("the bench's path");
    let bin: PathBuf = exe.with_file_name("belfry");
    if !bin.exists() {
        println!(
            "footprint: skipped ({} is missing: `cargo xtask bench` builds it)",
            bin.display()
        );
        return Vec::new();
    }
    let instance = crate::burst::Instance::start();
    let url = instance.url.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let token = runtime.block_on(async {
        let admin = Api::login(&url, ADMIN.0, ADMIN.1).await;
        for _ in 0..STORED / 1000 {
            let _ = admin.emit_many(OPERATOR.0, "ticket_created", 1000).await;
        }
        let peer = Api::login(&url, OPERATOR.0, OPERATOR.1).await;
        peer.token.clone()
    });

    // One HOME per mode, filled once (the first start catches up on the
    // 10,000), so the measured runs open a store that holds them.
    let mut rows = Vec::new();
    let mut cold = Vec::new();
    let headless_home = home();
    {
        let mut app = App::start(&bin, headless_home.path(), &url, &["--headless"]);
        let _ = app.connected();
        std::thread::sleep(Duration::from_secs(3));
    }
    for _ in 0..STARTS {
        let mut app = App::start(&bin, headless_home.path(), &url, &["--headless"]);
        if let Some(d) = app.connected() {
            cold.push(d.as_secs_f64() * 1e3);
        }
    }
    rows.push(deb_size());
    rows.push(Row {
        figure: "cold start to connected, headless".into(),
        unit: Unit::Ms,
        samples: cold,
        floor: Vec::new(),
        budget: 300.0,
        budget_at: 0.5,
    });

    // The floor: a bare peer, idle for the same window.
    let mut peer = Command::new(&exe)
        .args(["idle-peer", &url, &token])
        .stdout(Stdio::null())
        .spawn()
        .expect("the idle peer starts");
    let peer_start = Instant::now();
    let (peer_pss, peer_cpu, peer_wake) = idle(peer.id(), peer_start);
    let _ = peer.kill();
    let _ = peer.wait();

    // The open window's floors: WebKit's share before Belfry adds anything.
    let window_floor = bare_windows(&exe, &mut rows);

    for (mode, args, budgets) in [
        ("headless", vec!["--headless"], (8.0, 0.1, 1.0)),
        (
            "tray, window closed",
            vec!["--autostarted"],
            (25.0, 0.1, 1.0),
        ),
        (
            "tray, inbox window open",
            vec![],
            (150.0, f64::NAN, f64::NAN),
        ),
    ] {
        let h = if mode == "headless" {
            None
        } else {
            let h = home();
            // Fill this HOME's store first.
            let mut app = App::start(&bin, h.path(), &url, &["--headless"]);
            let _ = app.connected();
            std::thread::sleep(Duration::from_secs(3));
            drop(app);
            Some(h)
        };
        let dir = h.as_ref().map_or(headless_home.path(), |h| h.path());
        let mut app = App::start(&bin, dir, &url, &args);
        let _ = app.connected();
        let (pss, cpu, wake) = idle(app.child.id(), app.start);
        // `belfry --autostarted` with a saved sign-in is the small tray:
        // the same process, `belfry-headless` by then.
        let exe = std::fs::read_link(format!("/proc/{}/exe", app.child.id())).unwrap_or_default();
        println!("footprint: {mode}: runs {}", exe.display());
        println!("footprint: {mode}: {}", by_process(app.child.id()));
        for p in tree(app.child.id()) {
            let name = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            println!(
                "footprint: {mode}: {} by mapping (MB): {}",
                name.trim(),
                by_mapping(p, 10)
            );
        }
        rows.push(Row {
            figure: format!("{mode}: memory (PSS, all processes)"),
            unit: Unit::Mb,
            samples: pss,
            floor: if budgets.1.is_nan() {
                window_floor.clone()
            } else {
                peer_pss.clone()
            },
            budget: budgets.0,
            budget_at: 0.5,
        });
        if !budgets.1.is_nan() {
            rows.push(Row {
                figure: format!("{mode}: CPU"),
                unit: Unit::Percent,
                samples: cpu,
                floor: peer_cpu.clone(),
                budget: budgets.1,
                budget_at: 0.5,
            });
            rows.push(Row {
                figure: format!("{mode}: wake-ups"),
                unit: Unit::PerSecond,
                samples: wake,
                floor: peer_wake.clone(),
                budget: budgets.2,
                budget_at: 0.5,
            });
        }
    }
    println!(
        "footprint: {STORED} notifications stored; idle from {} s after start for {} s; {STARTS} cold starts; floor: a bare stream peer (the open window's: a bare Tauri 2 window with hardware acceleration off)",
        SETTLE.as_secs(),
        WINDOW.as_secs()
    );
    rows
}

/// The open window's floors, each alone and idle as the app is measured
/// (`bare-window`, built beside this binary: `tests/bare-window`): Tauri
/// 2's hello-world as Tauri makes it, the same with WebKit's hardware
/// acceleration off (as Belfry's inbox has it), and one WebKitGTK webview
/// in a GTK window without Tauri. Pushes their rows (no budget: they are
/// what the budget is set against) and returns the second's samples, the
/// floor of the window's row. One at a time: run side by side they would
/// share their libraries' pages, and PSS would split them.
fn bare_windows(exe: &Path, rows: &mut Vec<Row>) -> Vec<f64> {
    let bin = exe.with_file_name("bare-window");
    if !bin.exists() {
        println!(
            "footprint: the window's floors skipped ({} is missing: `cargo xtask bench` builds it)",
            bin.display()
        );
        return Vec::new();
    }
    let mut floor = Vec::new();
    for (mode, figure) in [
        (
            "tauri",
            "a bare Tauri 2 window (its hello-world, Tauri's defaults)",
        ),
        (
            "tauri-without-gl",
            "a bare Tauri 2 window, hardware acceleration off",
        ),
        (
            "webkit",
            "a bare WebKitGTK webview in a GTK window, no Tauri, acceleration off",
        ),
    ] {
        let home = home();
        let start = Instant::now();
        let mut child = Command::new(&bin)
            .arg(mode)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bare-window starts");
        let (pss, _, _) = idle(child.id(), start);
        println!("footprint: {figure}: {}", by_process(child.id()));
        let _ = child.kill();
        let _ = child.wait();
        if mode == "tauri-without-gl" {
            floor.clone_from(&pss);
        }
        rows.push(Row {
            figure: format!("{figure}: memory (PSS, all processes)"),
            unit: Unit::Mb,
            samples: pss,
            floor: Vec::new(),
            budget: f64::NAN,
            budget_at: 0.5,
        });
    }
    floor
}

/// The release .deb's size, when `cargo xtask bundle` has built it.
fn deb_size() -> Row {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/bundle/deb");
    let size = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "deb"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len() as f64 / 1e6)
        .reduce(f64::max);
    if size.is_none() {
        println!(
            "footprint: no release .deb in {} (`cargo xtask bundle` builds it)",
            dir.display()
        );
    }
    Row {
        figure: ".deb size (release)".into(),
        unit: Unit::Mb,
        samples: size.into_iter().collect(),
        floor: Vec::new(),
        budget: 6.0,
        budget_at: 0.5,
    }
}
