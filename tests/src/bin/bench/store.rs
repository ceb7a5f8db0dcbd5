//! The local store at scale: first page, unread count and text search over
//! `rows` notifications (one in five unread), each beside the same query
//! through a bare SQLite connection.

use crate::{Row, time};
use belfry_core::store::{Event, Filter, Store};
use belfry_proto::catalogue::Category;
use belfry_proto::inbox::Notification;
use rusqlite::Connection;

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

/// The store's figures at `rows_wanted` notifications.
pub fn run(rows_wanted: u64) -> Vec<Row> {
    let repeats = 200;
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("inbox.db");
    let store = Store::open(&path).expect("the store opens");
    let events: Vec<Event> = (1..=rows_wanted)
        .map(|s| Event::Notification(notification(s)))
        .collect();
    for chunk in events.chunks(5_000) {
        store.apply(chunk).expect("stored");
    }
    // The floor: the same file through a bare SQLite connection.
    let raw = Connection::open(&path).expect("raw connection");

    let first_page = Filter {
        limit: 50,
        ..Filter::default()
    };
    let search = Filter {
        text: Some("refund problem number 4242".into()),
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
    let searched = time(repeats / 4, || {
        store.page(&search).expect("search");
    });
    let search_floor = time(repeats / 4, || {
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
    println!(
        "store: {rows_wanted} notifications, {repeats} runs each (search: {})",
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
        Row::timed("store: text search", &searched, &search_floor, 20.0),
    ]
}
