//! The local store (SQLite, WAL): the inbox cache, the stream position, the
//! server's settings document and the outbox of operations waiting for the
//! server. Opening the inbox reads only this, never the network.
//!
//! Here: the store itself, its schema and the inbox (storing the stream's
//! events and snapshots, pages, unread counts, marks). Apart, by idea:
//! [`search`] (text search), [`outbox`], [`settings`] (the server's
//! document) and [`housekeeping`] (memory, checkpoints, retention).

use crate::patch::Patch;
use belfry_proto::catalogue::Category;
use belfry_proto::inbox::Notification;
use belfry_proto::settings::SettingsDocument;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::Value;
use rusqlite::{
    Connection, OptionalExtension, Transaction, TransactionBehavior, params, params_from_iter,
};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

mod housekeeping;
mod outbox;
mod search;
mod settings;

pub use housekeeping::Retention;
use housekeeping::Use;
pub use outbox::Op;
use outbox::push_op;
use search::{indexed, register_functions, scan, search, shown};

/// What can go wrong in the local store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed: disk full, read-only directory, corrupt file.
    #[error("local database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON value did not decode.
    #[error("local database value: {0}")]
    Json(#[from] serde_json::Error),
    /// The worker running the query died.
    #[error("local database worker: {0}")]
    Task(String),
}

impl StoreError {
    /// The disk (or the user's quota) is full: nothing is written until
    /// space is freed.
    pub fn disk_full(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DiskFull
        )
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// A stream event to store.
#[derive(Debug, Clone)]
pub enum Event {
    /// A notification.
    Notification(Notification),
    /// Notifications read elsewhere.
    Read {
        /// Stream position.
        seq: u64,
        /// Ids.
        ids: Vec<String>,
        /// When.
        read_at: DateTime<Utc>,
    },
    /// Everything up to a sequence read elsewhere.
    ReadAll {
        /// Stream position.
        seq: u64,
        /// Up to here.
        up_to_seq: u64,
        /// When.
        read_at: DateTime<Utc>,
    },
}

/// What storing a batch changed.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Notifications that were new (duplicates by id are dropped).
    pub new: Vec<Notification>,
    /// Ids that went from unread to read.
    pub read: Vec<String>,
    /// A read-all reached this sequence.
    pub read_all: Option<u64>,
    /// The stream position after the batch.
    pub last_seq: Option<u64>,
}

/// Filters for a page of the local inbox.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only unread.
    pub unread: bool,
    /// Only one section.
    pub category: Option<Category>,
    /// Text in the title or body.
    pub text: Option<String>,
    /// Only `seq < before`.
    pub before: Option<u64>,
    /// Page size.
    pub limit: u32,
}

/// Unread counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Unread {
    /// All.
    pub total: u64,
    /// In the events section.
    pub events: u64,
    /// In the system section.
    pub system: u64,
}

/// The store; cheap to clone, all methods blocking (run them off async threads).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    use_: Arc<Use>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT
);
CREATE INDEX IF NOT EXISTS notifications_seq ON notifications (seq);
CREATE INDEX IF NOT EXISTS notifications_unread ON notifications (seq) WHERE read_at IS NULL;
-- The unread count per section, kept by triggers: the tray and the window
-- ask after every change, and counting scanned the table (the benchmark
-- found 21 ms at 100,000 notifications; 1.5 ms even through an index).
CREATE TABLE IF NOT EXISTS unread_counts (category TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS unread_on_insert AFTER INSERT ON notifications
WHEN NEW.read_at IS NULL BEGIN
    INSERT INTO unread_counts (category, n) VALUES (NEW.category, 1)
    ON CONFLICT (category) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS unread_on_read AFTER UPDATE OF read_at ON notifications
WHEN OLD.read_at IS NULL AND NEW.read_at IS NOT NULL BEGIN
    UPDATE unread_counts SET n = n - 1 WHERE category = OLD.category;
END;
CREATE TRIGGER IF NOT EXISTS unread_on_unread AFTER UPDATE OF read_at ON notifications
WHEN OLD.read_at IS NOT NULL AND NEW.read_at IS NULL BEGIN
    INSERT INTO unread_counts (category, n) VALUES (NEW.category, 1)
    ON CONFLICT (category) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS unread_on_delete AFTER DELETE ON notifications
WHEN OLD.read_at IS NULL BEGIN
    UPDATE unread_counts SET n = n - 1 WHERE category = OLD.category;
END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, created_at TEXT NOT NULL);
";

