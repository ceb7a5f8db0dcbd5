//! The headless core against the reference instance over loopback: resume
//! without loss or duplicates through restarts and cuts, the offline outbox,
//! settings re-basing, sign-out, half-open connections.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_core::event::{ConnState, CoreEvent};
use belfry_core::router::{ToastBody, ToastKey};
use belfry_core::sinks::Record;
use belfry_instance::Config;
use belfry_proto::inbox::{InboxPage, UnreadCount};
use belfry_proto::settings::{Policy, Reason, SettingsDocument, SettingsWrite};
use belfry_tests::proxy::Proxy;
use belfry_tests::{Api, Desk, OPERATOR, TestInstance, eventually, quick_config};
use reqwest::Method;
use std::time::Duration;

/// How many toasts of the item `id` were shown.
fn shown_for(records: &[Record], id: &str) -> usize {
    records
        .iter()
        .filter(|x| matches!(x, Record::Shown(_, t) if matches!(&t.body, ToastBody::Item(n) if n.id == id)))
        .count()
}

async fn server_ids(api: &Api) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/inbox?limit=500&cursor={c}"),
            None => "/api/v1/inbox?limit=500".to_owned(),
        };
        let page: InboxPage = api.get(&path).await;
        out.extend(page.items.into_iter().map(|n| (n.seq, n.id)));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.reverse();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_through_restarts_and_cuts_land_once_in_order() {
    let mut t = TestInstance::start().await;
    let proxy = Proxy::start(t.instance.addr).await;
    let desk = Desk::start(&proxy.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    let mut events = desk.engine.events();
    fastrand::seed(7);
    let mut emitted = 0;
    for _round in 0..5 {
        let admin = t.admin().await;
        for _batch in 0..10 {
            let n = admin
                .emit_many(OPERATOR.0, "ticket_message", 200)
                .await
                .len();
            emitted += n;
            if fastrand::u8(..3) == 0 {
                // Cut the stream somewhere in the middle of the traffic.
                tokio::time::sleep(Duration::from_millis(fastrand::u64(0..30))).await;
                proxy.cut();
            }
        }
        // Restart the server on the same database and port.
        t = t.pause().await.resume().await;
    }
    assert_eq!(emitted, 10_000);
    let api = t.operator().await;
    let want = server_ids(&api).await;
    assert_eq!(want.len(), 10_000);
    eventually("all 10,000 stored", Duration::from_secs(60), || {
        desk.stored().len() >= 10_000
    })
    .await;
    let got = desk.stored();
    assert_eq!(got, want, "every notification once, in the server's order");
    let mut reconnects = 0;
    loop {
        match events.try_recv() {
            Ok(CoreEvent::State(ConnState::Connected)) => reconnects += 1,
            Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
    assert!(
        reconnects >= 5 + 3,
        "the stream really was cut and restarted ({reconnects} reconnects)"
    );
    assert_eq!(desk.engine.store().integrity_check().unwrap(), "ok");
}

#[tokio::test]
async fn marks_made_offline_reach_the_server_in_order() {
    let t = TestInstance::start().await;
    let proxy = Proxy::start(t.instance.addr).await;
    let admin = t.admin().await;
    let ids = admin.emit_many(OPERATOR.0, "chat_created", 20).await;
    let desk = Desk::start(&proxy.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    eventually("inbox filled", Duration::from_secs(10), || {
        desk.stored().len() == 20
    })
    .await;

    // Go offline: the server is gone.
    let stopped = t.pause().await;
    proxy.cut();
    desk.wait_state("offline or reconnecting", |s| {
        !matches!(s, ConnState::Connected | ConnState::Connecting)
    })
    .await;
    desk.engine
        .mark_read(vec![ids[15].clone(), ids[3].clone()])
        .await
        .unwrap();
    desk.engine.mark_all_read().await.unwrap();
    assert_eq!(
        desk.engine.store().unread().unwrap().total,
        0,
        "applied locally at once"
    );
    assert_eq!(desk.engine.store().outbox().unwrap().len(), 2);

    let t = stopped.resume().await;
    desk.connected().await;
    eventually("outbox sent", Duration::from_secs(10), || {
        desk.engine.store().outbox().unwrap().is_empty()
    })
    .await;
    let api = t.operator().await;
    let count: UnreadCount = api.get("/api/v1/inbox/unread-count").await;
    assert_eq!(count.unread, 0);
    // The server's log shows the two operations in the order they were made.
    let (mut s, _) =
        belfry_tests::Stream::connect(t.url(), &api.token, Some(ids.len() as u64)).await;
    match s.next().await {
        belfry_proto::stream::ServerFrame::Read { ids: read, .. } => {
            assert_eq!(read, vec![ids[15].clone(), ids[3].clone()])
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.next().await,
        belfry_proto::stream::ServerFrame::ReadAll { .. }
    ));
}

#[tokio::test]
async fn a_read_on_the_server_clears_it_locally_and_stops_its_repeats() {
    let t = TestInstance::start().await;
    let api = t.operator().await;
    let doc: SettingsDocument = api.get("/api/v1/settings").await;
    let mut prefs = doc.preferences.clone();
    prefs.channels.banner.repeats = 3;
    prefs.channels.banner.repeat_interval_s = 10;
    let _: SettingsDocument = api
        .send(
            Method::PUT,
            "/api/v1/settings",
            &SettingsWrite {
                base_version: doc.version,
                preferences: prefs,
            },
        )
        .await;
    let desk = Desk::start(t.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    eventually("settings synced", Duration::from_secs(10), || {
        desk.engine.settings().preferences.channels.banner.repeats == 3
    })
    .await;

    let admin = t.admin().await;
    let id = admin
        .emit_many(OPERATOR.0, "sla_expired", 1)
        .await
        .remove(0);
    let shown = |r: &[Record]| shown_for(r, &id);
    eventually("toast shown", Duration::from_secs(10), || {
        shown(&desk.recorder.records()) == 1
    })
    .await;

    let _: serde_json::Value = api
        .send(
            Method::POST,
            "/api/v1/inbox/read",
            &serde_json::json!({ "ids": [id] }),
        )
        .await;
    eventually("read locally", Duration::from_secs(10), || {
        desk.engine.store().is_read(&id).unwrap()
    })
    .await;
    eventually("toast closed", Duration::from_secs(5), || {
        desk.recorder
            .records()
            .iter()
            .any(|r| matches!(r, Record::Closed(_, ToastKey::Notification(_))))
    })
    .await;
    // Past the first repeat's time, nothing came back.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(
        shown(&desk.recorder.records()),
        1,
        "no repeat after the read"
    );
}

#[tokio::test]
async fn a_settings_edit_racing_a_server_edit_merges_and_policy_wins() {
    let t = TestInstance::start().await;
    let proxy = Proxy::start(t.instance.addr).await;
    let desk = Desk::start(&proxy.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    eventually("settings synced", Duration::from_secs(10), || {
        desk.engine.settings().version >= 1
    })
    .await;

    // Offline, the desktop changes the banner duration and turns the banner off…
    let stopped = t.pause().await;
    proxy.cut();
    desk.wait_state("not connected", |s| {
        !matches!(s, ConnState::Connected | ConnState::Connecting)
    })
    .await;
    let mut mine = desk.engine.settings().preferences;
    mine.channels.banner.duration_s = 25;
    mine.types.get_mut("ticket_created").unwrap().melody = "harp".into();
    mine.channels.banner.enabled = false;
    let effective = desk.engine.edit_settings(mine).await.unwrap();
    assert_eq!(
        effective.preferences.channels.banner.duration_s, 25,
        "applied at once"
    );

    // …while the web profile turns sound on and the admin makes the banner mandatory.
    // (The desktop stays cut off until both are done.)
    proxy.stall(true);
    let t = stopped.resume().await;
    let web = t.operator().await;
    let mut events = desk.engine.events();
    let doc: SettingsDocument = web.get("/api/v1/settings").await;
    let mut theirs = doc.preferences.clone();
    theirs.channels.sound.enabled = true;
    theirs.types.get_mut("ticket_created").unwrap().melody = "bells".into();
    let _: SettingsDocument = web
        .send(
            Method::PUT,
            "/api/v1/settings",
            &SettingsWrite {
                base_version: doc.version,
                preferences: theirs,
            },
        )
        .await;
    let admin = t.admin().await;
    let _: Policy = admin
        .send(
            Method::PUT,
            "/api/v1/admin/policy",
            &Policy {
                mandatory_channels: vec!["banner".into()],
                ..Policy::default()
            },
        )
        .await;
    proxy.stall(false);
    proxy.cut();

    desk.connected().await;
    eventually("outbox sent", Duration::from_secs(10), || {
        desk.engine.store().outbox().unwrap().is_empty()
    })
    .await;
    let server: SettingsDocument = web.get("/api/v1/settings").await;
    let p = &server.preferences;
    assert_eq!(p.channels.banner.duration_s, 25, "my field");
    assert_eq!(
        p.types["ticket_created"].melody, "harp",
        "my field wins where both edited"
    );
    assert!(p.channels.sound.enabled, "their field");
    assert!(
        p.channels.banner.enabled,
        "policy wins: the banner stays on"
    );
    eventually(
        "desktop has the server's document",
        Duration::from_secs(5),
        || desk.engine.settings() == server,
    )
    .await;
    let mut refused = None;
    while let Ok(Ok(ev)) = tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
        if let CoreEvent::Refused { fields } = ev {
            refused = Some(fields);
            break;
        }
    }
    let fields = refused.expect("the refusal reached the front end");
    assert!(
        fields
            .iter()
            .any(|f| f.path == "preferences.channels.banner.enabled"
                && f.reason == Reason::MandatoryChannel),
        "{fields:?}"
    );

    // Online, an edit that breaks policy is refused at once and nothing changes.
    let mut bad = desk.engine.settings().preferences;
    bad.channels.banner.enabled = false;
    let before = desk.engine.settings();
    let err = desk.engine.edit_settings(bad).await.unwrap_err();
    assert!(
        matches!(err, belfry_core::engine::EditError::Refused(ref f) if f[0].reason == Reason::MandatoryChannel)
    );
    assert_eq!(desk.engine.settings(), before);
}

#[tokio::test]
async fn a_revoked_token_stops_the_reconnect_loop() {
    let t = TestInstance::start().await;
    let desk = Desk::start(t.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    assert_eq!(t.instance.state.store.hub().streams(2), 1);
    // Sign this desktop's session out from elsewhere.
    let api = Api {
        base: t.url().to_owned(),
        token: desk.token.clone(),
        http: reqwest::Client::new(),
    };
    let a = api
        .call(Method::POST, "/api/v1/auth/logout", None::<&()>)
        .await;
    assert_eq!(a.status, reqwest::StatusCode::NO_CONTENT);
    desk.wait_state("signed out", |s| *s == ConnState::SignedOut)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        *desk.engine.state().borrow(),
        ConnState::SignedOut,
        "no retries"
    );
    assert_eq!(t.instance.state.store.hub().streams(2), 0);
}

#[tokio::test]
async fn a_half_open_connection_is_replaced_within_two_heartbeats() {
    let t = TestInstance::start_with(Config {
        heartbeat: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let proxy = Proxy::start(t.instance.addr).await;
    let desk = Desk::start(&proxy.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    proxy.stall(true);
    let started = std::time::Instant::now();
    desk.wait_state("lost", |s| *s != ConnState::Connected)
        .await;
    let detected = started.elapsed();
    assert!(
        detected <= Duration::from_millis(3500),
        "detected after {detected:?}"
    );
    proxy.stall(false);
    desk.connected().await;
    // And the new connection carries events.
    let admin = t.admin().await;
    let id = admin
        .emit_many(OPERATOR.0, "chat_created", 1)
        .await
        .remove(0);
    eventually(
        "event over the new connection",
        Duration::from_secs(10),
        || desk.stored().iter().any(|(_, i)| *i == id),
    )
    .await;
}

#[tokio::test]
async fn a_long_outage_resyncs_and_announces_once() {
    let t = TestInstance::start_with(Config {
        replay_window: 50,
        ..Config::default()
    })
    .await;
    let proxy = Proxy::start(t.instance.addr).await;
    let admin = t.admin().await;
    let desk = Desk::start(&proxy.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    let stopped = t.pause().await;
    proxy.cut();
    desk.wait_state("not connected", |s| {
        !matches!(s, ConnState::Connected | ConnState::Connecting)
    })
    .await;
    proxy.stall(true);
    let t = stopped.resume().await;
    let admin = Api {
        base: t.url().to_owned(),
        ..admin
    };
    let _ = admin.emit_many(OPERATOR.0, "ticket_created", 300).await;
    proxy.stall(false);
    proxy.cut();
    desk.connected().await;
    eventually("all 300 stored", Duration::from_secs(20), || {
        desk.stored().len() == 300
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let records = desk.recorder.records();
    let items = records
        .iter()
        .filter(|r| matches!(r, Record::Shown(_, t) if matches!(t.body, ToastBody::Item(_))))
        .count();
    let away: Vec<u32> = records
        .iter()
        .filter_map(|r| match r {
            Record::Shown(_, t) => match t.body {
                ToastBody::Away { count } => Some(count),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(items, 0, "no toast storm");
    assert_eq!(away, vec![300], "one summary");
}

/// A toaster as slow as a notification daemon under load (650 ms a call).
struct SlowDaemon(belfry_core::sinks::Recorder);

impl belfry_core::sinks::Toaster for SlowDaemon {
    fn show<'a>(
        &'a self,
        toast: &'a belfry_core::router::Toast,
    ) -> belfry_core::sinks::SinkFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(650)).await;
            belfry_core::sinks::Toaster::show(&self.0, toast).await
        })
    }

    fn close<'a>(&'a self, key: &'a ToastKey) -> belfry_core::sinks::SinkFuture<'a> {
        belfry_core::sinks::Toaster::close(&self.0, key)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_daemon_never_slows_the_stream() {
    let t = TestInstance::start_with(Config {
        heartbeat: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let recorder = belfry_core::sinks::Recorder::default();
    let sinks = belfry_core::sinks::Sinks {
        toaster: std::sync::Arc::new(SlowDaemon(recorder.clone())),
        player: std::sync::Arc::new(recorder.clone()),
    };
    let engine = Desk::start_with(t.url(), OPERATOR.0, OPERATOR.1, quick_config(), sinks, None)
        .await
        .unwrap();
    let mut state = engine.state();
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == ConnState::Connected),
    )
    .await
    .unwrap()
    .unwrap();
    let mut events = engine.events();
    let admin = t.admin().await;
    let started = std::time::Instant::now();
    // A burst, in one batch: thousands of frames reach the socket at once.
    let _ = admin.emit_many(OPERATOR.0, "chat_created", 5000).await;
    eventually("all stored", Duration::from_secs(20), || {
        engine.store().all_ids().unwrap().len() == 5000
    })
    .await;
    let stored_in = started.elapsed();
    let toasts = recorder.records().len();
    assert!(
        toasts < 10,
        "storing did not wait for the daemon ({toasts} toasts shown while 5000 were stored in {stored_in:?})"
    );
    // Heartbeats kept flowing (the server would have closed a silent client after 2 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    loop {
        match events.try_recv() {
            Ok(CoreEvent::State(s)) if s != ConnState::Connected => {
                panic!("the connection changed state during the burst: {s:?}")
            }
            Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
    assert_eq!(*engine.state().borrow(), ConnState::Connected);
    engine.shutdown().await;
}

/// Signs in at `url` over TLS, trusting the system's roots and `ca`.
async fn over_tls(
    url: &str,
    ca: Option<&std::path::Path>,
) -> Result<belfry_core::engine::Engine, belfry_core::net::ApiError> {
    let sinks = belfry_core::sinks::Sinks::recording(&belfry_core::sinks::Recorder::default());
    Desk::start_with(url, OPERATOR.0, OPERATOR.1, quick_config(), sinks, ca).await
}

/// The reason a TLS sign-in was refused; fails when it was not refused.
fn refused_because(
    result: Result<belfry_core::engine::Engine, belfry_core::net::ApiError>,
    what: &str,
) -> String {
    match result {
        Err(belfry_core::net::ApiError::Network(why)) => why,
        Err(other) => panic!("expected a TLS failure, got {other}"),
        Ok(_) => panic!("{what} was trusted"),
    }
}

/// Signs in at `url` with `ca` trusted and waits for the stream.
async fn connected_over_tls(url: &str, ca: &std::path::Path) -> belfry_core::engine::Engine {
    let engine = over_tls(url, Some(ca)).await.unwrap();
    let mut state = engine.state();
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == ConnState::Connected),
    )
    .await
    .unwrap()
    .unwrap();
    engine
}

#[tokio::test]
async fn tls_is_verified_and_an_admins_extra_ca_is_trusted() {
    let t = TestInstance::start().await;
    let front = belfry_tests::tls::TlsFront::start(t.instance.addr).await;
    // Without the on-premises CA, the certificate is refused, and the
    // reason is said, not only that a request failed.
    let why = refused_because(over_tls(&front.url(), None).await, "an unknown CA");
    assert!(
        why.contains("certificate") && why.contains("UnknownIssuer"),
        "{why}"
    );
    // With it, but at an address the certificate does not name (the same
    // listener as 127.0.0.1, its certificate is for localhost): refused.
    let wrong_host = front.url().replace("localhost", "127.0.0.1");
    let why = refused_because(
        over_tls(&wrong_host, Some(&front.ca_file)).await,
        "a certificate for another host",
    );
    assert!(
        why.contains("certificate not valid for name \"127.0.0.1\""),
        "{why}"
    );
    // With it, REST and the stream both work over TLS.
    let engine = connected_over_tls(&front.url(), &front.ca_file).await;
    let admin = t.admin().await;
    let id = admin
        .emit_many(OPERATOR.0, "ticket_created", 1)
        .await
        .remove(0);
    eventually("event over wss", Duration::from_secs(10), || {
        engine
            .store()
            .all_ids()
            .unwrap()
            .iter()
            .any(|(_, i)| *i == id)
    })
    .await;
    engine.shutdown().await;
}

/// A self-signed certificate, as a small on-premises instance has: refused
/// with its reason, trusted once the admin's CA file names that very
/// certificate.
#[tokio::test]
async fn a_self_signed_instance_is_trusted_only_when_the_admins_file_names_it() {
    let t = TestInstance::start().await;
    let front = belfry_tests::tls::TlsFront::start_self_signed(t.instance.addr).await;
    let why = refused_because(
        over_tls(&front.url(), None).await,
        "a self-signed certificate",
    );
    assert!(why.contains("invalid peer certificate"), "{why}");
    connected_over_tls(&front.url(), &front.ca_file)
        .await
        .shutdown()
        .await;
}

#[tokio::test]
async fn the_operators_status_follows_the_stream_and_a_change_here_reaches_the_instance() {
    use belfry_proto::api::{Availability, OperatorStatus};
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let api = t.operator().await;
    let desk = Desk::start(t.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    eventually("the welcome's status", Duration::from_secs(10), || {
        desk.engine.availability().is_some()
    })
    .await;
    // Changed elsewhere (the operator panel): the desktop follows.
    let _: OperatorStatus = admin
        .send(
            Method::PUT,
            &format!("/api/v1/admin/operators/{}/status", OPERATOR.0),
            &serde_json::json!({ "status": "away" }),
        )
        .await;
    eventually("away here", Duration::from_secs(10), || {
        desk.engine.availability().map(|s| s.status) == Some(Availability::Away)
    })
    .await;
    // Changed here (the tray's menu): the instance has it, and setting the
    // same status again keeps when it began.
    let first = desk
        .engine
        .set_availability(Availability::NotReady)
        .await
        .unwrap();
    let server: OperatorStatus = api.get("/api/v1/status").await;
    assert_eq!(server, first);
    assert_eq!(server.status, Availability::NotReady);
    let again = desk
        .engine
        .set_availability(Availability::NotReady)
        .await
        .unwrap();
    assert_eq!(again.since, first.since, "the stretch keeps its start");
}

/// A server that answers everything with a 307 to `to` (another origin).
async fn redirector(to: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let to = to.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

/// A server that records every request it gets.
async fn recorder() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 16 * 1024];
            let n = s.read(&mut buf).await.unwrap_or(0);
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                .await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_redirect_off_the_instance_is_not_followed_so_no_password_or_token_leaves() {
    use belfry_core::{net, secret::Secret};
    let (elsewhere, seen) = recorder().await;
    let instance = redirector(elsewhere).await;
    let base = net::instance_url(&instance, false).unwrap();
    let tls = net::tls_config(None).unwrap();
    let signed_in = net::Api::login(&base, &tls, OPERATOR.0, &Secret::new(OPERATOR.1)).await;
    assert!(signed_in.is_err(), "a sign-in redirected elsewhere fails");
    let api = net::Api::new(base, Secret::new("blf_not_for_other_hosts"), &tls).unwrap();
    assert!(api.settings().await.is_err());
    assert!(api.inbox(false, None, 10).await.is_err());
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.is_empty(),
        "the other origin was asked, with the password or token in reach: {seen:?}"
    );
}

/// A resync cut off after its first page leaves the newest page stored
/// above a gap, with the position still below it. The next resync must
/// fill the gap, not stop at the first page it already holds.
#[tokio::test]
async fn a_resync_cut_off_mid_way_is_completed_by_the_next_one() {
    let t = TestInstance::start_with(Config {
        replay_window: 50,
        ..Config::default()
    })
    .await;
    let admin = t.admin().await;
    let operator = t.operator().await;
    let _ = admin.emit_many(OPERATOR.0, "ticket_created", 1000).await;
    let newest: InboxPage = operator.get("/api/v1/inbox?limit=500").await;
    let cursor = newest.next_cursor.clone().expect("a second page");
    let older: InboxPage = operator
        .get(&format!("/api/v1/inbox?limit=500&cursor={cursor}"))
        .await;
    let mut oldest = older.items.clone();
    oldest.sort_by_key(|n| n.seq);
    oldest.truncate(100);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = belfry_core::store::Store::open(&dir.path().join("inbox.db")).unwrap();
        store.add_snapshot_page(&oldest).unwrap();
        store.set_last_seq(oldest[99].seq).unwrap();
        store.add_snapshot_page(&newest.items).unwrap();
        assert_eq!(store.all_ids().unwrap().len(), 600);
    }
    let desk = Desk::start_in(dir, t.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    eventually("the gap filled in", Duration::from_secs(20), || {
        desk.stored().len() == 1000
    })
    .await;
    let seqs: Vec<u64> = desk.stored().into_iter().map(|(seq, _)| seq).collect();
    let mut want: Vec<u64> = older
        .items
        .iter()
        .chain(&newest.items)
        .map(|n| n.seq)
        .collect();
    want.sort_unstable();
    assert_eq!(seqs, want, "every notification once, in order");
    desk.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toast_does_not_wait_for_a_busy_inbox_database() {
    let t = TestInstance::start().await;
    let desk = Desk::start(t.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    // Another program holds the inbox's database for writing (a backup
    // tool, a second copy): the store's write waits up to its busy timeout.
    let other = rusqlite::Connection::open(desk.dir.path().join("inbox.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut events = desk.engine.events();

    let admin = t.admin().await;
    let id = admin
        .emit_many(OPERATOR.0, "sla_expired", 1)
        .await
        .remove(0);
    let shown = |r: &[Record]| shown_for(r, &id);
    eventually(
        "the toast while the database is held",
        Duration::from_secs(2),
        || shown(&desk.recorder.records()) == 1,
    )
    .await;

    // Let go: the store catches up, and the toast is not shown again.
    other.execute_batch("ROLLBACK").unwrap();
    eventually("stored", Duration::from_secs(10), || {
        desk.stored().iter().any(|(_, i)| *i == id)
    })
    .await;
    assert_eq!(desk.stored().len(), 1, "stored once");
    assert_eq!(shown(&desk.recorder.records()), 1, "shown once");
    // The store waited for the lock: no failure was put in front of the user.
    while let Ok(e) = events.try_recv() {
        assert!(
            !matches!(e, CoreEvent::Problem { .. }),
            "a database held for a moment was reported: {e:?}"
        );
    }
}

/// The engine checkpoints the inbox's write-ahead log itself (SQLite's own
/// is off so that no toast waits for one): through an operator's day of
/// events, one commit each, the log stays near SQLite's usual 1,000 pages
/// instead of growing by every page written, on the operator's disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_log_stays_small_through_a_day_of_single_events() {
    const EVENTS: usize = 600;
    let t = TestInstance::start().await;
    let desk = Desk::start(t.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    let admin = t.admin().await;
    let wal = || std::fs::metadata(desk.dir.path().join("inbox.db-wal")).map_or(0, |m| m.len());
    let mut largest = 0;
    for i in 0..EVENTS {
        let n = admin
            .emit(
                "ticket_created",
                &format!("day {i}"),
                "one at a time",
                "/tickets/1",
            )
            .await;
        // Each on its own, as they come through a working day.
        eventually("stored", Duration::from_secs(10), || {
            desk.stored().last().is_some_and(|(_, id)| *id == n.id)
        })
        .await;
        largest = largest.max(wal());
    }
    assert_eq!(desk.stored().len(), EVENTS);
    // 1,000 pages of 4 KiB and the commit that crossed them; without the
    // engine's checkpoints the log held every commit's pages (over 20 MB).
    assert!(
        largest <= 6 << 20,
        "the write-ahead log grew to {largest} bytes"
    );
}
