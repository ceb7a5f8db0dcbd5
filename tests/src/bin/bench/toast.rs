//! Event emitted on the server → `Notify` on the session bus, through the
//! real core and its real freedesktop toaster, to a minimal notification
//! server the bench registers itself and that answers at once.
//!
//! The rig's dunst owns `org.freedesktop.Notifications` on the rig's bus,
//! so this part runs on a private bus: it starts its own `dbus-daemon`
//! (no service activation, so nothing else can take the name) and runs the
//! measurement in a child process of the bench whose
//! `DBUS_SESSION_BUS_ADDRESS` points at it from the start.
//!
//! The floor, per event and in the same run: a bare tokio-tungstenite
//! client on the same instance receiving the same frame, plus a bare zbus
//! `Notify` call to the same server (call → arrival).

use crate::Row;
use crate::latency::{self, SPACING, Server};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const BUS: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
/// The child's marker and where it writes its rows.
pub const CHILD: &str = "BELFRY_BENCH_CHILD";
const OUT: &str = "BELFRY_BENCH_OUT";
/// Unmeasured events first: connections, caches and the replay settle.
const WARM_UP: u64 = 20;
/// How long an event may take before it counts as lost.
const LOST_AFTER: Duration = Duration::from_secs(2);

/// A private session bus: anyone of this user may connect and own names;
/// no service directories, so a `Notify` to nobody fails instead of
/// starting a daemon.
const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// Starts the private bus and the child that measures; returns its rows.
pub fn run() -> Vec<Row> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (mut daemon, address) = match private_bus(dir.path()) {
        Ok(bus) => bus,
        Err(why) => {
            println!("toast: {why}: skipping its rows");
            return Vec::new();
        }
    };
    let rows = in_child("toast", &address, dir.path());
    let _ = daemon.kill();
    let _ = daemon.wait();
    rows
}

/// A private session bus ([`BUS_CONFIG`]), its config in `dir`: the
/// `dbus-daemon` and its address.
pub fn private_bus(dir: &Path) -> Result<(Child, String), String> {
    let config = dir.join("bus.conf");
    std::fs::write(&config, BUS_CONFIG).expect("bus config");
    let mut daemon = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--print-address", "--nofork"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // It warns that it cannot raise its fd limit; a failure shows as no address.
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start dbus-daemon ({e}; Debian: apt-get install dbus)"))?;
    let mut address = String::new();
    let read =
        std::io::BufReader::new(daemon.stdout.take().expect("stdout")).read_line(&mut address);
    let address = address.trim().to_owned();
    if read.is_err() || address.is_empty() {
        let _ = daemon.kill();
        let _ = daemon.wait();
        return Err("the private dbus-daemon gave no address".into());
    }
    Ok((daemon, address))
}

/// Runs this binary as the measuring child `kind` (`main` dispatches on
/// [`CHILD`]) with the session bus at `address`; the rows it wrote.
pub fn in_child(kind: &str, address: &str, dir: &Path) -> Vec<Row> {
    let out = dir.join("rows.json");
    let status = Command::new(std::env::current_exe().expect("the bench binary"))
        .env(CHILD, kind)
        .env(OUT, &out)
        .env("DBUS_SESSION_BUS_ADDRESS", address)
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!("the {kind} measurement failed: {other:?}"),
    }
    serde_json::from_slice(&std::fs::read(&out).expect("the child's rows")).expect("rows")
}

/// In a child: writes `rows` where the parent reads them.
pub fn write_rows(rows: &[Row]) {
    let out = std::env::var_os(OUT).expect("where to write the rows");
    std::fs::write(out, serde_json::to_vec(rows).expect("rows")).expect("rows written");
}

