//! A bounded fuzz run over every decoder of server input, in the test pass:
//! stream frames and every REST answer the core decodes (the server's
//! info, sign-in, who am I, inbox pages, read results, the operator's
//! status, a test notification, the settings document, the catalogue,
//! error bodies). cargo-fuzz needs a nightly toolchain this
//! project does not have, so this is the equivalent harness: a seed corpus
//! taken from the reference instance itself (real frames and bodies), then
//! mutated (bytes flipped, cut, spliced; values swapped for huge strings,
//! negative and enormous numbers, wrong types, repeated keys), and every
//! input that decodes is driven on through what the core does with it: the
//! local store, the delivery router, the catalogue, the policy checks.
//!
//! No input may panic; memory stays bounded. `BELFRY_FUZZ_SECS` sets the
//! time (default 10 s); the README names the longer run.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_core::router::{Input, Local, Router};
use belfry_core::store::{Event, Store};
use belfry_proto::api::{ErrorBody, LoginResponse, Operator, OperatorStatus, ServerInfo};
use belfry_proto::catalogue::Catalogue;
use belfry_proto::inbox::{InboxPage, Notification, ReadResult};
use belfry_proto::settings::{self, SettingsDocument};
use belfry_proto::stream::ServerFrame;
use belfry_tests::{OPERATOR, Stream, TestInstance};
use serde_json::Value;
use std::time::{Duration, Instant};

/// What an input claims to be.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Frame,
    Inbox,
    Settings,
    Catalogue,
    Error,
    Info,
    Login,
    Me,
    Read,
    Status,
    TestNotification,
}

/// The core's side of the inputs: a store, a router and the last good
/// settings document, as a connection holds them.
struct Core {
    store: Store,
    router: Router,
    doc: SettingsDocument,
}

impl Core {
    fn settings(&mut self, doc: SettingsDocument) {
        let _ = doc.catalogue();
        let mut prefs = doc.preferences.clone();
        settings::enforce(&doc.policy, &mut prefs);
        let _ = settings::validate(&doc.policy, &self.doc.preferences, &prefs);
        // What the connection does with a document from the server: repair
        // it. A repaired document needs no more repair.
        let mut repaired = doc.preferences.clone();
        let _ = settings::repair(&doc.policy, &mut repaired);
        let again = settings::repair(&doc.policy, &mut repaired);
        assert!(again.is_empty(), "repair is not stable: {again:?}");
        self.doc = doc;
    }

    fn feed(&mut self, kind: Kind, bytes: &[u8]) -> bool {
        match kind {
            Kind::Frame => match serde_json::from_slice::<ServerFrame>(bytes) {
                Ok(ServerFrame::Notification { notification, .. }) => {
                    let _ = self
                        .store
                        .apply(&[Event::Notification(notification.clone())]);
                    let _ = self.router.handle(
                        Input::Live(notification),
                        Instant::now(),
                        &self.doc,
                        Local::default(),
                    );
                    true
                }
                Ok(ServerFrame::Read { seq, ids, read_at }) => {
                    let _ = self.store.apply(&[Event::Read { seq, ids, read_at }]);
                    true
                }
                Ok(ServerFrame::ReadAll {
                    seq,
                    up_to_seq,
                    read_at,
                }) => {
                    let _ = self.store.apply(&[Event::ReadAll {
                        seq,
                        up_to_seq,
                        read_at,
                    }]);
                    true
                }
                Ok(ServerFrame::Settings { document }) => {
                    self.settings(*document);
                    true
                }
                Ok(_) => true,
                Err(_) => false,
            },
            Kind::Inbox => match serde_json::from_slice::<InboxPage>(bytes) {
                Ok(page) => {
                    let events: Vec<Event> =
                        page.items.into_iter().map(Event::Notification).collect();
                    let _ = self.store.apply(&events);
                    true
                }
                Err(_) => false,
            },
            Kind::Settings => match serde_json::from_slice::<SettingsDocument>(bytes) {
                Ok(doc) => {
                    self.settings(doc);
                    true
                }
                Err(_) => false,
            },
            Kind::Catalogue => serde_json::from_slice::<Catalogue>(bytes).is_ok(),
            Kind::Error => serde_json::from_slice::<ErrorBody>(bytes).is_ok(),
            Kind::Info => serde_json::from_slice::<ServerInfo>(bytes).is_ok(),
            Kind::Login => serde_json::from_slice::<LoginResponse>(bytes).is_ok(),
            Kind::Me => serde_json::from_slice::<Operator>(bytes).is_ok(),
            Kind::Read => serde_json::from_slice::<ReadResult>(bytes).is_ok(),
            Kind::Status => serde_json::from_slice::<OperatorStatus>(bytes).is_ok(),
            // A test notification is stored and routed like any other.
            Kind::TestNotification => match serde_json::from_slice::<Notification>(bytes) {
                Ok(n) => {
                    let _ = self.store.apply(&[Event::Notification(n)]);
                    true
                }
                Err(_) => false,
            },
        }
    }
}

