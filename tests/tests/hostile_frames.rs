//! Hostile server input, table-driven: a proxy between the core and the
//! reference instance writes malformed or lying frames into the live stream,
//! between the server's own. For each case: the core logs a warning, the
//! connection goes on (or, where the stream itself broke, reconnects and
//! replays), the next real notification is stored, and nothing stored
//! before is lost or altered.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_core::event::{ConnState, CoreEvent};
use belfry_proto::inbox::{InboxPage, UnreadCount};
use belfry_tests::proxy::{Frame, Proxy};
use belfry_tests::{Api, Desk, OPERATOR, TestInstance, eventually, quick_config};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Warnings and errors the core logged, as text.
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        if *meta.level() <= tracing::Level::WARN && meta.target().starts_with("belfry_core") {
            let mut text = Text(String::new());
            event.record(&mut text);
            WARNINGS.lock().unwrap().push(text.0);
        }
    }
}

fn warnings() -> Vec<String> {
    WARNINGS.lock().unwrap().clone()
}

/// What the connection does after the case.
#[derive(Debug, Clone, Copy, PartialEq)]
enum After {
    /// The same connection carries on.
    GoesOn,
    /// The stream broke (or had a gap): the core reconnects and replays.
    Reconnects,
}

/// What a case can build its frames from.
struct Ctx {
    /// The stream position (the last sequence the server sent).
    p: u64,
    /// A real notification, as the server sends it.
    note: Value,
    /// A stored, unread notification's id.
    unread_id: String,
    /// The operator's settings document, as the server sends it.
    doc: Value,
}

impl Ctx {
    /// A notification frame from the real one, with `edit` applied.
    fn note(&self, seq: Value, edit: impl FnOnce(&mut Value)) -> String {
        let mut n = self.note.clone();
        n["id"] = json!(format!("hostile-{}", fastrand::u64(..)));
        n["seq"] = seq.clone();
        edit(&mut n);
        json!({"type": "notification", "seq": seq, "notification": n}).to_string()
    }

    fn settings(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut d = self.doc.clone();
        edit(&mut d);
        json!({"type": "settings", "document": d}).to_string()
    }
}

type Build = Box<dyn Fn(&Ctx) -> Vec<Frame>>;

struct Case {
    name: &'static str,
    frames: Build,
    after: After,
}

fn text(s: impl Into<String>) -> Vec<Frame> {
    vec![Frame::Text(s.into())]
}

fn case(name: &'static str, after: After, frames: impl Fn(&Ctx) -> Vec<Frame> + 'static) -> Case {
    Case {
        name,
        frames: Box::new(frames),
        after,
    }
}

const NOW: &str = "2026-12-02T10:00:00.000Z";

