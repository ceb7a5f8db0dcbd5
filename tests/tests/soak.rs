//! The soak: the headless core behind a fault-injecting proxy while the
//! reference instance emits event after event and reads come from both
//! sides. Faults: cuts, frames truncated mid-way, slow delivery, half-open
//! stalls long enough for the heartbeat to notice, outages that outlast the
//! server's replay window (a REST resync), and server restarts on the same
//! database. At the end: every notification stored exactly once in the
//! server's order, the read states equal the server's, the outbox empty, no
//! toast for a notification the server had read before it reached the
//! desktop, and the store's integrity check passes.
//!
//! `BELFRY_SOAK_EVENTS` sets the number of events (20,000 by default; the
//! README gives the command for the 100,000-event run), `BELFRY_SOAK_SEED`
//! the fault schedule.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_core::router::ToastBody;
use belfry_core::sinks::Record;
use belfry_instance::Config;
use belfry_proto::api::EmitEvent;
use belfry_proto::inbox::{InboxPage, MarkRead, UnreadCount};
use belfry_tests::proxy::Proxy;
use belfry_tests::{Api, Desk, OPERATOR, TestInstance, quick_config};
use reqwest::Method;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Events per batch the helpdesk emits.
const BATCH: usize = 250;
/// The server keeps this many events for replay; longer outages resync.
const REPLAY_WINDOW: u64 = 600;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every notification on the server, oldest first, and its unread ids.
async fn server_state(api: &Api) -> (Vec<(u64, String)>, HashSet<String>) {
    let mut all = Vec::new();
    let mut unread = HashSet::new();
    for only_unread in [false, true] {
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/inbox?limit=500&unread={only_unread}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page: InboxPage = api.get(&path).await;
            for n in page.items {
                if only_unread {
                    unread.insert(n.id);
                } else {
                    all.push((n.seq, n.id));
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    all.reverse();
    (all, unread)
}

async fn emit(admin: &Api, round: usize) -> Vec<String> {
    const TYPES: [&str; 4] = [
        "ticket_message",
        "chat_created",
        "sla_expired",
        "ticket_created",
    ];
    let events = (0..BATCH)
        .map(|i| EmitEvent {
            operator: OPERATOR.0.into(),
            type_id: TYPES[(round + i) % TYPES.len()].into(),
            title: Some(format!("soak {round}.{i}")),
            body: None,
            path: Some(format!("/tickets/{i}")),
            data: Default::default(),
        })
        .collect();
    admin.emit_batch(events).await
}

/// Marks `ids` read as another client of the operator would.
async fn read_elsewhere(operator: &Api, ids: &[String]) {
    let _: serde_json::Value = operator
        .send(
            Method::POST,
            "/api/v1/inbox/read",
            &MarkRead { ids: ids.to_vec() },
        )
        .await;
}

fn pick(ids: &[String], n: usize) -> Vec<String> {
    (0..n.min(ids.len()))
        .map(|_| ids[fastrand::usize(..ids.len())].clone())
        .collect()
}

#[derive(Default, Debug)]
struct Faults {
    cuts: u32,
    truncated: u32,
    slow: u32,
    stalls: u32,
    outages: u32,
    restarts: u32,
    reads_elsewhere: u32,
    reads_here: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_through_faults_stores_everything_once_and_read_states_converge() {
    let total = env_or("BELFRY_SOAK_EVENTS", 20_000) as usize;
    fastrand::seed(env_or("BELFRY_SOAK_SEED", 5));
    let config = Config {
        heartbeat: Duration::from_secs(1),
        replay_window: REPLAY_WINDOW,
        ..Config::default()
    };
    let mut t = TestInstance::start_with(config).await;
    let proxy = Proxy::start(t.instance.addr).await;
    let desk = Desk::start(&proxy.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    let mut admin = t.admin().await;
    let mut operator = t.operator().await;
    let started = Instant::now();
    let mut faults = Faults::default();
    let mut emitted: Vec<String> = Vec::new();
    // Read on the server before the desktop could have received them.
    let mut read_before_delivery: HashSet<String> = HashSet::new();
    let mut round = 0;
    while emitted.len() < total {
        round += 1;
        let roll = fastrand::u32(..100);
        match roll {
            0..=19 => {
                let ids = emit(&admin, round).await;
                emitted.extend(ids);
                tokio::time::sleep(Duration::from_millis(fastrand::u64(0..30))).await;
                proxy.cut();
                faults.cuts += 1;
            }
            20..=34 => {
                proxy.truncate_next();
                emitted.extend(emit(&admin, round).await);
                faults.truncated += 1;
            }
            35..=44 => {
                proxy.slow(Some((512, Duration::from_millis(2))));
                emitted.extend(emit(&admin, round).await);
                tokio::time::sleep(Duration::from_millis(300)).await;
                proxy.slow(None);
                faults.slow += 1;
            }
            45..=50 => {
                // Half-open: nothing moves until the heartbeat gives up.
                proxy.stall(true);
                let ids = emit(&admin, round).await;
                let early = pick(&ids, 10);
                read_elsewhere(&operator, &early).await;
                read_before_delivery.extend(early);
                emitted.extend(ids);
                tokio::time::sleep(Duration::from_millis(2500)).await;
                proxy.stall(false);
                faults.stalls += 1;
            }
            51..=54 => {
                // An outage longer than the replay window: a REST resync.
                proxy.stall(true);
                for k in 0..3 {
                    let ids = emit(&admin, round * 10 + k).await;
                    let early = pick(&ids, 5);
                    read_elsewhere(&operator, &early).await;
                    read_before_delivery.extend(early);
                    emitted.extend(ids);
                }
                tokio::time::sleep(Duration::from_millis(2500)).await;
                proxy.stall(false);
                proxy.cut();
                faults.outages += 1;
            }
            55..=59 => {
                t = t.pause().await.resume().await;
                admin = Api {
                    base: t.url().to_owned(),
                    ..admin
                };
                operator = Api {
                    base: t.url().to_owned(),
                    ..operator
                };
                emitted.extend(emit(&admin, round).await);
                faults.restarts += 1;
            }
            _ => emitted.extend(emit(&admin, round).await),
        }
        // Reads from both sides, on whatever the state of the link.
        if fastrand::u8(..10) < 3 {
            read_elsewhere(&operator, &pick(&emitted, 20)).await;
            faults.reads_elsewhere += 1;
        }
        if fastrand::u8(..10) < 3 {
            let stored: Vec<String> = desk.stored().into_iter().map(|(_, id)| id).collect();
            let _ = desk.engine.mark_read(pick(&stored, 20)).await.unwrap();
            faults.reads_here += 1;
        }
    }
    proxy.stall(false);
    proxy.slow(None);
    let (want, _) = server_state(&operator).await;
    assert_eq!(want.len(), emitted.len());
    let deadline = Instant::now() + Duration::from_secs(120);
    while desk.stored().len() < want.len() {
        if Instant::now() >= deadline {
            let have: HashSet<u64> = desk.stored().into_iter().map(|(seq, _)| seq).collect();
            let missing: Vec<u64> = want
                .iter()
                .map(|(seq, _)| *seq)
                .filter(|seq| !have.contains(seq))
                .collect();
            panic!(
                "not everything stored: {} of {} after {:.0?}, connection {:?}; missing {} seqs from {:?} to {:?}",
                have.len(),
                want.len(),
                started.elapsed(),
                *desk.engine.state().borrow(),
                missing.len(),
                missing.first(),
                missing.last()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Read states converge: the outbox drains and the unread sets agree.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (got_unread, server_unread) = loop {
        let outbox_empty = desk.engine.store().outbox().unwrap().is_empty();
        let c: UnreadCount = operator.get("/api/v1/inbox/unread-count").await;
        let local = desk.engine.store().unread().unwrap();
        if outbox_empty && local.total == c.unread {
            let (_, server_unread) = server_state(&operator).await;
            let got: HashSet<String> = desk
                .stored()
                .into_iter()
                .map(|(_, id)| id)
                .filter(|id| !desk.engine.store().is_read(id).unwrap())
                .collect();
            if got == server_unread {
                break (got, server_unread);
            }
        }
        assert!(
            Instant::now() < deadline,
            "read states did not converge: outbox empty {outbox_empty}, unread here {} vs server {}",
            local.total,
            c.unread
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(got_unread, server_unread);
    assert_eq!(desk.stored(), want, "every notification once, in order");
    let shown_read: Vec<String> = desk
        .recorder
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Shown(_, t) => match t.body {
                ToastBody::Item(n) if read_before_delivery.contains(&n.id) => Some(n.id),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(
        shown_read.is_empty(),
        "toasts for notifications read before they arrived: {shown_read:?}"
    );
    assert_eq!(desk.engine.store().integrity_check().unwrap(), "ok");
    let (cuts, truncations, connections) = proxy.counts();
    println!(
        "soak: {} events in {:.0?}; faults {faults:?}; proxy: {cuts} cuts, {truncations} truncated frames, {connections} connections; lost 0, duplicated 0",
        emitted.len(),
        started.elapsed()
    );
    desk.engine.shutdown().await;
}
