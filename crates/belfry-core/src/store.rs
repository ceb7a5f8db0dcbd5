//! The local store (SQLite, WAL): the inbox cache, the stream position, the
//! server's settings document and the outbox of operations waiting for the
//! server. Opening the inbox reads only this, never the network.

use crate::patch::Patch;
use belfry_proto::catalogue::Category;
use belfry_proto::inbox::Notification;
use belfry_proto::settings::SettingsDocument;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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

type Result<T> = std::result::Result<T, StoreError>;

/// An operation made locally that the server has not confirmed yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Mark these read.
    MarkRead {
        /// Notification ids.
        ids: Vec<String>,
    },
    /// Mark everything up to a sequence read.
    MarkAllRead {
        /// Highest sequence the user saw.
        up_to_seq: u64,
    },
    /// A settings edit.
    Settings {
        /// The changed fields.
        patch: Patch,
    },
}

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

/// How much history to keep. Unread notifications are always kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Retention {
    /// Keep at most this many read notifications.
    pub max_read: u64,
    /// Drop read notifications older than this many days.
    pub max_age_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_read: 100_000,
            max_age_days: 90,
        }
    }
}

/// The store; cheap to clone, all methods blocking (run them off async threads).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
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

fn insert(conn: &Connection, n: &Notification) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO notifications (id, seq, type, category, title, body, link, data, created_at, read_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let n_rows = stmt.execute(params![
        n.id,
        n.seq,
        n.type_id,
        n.category.as_str(),
        n.title,
        n.body,
        n.link,
        serde_json::to_string(&n.data)?,
        ts(n.created_at),
        n.read_at.map(ts),
    ])?;
    Ok(n_rows > 0)
}

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
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
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
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// Sets the stream position (after a resync).
    pub fn set_last_seq(&self, seq: u64) -> Result<()> {
        let conn = self.lock();
        Self::set_meta(&conn, "last_seq", &seq.to_string())
    }

    /// Stores a batch of stream events in one transaction.
    pub fn apply(&self, events: &[Event]) -> Result<Applied> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut out = Applied::default();
        let mut last = Self::meta(&tx, "last_seq")?.and_then(|v| v.parse::<u64>().ok());
        for e in events {
            let seq = match e {
                Event::Notification(n) => {
                    if insert(&tx, n)? {
                        out.new.push(n.clone());
                    }
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
        let tx = conn.transaction()?;
        let mut new = Vec::new();
        for n in items {
            if insert(&tx, n)? {
                new.push(n.clone());
            }
        }
        let local_unread: Vec<String> = {
            let mut stmt = tx.prepare("SELECT id FROM notifications WHERE read_at IS NULL")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let now = ts(Utc::now());
        let mut read = Vec::new();
        for id in local_unread {
            if !server_unread.contains(&id) {
                tx.execute(
                    "UPDATE notifications SET read_at = ?2 WHERE id = ?1",
                    params![id, now],
                )?;
                read.push(id);
            }
        }
        Self::set_meta(&tx, "last_seq", &server_seq.to_string())?;
        tx.commit()?;
        Ok((new, read))
    }

    /// One page, newest first.
    pub fn page(&self, f: &Filter) -> Result<Vec<Notification>> {
        let conn = self.lock();
        let mut sql = String::from("SELECT * FROM notifications WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if f.unread {
            sql.push_str(" AND read_at IS NULL");
        }
        if let Some(c) = f.category {
            args.push(c.as_str().to_owned().into());
            sql.push_str(&format!(" AND category = ?{}", args.len()));
        }
        if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            args.push(format!("%{escaped}%").into());
            let n = args.len();
            sql.push_str(&format!(
                " AND (title LIKE ?{n} ESCAPE '\\' OR body LIKE ?{n} ESCAPE '\\')"
            ));
        }
        if let Some(before) = f.before {
            args.push(i64::try_from(before).unwrap_or(i64::MAX).into());
            sql.push_str(&format!(" AND seq < ?{}", args.len()));
        }
        args.push(i64::from(f.limit.max(1)).into());
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ?{}", args.len()));
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), row_to_notification)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
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
        let tx = conn.transaction()?;
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
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE notifications SET read_at = ?2 WHERE seq <= ?1 AND read_at IS NULL",
            params![up_to_seq, ts(Utc::now())],
        )?;
        push_op(&tx, &Op::MarkAllRead { up_to_seq })?;
        tx.commit()?;
        Ok(n)
    }

    /// Queues an operation.
    pub fn push(&self, op: &Op) -> Result<()> {
        let conn = self.lock();
        push_op(&conn, op)
    }

    /// The oldest queued operation.
    pub fn peek(&self) -> Result<Option<(i64, Op)>> {
        let conn = self.lock();
        let row: Option<(i64, String)> = conn
            .query_row("SELECT id, op FROM outbox ORDER BY id LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(id, op)| Ok((id, serde_json::from_str(&op)?)))
            .transpose()
    }

    /// Every queued operation, oldest first.
    pub fn outbox(&self) -> Result<Vec<(i64, Op)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT id, op FROM outbox ORDER BY id")?;
        let rows: Vec<(i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(id, op)| Ok((id, serde_json::from_str(&op)?)))
            .collect()
    }

    /// Replaces a queued operation (a settings patch that lost refused fields).
    pub fn replace(&self, id: i64, op: &Op) -> Result<()> {
        let conn = self.lock();
        conn.execute(
            "UPDATE outbox SET op = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(op)?],
        )?;
        Ok(())
    }

    /// Removes a confirmed operation.
    pub fn pop(&self, id: i64) -> Result<()> {
        let conn = self.lock();
        conn.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
        Ok(())
    }

    /// The server's settings document as last seen.
    pub fn settings(&self) -> Result<Option<SettingsDocument>> {
        let conn = self.lock();
        Self::meta(&conn, "settings")?
            .map(|v| serde_json::from_str(&v).map_err(StoreError::from))
            .transpose()
    }

    /// Stores the server's settings document.
    pub fn set_settings(&self, doc: &SettingsDocument) -> Result<()> {
        let conn = self.lock();
        Self::set_meta(&conn, "settings", &serde_json::to_string(doc)?)
    }

    /// Drops read notifications beyond the retention; unread ones stay.
    pub fn prune(&self, r: Retention) -> Result<usize> {
        let conn = self.lock();
        let cutoff = ts(Utc::now() - chrono::Duration::days(i64::from(r.max_age_days)));
        let mut n = conn.execute(
            "DELETE FROM notifications WHERE read_at IS NOT NULL AND created_at < ?1",
            [cutoff],
        )?;
        n += conn.execute(
            "DELETE FROM notifications WHERE read_at IS NOT NULL AND seq NOT IN
             (SELECT seq FROM notifications WHERE read_at IS NOT NULL ORDER BY seq DESC LIMIT ?1)",
            [r.max_read],
        )?;
        Ok(n)
    }

    /// SQLite's integrity check ("ok" when sound).
    pub fn integrity_check(&self) -> Result<String> {
        let conn = self.lock();
        Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

fn push_op(conn: &Connection, op: &Op) -> Result<()> {
    conn.execute(
        "INSERT INTO outbox (op, created_at) VALUES (?1, ?2)",
        params![serde_json::to_string(op)?, ts(Utc::now())],
    )?;
    Ok(())
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
}
