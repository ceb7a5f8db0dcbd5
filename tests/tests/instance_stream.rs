//! The reference instance's WebSocket stream on loopback: replay, live
//! fan-out, resync, heartbeats, close codes, bad frames.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_instance::Config;
use belfry_proto::api::OperatorStatus;
use belfry_proto::inbox::{MarkRead, ReadResult};
use belfry_proto::settings::{SettingsDocument, SettingsWrite};
use belfry_proto::stream::{ClientFrame, ServerFrame, close};
use belfry_tests::{Api, Ended, OPERATOR, Stream, TestInstance};
use reqwest::{Method, StatusCode};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn notification_seq(f: &ServerFrame) -> u64 {
    match f {
        ServerFrame::Notification { seq, notification } => {
            assert_eq!(*seq, notification.seq);
            *seq
        }
        other => panic!("expected a notification, got {other:?}"),
    }
}

#[tokio::test]
async fn reconnect_from_the_middle_gets_exactly_the_missing_events() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let api = t.operator().await;
    let (mut s, welcome) = Stream::connect(t.url(), &api.token, None).await;
    let ServerFrame::Welcome {
        server_seq: start, ..
    } = welcome
    else {
        unreachable!()
    };
    assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));

    let ids = admin.emit_many(OPERATOR.0, "ticket_message", 1000).await;
    let mut got = Vec::new();
    for _ in 0..500 {
        got.push(notification_seq(&s.next().await));
    }
    assert_eq!(got, (start + 1..=start + 500).collect::<Vec<_>>());
    drop(s);

    let middle = start + 500;
    let (mut s, _) = Stream::connect(t.url(), &api.token, Some(middle)).await;
    let mut replayed = Vec::new();
    loop {
        match s.next().await {
            ServerFrame::ReplayDone { seq } => {
                assert_eq!(seq, start + 1000);
                break;
            }
            f => replayed.push(notification_seq(&f)),
        }
    }
    assert_eq!(
        replayed,
        (middle + 1..=start + 1000).collect::<Vec<_>>(),
        "in order, once, none missing"
    );
    // Nothing else was queued: the next frame is the next live event.
    let _ = admin.emit_many(OPERATOR.0, "ticket_message", 1).await;
    assert_eq!(notification_seq(&s.next().await), start + 1001);
    assert_eq!(ids.len(), 1000);
}

#[tokio::test]
async fn changes_made_elsewhere_reach_every_stream_of_the_operator() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let ids = admin.emit_many(OPERATOR.0, "chat_created", 3).await;
    let desk = t.operator().await;
    let web = t.operator().await;
    let (mut s, _) = Stream::connect(t.url(), &desk.token, None).await;
    assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));

    let r: ReadResult = web
        .send(
            Method::POST,
            "/api/v1/inbox/read",
            &MarkRead {
                ids: vec![ids[1].clone()],
            },
        )
        .await;
    match s.next().await {
        ServerFrame::Read { ids: read, seq, .. } => {
            assert_eq!(read, vec![ids[1].clone()]);
            assert_eq!(Some(seq), r.seq);
        }
        other => panic!("{other:?}"),
    }

    let doc: SettingsDocument = web.get("/api/v1/settings").await;
    let mut prefs = doc.preferences.clone();
    prefs.channels.sound.enabled = true;
    let saved: SettingsDocument = web
        .send(
            Method::PUT,
            "/api/v1/settings",
            &SettingsWrite {
                base_version: doc.version,
                preferences: prefs,
            },
        )
        .await;
    match s.next().await {
        ServerFrame::Settings { document } => assert_eq!(*document, saved),
        other => panic!("{other:?}"),
    }

    let _: OperatorStatus = web
        .send(
            Method::PUT,
            "/api/v1/status",
            &serde_json::json!({"status": "away"}),
        )
        .await;
    match s.next().await {
        ServerFrame::Status { status } => {
            assert_eq!(status.status, belfry_proto::api::Availability::Away)
        }
        other => panic!("{other:?}"),
    }

    // A read made while the desktop was away is replayed on reconnect.
    drop(s);
    let (_, last) = (ids.len(), r.seq.unwrap());
    let _: ReadResult = web
        .send(
            Method::POST,
            "/api/v1/inbox/read",
            &MarkRead {
                ids: vec![ids[2].clone()],
            },
        )
        .await;
    let (mut s, _) = Stream::connect(t.url(), &desk.token, Some(last)).await;
    assert!(matches!(s.next().await, ServerFrame::Read { ref ids, .. } if ids.len() == 1));
    assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));
}

