//! The same stream of events through the real core and toaster to a real
//! daemon, twice:
//!
//! - the rig's dunst, on the rig's session bus, which has no idle threshold
//!   and expires each toast after its second;
//! - a dunst that keeps every toast: the rig's configuration with an idle
//!   threshold of a second (nobody touches the rig's display, so it never
//!   expires a toast), as on a desk left alone, on a private bus and
//!   measured in a child process whose session bus that is. dunst slows
//!   down as toasts pile up (seconds per toast at a hundred,
//!   docs/benchmarks.md); the router keeps `max_simultaneous` item toasts
//!   and one summary there, and the figure is the latency of what it shows:
//!   the summary's updates, each mapped to the event it counted;
//! - the same dunst with its age display off (`show_age_threshold = -1`):
//!   with it on, dunst redraws every kept toast's age once they are a
//!   minute old, and its own answers take a hundred times longer; this
//!   run shows the core's share on a daemon that keeps toasts without it.
//!
//! Measured: event emitted on the server → dunst's reply to the `Notify`
//! call, seen by a monitor on the bus (`BecomeMonitor`): dunst replies once
//! it has taken the toast into its queue, and draws it next. Lost: the
//! toasts the router decided to show (with these settings, one per event)
//! that dunst never answered.

use crate::Row;
use crate::latency::{self, SPACING, Server};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use zbus::message::Type;

const BUS: &str = "org.freedesktop.Notifications";
const WARM_UP: u64 = 20;
/// How long the daemon may take to answer the last toasts.
const DRAIN: Duration = Duration::from_secs(30);

pub fn run() -> Vec<Row> {
    let mut rows = latency::runtime().block_on(measure(Mode::Expires));
    rows.extend(pile(Ages::Shown));
    rows.extend(pile(Ages::Hidden));
    rows
}

/// Which dunst the measurement talks to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The rig's: each toast expires after its second.
    Expires,
    /// One that keeps every toast (idle threshold).
    Keeps(Ages),
}

/// Whether dunst shows a kept toast's age (its default, after a minute).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ages {
    /// dunst's default: a kept toast shows its age after a minute.
    Shown,
    /// `show_age_threshold = -1`.
    Hidden,
}

impl Ages {
    /// The child process's kind (see `main`).
    fn child(self) -> &'static str {
        match self {
            Ages::Shown => "dunst-pile",
            Ages::Hidden => "dunst-pile-no-age",
        }
    }
}

