//! Belfry's benchmarks (`cargo xtask bench`): each figure measured many
//! times beside its floor, the same work done the barest way in the same
//! run, and printed as one table with the budget. The first figures are
//! the local store's at 100,000 notifications; the rest of the suite
//! (latency to the session bus, memory, bursts, start-up, package size)
//! joins this table as it is written. Not a test: nothing here asserts on
//! time.

// A benchmark binary: it prints its table, and a failed setup ends it.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use belfry_core::store::{Event, Filter, Store};
use belfry_proto::catalogue::Category;
use belfry_proto::inbox::Notification;
use rusqlite::Connection;
use std::time::{Duration, Instant};

/// One measured figure.
struct Row {
    figure: &'static str,
    samples: Vec<Duration>,
    floor: Vec<Duration>,
    budget: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let len = sorted.len();
    if len == 0 {
        return Duration::ZERO;
    }
    let rank = (p * (len - 1) as f64).round();
    sorted[(rank as usize).min(len - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

impl Row {
    fn print(&mut self) {
        self.samples.sort();
        self.floor.sort();
        let median = percentile(&self.samples, 0.5);
        let floor = percentile(&self.floor, 0.5);
        let spread = format!(
            "{}–{}",
            ms(percentile(&self.samples, 0.1)),
            ms(percentile(&self.samples, 0.9))
        );
        let ratio = median.as_secs_f64() / floor.as_secs_f64().max(1e-9);
        let within = if median <= self.budget { "yes" } else { "NO" };
        println!(
            "| {} | {} | {} | {} | {:.2}× | ≤ {} | {} |",
            self.figure,
            ms(median),
            spread,
            ms(floor),
            ratio,
            ms(self.budget),
            within
        );
    }
}

/// Times `f` `n` times (after a few warm-up runs).
fn time(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..3 {
        f();
    }
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

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

fn main() {
    let rows_wanted: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
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
    let mut table = vec![
        Row {
            figure: "store: first page of 50",
            samples: time(repeats, || {
                store.page(&first_page).expect("page");
            }),
            floor: time(repeats, || {
                let mut st = raw
                    .prepare_cached("SELECT * FROM notifications ORDER BY seq DESC LIMIT 50")
                    .expect("prepare");
                let n = st
                    .query_map([], |r| r.get::<_, String>("id"))
                    .expect("query")
                    .count();
                assert_eq!(n, 50);
            }),
            budget: Duration::from_millis(5),
        },
        Row {
            figure: "store: unread count",
            samples: time(repeats, || {
                store.unread().expect("unread");
            }),
            floor: time(repeats, || {
                let _: i64 = raw
                    .prepare_cached("SELECT COUNT(*) FROM notifications WHERE read_at IS NULL")
                    .expect("prepare")
                    .query_row([], |r| r.get(0))
                    .expect("count");
            }),
            budget: Duration::from_millis(1),
        },
        Row {
            figure: "store: text search",
            samples: time(repeats / 4, || {
                store.page(&search).expect("search");
            }),
            floor: time(repeats / 4, || {
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
            }),
            budget: Duration::from_millis(20),
        },
    ];
    println!(
        "Belfry benchmarks: local store with {rows_wanted} notifications, {repeats} runs each (search: {})\n",
        repeats / 4
    );
    println!("| figure | median | p10–p90 | floor (median) | ratio | budget | within |");
    println!("|---|---|---|---|---|---|---|");
    for row in &mut table {
        row.print();
    }
}