#[tokio::test]
async fn a_position_older_than_the_log_asks_for_a_resync() {
    let t = TestInstance::start_with(Config {
        replay_window: 10,
        ..Config::default()
    })
    .await;
    let admin = t.admin().await;
    let api = t.operator().await;
    let _ = admin.emit_many(OPERATOR.0, "ticket_created", 50).await;
    let (mut s, _) = Stream::connect(t.url(), &api.token, Some(5)).await;
    match s.next().await {
        ServerFrame::ResyncRequired {
            oldest_seq,
            server_seq,
        } => assert_eq!((oldest_seq, server_seq), (41, 50)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.next().await,
        ServerFrame::ReplayDone { seq: 50 }
    ));
    // Live events still follow on the same connection.
    let _ = admin.emit_many(OPERATOR.0, "ticket_created", 1).await;
    assert_eq!(notification_seq(&s.next().await), 51);

    // A position from the future (another database) is a resync too.
    let (mut s, _) = Stream::connect(t.url(), &api.token, Some(10_000)).await;
    assert!(matches!(s.next().await, ServerFrame::ResyncRequired { .. }));
    // Within the window, replay works.
    let (mut s2, _) = Stream::connect(t.url(), &api.token, Some(45)).await;
    assert_eq!(notification_seq(&s2.next().await), 46);
    drop(s);
}