fn cases() -> Vec<Case> {
    use After::{GoesOn, Reconnects};
    vec![
        case("not JSON", GoesOn, |_| text("hello, operator")),
        case("an empty text frame", GoesOn, |_| text("")),
        case("a JSON array", GoesOn, |_| text("[]")),
        case("a JSON number", GoesOn, |_| text("42")),
        case("JSON null", GoesOn, |_| text("null")),
        case("an unknown frame type", GoesOn, |c| {
            text(json!({"type": "party", "seq": c.p + 1}).to_string())
        }),
        case("an object without a type", GoesOn, |c| {
            text(json!({"seq": c.p + 1}).to_string())
        }),
        case("notification: seq as text", GoesOn, |c| {
            text(c.note(json!((c.p + 1).to_string()), |_| {}))
        }),
        case("notification: no notification", GoesOn, |c| {
            text(json!({"type": "notification", "seq": c.p + 1}).to_string())
        }),
        case("notification: a negative seq", GoesOn, |c| {
            text(c.note(json!(-5), |_| {}))
        }),
        case(
            "notification: frame and item disagree on seq",
            GoesOn,
            |c| text(c.note(json!(c.p + 1), |n| n["seq"] = json!(c.p + 2))),
        ),
        case("notification: a seq no database can hold", GoesOn, |c| {
            text(c.note(json!(u64::MAX), |_| {}))
        }),
        case("notification: a repeated seq with a new id", GoesOn, |c| {
            text(c.note(json!(c.p), |_| {}))
        }),
        case("notification: seq zero", GoesOn, |c| {
            text(c.note(json!(0), |_| {}))
        }),
        case("notification: an empty id", GoesOn, |c| {
            text(c.note(json!(c.p + 1), |n| n["id"] = json!("")))
        }),
        case("notification: a 1,000-character id", GoesOn, |c| {
            text(c.note(json!(c.p + 1), |n| n["id"] = json!("x".repeat(1000))))
        }),
        case("notification: a title that is a number", GoesOn, |c| {
            text(c.note(json!(c.p + 1), |n| n["title"] = json!(5)))
        }),
        case("notification: created_at not a date", GoesOn, |c| {
            text(c.note(json!(c.p + 1), |n| n["created_at"] = json!("yesterday")))
        }),
        case("notification: an unknown category", GoesOn, |c| {
            text(c.note(json!(c.p + 1), |n| n["category"] = json!("gossip")))
        }),
        case("read: ids not a list", GoesOn, |c| {
            text(json!({"type": "read", "seq": c.p + 1, "ids": "all", "read_at": NOW}).to_string())
        }),
        case("read: a repeated seq", GoesOn, |c| {
            text(
                json!({"type": "read", "seq": c.p, "ids": [c.unread_id], "read_at": NOW})
                    .to_string(),
            )
        }),
        case("read_all: a negative bound", GoesOn, |c| {
            text(
                json!({"type": "read_all", "seq": c.p + 1, "up_to_seq": -1, "read_at": NOW})
                    .to_string(),
            )
        }),
        case("read_all: everything, under a repeated seq", GoesOn, |c| {
            text(
                json!({"type": "read_all", "seq": c.p, "up_to_seq": u64::MAX, "read_at": NOW})
                    .to_string(),
            )
        }),
        case("settings: no document", GoesOn, |_| {
            text(json!({"type": "settings"}).to_string())
        }),
        case("settings: version as text", GoesOn, |c| {
            text(c.settings(|d| d["version"] = json!("seven")))
        }),
        case(
            "settings: a document that breaks its own policy",
            GoesOn,
            |c| {
                text(c.settings(|d| {
                    d["policy"]["mandatory_types"] = json!(["sla_expired"]);
                    d["preferences"]["types"]["sla_expired"]["channels"] = json!([]);
                    d["preferences"]["channels"]["bell"]["enabled"] = json!(false);
                }))
            },
        ),
        case("settings: an unknown channel and melody", GoesOn, |c| {
            text(c.settings(|d| {
                d["preferences"]["types"]["chat_created"]["channels"] =
                    json!(["bell", "pigeon", "bell"]);
                d["preferences"]["types"]["chat_created"]["melody"] = json!("kazoo");
            }))
        }),
        case("a second welcome", GoesOn, |c| {
            text(
                json!({"type": "welcome", "protocol": 1, "server_seq": c.p + 500,
                       "heartbeat_s": 1, "max_frame_bytes": 65536, "settings_version": 0,
                       "status": {"status": "ready", "since": NOW}})
                .to_string(),
            )
        }),
        case("an error frame", GoesOn, |_| {
            text(json!({"type": "error", "code": "mystery", "message": "<b>boo</b>"}).to_string())
        }),
        case("status: an unknown availability", GoesOn, |_| {
            text(
                json!({"type": "status", "status": {"status": "dancing", "since": NOW}})
                    .to_string(),
            )
        }),
        case("ping: an id that is text", GoesOn, |_| {
            text(json!({"type": "ping", "id": "one"}).to_string())
        }),
        case("a binary frame", GoesOn, |_| {
            vec![Frame::Binary(vec![0, 159, 146, 150])]
        }),
        case("JSON nested 10,000 deep", GoesOn, |_| {
            text("[".repeat(10_000))
        }),
        case("replay_done naming another position", GoesOn, |c| {
            text(json!({"type": "replay_done", "seq": c.p + 100}).to_string())
        }),
        case("resync_required beyond the inbox", GoesOn, |c| {
            text(
                json!({"type": "resync_required", "oldest_seq": 1, "server_seq": c.p + 1000})
                    .to_string(),
            )
        }),
        case("notification: a gap before it", Reconnects, |c| {
            text(c.note(json!(c.p + 50), |_| {}))
        }),
        case("text that is not UTF-8", Reconnects, |_| {
            vec![Frame::RawText(vec![b'{', 0xff, 0xfe, b'}'])]
        }),
        case("a frame over the size limit", Reconnects, |_| {
            text(format!("\"{}\"", "x".repeat(200_000)))
        }),
    ]
}