/// A write transaction that takes the write lock at its start, where the
/// busy timeout applies: a deferred one reads first, and when another
/// program holds the database then (a backup tool, a second copy), its
/// upgrade to a write fails at once instead of waiting, and the events
/// would go unsaved for a lock held a moment.
fn write(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn row_to_notification(row: &rusqlite::Row<'_>) -> rusqlite::Result<Notification> {
    let category: String = row.get("category")?;
    let data: String = row.get("data")?;
    let created: String = row.get("created_at")?;
    let read: Option<String> = row.get("read_at")?;
    Ok(Notification {
        id: row.get("id")?,
        seq: row.get("seq")?,
        type_id: row.get("type")?,
        category: Category::from_name(&category),
        title: row.get("title")?,
        body: row.get("body")?,
        link: row.get("link")?,
        created_at: parse_ts(&created)?,
        read_at: read.as_deref().map(parse_ts).transpose()?,
        data: serde_json::from_str(&data).unwrap_or_default(),
    })
}

/// Rows per `INSERT`. FTS5 writes its pending index out at the start of
/// every statement that touches it: a statement per row (through the
/// trigger) took a burst of 10,000 from 0.35 s to 0.9 s, and filling
/// 100,000 from 3.5 s to 6.7 s.
const INSERT_CHUNK: usize = 500;

/// Stores what is new (by id; the first of a repeated id wins) and returns
/// the ids stored.
fn insert_all(conn: &Connection, notes: &[&Notification]) -> Result<HashSet<String>> {
    let mut stored = HashSet::new();
    for chunk in notes.chunks(INSERT_CHUNK) {
        let sql = format!(
            "INSERT OR IGNORE INTO notifications
                 (id, seq, type, category, title, body, link, data, created_at, read_at)
             VALUES {} RETURNING id",
            vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut args: Vec<Value> = Vec::with_capacity(chunk.len() * 10);
        for n in chunk {
            let seq = i64::try_from(n.seq)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            args.extend([
                n.id.clone().into(),
                seq.into(),
                n.type_id.clone().into(),
                n.category.as_str().to_owned().into(),
                n.title.clone().into(),
                n.body.clone().into(),
                n.link.clone().into(),
                serde_json::to_string(&n.data)?.into(),
                ts(n.created_at).into(),
                n.read_at.map(ts).into(),
            ]);
        }
        let mut stmt = conn.prepare_cached(&sql)?;
        let ids = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?;
        for id in ids {
            stored.insert(id?);
        }
    }
    Ok(stored)
}

/// Stores a run of notifications, adding the new ones to `new` in order.
fn store_run(
    conn: &Connection,
    run: &mut Vec<&Notification>,
    new: &mut Vec<Notification>,
) -> Result<()> {
    let mut stored = insert_all(conn, run)?;
    new.extend(
        run.drain(..)
            .filter(|n| stored.remove(&n.id))
            .map(Notification::clone),
    );
    Ok(())
}

fn finish_snapshot(
    tx: &Connection,
    server_unread: Option<&HashSet<String>>,
    server_seq: u64,
) -> Result<Vec<String>> {
    let mut read = Vec::new();
    if let Some(server_unread) = server_unread {
        let local_unread: Vec<String> = {
            let mut stmt = tx.prepare("SELECT id FROM notifications WHERE read_at IS NULL")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let now = ts(Utc::now());
        for id in local_unread {
            if !server_unread.contains(&id) {
                tx.execute(
                    "UPDATE notifications SET read_at = ?2 WHERE id = ?1",
                    params![id, now],
                )?;
                read.push(id);
            }
        }
    }
    Store::set_meta(tx, "last_seq", &server_seq.to_string())?;
    Ok(read)
}

/// SQLite's page cache per store, in KiB (see `Store::setup`).
const CACHE_KIB: i64 = 512;

impl Store {
    /// Opens (creating) the store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::setup(Connection::open(path)?)
    }

    /// A store in memory (tests, and the fallback when the disk refuses).
    pub fn in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // SQLite's page cache is this process's memory and grows to its
        // limit as the inbox is read and written (2 MB by default, most of
        // an idle app's heap). The file's pages stay in the OS's cache, so
        // a smaller one costs a read from memory, not from the disk: the
        // store's benchmarks hold their budgets by a wide margin with it.
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        register_functions(&conn)?;
        conn.execute_batch(SCHEMA)?;
        // A store made before the counts were kept: count once.
        if Self::meta(&conn, "unread_counts")?.is_none() {
            conn.execute_batch(
                "BEGIN;
                 DELETE FROM unread_counts;
                 INSERT INTO unread_counts (category, n)
                     SELECT category, COUNT(*) FROM notifications WHERE read_at IS NULL GROUP BY category;
                 INSERT INTO meta (key, value) VALUES ('unread_counts', '1');
                 COMMIT;",
            )?;
        }
        search::migrate(&conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            use_: Arc::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        // Under the lock, as `release_memory` clears it: a use is never lost
        // between a release and the watch.
        self.use_.recent.store(true, Ordering::Relaxed);
        if !self.use_.held.swap(true, Ordering::AcqRel) {
            self.use_.first.notify_one();
        }
        conn
    }

    fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The last stream sequence applied, or `None` before the first sync.
    pub fn last_seq(&self) -> Result<Option<u64>> {
        let conn = self.lock();
        Ok(Self::meta(&conn, "last_seq")?.and_then(|v| v.parse().ok()))
    }

    /// Fails unless the store takes writes (after disk full or a read-only
    /// directory): writes a probe row, which needs a page on disk.
    pub fn writable(&self) -> Result<()> {
        let conn = self.lock();
        Self::set_meta(&conn, "write_probe", &Utc::now().to_rfc3339())
    }

    /// Sets the stream position (after a resync).
    pub fn set_last_seq(&self, seq: u64) -> Result<()> {
        let conn = self.lock();
        Self::set_meta(&conn, "last_seq", &seq.to_string())
    }

    /// Stores a batch of stream events in one transaction.
    pub fn apply(&self, events: &[Event]) -> Result<Applied> {
        let mut conn = self.lock();
        self.wrote(events.len());
        let tx = write(&mut conn)?;
        let mut out = Applied::default();
        let mut last = Self::meta(&tx, "last_seq")?.and_then(|v| v.parse::<u64>().ok());
        // Notifications in a row are stored together, before a read that
        // may name them.
        let mut run = Vec::new();
        for e in events {
            if !matches!(e, Event::Notification(_)) {
                store_run(&tx, &mut run, &mut out.new)?;
            }
            let seq = match e {
                Event::Notification(n) => {
                    run.push(n);
                    n.seq
                }
                Event::Read { seq, ids, read_at } => {
                    let mut stmt = tx.prepare_cached(
                        "UPDATE notifications SET read_at = ?2 WHERE id = ?1 AND read_at IS NULL",
                    )?;
                    for id in ids {
                        if stmt.execute(params![id, ts(*read_at)])? > 0 {
                            out.read.push(id.clone());
                        }
                    }
                    *seq
                }
                Event::ReadAll {
                    seq,
                    up_to_seq,
                    read_at,
                } => {
                    tx.execute(
                        "UPDATE notifications SET read_at = ?2 WHERE seq <= ?1 AND read_at IS NULL",
                        params![up_to_seq, ts(*read_at)],
                    )?;
                    out.read_all = Some(out.read_all.map_or(*up_to_seq, |u| u.max(*up_to_seq)));
                    *seq
                }
            };
            last = Some(last.map_or(seq, |l| l.max(seq)));
        }
        store_run(&tx, &mut run, &mut out.new)?;
        if let Some(l) = last {
            Self::set_meta(&tx, "last_seq", &l.to_string())?;
        }
        tx.commit()?;
        out.last_seq = last;
        Ok(out)
    }

    /// Merges a REST snapshot (a resync): new items are added, and every
    /// local unread notification the server no longer lists as unread is
    /// marked read. Returns the new items and the ids that became read.
    pub fn merge_snapshot(
        &self,
        items: &[Notification],
        server_unread: &HashSet<String>,
        server_seq: u64,
    ) -> Result<(Vec<Notification>, Vec<String>)> {
        let mut conn = self.lock();
        self.wrote(items.len());
        let tx = write(&mut conn)?;
        let mut new = Vec::new();
        store_run(&tx, &mut items.iter().collect(), &mut new)?;
        let read = finish_snapshot(&tx, Some(server_unread), server_seq)?;
        tx.commit()?;
        Ok((new, read))
    }

    /// Stores one page of a resync (the new items, returned); the stream
    /// position stays, so an interrupted resync leaves nothing skipped.
    pub fn add_snapshot_page(&self, items: &[Notification]) -> Result<Vec<Notification>> {
        let mut conn = self.lock();
        let tx = write(&mut conn)?;
        let mut new = Vec::new();
        store_run(&tx, &mut items.iter().collect(), &mut new)?;
        tx.commit()?;
        Ok(new)
    }

    /// Ends a resync whose pages are stored: with the server's whole unread
    /// set, marks read what it no longer lists (`None` when the set was too
    /// large to read whole: no local read state is guessed); then moves the
    /// stream position to `server_seq`. Returns the ids that became read.
    pub fn finish_snapshot(
        &self,
        server_unread: Option<&HashSet<String>>,
        server_seq: u64,
    ) -> Result<Vec<String>> {
        let mut conn = self.lock();
        let tx = write(&mut conn)?;
        let read = finish_snapshot(&tx, server_unread, server_seq)?;
        tx.commit()?;
        Ok(read)
    }

    /// One page, newest first.
    pub fn page(&self, f: &Filter) -> Result<Vec<Notification>> {
        let conn = self.lock();
        // The text as the rows show it: what the user typed or pasted may
        // hold characters no row draws (and nothing but them is no text).
        let text = f.text.as_deref().map(shown).filter(|t| !t.is_empty());
        match text.as_deref() {
            Some(text) if indexed(text) => search(&conn, f, text),
            text => scan(&conn, f, text),
        }
    }

    /// The highest sequence stored (what "mark all read" covers).
    pub fn max_seq(&self) -> Result<Option<u64>> {
        let conn = self.lock();
        Ok(conn.query_row("SELECT MAX(seq) FROM notifications", [], |r| r.get(0))?)
    }

    /// Every stored notification id with its sequence, oldest first (tests, checks).
    pub fn all_ids(&self) -> Result<Vec<(u64, String)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT seq, id FROM notifications ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Unread counts.
    pub fn unread(&self) -> Result<Unread> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT category, n FROM unread_counts")?;
        let (mut events, mut system) = (0u64, 0u64);
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
        for row in rows {
            let (category, n) = row?;
            match Category::from_name(&category) {
                Category::System => system += n,
                _ => events += n,
            }
        }
        Ok(Unread {
            total: events + system,
            events,
            system,
        })
    }

    /// One notification by id.
    pub fn get(&self, id: &str) -> Result<Option<Notification>> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT * FROM notifications WHERE id = ?1",
                [id],
                row_to_notification,
            )
            .optional()?)
    }

    /// Is the notification read (or unknown)?
    pub fn is_read(&self, id: &str) -> Result<bool> {
        let conn = self.lock();
        let unread: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM notifications WHERE id = ?1 AND read_at IS NULL",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(unread.is_none())
    }

    /// Marks read locally and queues the operation for the server, in one
    /// transaction. Returns the ids that changed.
    pub fn mark_read(&self, ids: &[String]) -> Result<Vec<String>> {
        let mut conn = self.lock();
        self.wrote(ids.len());
        let tx = write(&mut conn)?;
        let now = ts(Utc::now());
        let mut changed = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE notifications SET read_at = ?2 WHERE id = ?1 AND read_at IS NULL",
            )?;
            for id in ids {
                if stmt.execute(params![id, now])? > 0 {
                    changed.push(id.clone());
                }
            }
        }
        if !changed.is_empty() {
            push_op(
                &tx,
                &Op::MarkRead {
                    ids: changed.clone(),
                },
            )?;
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Marks everything up to `up_to_seq` read locally and queues it.
    pub fn mark_all_read(&self, up_to_seq: u64) -> Result<usize> {
        let mut conn = self.lock();
        let tx = write(&mut conn)?;
        let n = tx.execute(
            "UPDATE notifications SET read_at = ?2 WHERE seq <= ?1 AND read_at IS NULL",
            params![up_to_seq, ts(Utc::now())],
        )?;
        push_op(&tx, &Op::MarkAllRead { up_to_seq })?;
        tx.commit()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(seq: u64) -> Notification {
        Notification {
            id: format!("id{seq}"),
            seq,
            type_id: "ticket_created".into(),
            category: Category::Events,
            title: format!("t{seq}"),
            body: String::new(),
            link: None,
            created_at: Utc::now(),
            read_at: None,
            data: Default::default(),
        }
    }

    #[test]
    fn duplicates_are_dropped_and_reads_apply() {
        let s = Store::in_memory().unwrap();
        let a = s
            .apply(&[Event::Notification(n(1)), Event::Notification(n(2))])
            .unwrap();
        assert_eq!(a.new.len(), 2);
        let a = s
            .apply(&[
                Event::Notification(n(2)),
                Event::Read {
                    seq: 3,
                    ids: vec!["id1".into(), "nope".into()],
                    read_at: Utc::now(),
                },
            ])
            .unwrap();
        assert!(a.new.is_empty());
        assert_eq!(a.read, vec!["id1".to_owned()]);
        assert_eq!(s.last_seq().unwrap(), Some(3));
        assert_eq!(s.unread().unwrap().total, 1);
    }

    #[test]
    fn a_batch_stores_in_order_in_chunks() {
        let s = Store::in_memory().unwrap();
        let mut again = n(1);
        again.title = "the second one".into();
        let mut events = vec![
            Event::Notification(n(1)),
            Event::Notification(n(2)),
            Event::Notification(again),
            Event::Read {
                seq: 3,
                ids: vec!["id2".into()],
                read_at: Utc::now(),
            },
        ];
        events.extend((4..=4 + 2 * INSERT_CHUNK as u64).map(|i| Event::Notification(n(i))));
        events.push(Event::Notification(n(5)));
        let a = s.apply(&events).unwrap();
        let new: Vec<u64> = a.new.iter().map(|n| n.seq).collect();
        let mut want = vec![1, 2];
        want.extend(4..=4 + 2 * INSERT_CHUNK as u64);
        assert_eq!(new, want);
        assert_eq!(a.read, vec!["id2".to_owned()]);
        assert_eq!(s.get("id1").unwrap().unwrap().title, "t1");
        assert_eq!(s.unread().unwrap().total, want.len() as u64 - 1);
        let (items, _) = s
            .merge_snapshot(&[n(2), n(9000), n(9001), n(9000)], &HashSet::new(), 9001)
            .unwrap();
        assert_eq!(
            items.iter().map(|n| n.seq).collect::<Vec<_>>(),
            vec![9000, 9001]
        );
    }

    #[test]
    fn marks_queue_in_order_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.db");
        {
            let s = Store::open(&path).unwrap();
            s.apply(&[Event::Notification(n(1)), Event::Notification(n(2))])
                .unwrap();
            s.mark_read(&["id2".into()]).unwrap();
            s.mark_all_read(2).unwrap();
        }
        let s = Store::open(&path).unwrap();
        let ops: Vec<Op> = s.outbox().unwrap().into_iter().map(|(_, op)| op).collect();
        assert_eq!(
            ops,
            vec![
                Op::MarkRead {
                    ids: vec!["id2".into()]
                },
                Op::MarkAllRead { up_to_seq: 2 }
            ]
        );
        assert_eq!(s.unread().unwrap().total, 0);
        assert_eq!(s.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn retention_keeps_unread() {
        let s = Store::in_memory().unwrap();
        let events: Vec<Event> = (1..=10).map(|i| Event::Notification(n(i))).collect();
        s.apply(&events).unwrap();
        s.mark_read(&(1..=8).map(|i| format!("id{i}")).collect::<Vec<_>>())
            .unwrap();
        let dropped = s
            .prune(Retention {
                max_read: 3,
                max_age_days: 30,
            })
            .unwrap();
        assert_eq!(dropped, 5);
        let left: Vec<u64> = s
            .all_ids()
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(left, vec![6, 7, 8, 9, 10]);
    }

    /// The kept counts against a fresh count of the rows.
    fn counted(s: &Store) -> (Unread, Unread) {
        let kept = s.unread().unwrap();
        let conn = s.lock();
        let (events, system): (u64, u64) = conn
            .query_row(
                "SELECT COALESCE(SUM(category = 'events'), 0), COALESCE(SUM(category = 'system'), 0)
                 FROM notifications WHERE read_at IS NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let fresh = Unread {
            total: events + system,
            events,
            system,
        };
        (kept, fresh)
    }

    #[test]
    fn the_kept_unread_counts_match_the_rows_through_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.db");
        let s = Store::open(&path).unwrap();
        let mut system = n(3);
        system.category = Category::System;
        let mut already_read = n(4);
        already_read.read_at = Some(Utc::now());
        let events: Vec<Event> = [n(1), n(2), system, already_read, n(5), n(6)]
            .into_iter()
            .map(Event::Notification)
            .collect();
        s.apply(&events).unwrap();
        s.apply(&events).unwrap(); // duplicates change nothing
        let (kept, fresh) = counted(&s);
        assert_eq!(kept, fresh);
        assert_eq!((kept.events, kept.system), (4, 1));
        s.mark_read(&["id1".into(), "id3".into(), "id1".into()])
            .unwrap();
        assert_eq!(counted(&s).0, counted(&s).1);
        s.mark_all_read(5).unwrap();
        assert_eq!(counted(&s).0.total, 1);
        // A resync: a new item, and the server's unread set reads the rest.
        s.merge_snapshot(&[n(7)], &HashSet::from(["id7".to_owned()]), 7)
            .unwrap();
        assert_eq!(counted(&s).0.total, 1);
        let (kept, fresh) = counted(&s);
        assert_eq!(kept, fresh);
        s.prune(Retention {
            max_read: 0,
            max_age_days: 30,
        })
        .unwrap();
        let (kept, fresh) = counted(&s);
        assert_eq!(kept, fresh);
        drop(s);
        // A store from before the counts were kept is counted once on open.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "DELETE FROM meta WHERE key = 'unread_counts'; DELETE FROM unread_counts;",
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let (kept, fresh) = counted(&s);
        assert_eq!(kept, fresh);
        assert!(kept.total > 0);
    }

    #[test]
    fn once_the_engine_takes_checkpoints_over_no_commit_makes_one() {
        let dir = tempfile::tempdir().unwrap();
        // The same 200 one-event commits (about 2,600 pages of log) with
        // SQLite checkpointing and with the engine doing it.
        let log_left = |deferred: bool| {
            let s = Store::open(&dir.path().join(format!("{deferred}.db"))).unwrap();
            if deferred {
                s.defer_checkpoints().unwrap();
            }
            for i in 1..=200 {
                s.apply(&[Event::Notification(n(i))]).unwrap();
            }
            let due = s.checkpoint_due();
            let copied = s.checkpoint().unwrap();
            assert!(!s.checkpoint_due());
            (due, copied)
        };
        let (due, sqlite) = log_left(false);
        assert!(!due, "nothing is due while SQLite checkpoints");
        assert!(
            sqlite < 1000,
            "SQLite checkpointed at 1,000 pages: {sqlite} left"
        );
        let (due, engine) = log_left(true);
        assert!(due);
        assert!(engine > 1000, "every page waited for the engine: {engine}");
    }

    static AFTER: AtomicU64 = AtomicU64::new(0);

    fn after() {
        AFTER.fetch_add(1, Ordering::Relaxed);
    }

    #[tokio::test(start_paused = true)]
    async fn the_page_cache_goes_back_each_time_the_store_is_left_alone() {
        let s = Store::in_memory().unwrap();
        s.apply(&[Event::Notification(n(1)), Event::Notification(n(2))])
            .unwrap();
        let idle = std::time::Duration::from_secs(20);
        let watch = {
            let s = s.clone();
            tokio::spawn(async move { s.release_when_idle(idle, Some(after)).await })
        };
        // Read every 10 s for a minute: never quiet for 20 s, kept.
        for _ in 0..6 {
            tokio::time::sleep(idle / 2).await;
            assert_eq!(s.unread().unwrap().total, 2);
        }
        assert_eq!(s.releases(), 0);
        // Left alone: given back once, the allocator told, and then nothing
        // more while nobody uses it.
        tokio::time::sleep(idle * 10).await;
        assert_eq!(s.releases(), 1);
        assert_eq!(AFTER.load(Ordering::Relaxed), 1);
        // Used again, it reads what it holds, and gives it back once quiet.
        let all = Filter {
            limit: 50,
            ..Filter::default()
        };
        assert_eq!(s.page(&all).unwrap().len(), 2);
        tokio::time::sleep(idle * 3).await;
        assert_eq!(s.releases(), 2);
        assert_eq!(AFTER.load(Ordering::Relaxed), 2);
        watch.abort();
    }
}