/// The run against a dunst that keeps every toast: a private bus, that
/// dunst on it, and the measurement in a child on that bus.
fn pile(ages: Ages) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let Some(mut away) = belfry_tests::away_dunstrc() else {
        println!("dunst: no rig dunstrc (run inside the rig): skipping the pile's rows");
        return Vec::new();
    };
    if ages == Ages::Hidden {
        away = away.replacen("[global]\n", "[global]\n    show_age_threshold = -1\n", 1);
    }
    let config = dir.path().join("dunstrc");
    std::fs::write(&config, away).expect("dunstrc");
    let (mut bus, address) = match crate::toast::private_bus(dir.path()) {
        Ok(bus) => bus,
        Err(why) => {
            println!("dunst: {why}: skipping the pile's rows");
            return Vec::new();
        }
    };
    let mut dunst = std::process::Command::new("dunst")
        .arg("-config")
        .arg(&config)
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .env("HOME", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("dunst starts");
    let up = Instant::now();
    while dunstctl_on(Some(&address), &["is-paused"]) != "false" {
        assert!(
            up.elapsed() < Duration::from_secs(10),
            "dunst on the private bus"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rows = crate::toast::in_child(ages.child(), &address, dir.path());
    let _ = dunst.kill();
    let _ = dunst.wait();
    let _ = bus.kill();
    let _ = bus.wait();
    rows
}

/// In the child, on the private bus with the dunst that keeps every toast.
pub fn pile_child(ages: Ages) {
    crate::toast::write_rows(&latency::runtime().block_on(measure(Mode::Keeps(ages))));
}

/// The daemon on the session bus, by the name it gives; `None` when there
/// is no bus or nobody owns the name (asking the daemon itself then would
/// D-Bus-activate one).
async fn daemon() -> Result<String, String> {
    let conn = zbus::Connection::session()
        .await
        .map_err(|e| format!("no session bus ({e})"))?;
    let owned: bool = conn
        .call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "NameHasOwner",
            &(BUS,),
        )
        .await
        .and_then(|r| r.body().deserialize())
        .map_err(|e| e.to_string())?;
    if !owned {
        return Err("no notification daemon on the session bus".into());
    }
    let reply = conn
        .call_method(
            Some(BUS),
            "/org/freedesktop/Notifications",
            Some(BUS),
            "GetServerInformation",
            &(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let (name, _, version, _): (String, String, String, String) =
        reply.body().deserialize().map_err(|e| e.to_string())?;
    Ok(format!("{name} {version}"))
}

/// What a `Notify` call showed.
#[derive(Clone, Copy, Debug)]
enum Tag {
    /// Event `n`'s own toast.
    Event(u64),
    /// The summary, counting this many.
    Summary(u32),
}

/// Watches the bus: each `Notify` call with an event's number in its
/// summary or a burst summary's count in its body, and the daemon's reply
/// to it (what it showed, instant of the reply). Burst summaries are
/// counted.
async fn monitor(
    replies: mpsc::UnboundedSender<(Tag, Instant, Instant)>,
    summaries: Arc<AtomicU32>,
) -> zbus::Result<()> {
    let conn = zbus::Connection::session().await?;
    conn.call_method(
        Some("org.freedesktop.DBus"),
        "/org/freedesktop/DBus",
        Some("org.freedesktop.DBus.Monitoring"),
        "BecomeMonitor",
        &(
            &[
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
                "type='method_return'",
            ][..],
            0u32,
        ),
    )
    .await?;
    let mut stream = zbus::MessageStream::from(conn);
    tokio::spawn(async move {
        // (caller, serial) → what it showed, when the call went by.
        let mut calls: HashMap<(String, u32), (Tag, Instant)> = HashMap::new();
        while let Some(Ok(msg)) = stream.next().await {
            let at = Instant::now();
            let header = msg.header();
            match msg.message_type() {
                Type::MethodCall => {
                    type Args = (
                        String,
                        u32,
                        String,
                        String,
                        String,
                        Vec<String>,
                        HashMap<String, zbus::OwnedVariant>,
                        i32,
                    );
                    let Ok(args) = msg.body().deserialize::<Args>() else {
                        continue;
                    };
                    let Some(sender) = header.sender() else {
                        continue;
                    };
                    let call = (sender.to_string(), header.primary().serial_num().get());
                    match latency::number(&args.3) {
                        Some(n) => {
                            calls.insert(call, (Tag::Event(n), at));
                        }
                        None if args.4.contains("more new notifications") => {
                            summaries.fetch_add(1, Ordering::Relaxed);
                            let count: String =
                                args.4.chars().take_while(char::is_ascii_digit).collect();
                            if let Ok(c) = count.parse() {
                                calls.insert(call, (Tag::Summary(c), at));
                            }
                        }
                        None => {}
                    }
                }
                Type::MethodReturn => {
                    let (Some(to), Some(serial)) = (header.destination(), header.reply_serial())
                    else {
                        continue;
                    };
                    if let Some((tag, called)) = calls.remove(&(to.to_string(), serial.get())) {
                        let _ = replies.send((tag, called, at));
                    }
                }
                _ => {}
            }
        }
    });
    Ok(())
}

fn dunstctl(args: &[&str]) -> String {
    dunstctl_on(None, args)
}

/// `dunstctl` on the bus at `address` (`None`: the session's).
fn dunstctl_on(address: Option<&str>, args: &[&str]) -> String {
    let mut cmd = std::process::Command::new("dunstctl");
    cmd.args(args);
    if let Some(a) = address {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", a);
    }
    cmd.output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

async fn measure(mode: Mode) -> Vec<Row> {
    let daemon = match daemon().await {
        Ok(d) if d.starts_with("dunst") => d,
        Ok(other) => {
            println!(
                "dunst: the notification daemon here is {other}, not dunst: skipping its rows"
            );
            return Vec::new();
        }
        Err(why) => {
            println!("dunst: {why} (run inside the rig: cargo xtask bench): skipping its rows");
            return Vec::new();
        }
    };
    let n_events = latency::events();
    let (replies_tx, mut replies) = mpsc::unbounded_channel();
    let summaries = Arc::new(AtomicU32::new(0));
    monitor(replies_tx, Arc::clone(&summaries))
        .await
        .expect("a monitor on the session bus");

    let instance = Server::start(false).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let (on_toast, toast_events) = latency::toast_events();
    let toaster = Arc::new(belfry_os::toast::Toasts::new(latency::identity(), on_toast));
    let sinks = belfry_core::sinks::Sinks {
        toaster,
        player: Arc::new(belfry_os::Quiet),
    };
    let engine = Arc::new(instance.engine(latency::store(&dir), sinks).await);
    latency::forward_toast_events(Arc::clone(&engine), toast_events);
    let (label, bus) = match mode {
        Mode::Expires => ("event → toast taken by dunst", "on the rig's bus"),
        Mode::Keeps(Ages::Shown) => (
            "event → toast taken by dunst keeping every toast",
            "keeping every toast (idle threshold), on a private bus",
        ),
        Mode::Keeps(Ages::Hidden) => (
            "event → toast taken by dunst keeping every toast, its age display off",
            "keeping every toast (idle threshold), its age display off, on a private bus",
        ),
    };
    println!(
        "dunst: {n_events} events {} ms apart (+{WARM_UP} warm-up) to {daemon} {bus}",
        SPACING.as_millis()
    );

    // Emitted on a fixed schedule whatever the daemon does; replies are
    // collected as they come.
    let mut emitted: HashMap<u64, Instant> = HashMap::new();
    let mut answered = Answers::default();
    let start = Instant::now();
    for n in 1..=WARM_UP + n_events {
        let due = start + SPACING * u32::try_from(n - 1).expect("few events");
        loop {
            match tokio::time::timeout_at(due.into(), replies.recv()).await {
                Ok(Some((tag, called, at))) => answered.add(tag, called, at),
                Ok(None) => panic!("the monitor stopped"),
                Err(_) => break,
            }
        }
        emitted.insert(n, instance.emit(n).await.published);
    }
    let last = WARM_UP + n_events;
    let deadline = tokio::time::Instant::now() + DRAIN;
    while answered.covered(last) < last {
        match tokio::time::timeout_at(deadline, replies.recv()).await {
            Ok(Some((tag, called, at))) => answered.add(tag, called, at),
            _ => break,
        }
    }
    let shown = dunstctl(&["count", "displayed"]);
    let waiting = dunstctl(&["count", "waiting"]);
    let history = dunstctl(&["count", "history"]);
    println!(
        "dunst: at the end {shown} toasts displayed, {waiting} waiting, {history} in history; {} burst summaries",
        summaries.load(Ordering::Relaxed)
    );
    engine.shutdown().await;
    dunstctl(&["close-all"]);

    // Each measured event's toast: its own, or (where the daemon keeps
    // every toast, so the summary is never closed and its count only
    // grows) the summary's update that first counted it.
    let mut at: HashMap<u64, Instant> = answered.events.clone();
    if matches!(mode, Mode::Keeps(_)) {
        let coalesced = answered.coalesced(last);
        for (count, t) in &answered.summaries {
            if let Some(n) = (*count as usize)
                .checked_sub(1)
                .and_then(|i| coalesced.get(i))
            {
                at.insert(*n, *t);
            }
        }
    }
    let mut samples = Vec::new();
    for n in WARM_UP + 1..=last {
        if let Some(t) = at.get(&n) {
            samples.push(*t - emitted[&n]);
        }
    }
    // Lost: an event neither toasted nor counted by an answered summary.
    let lost = match mode {
        Mode::Expires => (WARM_UP + 1..=last)
            .filter(|n| !answered.events.contains_key(n))
            .count(),
        Mode::Keeps(_) => (last - answered.covered(last)) as usize,
    };
    // By quarters of the run, to see the daemon slow down as toasts pile
    // up, and its own share (Notify on the bus → its reply).
    println!(
        "dunst: median by quarter of the run: {}",
        by_quarter(&samples)
    );
    println!(
        "dunst: its own answer (call → reply) by quarter: {}",
        by_quarter(&answered.daemon)
    );
    let mut rows = vec![
        // The floor: the daemon's own answers (the Notify seen on the bus →
        // its reply) in the same run, which no client can beat.
        Row::timed(label, &samples, &answered.daemon, 50.0).at(0.99),
        Row::count(format!("{label}: lost"), lost as f64, 0.0),
    ];
    if matches!(mode, Mode::Keeps(_)) {
        rows.push(Row::count(
            format!("{label}: toasts on screen at the end"),
            shown.parse().unwrap_or(f64::NAN),
            f64::from(latency::MAX_SIMULTANEOUS + 1),
        ));
    }
    rows
}

/// The median of each quarter of `samples`, in order ("6.1 ms, 5.9 ms, …").
fn by_quarter(samples: &[Duration]) -> String {
    let quarter = (samples.len() / 4).max(1);
    samples
        .chunks(quarter)
        .take(4)
        .map(|c| {
            let mut ms: Vec<f64> = c.iter().map(|d| d.as_secs_f64() * 1e3).collect();
            ms.sort_by(f64::total_cmp);
            format!("{:.2} ms", crate::percentile(&ms, 0.5))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The daemon's answers: events' own toasts, and the summary's updates.
#[derive(Default)]
struct Answers {
    events: HashMap<u64, Instant>,
    /// (count, when), in the order they came.
    summaries: Vec<(u32, Instant)>,
    /// The daemon's own share of each: the call seen on the bus → its reply.
    daemon: Vec<Duration>,
}

impl Answers {
    fn add(&mut self, tag: Tag, called: Instant, at: Instant) {
        self.daemon.push(at - called);
        match tag {
            Tag::Event(n) => {
                self.events.insert(n, at);
            }
            Tag::Summary(c) => self.summaries.push((c, at)),
        }
    }

    /// Events 1..=`last` without a toast of their own, in order: the ones
    /// a summary counts, its first count being the first of them.
    fn coalesced(&self, last: u64) -> Vec<u64> {
        (1..=last)
            .filter(|n| !self.events.contains_key(n))
            .collect()
    }

    /// Events 1..=`last` toasted or counted by an answered summary.
    fn covered(&self, last: u64) -> u64 {
        let own = self.events.keys().filter(|n| **n <= last).count() as u64;
        let counted = self
            .summaries
            .iter()
            .map(|(c, _)| u64::from(*c))
            .max()
            .unwrap_or(0);
        own + counted.min(last - own)
    }
}
