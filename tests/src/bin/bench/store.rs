//! The local store at scale: first page, unread count and text search over
//! `rows` notifications (one in five unread), each beside the same query
//! through a bare SQLite connection.

use crate::{Row, time};
use belfry_core::store::{Event, Filter, Store};
use belfry_proto::catalogue::Category;
use belfry_proto::inbox::Notification;
use rusqlite::Connection;
use std::time::Instant;

fn notification(seq: u64) -> Notification {
    let words = [
        "ticket", "chat", "SLA", "CSAT", "invoice", "refund", "login",
    ];
    let w = words[(seq as usize) % words.len()];
    Notification {
        id: format!("n-{seq}"),
        seq,
        type_id: "ticket_created".into(),
        category: if seq.is_multiple_of(10) {
            Category::System
        } else {
            Category::Events
        },
        title: format!("New {w} #{seq}"),
        body: format!("A customer wrote about their {w} problem number {seq}."),
        link: Some(format!("/tickets/{seq}")),
        created_at: chrono::Utc::now(),
        // One in five is still unread.
        read_at: (!seq.is_multiple_of(5)).then(chrono::Utc::now),
        data: serde_json::Map::new(),
    }
}

/// The floor of a search: the bare FTS5 query for the text, its first 50
/// matches in the index's order (not the newest: the store sorts by `seq`).
fn bare_match(raw: &Connection, text: &str) {
    let mut st = raw
        .prepare_cached(
            "SELECT rowid FROM notifications_fts WHERE notifications_fts MATCH ?1 LIMIT 50",
        )
        .expect("prepare");
    let _ = st
        .query_map([format!("\"{text}\"")], |r| r.get::<_, i64>(0))
        .expect("query")
        .count();
}

/// The store's search for `text`, a page of 50, against [`bare_match`].
fn search_row(figure: &str, store: &Store, raw: &Connection, text: &str, runs: usize) -> Row {
    let filter = Filter {
        text: Some(text.into()),
        limit: 50,
        ..Filter::default()
    };
    let samples = time(runs, || {
        store.page(&filter).expect("search");
    });
    let floor = time(runs, || bare_match(raw, text));
    Row::timed(figure, &samples, &floor, 20.0)
}

/// The size of the store's objects from SQLite's `dbstat`, in MiB. Read
/// through the WAL: after a TRUNCATE checkpoint from this second
/// connection the store's own scans ran five times slower (seen in a
/// probe, not explained).
fn sizes(raw: &Connection) -> String {
    let mib = |sql: &str| -> f64 {
        let bytes: i64 = raw.query_row(sql, [], |r| r.get(0)).expect("dbstat");
        bytes as f64 / 1_048_576.0
    };
    let part = |filter: &str| {
        mib(&format!(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE {filter}"
        ))
    };
    format!(
        "database {:.1} MiB: notifications with their indexes {:.1} MiB, search index {:.1} MiB",
        mib("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"),
        part(
            "name IN ('notifications', 'sqlite_autoindex_notifications_1', \
             'notifications_seq', 'notifications_unread')"
        ),
        part("name LIKE 'notifications_fts%'"),
    )
}

/// The store's figures at `rows_wanted` notifications.
pub fn run(rows_wanted: u64) -> Vec<Row> {
    let repeats = 200;
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("inbox.db");
    let store = Store::open(&path).expect("the store opens");
    let events: Vec<Event> = (1..=rows_wanted)
        .map(|s| Event::Notification(notification(s)))
        .collect();
    let fill = Instant::now();
    for chunk in events.chunks(5_000) {
        store.apply(chunk).expect("stored");
    }
    let fill = fill.elapsed();
    drop(events);
    // The floor: the same file through a bare SQLite connection.
    let raw = Connection::open(&path).expect("raw connection");
    let size = sizes(&raw);

    let first_page = Filter {
        limit: 50,
        ..Filter::default()
    };
    let page = time(repeats, || {
        store.page(&first_page).expect("page");
    });
    let page_floor = time(repeats, || {
        let mut st = raw
            .prepare_cached("SELECT * FROM notifications ORDER BY seq DESC LIMIT 50")
            .expect("prepare");
        let n = st
            .query_map([], |r| r.get::<_, String>("id"))
            .expect("query")
            .count();
        assert_eq!(n, 50);
    });
    let unread = time(repeats, || {
        store.unread().expect("unread");
    });
    let unread_floor = time(repeats, || {
        let _: i64 = raw
            .prepare_cached("SELECT COUNT(*) FROM notifications WHERE read_at IS NULL")
            .expect("prepare")
            .query_row([], |r| r.get(0))
            .expect("count");
    });
    // What the search did before the index, kept for the comparison: the
    // same scan through the bare connection, against the bare MATCH.
    let like = time(repeats / 4, || {
        let mut st = raw
            .prepare_cached(
                "SELECT id FROM notifications WHERE title LIKE ?1 OR body LIKE ?1 \
                 ORDER BY seq DESC LIMIT 50",
            )
            .expect("prepare");
        let _ = st
            .query_map(["%refund problem number 4242%"], |r| r.get::<_, String>(0))
            .expect("query")
            .count();
    });
    let like_floor = time(repeats / 4, || {
        bare_match(&raw, "refund problem number 4242")
    });
    println!(
        "store: {rows_wanted} notifications filled in {:.2} s ({:.0} a second, batches of 5,000), \
         {repeats} runs each (search: {}); {size}",
        fill.as_secs_f64(),
        rows_wanted as f64 / fill.as_secs_f64().max(1e-9),
        repeats / 4
    );
    vec![
        Row::timed(
            format!("store: first page of 50 ({rows_wanted} stored)"),
            &page,
            &page_floor,
            5.0,
        ),
        Row::timed("store: unread count", &unread, &unread_floor, 1.0),
        search_row(
            "store: text search, a rare phrase",
            &store,
            &raw,
            "refund problem number 4242",
            repeats / 4,
        ),
        search_row(
            "store: text search, a common word (1 in 7)",
            &store,
            &raw,
            "refund",
            repeats / 4,
        ),
        search_row(
            "store: text search, a phrase in every row",
            &store,
            &raw,
            "customer wrote about",
            repeats / 4,
        ),
        Row {
            budget: f64::NAN,
            ..Row::timed(
                "sqlite: the rare phrase by LIKE (no index), for comparison",
                &like,
                &like_floor,
                0.0,
            )
        },
    ]
}