async fn server_position(api: &Api) -> u64 {
    let c: UnreadCount = api.get("/api/v1/inbox/unread-count").await;
    c.server_seq
}

/// Every stored notification's id, seq, title and read state.
fn snapshot(desk: &Desk) -> BTreeMap<String, (u64, String, bool)> {
    let store = desk.engine.store();
    store
        .all_ids()
        .unwrap()
        .into_iter()
        .map(|(seq, id)| {
            let n = store.get(&id).unwrap().unwrap();
            (id, (seq, n.title, n.read_at.is_some()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_are_logged_and_nothing_stored_is_lost() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,belfry_core=debug".into());
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_test_writer())
        .with(Capture)
        .init();
    let t = TestInstance::start_with(belfry_instance::Config {
        heartbeat: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let proxy = Proxy::start(t.instance.addr).await;
    let admin = t.admin().await;
    let operator = t.operator().await;
    for i in 0..5 {
        admin
            .emit("ticket_created", &format!("before {i}"), "x", "/tickets/1")
            .await;
    }
    let desk = Desk::start(&proxy.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    eventually("the first five stored", Duration::from_secs(10), || {
        desk.stored().len() == 5
    })
    .await;
    let page: InboxPage = operator.get("/api/v1/inbox?limit=1").await;
    let note = serde_json::to_value(&page.items[0]).unwrap();
    let unread_id = page.items[0].id.clone();
    let doc: Value = operator.get("/api/v1/settings").await;
    let mut events = desk.engine.events();
    fastrand::seed(3);
    let table = cases();
    assert!(table.len() >= 30, "{} cases", table.len());
    for (i, c) in table.iter().enumerate() {
        let before = snapshot(&desk);
        let warned = warnings().len();
        let ctx = Ctx {
            p: server_position(&operator).await,
            note: note.clone(),
            unread_id: unread_id.clone(),
            doc: doc.clone(),
        };
        while events.try_recv().is_ok() {}
        proxy.inject(&(c.frames)(&ctx));
        eventually(
            &format!("{}: the frames were written", c.name),
            Duration::from_secs(10),
            || !proxy.injections_pending(),
        )
        .await;
        eventually(
            &format!("{}: a warning in the log", c.name),
            Duration::from_secs(10),
            || warnings().len() > warned,
        )
        .await;
        let title = format!("after case {i}");
        let real = admin
            .emit("ticket_created", &title, "x", "/tickets/2")
            .await;
        eventually(
            &format!("{}: the next real notification stored", c.name),
            Duration::from_secs(15),
            || desk.engine.store().get(&real.id).ok().flatten().is_some(),
        )
        .await;
        let after = snapshot(&desk);
        for (id, was) in &before {
            assert_eq!(after.get(id), Some(was), "{}: {id} kept as it was", c.name);
        }
        assert_eq!(
            after.len(),
            before.len() + 1,
            "{}: only the real one added",
            c.name
        );
        let mut reconnected = false;
        while let Ok(ev) = events.try_recv() {
            if matches!(ev, CoreEvent::State(ConnState::Connecting)) {
                reconnected = true;
            }
        }
        let after_kind = if reconnected {
            After::Reconnects
        } else {
            After::GoesOn
        };
        assert_eq!(
            after_kind,
            c.after,
            "{}: {:?}",
            c.name,
            &warnings()[warned..]
        );
    }

    // The repaired documents: the policy won, unknown ids were dropped.
    let effective = desk.engine.settings();
    assert!(effective.preferences.channels.bell.enabled);
    let chat = &effective.preferences.types["chat_created"];
    assert!(chat.channels.iter().all(|c| c != "pigeon"), "{chat:?}");
    assert!(belfry_proto::catalogue::is_known_melody(&chat.melody));
    assert!(
        !effective.preferences.types["sla_expired"]
            .channels
            .is_empty()
    );
    // Everything the server has, once, in order, and the lying read frames
    // marked nothing.
    let mut want: Vec<(u64, String)> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/inbox?limit=500&cursor={c}"),
            None => "/api/v1/inbox?limit=500".to_owned(),
        };
        let page: InboxPage = operator.get(&path).await;
        want.extend(page.items.iter().map(|n| (n.seq, n.id.clone())));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    want.reverse();
    assert_eq!(desk.stored(), want);
    assert!(!desk.engine.store().is_read(&unread_id).unwrap());
    assert_eq!(desk.engine.store().integrity_check().unwrap(), "ok");
    desk.engine.shutdown().await;
}
