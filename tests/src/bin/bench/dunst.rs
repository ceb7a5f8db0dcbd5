//! The same stream of events through the real core and toaster to a real
//! daemon: the rig's dunst, on the rig's session bus. Toasts could pile up in
//! dunst (on the rig nobody touches the display, so after dunst's idle
//! threshold it would stop expiring them; dunst 1.9 here has none set, so
//! it expires each after its second and they do not pile up: see
//! docs/benchmarks.md for a run with a pile).
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
    latency::runtime().block_on(measure())
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

/// Watches the bus: each `Notify` call with an event's number in its
/// summary, and the daemon's reply to it (event number, instant of the
/// reply). Burst summaries are counted.
async fn monitor(
    replies: mpsc::UnboundedSender<(u64, Instant)>,
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
        // (caller, serial) → event number.
        let mut calls: HashMap<(String, u32), u64> = HashMap::new();
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
                    match latency::number(&args.3) {
                        Some(n) => {
                            calls.insert(
                                (sender.to_string(), header.primary().serial_num().get()),
                                n,
                            );
                        }
                        None if args.4.contains("more new notifications") => {
                            summaries.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {}
                    }
                }
                Type::MethodReturn => {
                    let (Some(to), Some(serial)) = (header.destination(), header.reply_serial())
                    else {
                        continue;
                    };
                    if let Some(n) = calls.remove(&(to.to_string(), serial.get())) {
                        let _ = replies.send((n, at));
                    }
                }
                _ => {}
            }
        }
    });
    Ok(())
}

fn dunstctl(args: &[&str]) -> String {
    std::process::Command::new("dunstctl")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

async fn measure() -> Vec<Row> {
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
    println!(
        "dunst: {n_events} events {} ms apart (+{WARM_UP} warm-up) to {daemon} on the rig's bus",
        SPACING.as_millis()
    );

    // Emitted on a fixed schedule whatever the daemon does; replies are
    // collected as they come.
    let mut emitted: HashMap<u64, Instant> = HashMap::new();
    let mut answered: HashMap<u64, Instant> = HashMap::new();
    let start = Instant::now();
    for n in 1..=WARM_UP + n_events {
        let due = start + SPACING * u32::try_from(n - 1).expect("few events");
        loop {
            match tokio::time::timeout_at(due.into(), replies.recv()).await {
                Ok(Some((k, at))) => {
                    answered.insert(k, at);
                }
                Ok(None) => panic!("the monitor stopped"),
                Err(_) => break,
            }
        }
        emitted.insert(n, instance.emit(n).await.published);
    }
    let last = WARM_UP + n_events;
    let deadline = tokio::time::Instant::now() + DRAIN;
    while (WARM_UP + 1..=last).any(|n| !answered.contains_key(&n)) {
        match tokio::time::timeout_at(deadline, replies.recv()).await {
            Ok(Some((k, at))) => {
                answered.insert(k, at);
            }
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

    let mut samples = Vec::new();
    let mut lost = 0u32;
    for n in WARM_UP + 1..=last {
        match answered.get(&n) {
            Some(at) => samples.push(*at - emitted[&n]),
            None => lost += 1,
        }
    }
    // By quarters of the run, to see the daemon slow down as toasts pile up.
    let quarter = samples.len() / 4;
    if quarter > 0 {
        let medians: Vec<String> = samples
            .chunks(quarter)
            .take(4)
            .map(|c| {
                let mut ms: Vec<f64> = c.iter().map(|d| d.as_secs_f64() * 1e3).collect();
                ms.sort_by(f64::total_cmp);
                format!("{:.2} ms", crate::percentile(&ms, 0.5))
            })
            .collect();
        println!(
            "dunst: median by quarter of the run: {}",
            medians.join(", ")
        );
    }
    vec![
        Row::timed("event → toast taken by dunst", &samples, &[], 50.0).at(0.99),
        Row::count("event → dunst: toasts lost", f64::from(lost), 0.0),
    ]
}
