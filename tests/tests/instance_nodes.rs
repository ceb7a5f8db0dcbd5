//! Several instance nodes on one PostgreSQL database (a throwaway cluster
//! from Debian's packages, `belfry_tests::pg`): what one node stores
//! reaches the streams of the other, sequences stay gap-free when both
//! write for one operator at once, and a node whose relay lost the database
//! catches up from the rows.

// PostgreSQL from Debian's packages: Linux only (not in the Windows pass).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_instance::Config;
use belfry_proto::api::{Availability, OperatorStatus};
use belfry_proto::stream::{ServerFrame, close};
use belfry_tests::{Ended, OPERATOR, Stream, TestInstance, pg};
use reqwest::Method;
use std::sync::Arc;

async fn two_nodes() -> (TestInstance, TestInstance) {
    let db = Arc::new(pg::Database::create());
    let a = TestInstance::start_on(Config::default(), Some(db)).await;
    let b = a.another_node().await;
    (a, b)
}

async fn replay_done(s: &mut Stream) -> u64 {
    match s.next().await {
        ServerFrame::ReplayDone { seq } => seq,
        other => panic!("expected replay_done, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_node_stores_reaches_the_streams_of_the_other() {
    let (a, b) = two_nodes().await;
    let admin_on_a = a.admin().await;
    // Signed in on B, the token works on A too: sessions live in the rows.
    let olga_on_b = b.operator().await;
    let mut olga_on_a = olga_on_b.clone();
    olga_on_a.base = a.url().to_owned();
    let (mut s, _) = Stream::connect(b.url(), &olga_on_b.token, None).await;
    let start = replay_done(&mut s).await;

    let n = admin_on_a
        .emit("ticket_message", "stored on A", "body", "/t/1")
        .await;
    match s.next().await {
        ServerFrame::Notification { seq, notification } => {
            assert_eq!(seq, start + 1);
            assert_eq!(notification.id, n.id);
            assert_eq!(notification.title, "stored on A");
        }
        other => panic!("{other:?}"),
    }

    let _: OperatorStatus = olga_on_a
        .send(
            Method::PUT,
            "/api/v1/status",
            &serde_json::json!({"status": "away"}),
        )
        .await;
    match s.next().await {
        ServerFrame::Status { status } => assert_eq!(status.status, Availability::Away),
        other => panic!("{other:?}"),
    }

    // Signing out on A closes the stream on B as signed out.
    let out = olga_on_a
        .call(Method::POST, "/api/v1/auth/logout", None::<&()>)
        .await;
    assert!(out.status.is_success(), "{out:?}");
    loop {
        match s.next_or_end().await {
            Ok(_) => {}
            Err(end) => {
                assert_eq!(end, Ended::Close(close::SIGNED_OUT));
                break;
            }
        }
    }
}

/// How many events the two nodes publish together for one operator.
fn concurrent_events() -> usize {
    std::env::var("BELFRY_TEST_CONCURRENT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_publishing_for_one_operator_at_once_keep_its_sequence_gap_free() {
    let (a, b) = two_nodes().await;
    let total = concurrent_events();
    let olga = a.operator().await;
    let (mut on_a, _) = Stream::connect(a.url(), &olga.token, None).await;
    let (mut on_b, _) = Stream::connect(b.url(), &olga.token, None).await;
    let start = replay_done(&mut on_a).await;
    assert_eq!(replay_done(&mut on_b).await, start);

    // Four publishers per node, each one event per request, all at once.
    let mut publishers = Vec::new();
    for node in [&a, &b] {
        let admin = node.admin().await;
        for p in 0..4 {
            let admin = admin.clone();
            let n = total / 8 + usize::from(p < total % 8 / 2);
            publishers.push(tokio::spawn(async move {
                let mut seqs = Vec::with_capacity(n);
                for i in 0..n {
                    let stored = admin
                        .emit("ticket_message", &format!("{p}/{i}"), "", "/t")
                        .await;
                    seqs.push(stored.seq);
                }
                seqs
            }));
        }
    }
    // The streams read while the publishers run, as a desktop would.
    let readers = [&mut on_a, &mut on_b].map(|s| async move {
        let mut got = Vec::with_capacity(total);
        while got.len() < total {
            match s.next().await {
                ServerFrame::Notification { seq, .. } => got.push(seq),
                // A stream that fell behind the live channel catches up
                // from the log and sends the state again (stream.rs).
                ServerFrame::Settings { .. } | ServerFrame::Status { .. } => {}
                other => panic!("{other:?}"),
            }
        }
        got
    });
    let [got_a, got_b] = readers;
    let (got_a, got_b) = tokio::join!(got_a, got_b);

    let mut stored = Vec::new();
    for p in publishers {
        stored.extend(p.await.unwrap());
    }
    let expected: Vec<u64> = (start + 1..=start + stored.len() as u64).collect();
    stored.sort_unstable();
    assert_eq!(stored.len(), total);
    assert_eq!(stored, expected, "every sequence used once, none skipped");
    assert_eq!(got_a, expected, "node A's stream: all, in order, once");
    assert_eq!(got_b, expected, "node B's stream: all, in order, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_relay_lost_the_database_catches_up_from_the_rows() {
    let (a, b) = two_nodes().await;
    let db = a.pg.clone().unwrap();
    let admin_on_a = a.admin().await;
    let olga = b.operator().await;
    let (mut s, _) = Stream::connect(b.url(), &olga.token, None).await;
    let start = replay_done(&mut s).await;
    admin_on_a.emit("ticket_message", "before", "", "/t").await;
    match s.next().await {
        ServerFrame::Notification { seq, .. } => assert_eq!(seq, start + 1),
        other => panic!("{other:?}"),
    }

    // Both relays lose their connection; what A stores meanwhile sends
    // notifies nobody hears. B's relay reads it from the rows once back.
    let killed = db.psql(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = '{}' AND datname = current_database()",
        belfry_instance::relay::APPLICATION
    ));
    assert_eq!(killed.trim(), "2", "one relay per node");
    let during = admin_on_a.emit_many(OPERATOR.0, "ticket_message", 3).await;
    let mut got = Vec::new();
    while got.len() < 3 {
        match s.next().await {
            ServerFrame::Notification { seq, notification } => {
                got.push(seq);
                assert!(during.contains(&notification.id));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, vec![start + 2, start + 3, start + 4]);
    // And the relay listens again: a later event arrives as usual.
    admin_on_a.emit("ticket_message", "after", "", "/t").await;
    match s.next().await {
        ServerFrame::Notification { seq, .. } => assert_eq!(seq, start + 5),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_left_to_map_are_mapped_once_when_two_nodes_start_together() {
    use belfry_instance::connectors::sources::NewSource;
    use belfry_instance::connectors::{Kind, Secret};
    const N: usize = 40;
    let t = TestInstance::start_on(Config::default(), Some(Arc::new(pg::Database::create()))).await;
    let stopped = t.pause().await;
    let url = stopped.pg.as_ref().unwrap().url.clone();
    // Stored while every node is down, as a node that died after its 202
    // leaves them; both nodes find them pending when they start.
    tokio::task::spawn_blocking(move || {
        let store = belfry_instance::store::Store::open_at(
            Some(&url),
            Arc::new(belfry_instance::hub::Hub::default()),
            1000,
        )
        .unwrap();
        let new = NewSource {
            name: "gen".into(),
            kind: Kind::Generic,
            base_url: "https://x.example".into(),
            users: Default::default(),
            secret: None,
        };
        let source = store
            .create_source(
                &new,
                &Secret::new("whs_test_secret_0123456789abcdef".into()),
            )
            .unwrap();
        for i in 0..N {
            let body = format!(
                r#"{{"type": "ticket_created", "operator": "{}", "title": "left {i}"}}"#,
                OPERATOR.0
            );
            store
                .store_delivery(source.id, Some(&format!("d{i}")), None, body.as_bytes())
                .unwrap();
        }
    })
    .await
    .unwrap();
    let config = stopped.config.clone();
    let (a, b) = tokio::join!(
        belfry_instance::Instance::start(config.clone()),
        belfry_instance::Instance::start(config.clone())
    );
    let (a, _b) = (a.unwrap(), b.unwrap());
    let olga = belfry_tests::Api::login(&a.url, OPERATOR.0, OPERATOR.1).await;
    let deadline = std::time::Instant::now() + belfry_tests::PATIENCE;
    loop {
        let count: belfry_proto::inbox::UnreadCount = olga.get("/api/v1/inbox/unread-count").await;
        if count.unread >= N as u64 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{count:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Give a second mapping the time to show, then count.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let count: belfry_proto::inbox::UnreadCount = olga.get("/api/v1/inbox/unread-count").await;
    assert_eq!(count.unread, N as u64, "one notification per delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_versions_and_webhook_retries_hold_across_nodes() {
    use belfry_instance::connectors::deliveries::Outcome;
    use belfry_proto::settings::{SettingsDocument, SettingsWrite};
    use belfry_tests::hooks;
    let (a, b) = two_nodes().await;

    // A settings write on A moves the version; one on B from the old
    // version is refused as stale, and B serves what A saved.
    let olga_on_a = a.operator().await;
    let mut olga_on_b = olga_on_a.clone();
    olga_on_b.base = b.url().to_owned();
    let doc: SettingsDocument = olga_on_a.get("/api/v1/settings").await;
    let mut prefs = doc.preferences.clone();
    prefs.channels.sound.enabled = !prefs.channels.sound.enabled;
    let write = SettingsWrite {
        base_version: doc.version,
        preferences: prefs,
    };
    let saved: SettingsDocument = olga_on_a
        .send(Method::PUT, "/api/v1/settings", &write)
        .await;
    assert_eq!(saved.version, doc.version + 1);
    let stale = olga_on_b
        .call(Method::PUT, "/api/v1/settings", Some(&write))
        .await;
    assert_eq!(stale.status, reqwest::StatusCode::CONFLICT, "{stale:?}");
    let on_b: SettingsDocument = olga_on_b.get("/api/v1/settings").await;
    assert_eq!(on_b, saved);

    // A webhook delivered to A and retried at B (the helpdesk's retry
    // landed on the other node): one delivery, one duplicate, one
    // notification.
    let admin = a.admin().await;
    let source = hooks::add_source(&admin, "gen", "generic", "https://x.example", &[]).await;
    let body = format!(
        r#"{{"type": "ticket_created", "operator": "{}", "title": "once"}}"#,
        OPERATOR.0
    );
    for node in [&a, &b] {
        let at = hooks::now_s();
        let signature = hooks::dotted_signature(&source.secret, &at, body.as_bytes());
        let answer = hooks::post(
            &format!("{}/api/v1/hooks/gen", node.url()),
            &[
                ("x-belfry-timestamp", at),
                ("x-belfry-signature", signature),
                ("x-belfry-delivery", "delivery-1".into()),
            ],
            body.as_bytes(),
        )
        .await;
        assert!(answer.status.is_success(), "{answer:?}");
    }
    let list = hooks::settled(&admin, "gen").await;
    let mut outcomes: Vec<Outcome> = list.iter().map(|d| d.outcome).collect();
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, vec![Outcome::Accepted, Outcome::Duplicate]);
    let page: belfry_proto::inbox::InboxPage = olga_on_b.get("/api/v1/inbox?limit=100").await;
    let once = page.items.iter().filter(|n| n.title == "once").count();
    assert_eq!(once, 1);
}