#[tokio::test]
async fn revoked_and_bad_tokens_are_told_apart_from_network_failures() {
    let t = TestInstance::start().await;
    let api = t.operator().await;
    let (mut s, _) = Stream::connect(t.url(), &api.token, None).await;
    assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));
    let a = api
        .call(Method::POST, "/api/v1/auth/logout", None::<&()>)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(s.closed().await, Ended::Close(close::SIGNED_OUT));

    // A revoked token cannot open a stream: 401 before the upgrade.
    match Stream::open(t.url(), &api.token).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED)
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn hello_is_required_and_versions_are_checked() {
    let t = TestInstance::start_with(Config {
        heartbeat: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let api = t.operator().await;
    let mut s = Stream::open(t.url(), &api.token).await.unwrap();
    s.send(&ClientFrame::Hello {
        protocol: 99,
        last_seq: None,
        client: None,
    })
    .await;
    assert_eq!(s.closed().await, Ended::Close(close::INCOMPATIBLE));

    let mut s = Stream::open(t.url(), &api.token).await.unwrap();
    s.send(&ClientFrame::Ping { id: Some(1) }).await;
    assert_eq!(s.closed().await, Ended::Close(close::PROTOCOL_ERROR));

    // Silence instead of a hello is closed too (after two intervals).
    let mut s = Stream::open(t.url(), &api.token).await.unwrap();
    assert_eq!(s.closed().await, Ended::Close(close::PROTOCOL_ERROR));
}

#[tokio::test]
async fn a_silent_client_is_closed_within_two_heartbeats() {
    let t = TestInstance::start_with(Config {
        heartbeat: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let api = t.operator().await;
    let (mut s, welcome) = Stream::connect(t.url(), &api.token, None).await;
    assert!(matches!(
        welcome,
        ServerFrame::Welcome { heartbeat_s: 1, .. }
    ));
    // Read raw frames without answering pings.
    let started = std::time::Instant::now();
    let mut pings = 0;
    let code = loop {
        let msg = tokio::time::timeout(
            Duration::from_secs(10),
            futures_util::StreamExt::next(&mut s.ws),
        )
        .await
        .unwrap();
        match msg {
            Some(Ok(Message::Text(t))) if t.contains("\"ping\"") => pings += 1,
            Some(Ok(Message::Close(Some(c)))) => break u16::from(c.code),
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(code, close::HEARTBEAT_TIMEOUT);
    assert!(pings >= 1, "the server sent heartbeats");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "closed after {:?}",
        started.elapsed()
    );

    // A client that answers stays connected past several intervals.
    let (mut s, _) = Stream::connect(t.url(), &api.token, None).await;
    assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));
    assert_eq!(s.idle_for(Duration::from_millis(3500)).await, Ok(vec![]));
    s.send(&ClientFrame::Ping { id: Some(7) }).await;
    assert!(matches!(s.next().await, ServerFrame::Pong { id: Some(7) }));
}

#[tokio::test]
async fn bad_frames_get_errors_and_other_clients_keep_flowing() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let api = t.operator().await;
    let other = t.operator().await;
    let (mut good, _) = Stream::connect(t.url(), &other.token, None).await;
    assert!(matches!(good.next().await, ServerFrame::ReplayDone { .. }));
    let (mut bad, _) = Stream::connect(t.url(), &api.token, None).await;
    assert!(matches!(bad.next().await, ServerFrame::ReplayDone { .. }));

    for raw in [
        "not json",
        "{\"type\":\"launch_missiles\"}",
        "{\"type\":\"ack\",\"ids\":7}",
        "[]",
    ] {
        bad.send_raw(Message::Text(raw.into())).await;
        match bad.next().await {
            ServerFrame::Error { code, .. } => assert_eq!(code, "bad_frame", "for {raw}"),
            other => panic!("{raw}: {other:?}"),
        }
    }
    bad.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert!(matches!(bad.next().await, ServerFrame::Error { .. }));
    bad.send(&ClientFrame::Ping { id: Some(1) }).await;
    assert!(
        matches!(bad.next().await, ServerFrame::Pong { id: Some(1) }),
        "still serving this client"
    );

    // An oversized frame closes that stream with 1009.
    bad.send_raw(Message::Text("x".repeat(200 * 1024).into()))
        .await;
    assert_eq!(bad.closed().await, Ended::Close(close::TOO_BIG));

    let _ = admin.emit_many(OPERATOR.0, "sla_expired", 1).await;
    assert!(
        matches!(good.next().await, ServerFrame::Notification { .. }),
        "the other client is unaffected"
    );
}

#[tokio::test]
async fn delivery_acks_are_recorded_and_stream_count_is_capped() {
    let t = TestInstance::start_with(Config {
        max_streams_per_operator: 2,
        ..Config::default()
    })
    .await;
    let admin = t.admin().await;
    let api = t.operator().await;
    let (mut s, _) = Stream::connect(t.url(), &api.token, None).await;
    assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));
    let ids = admin.emit_many(OPERATOR.0, "csat_negative", 1).await;
    let _ = s.next().await;
    s.send(&ClientFrame::Ack { ids: ids.clone() }).await;
    s.send(&ClientFrame::Ping { id: Some(2) }).await;
    assert!(matches!(s.next().await, ServerFrame::Pong { .. }));
    let d: serde_json::Value = admin
        .get(&format!(
            "/api/v1/admin/operators/{}/notifications/{}",
            OPERATOR.0, ids[0]
        ))
        .await;
    assert!(d["delivered_at"].is_string(), "{d}");

    let (_s2, _) = Stream::connect(t.url(), &api.token, None).await;
    let mut s3 = Stream::open(t.url(), &api.token).await.unwrap();
    s3.send(&ClientFrame::Hello {
        protocol: 1,
        last_seq: None,
        client: None,
    })
    .await;
    assert_eq!(s3.closed().await, Ended::Close(close::TOO_MANY_CONNECTIONS));
}

#[tokio::test]
async fn policy_changes_reach_open_streams_and_restart_closes_with_going_away() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let api = t.operator().await;
    let (mut s, _) = Stream::connect(t.url(), &api.token, None).await;
    assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));
    let policy = belfry_proto::settings::Policy {
        extended_settings: true,
        ..Default::default()
    };
    let _: serde_json::Value = admin
        .send(Method::PUT, "/api/v1/admin/policy", &policy)
        .await;
    match s.next().await {
        ServerFrame::Settings { document } => assert!(document.policy.extended_settings),
        other => panic!("{other:?}"),
    }
    let token = api.token.clone();
    let t = t.restart().await;
    assert_eq!(s.closed().await, Ended::Close(close::GOING_AWAY));
    // The token survives the restart.
    let (_s, _) = Stream::connect(t.url(), &token, None).await;
    let me: belfry_proto::api::Operator = Api {
        base: t.url().to_owned(),
        ..api
    }
    .get("/api/v1/me")
    .await;
    assert_eq!(me.login, OPERATOR.0);
}

