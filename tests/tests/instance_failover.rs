//! Failover: two instance nodes (processes of their own) on one PostgreSQL
//! behind a real HAProxy from Debian's packages. Streams spread over both;
//! one node is killed with SIGKILL in the middle of a stream of events; its
//! clients reconnect through the balancer to the other from the last
//! sequence they saw, and every client ends with every event once.

// PostgreSQL and HAProxy from Debian's packages: Linux only.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_proto::api::Role;
use belfry_proto::stream::{ClientFrame, ServerFrame, close};
use belfry_tests::{Api, Ended, PATIENCE, Stream, TestInstance, pg};
use futures_util::SinkExt;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// A node process; killed (SIGKILL) when dropped if still running.
struct Node {
    child: Child,
    url: String,
}

impl Node {
    fn start(db: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_instance-node"))
            .arg(db)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().strip_prefix("listening ").unwrap().to_owned();
        Self {
            child,
            url: format!("http://{addr}"),
        }
    }

    fn port(&self) -> &str {
        self.url.rsplit(':').next().unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HAProxy in front of `nodes`, round robin, health-checked every 200 ms.
struct Balancer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Balancer {
    fn start(nodes: &[&Node]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let servers: String = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "    server n{i} 127.0.0.1:{} check inter 200ms fall 1 rise 1\n",
                    n.port()
                )
            })
            .collect();
        let config = dir.path().join("haproxy.cfg");
        std::fs::write(
            &config,
            format!(
                "defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    \
                 timeout server 30s\n    timeout tunnel 1h\n\
                 frontend belfry\n    bind 127.0.0.1:{port}\n    default_backend nodes\n\
                 backend nodes\n    balance roundrobin\n    option httpchk GET /api/v1/health\n{servers}"
            ),
        )
        .unwrap();
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .spawn()
            .expect("haproxy (Debian: apt-get install haproxy)");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn until_serving(url: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let ok = reqwest::get(format!("{url}/api/v1/info"))
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "{url} does not serve");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens a stream through the balancer from `last_seq`; `None` while the
/// balancer has no node for it yet.
async fn connect(url: &str, token: &str, last_seq: Option<u64>) -> Option<Stream> {
    let mut s = Stream::open(url, token).await.ok()?;
    let hello = ClientFrame::Hello {
        protocol: belfry_proto::PROTOCOL_VERSION,
        last_seq,
        client: Some("failover-test".into()),
    };
    let text = serde_json::to_string(&hello).unwrap();
    s.ws.send(Message::Text(text.into())).await.ok()?;
    match s.next_or_end().await {
        Ok(ServerFrame::Welcome { .. }) => Some(s),
        _ => None,
    }
}

/// A desktop: reads notifications, and when its stream drops reconnects
/// (100 ms backoff) from the last sequence it saw, until it has `total`.
/// Returns every sequence received, in order, how many times it
/// reconnected and the longest it was without a stream.
async fn desktop(url: String, token: String, total: usize) -> (Vec<u64>, usize, Duration) {
    let mut seqs: Vec<u64> = Vec::new();
    let mut reconnects = 0;
    let mut stream: Option<Stream> = None;
    let mut lost_at: Option<Instant> = None;
    let mut longest = Duration::ZERO;
    let deadline = Instant::now() + PATIENCE * 3;
    while seqs.len() < total {
        assert!(Instant::now() < deadline, "got {} of {total}", seqs.len());
        let Some(s) = stream.as_mut() else {
            stream = connect(&url, &token, seqs.last().copied()).await;
            match (&stream, lost_at) {
                (None, _) => tokio::time::sleep(Duration::from_millis(100)).await,
                (Some(_), Some(at)) => longest = longest.max(at.elapsed()),
                (Some(_), None) => {}
            }
            continue;
        };
        match s.next_or_end().await {
            Ok(ServerFrame::Notification { seq, .. }) => seqs.push(seq),
            Ok(_) => {}
            Err(Ended::Dropped | Ended::Close(_)) => {
                stream = None;
                reconnects += 1;
                lost_at = Some(Instant::now());
            }
        }
    }
    (seqs, reconnects, longest)
}

/// A fresh database with `admin` and operators `op0`…, all with the
/// password `password-1`, made through the store as `create-operator`
/// makes them.
async fn accounts(operators: usize) -> pg::Database {
    let db = pg::Database::create();
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let store = belfry_instance::store::Store::open_at(
            Some(&url),
            std::sync::Arc::new(belfry_instance::hub::Hub::default()),
            1000,
        )
        .unwrap();
        let hash = belfry_instance::auth::hash_password("password-1").unwrap();
        store
            .create_operator("admin", "admin", Role::Admin, &hash)
            .unwrap();
        for i in 0..operators {
            let login = format!("op{i}");
            store
                .create_operator(&login, &login, Role::Operator, &hash)
                .unwrap();
        }
    })
    .await
    .unwrap();
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_asked_to_stop_closes_its_streams_with_1001() {
    let db = accounts(1).await;
    let node = Node::start(&db.url);
    until_serving(&node.url).await;
    let api = Api::login(&node.url, "op0", "password-1").await;
    let (mut s, _) = Stream::connect(&node.url, &api.token, None).await;
    assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));
    // SIGTERM, as systemd or a rolling restart sends it.
    let term = Command::new("kill")
        .args(["-TERM", &node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert_eq!(s.closed().await, Ended::Close(close::GOING_AWAY));
    let mut node = node;
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "the node did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_stream_loses_and_duplicates_nothing_for_its_desktops() {
    const OPERATORS: usize = 4;
    const EVENTS: usize = 100;
    let db = accounts(OPERATORS).await;
    let a = Node::start(&db.url);
    let b = Node::start(&db.url);
    let lb = Balancer::start(&[&a, &b]);
    for url in [&a.url, &b.url, &lb.url] {
        until_serving(url).await;
    }

    // Two desktops per operator, their streams opened one after the other
    // through the balancer: round robin puts one of each on each node.
    // (They sign in on B, so the sign-ins take no turn: tokens work on any
    // node.)
    let mut desktops = Vec::new();
    for i in 0..OPERATORS {
        for _ in 0..2 {
            let api = Api::login(&b.url, &format!("op{i}"), "password-1").await;
            let url = lb.url.clone();
            desktops.push(tokio::spawn(desktop(url, api.token, EVENTS)));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The helpdesk posts to the node that stays up.
    let admin = Api::login(&b.url, "admin", "password-1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut a = Some(a);
    for n in 0..EVENTS {
        if n == EVENTS / 2 {
            // SIGKILL: no close frames, no goodbye.
            drop(a.take());
        }
        let events = (0..OPERATORS)
            .map(|i| belfry_proto::api::EmitEvent {
                operator: format!("op{i}"),
                type_id: "ticket_message".into(),
                title: Some(format!("event {n}")),
                body: None,
                path: Some("/t".into()),
                data: Default::default(),
            })
            .collect();
        admin.emit_batch(events).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let expected: Vec<u64> = (1..=EVENTS as u64).collect();
    let mut reconnected = 0;
    for d in desktops {
        let (seqs, reconnects, outage) = d.await.unwrap();
        assert_eq!(seqs, expected, "every event once, in order");
        reconnected += usize::from(reconnects > 0);
        // The desktop's backoff (belfry-core, `Backoff::default`) tries
        // again within 0.5, 1 and 2 s: back within its third attempt.
        assert!(
            outage < Duration::from_millis(3500),
            "without a stream for {outage:?}"
        );
    }
    assert!(
        reconnected >= OPERATORS,
        "the killed node's desktops (one per operator) reconnected: {reconnected}"
    );
}

#[tokio::test]
async fn a_node_that_lost_its_database_fails_the_balancers_probe() {
    // A cluster of its own: this test stops it.
    let cluster = Arc::new(pg::Cluster::start());
    let db = Arc::new(pg::Database::on_cluster(&cluster));
    let t = TestInstance::start_on(belfry_instance::Config::default(), Some(db)).await;
    let probe = || async {
        reqwest::get(format!("{}/api/v1/info", t.url()))
            .await
            .unwrap()
            .status()
    };
    assert!(probe().await.is_success());
    let stopped = Command::new("kill")
        .args(["-INT", &cluster.pid().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = probe().await;
        if status == reqwest::StatusCode::INTERNAL_SERVER_ERROR {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} without a database"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