/// A value to put somewhere it does not belong.
fn hostile(rng: &mut fastrand::Rng) -> Value {
    match rng.u8(0..12) {
        // Mostly long, now and then a megabyte.
        0 if rng.u8(0..10) == 0 => Value::String("x".repeat(rng.usize(1..1 << 20))),
        0 => Value::String("x".repeat(rng.usize(1..1 << 16))),
        1 => Value::from(-1),
        2 => Value::from(i64::MIN),
        3 => Value::from(u64::MAX),
        4 => Value::from(1e308),
        5 => Value::Null,
        6 => Value::Bool(rng.bool()),
        7 => Value::String("<img src=x onerror=alert(1)>\u{202e}\u{200b}".into()),
        8 => Value::Array((0..rng.usize(0..2000)).map(Value::from).collect()),
        9 => serde_json::json!({"unknown": [1, {"deeper": "x"}]}),
        10 => Value::String("javascript:alert(1)".into()),
        _ => Value::String(String::new()),
    }
}

/// Every node of `v` (as pointers), to pick one to mutate.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A structural mutation: a node replaced, removed or a key added.
fn mutate_value(seed: &Value, rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut v = seed.clone();
    let mut at = Vec::new();
    pointers(&v, String::new(), &mut at);
    for _ in 0..rng.usize(1..4) {
        let p = &at[rng.usize(..at.len())];
        match (rng.u8(0..3), v.pointer_mut(p)) {
            (0, Some(node)) => *node = hostile(rng),
            (1, Some(Value::Object(m))) => {
                m.insert(format!("k{}", rng.u16(..)), hostile(rng));
            }
            (_, Some(Value::Array(a))) if !a.is_empty() => {
                // Repeat an element: duplicated ids and sequences.
                let dup = a[rng.usize(..a.len())].clone();
                a.push(dup);
            }
            (_, Some(node)) => *node = hostile(rng),
            _ => {}
        }
    }
    serde_json::to_vec(&v).unwrap()
}

/// A byte-level mutation: flips, cuts, splices and repeated keys.
fn mutate_bytes(seed: &[u8], rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    match rng.u8(0..5) {
        0 => {
            for _ in 0..rng.usize(1..8) {
                if !b.is_empty() {
                    let i = rng.usize(..b.len());
                    b[i] = rng.u8(..);
                }
            }
        }
        1 => b.truncate(rng.usize(..=b.len())),
        2 => {
            let i = rng.usize(..=b.len());
            let junk: Vec<u8> = (0..rng.usize(1..64)).map(|_| rng.u8(..)).collect();
            b.splice(i..i, junk);
        }
        3 => {
            // Splice a copy of a slice of itself in (nesting, repeats).
            if b.len() > 2 {
                let (x, y) = (rng.usize(..b.len()), rng.usize(..b.len()));
                let (lo, hi) = (x.min(y), x.max(y));
                let part = b[lo..hi].to_vec();
                let i = rng.usize(..=b.len());
                b.splice(i..i, part);
            }
        }
        _ => {
            // A repeated key: the first key of the object again, later.
            if let Some(end) = b.iter().position(|c| *c == b',') {
                let key = b[1..end].to_vec();
                let at = b.len().saturating_sub(1);
                let mut extra = vec![b','];
                extra.extend(key);
                b.splice(at..at, extra);
            }
        }
    }
    b
}