/// A node at its stream cap refuses one more stream before the upgrade,
/// with 503 and the error body (no socket kept for it), while REST goes on
/// answering; a freed slot takes the next stream.
#[tokio::test]
async fn streams_over_the_node_cap_are_refused_while_rest_answers() {
    let t = TestInstance::start_with(Config {
        max_streams: Some(2),
        ..Config::default()
    })
    .await;
    let api = t.operator().await;
    let (first, _) = Stream::connect(t.url(), &api.token, None).await;
    let (_second, _) = Stream::connect(t.url(), &api.token, None).await;
    match Stream::open(t.url(), &api.token).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(res.headers().contains_key("retry-after"));
            let body: serde_json::Value =
                serde_json::from_slice(res.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["error"]["code"], "too_many_requests", "{body}");
        }
        Err(other) => panic!("expected a 503, got {other}"),
        Ok(_) => panic!("a third stream was let in past a cap of two"),
    }
    // REST answers meanwhile, the admin's too.
    let me: serde_json::Value = api.get("/api/v1/me").await;
    assert_eq!(me["login"], OPERATOR.0);
    let admin = t.admin().await;
    let _ = admin.emit_many(OPERATOR.0, "chat_created", 1).await;
    // A slot freed is taken again (the stream's task lets go once the
    // close is through; until then the node is still full).
    drop(first);
    let start = std::time::Instant::now();
    loop {
        match Stream::open(t.url(), &api.token).await {
            Ok(_) => break,
            Err(_) if start.elapsed() < belfry_tests::PATIENCE => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the freed slot never came back: {e}"),
        }
    }
}

/// One batch with events for many operators, interleaved, reaches every
/// operator's stream in the order given, with gap-free sequences, and an
/// unknown operator anywhere in it stores nothing.
#[tokio::test]
async fn one_batch_for_every_operator_reaches_each_stream_in_order() {
    const OPERATORS: usize = 12;
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let mut streams = Vec::new();
    for i in 0..OPERATORS {
        let login = format!("batch-{i}");
        t.create_account(&login, "batch-password", false).await;
        let api = Api::login(t.url(), &login, "batch-password").await;
        let (mut s, welcome) = Stream::connect(t.url(), &api.token, None).await;
        let ServerFrame::Welcome { server_seq, .. } = welcome else {
            unreachable!()
        };
        assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));
        streams.push((login, s, server_seq));
    }
    let event = |login: &str, title: String| belfry_proto::api::EmitEvent {
        operator: login.to_owned(),
        type_id: "ticket_reassign".into(),
        title: Some(title),
        body: None,
        path: None,
        data: Default::default(),
    };
    // Two rounds, interleaved: every operator, then every operator again.
    let mut events = Vec::new();
    for round in 0..2 {
        for (login, _, _) in &streams {
            events.push(event(login, format!("{login} {round}")));
        }
    }
    let ids = admin.emit_batch(events).await;
    assert_eq!(ids.len(), OPERATORS * 2);
    for (i, (login, s, head)) in streams.iter_mut().enumerate() {
        for round in 0..2 {
            match s.next().await {
                ServerFrame::Notification { seq, notification } => {
                    assert_eq!(seq, *head + 1 + round as u64, "{login}");
                    assert_eq!(notification.title, format!("{login} {round}"));
                    assert_eq!(notification.id, ids[round * OPERATORS + i]);
                }
                other => panic!("{login}: expected a notification, got {other:?}"),
            }
        }
    }
    // An unknown operator at the end: refused, and nobody got anything.
    let mut events: Vec<_> = streams
        .iter()
        .map(|(login, _, _)| event(login, "never".into()))
        .collect();
    events.push(event("nobody-here", "never".into()));
    let answer = admin
        .call(
            Method::POST,
            "/api/v1/admin/events/batch",
            Some(&belfry_proto::api::EmitBatch { events }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    for (login, s, _) in &mut streams {
        let frames = s.idle_for(Duration::from_millis(300)).await.unwrap();
        assert!(frames.is_empty(), "{login} got {frames:?}");
    }
}