/// The minimal notification server: answers at once, and says when each
/// `Notify` arrived, by the number in its summary.
struct Notifications {
    /// Event toasts: (event number, arrival).
    events: mpsc::UnboundedSender<(u64, Instant)>,
    /// The floor's bare calls ("floor N").
    floor: mpsc::UnboundedSender<(u64, Instant)>,
    next_id: AtomicU32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        _body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let at = Instant::now();
        if let Some(n) = latency::number(&summary) {
            let _ = self.events.send((n, at));
        } else if let Some(n) = summary.strip_prefix("floor ").and_then(|n| n.parse().ok()) {
            let _ = self.floor.send((n, at));
        }
        if replaces_id != 0 {
            replaces_id
        } else {
            self.next_id.fetch_add(1, Ordering::Relaxed)
        }
    }

    fn get_capabilities(&self) -> Vec<String> {
        // "persistence": a server that keeps toasts in a list of its own
        // (as GNOME's does), so the router frees a toast's place when its
        // time is up; this one never closes a toast or says so.
        vec!["body".into(), "actions".into(), "persistence".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "belfry-bench".into(),
            "belfry".into(),
            env!("CARGO_PKG_VERSION").into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// In the child, on the private bus: measures and writes the rows.
pub fn child() {
    write_rows(&latency::runtime().block_on(measure()));
}

async fn measure() -> Vec<Row> {
    let n_events = latency::events();
    let (events_tx, mut notified) = mpsc::unbounded_channel();
    let (floor_tx, mut floor_rx) = mpsc::unbounded_channel();
    let server = Notifications {
        events: events_tx,
        floor: floor_tx,
        next_id: AtomicU32::new(1),
    };
    let _bus = zbus::connection::Builder::session()
        .name(BUS)
        .serve_at(PATH, server)
        .build()
        .await
        .expect("the notification server is on the private bus");

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
    let mut received = instance.bare_client().await;
    let bare = zbus::Connection::session()
        .await
        .expect("a bare connection");

    let (mut early_n, mut early_r, mut early_f) = (HashMap::new(), HashMap::new(), HashMap::new());
    let mut samples = Vec::new();
    let mut floor = Vec::new();
    let (mut from_call, mut floor_from_call) = (Vec::new(), Vec::new());
    let mut lost = 0u32;
    println!(
        "toast: {n_events} events {} ms apart (+{WARM_UP} warm-up), {} toasts of 1 s at most on screen, to the bench's own notification server on a private bus",
        SPACING.as_millis(),
        latency::MAX_SIMULTANEOUS
    );
    for n in 1..=WARM_UP + n_events {
        let emitted = instance.emit(n).await;
        let shown = latency::wait_for(&mut notified, &mut early_n, n, LOST_AFTER).await;
        let got = latency::wait_for(&mut received, &mut early_r, n, LOST_AFTER).await;
        // The floor's D-Bus half: the same call, made bare, to the same server.
        let called = Instant::now();
        bare.call_method(
            Some(BUS),
            PATH,
            Some(BUS),
            "Notify",
            &(
                "bench",
                0u32,
                "",
                format!("floor {n}"),
                "",
                Vec::<&str>::new(),
                HashMap::<&str, zbus::Variant<'_>>::new(),
                1000i32,
            ),
        )
        .await
        .expect("a bare Notify");
        let arrived = latency::wait_for(&mut floor_rx, &mut early_f, n, LOST_AFTER)
            .await
            .expect("the bare Notify arrived");
        if n > WARM_UP {
            match (shown, got) {
                (Some(shown), Some(got)) => {
                    samples.push(shown - emitted.published);
                    floor.push((got - emitted.published) + (arrived - called));
                    from_call.push(shown - emitted.called);
                    floor_from_call.push((got - emitted.called) + (arrived - called));
                }
                (None, _) => lost += 1,
                (_, None) => panic!("the bare client missed event {n}"),
            }
        }
        tokio::time::sleep_until((emitted.called + SPACING).into()).await;
    }
    engine.shutdown().await;
    let mut f: Vec<f64> = floor.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    f.sort_by(f64::total_cmp);
    println!(
        "toast: the floor's p99 {:.2} ms (the tail is the machine's as much as the core's)",
        crate::percentile(&f, 0.99)
    );
    vec![
        Row::timed(
            "event → Notify on the session bus (server answering at once)",
            &samples,
            &floor,
            2.0,
        )
        .at(0.99),
        Row::count("event → Notify: toasts lost", f64::from(lost), 0.0),
        // The same toasts timed from the emit call, as the table did before
        // 2026-12-07: the instance's render and commit are in both halves.
        Row::timed(
            "the same from the emit call (the instance's own write included)",
            &from_call,
            &floor_from_call,
            f64::NAN,
        ),
    ]
}