/// This process's resident memory, in MB.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Real frames and bodies from the reference instance.
async fn corpus() -> Vec<(Kind, Value)> {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let operator = t.operator().await;
    let (mut stream, welcome) = Stream::connect(t.url(), &operator.token, None).await;
    let mut out = vec![(Kind::Frame, serde_json::to_value(&welcome).unwrap())];
    let ids = admin.emit_many(OPERATOR.0, "sla_expired", 3).await;
    let _ = admin.emit_many(OPERATOR.0, "chat_created", 2).await;
    let read: Value = operator
        .send(
            reqwest::Method::POST,
            "/api/v1/inbox/read",
            &serde_json::json!({ "ids": [ids[0]] }),
        )
        .await;
    out.push((Kind::Read, read));
    let status: Value = operator
        .send(
            reqwest::Method::PUT,
            "/api/v1/status",
            &serde_json::json!({ "status": "away" }),
        )
        .await;
    out.push((Kind::Status, status));
    for _ in 0..7 {
        let f = stream.next().await;
        out.push((Kind::Frame, serde_json::to_value(&f).unwrap()));
    }
    let doc: Value = operator.get("/api/v1/settings").await;
    out.push((
        Kind::Frame,
        serde_json::json!({"type": "settings", "document": doc.clone()}),
    ));
    out.push((Kind::Settings, doc));
    out.push((Kind::Inbox, operator.get("/api/v1/inbox").await));
    out.push((Kind::Catalogue, operator.get("/api/v1/catalogue").await));
    out.push((Kind::Info, operator.get("/api/v1/info").await));
    out.push((Kind::Me, operator.get("/api/v1/me").await));
    let login = operator
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            Some(&serde_json::json!({ "login": OPERATOR.0, "password": OPERATOR.1 })),
        )
        .await;
    assert!(login.status.is_success(), "{}", login.body);
    out.push((Kind::Login, login.body));
    let test: Value = operator
        .send(
            reqwest::Method::POST,
            "/api/v1/test-notification",
            &serde_json::json!({ "channel": "bell" }),
        )
        .await;
    out.push((Kind::TestNotification, test));
    let refused = operator
        .call(reqwest::Method::GET, "/api/v1/no-such-thing", None::<&()>)
        .await;
    out.push((Kind::Error, refused.body));
    out
}

#[tokio::test]
async fn no_server_input_panics_the_core_or_grows_it_without_bound() {
    let corpus = corpus().await;
    assert!(corpus.len() >= 19, "{corpus:?}");
    let seconds: u64 = std::env::var("BELFRY_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let seed = std::env::var("BELFRY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let Some(doc) = corpus.iter().find_map(|(k, v)| {
        matches!(k, Kind::Settings).then(|| serde_json::from_value(v.clone()).unwrap())
    }) else {
        panic!("no settings document in the corpus");
    };
    let mut core = Core {
        store: Store::in_memory().unwrap(),
        router: Router::new(),
        doc,
    };
    // Every seed decodes as it is: the harness feeds the real decoders.
    for (kind, v) in &corpus {
        assert!(
            core.feed(*kind, &serde_json::to_vec(v).unwrap()),
            "a seed from the instance did not decode: {kind:?} {v}"
        );
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = Instant::now();
    let rss_start = rss_mb();
    let (mut inputs, mut decoded) = (0u64, 0u64);
    while start.elapsed() < Duration::from_secs(seconds) {
        let (kind, v) = &corpus[rng.usize(..corpus.len())];
        let bytes = if rng.bool() {
            mutate_value(v, &mut rng)
        } else {
            mutate_bytes(&serde_json::to_vec(v).unwrap(), &mut rng)
        };
        let input = bytes.clone();
        let took = Instant::now();
        let ok =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| core.feed(*kind, &input)));
        match ok {
            Ok(true) => decoded += 1,
            Ok(false) => {}
            Err(_) => panic!(
                "seed {seed}: a {kind:?} input panicked the core: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(2000)])
            ),
        }
        assert!(
            took.elapsed() < Duration::from_secs(5),
            "seed {seed}: one {kind:?} input took {:?}",
            took.elapsed()
        );
        inputs += 1;
        // A fresh store now and then (as a resync would): what decoded is
        // kept, huge strings included, and the run is about the decoders.
        if inputs.is_multiple_of(500) {
            core.store = Store::in_memory().unwrap();
        }
    }
    core.store = Store::in_memory().unwrap();
    let grown = rss_mb() - rss_start;
    println!(
        "fuzz: {inputs} inputs ({decoded} decoded and processed) from {} seeds in {seconds} s, seed {seed}; memory grew {grown:.0} MB",
        corpus.len()
    );
    assert!(inputs > 100, "the harness barely ran: {inputs}");
    // The store keeps what decoded (huge strings included); the rest must
    // not stay behind.
    assert!(
        grown < 512.0,
        "seed {seed}: memory grew {grown:.0} MB over {inputs} inputs"
    );
}
