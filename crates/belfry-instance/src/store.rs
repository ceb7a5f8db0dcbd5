//! The instance's persistent state in SQLite (WAL): operators, tokens, the
//! policy, settings, the inbox and each operator's replayable event log.
//!
//! Every write that creates a stream event publishes it to the [`Hub`] while
//! the connection lock is still held, so live frames leave in sequence order.

use crate::hub::{Hub, HubEvent};
use belfry_proto::api::{Availability, Operator, OperatorStatus, Role};
use belfry_proto::catalogue::Category;
use belfry_proto::inbox::{InboxPage, Notification, ReadResult, UnreadCount};
use belfry_proto::settings::{
    self, FieldError, Policy, Preferences, SettingsDocument, SettingsWrite,
};
use belfry_proto::stream::ServerFrame;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (disk full, corrupt file, …).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column did not decode.
    #[error("stored document: {0}")]
    Json(#[from] serde_json::Error),
    /// No such row.
    #[error("not found")]
    NotFound,
    /// A unique value (login) exists already.
    #[error("already exists")]
    Conflict,
    /// A settings write based on an old version.
    #[error("stale settings version")]
    Stale(Box<SettingsDocument>),
    /// A settings write that breaks the policy.
    #[error("settings refused by policy")]
    Policy(Vec<FieldError>, Box<SettingsDocument>),
}

type Result<T> = std::result::Result<T, StoreError>;

/// An authenticated token.
#[derive(Debug, Clone)]
pub struct Session {
    /// Token row id (for revocation).
    pub token_id: i64,
    /// Whose it is.
    pub operator: Operator,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A notification to create.
#[derive(Debug, Clone)]
pub struct NewNotification {
    /// Type id.
    pub type_id: String,
    /// Inbox section.
    pub category: Category,
    /// Title (already length-limited).
    pub title: String,
    /// Body (already length-limited).
    pub body: String,
    /// Absolute link or none.
    pub link: Option<String>,
    /// Extras.
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// Filters for an inbox page.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// Only unread.
    pub unread: bool,
    /// Only this section.
    pub category: Option<Category>,
    /// Text contained in title or body.
    pub text: Option<String>,
    /// Only `seq < before`.
    pub before: Option<u64>,
    /// Page size.
    pub limit: u32,
}

/// Where an operator's event log stands.
#[derive(Debug, Clone, Copy)]
pub struct LogState {
    /// Latest sequence used.
    pub head: u64,
    /// Events up to here were pruned: a client behind this must resync.
    pub pruned_through: u64,
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    hub: Arc<Hub>,
    replay_window: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS operators (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'ready',
    status_since TEXT NOT NULL,
    head_seq INTEGER NOT NULL DEFAULT 0,
    pruned_through INTEGER NOT NULL DEFAULT 0,
    settings_version INTEGER NOT NULL DEFAULT 1,
    preferences TEXT NOT NULL,
    links TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    operator_id INTEGER NOT NULL REFERENCES operators(id),
    token_hash BLOB NOT NULL UNIQUE,
    client TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS policy (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY,
    operator_id INTEGER NOT NULL REFERENCES operators(id),
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT,
    delivered_at TEXT,
    UNIQUE (operator_id, seq)
);
CREATE INDEX IF NOT EXISTS notifications_unread ON notifications (operator_id, seq) WHERE read_at IS NULL;
CREATE TABLE IF NOT EXISTS events (
    operator_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    frame TEXT NOT NULL,
    PRIMARY KEY (operator_id, seq)
) WITHOUT ROWID;
";

/// Schema changes made after the first schema, in order. `PRAGMA
/// user_version` counts how many a database has had, so an old file gains
/// what it lacks on open and a new one runs them all after `SCHEMA`. Never
/// edit one that shipped; add another.
const MIGRATIONS: &[&str] = &[crate::connectors::schema::SOURCES];

fn migrate(conn: &Connection) -> Result<()> {
    let done: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let done = usize::try_from(done).unwrap_or(0);
    for (i, step) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "database schema migrated");
    }
    Ok(())
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::Operator => "operator",
        Role::Admin => "admin",
    }
}

fn status_str(s: Availability) -> &'static str {
    match s {
        Availability::Ready => "ready",
        Availability::NotReady => "not_ready",
        Availability::Away => "away",
    }
}

fn operator_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Operator> {
    let role: String = row.get("role")?;
    Ok(Operator {
        id: row.get("id")?,
        login: row.get("login")?,
        name: row.get("name")?,
        role: if role == "admin" {
            Role::Admin
        } else {
            Role::Operator
        },
    })
}

fn notification_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Notification> {
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

impl Store {
    /// Opens (creating if needed) the database at `path`, or an in-memory
    /// one for `None`. `replay_window` is how many events per operator the
    /// stream can replay before a client must resync over REST.
    pub fn open(path: Option<&Path>, hub: Arc<Hub>, replay_window: u64) -> Result<Self> {
        let conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            hub,
            replay_window: replay_window.max(1),
        })
    }

    /// The connection, for the modules that keep their own tables here
    /// (`connectors`). Held briefly: every store call takes it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The hub this store publishes to.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    // ---- operators and tokens ----

    /// Creates an account with default preferences under the current policy.
    pub fn create_operator(
        &self,
        login: &str,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<Operator> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let policy = load_policy(&tx)?;
        let mut prefs = Preferences::default();
        settings::enforce(&policy, &mut prefs);
        let now = ts(Utc::now());
        let inserted = tx.execute(
            "INSERT INTO operators (login, name, role, password_hash, status_since, preferences, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5)",
            params![login, name, role_str(role), password_hash, now, serde_json::to_string(&prefs)?],
        );
        match inserted {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::Conflict);
            }
            other => other?,
        };
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(Operator {
            id,
            login: login.to_owned(),
            name: name.to_owned(),
            role,
        })
    }

    /// An account and its password hash, by login.
    pub fn operator_by_login(&self, login: &str) -> Result<Option<(Operator, String)>> {
        let conn = self.lock();
        Ok(conn
            .query_row("SELECT * FROM operators WHERE login = ?1", [login], |row| {
                Ok((operator_from_row(row)?, row.get("password_hash")?))
            })
            .optional()?)
    }

    /// Every account.
    pub fn operators(&self) -> Result<Vec<Operator>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT * FROM operators ORDER BY id")?;
        let rows = stmt.query_map([], operator_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores a new token (by hash).
    pub fn insert_token(
        &self,
        operator_id: i64,
        hash: &[u8],
        client: Option<&str>,
        expires_at: DateTime<Utc>,
    ) -> Result<i64> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO tokens (operator_id, token_hash, client, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![operator_id, hash, client, ts(Utc::now()), ts(expires_at)],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// The live session for a token hash: not revoked, not expired.
    pub fn session(&self, hash: &[u8]) -> Result<Option<Session>> {
        let conn = self.lock();
        let now = ts(Utc::now());
        Ok(conn
            .query_row(
                "SELECT o.*, t.id AS token_id, t.expires_at FROM tokens t JOIN operators o ON o.id = t.operator_id
                 WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND t.expires_at > ?2",
                params![hash, now],
                |row| {
                    let expires: String = row.get("expires_at")?;
                    Ok(Session {
                        token_id: row.get("token_id")?,
                        operator: operator_from_row(row)?,
                        expires_at: parse_ts(&expires)?,
                    })
                },
            )
            .optional()?)
    }

    /// Is the token still good (not revoked, not expired)?
    pub fn token_alive(&self, token_id: i64) -> Result<bool> {
        let conn = self.lock();
        let now = ts(Utc::now());
        let alive: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM tokens WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
                params![token_id, now],
                |row| row.get(0),
            )
            .optional()?;
        Ok(alive.is_some())
    }

    /// Revokes a token and closes the streams that use it.
    pub fn revoke_token(&self, operator_id: i64, token_id: i64) -> Result<()> {
        let conn = self.lock();
        conn.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![token_id, ts(Utc::now())],
        )?;
        self.hub
            .publish(operator_id, HubEvent::Revoked { token_id });
        Ok(())
    }

    // ---- status ----

    /// The operator's availability.
    pub fn status(&self, operator_id: i64) -> Result<OperatorStatus> {
        let conn = self.lock();
        load_status(&conn, operator_id)
    }

    /// Sets the availability and tells the operator's streams. The stretch
    /// keeps its start when the status does not change; `since` (the
    /// admin's, from another operator panel) backdates it, never into the
    /// future.
    pub fn set_status(
        &self,
        operator_id: i64,
        status: Availability,
        since: Option<DateTime<Utc>>,
    ) -> Result<OperatorStatus> {
        let conn = self.lock();
        let now = Utc::now();
        let current = load_status(&conn, operator_id)?;
        let since = match since {
            Some(t) => t.min(now),
            None if current.status == status => current.since.unwrap_or(now),
            None => now,
        };
        // What the database keeps (milliseconds) is what everyone is told.
        let since = parse_ts(&ts(since))?;
        let n = conn.execute(
            "UPDATE operators SET status = ?2, status_since = ?3 WHERE id = ?1",
            params![operator_id, status_str(status), ts(since)],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let status = OperatorStatus {
            status,
            since: Some(since),
        };
        self.hub.publish(
            operator_id,
            HubEvent::frame(&ServerFrame::Status { status }),
        );
        Ok(status)
    }

    // ---- policy and settings ----

    /// The instance policy.
    pub fn policy(&self) -> Result<Policy> {
        let conn = self.lock();
        load_policy(&conn)
    }

    /// Replaces the policy, brings every operator's preferences in line with
    /// it and sends each their new document.
    pub fn set_policy(&self, policy: &Policy) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO policy (id, document) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET document = excluded.document",
            [serde_json::to_string(policy)?],
        )?;
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare("SELECT id FROM operators")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut docs = Vec::with_capacity(ids.len());
        for id in ids {
            let mut doc = load_settings(&tx, id, policy)?;
            settings::enforce(policy, &mut doc.preferences);
            doc.version += 1;
            tx.execute(
                "UPDATE operators SET preferences = ?2, settings_version = ?3 WHERE id = ?1",
                params![id, serde_json::to_string(&doc.preferences)?, doc.version],
            )?;
            docs.push((id, doc));
        }
        tx.commit()?;
        for (id, doc) in docs {
            self.publish_settings(id, doc);
        }
        Ok(())
    }

    fn publish_settings(&self, operator_id: i64, document: SettingsDocument) {
        let frame = ServerFrame::Settings {
            document: Box::new(document),
        };
        self.hub.publish(operator_id, HubEvent::frame(&frame));
    }

    /// The operator's settings document.
    pub fn settings(&self, operator_id: i64) -> Result<SettingsDocument> {
        let conn = self.lock();
        let policy = load_policy(&conn)?;
        load_settings(&conn, operator_id, &policy)
    }

    /// Applies a settings write: refused when stale or against policy.
    /// Type rows missing from the write keep their stored values.
    pub fn write_settings(
        &self,
        operator_id: i64,
        write: SettingsWrite,
    ) -> Result<SettingsDocument> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let policy = load_policy(&tx)?;
        let current = load_settings(&tx, operator_id, &policy)?;
        if write.base_version != current.version {
            return Err(StoreError::Stale(Box::new(current)));
        }
        let mut next = write.preferences;
        for (id, row) in &current.preferences.types {
            next.types.entry(id.clone()).or_insert_with(|| row.clone());
        }
        let errors = settings::validate(&policy, &current.preferences, &next);
        if !errors.is_empty() {
            return Err(StoreError::Policy(errors, Box::new(current)));
        }
        if next == current.preferences {
            return Ok(current);
        }
        let doc = SettingsDocument {
            version: current.version + 1,
            preferences: next,
            ..current
        };
        tx.execute(
            "UPDATE operators SET preferences = ?2, settings_version = ?3 WHERE id = ?1",
            params![
                operator_id,
                serde_json::to_string(&doc.preferences)?,
                doc.version
            ],
        )?;
        tx.commit()?;
        self.publish_settings(operator_id, doc.clone());
        Ok(doc)
    }

    /// Sets which bot channels the operator linked (the web profile's job).
    pub fn set_links(
        &self,
        operator_id: i64,
        links: &BTreeMap<String, bool>,
    ) -> Result<SettingsDocument> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let policy = load_policy(&tx)?;
        let mut doc = load_settings(&tx, operator_id, &policy)?;
        doc.links.extend(links.iter().map(|(k, v)| (k.clone(), *v)));
        doc.version += 1;
        tx.execute(
            "UPDATE operators SET links = ?2, settings_version = ?3 WHERE id = ?1",
            params![operator_id, serde_json::to_string(&doc.links)?, doc.version],
        )?;
        tx.commit()?;
        self.publish_settings(operator_id, doc.clone());
        Ok(doc)
    }

    // ---- inbox and event log ----

    /// Stores notifications for an operator, in order, in one transaction,
    /// and streams them.
    pub fn emit(&self, operator_id: i64, batch: Vec<NewNotification>) -> Result<Vec<Notification>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut head = head_seq(&tx, operator_id)?;
        let now = Utc::now();
        let mut out = Vec::with_capacity(batch.len());
        let mut frames = Vec::with_capacity(batch.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO notifications (id, operator_id, seq, type, category, title, body, link, data, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for n in batch {
                head += 1;
                let notification = Notification {
                    id: uuid::Uuid::now_v7().to_string(),
                    seq: head,
                    type_id: n.type_id,
                    category: n.category,
                    title: n.title,
                    body: n.body,
                    link: n.link,
                    created_at: now,
                    read_at: None,
                    data: n.data,
                };
                insert.execute(params![
                    notification.id,
                    operator_id,
                    head,
                    notification.type_id,
                    notification.category.as_str(),
                    notification.title,
                    notification.body,
                    notification.link,
                    serde_json::to_string(&notification.data)?,
                    ts(now),
                ])?;
                let frame = ServerFrame::Notification {
                    seq: head,
                    notification: notification.clone(),
                };
                frames.push(HubEvent::frame(&frame));
                out.push(notification);
            }
        }
        self.append_log(&tx, operator_id, head, &frames)?;
        tx.commit()?;
        for f in frames {
            self.hub.publish(operator_id, f);
        }
        Ok(out)
    }

    /// Writes frames to the event log, moves the head to `head` and prunes
    /// what falls out of the replay window.
    fn append_log(
        &self,
        tx: &Transaction<'_>,
        operator_id: i64,
        head: u64,
        frames: &[HubEvent],
    ) -> Result<()> {
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (operator_id, seq, frame) VALUES (?1, ?2, ?3)",
            )?;
            for f in frames {
                if let HubEvent::Seq { seq, frame } = f {
                    insert.execute(params![operator_id, seq, frame.as_str()])?;
                }
            }
        }
        let prune_through = head.saturating_sub(self.replay_window);
        tx.execute(
            "UPDATE operators SET head_seq = ?2, pruned_through = MAX(pruned_through, ?3) WHERE id = ?1",
            params![operator_id, head, prune_through],
        )?;
        if prune_through > 0 {
            tx.execute(
                "DELETE FROM events WHERE operator_id = ?1 AND seq <= ?2",
                params![operator_id, prune_through],
            )?;
        }
        Ok(())
    }

    /// One page of the inbox, newest first.
    pub fn inbox(&self, operator_id: i64, filter: &InboxFilter) -> Result<InboxPage> {
        let conn = self.lock();
        let head = head_seq(&conn, operator_id)?;
        let mut sql = String::from("SELECT * FROM notifications WHERE operator_id = ?1");
        let mut args: Vec<rusqlite::types::Value> = vec![operator_id.into()];
        if filter.unread {
            sql.push_str(" AND read_at IS NULL");
        }
        if let Some(c) = filter.category {
            args.push(c.as_str().to_owned().into());
            sql.push_str(&format!(" AND category = ?{}", args.len()));
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
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
        if let Some(before) = filter.before {
            args.push(i64::try_from(before).unwrap_or(i64::MAX).into());
            sql.push_str(&format!(" AND seq < ?{}", args.len()));
        }
        let limit = filter.limit.max(1);
        args.push(i64::from(limit + 1).into());
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ?{}", args.len()));
        let mut stmt = conn.prepare(&sql)?;
        let mut items = stmt
            .query_map(rusqlite::params_from_iter(args), notification_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|n| n.seq.to_string())
        } else {
            None
        };
        Ok(InboxPage {
            items,
            next_cursor,
            server_seq: head,
        })
    }

    /// One notification of the operator.
    pub fn notification(
        &self,
        operator_id: i64,
        id: &str,
    ) -> Result<(Notification, Option<DateTime<Utc>>)> {
        let conn = self.lock();
        conn.query_row(
            "SELECT * FROM notifications WHERE operator_id = ?1 AND id = ?2",
            params![operator_id, id],
            |row| {
                let delivered: Option<String> = row.get("delivered_at")?;
                Ok((
                    notification_from_row(row)?,
                    delivered.as_deref().map(parse_ts).transpose()?,
                ))
            },
        )
        .optional()?
        .ok_or(StoreError::NotFound)
    }

    /// Unread counts.
    pub fn unread(&self, operator_id: i64) -> Result<UnreadCount> {
        let conn = self.lock();
        unread(&conn, operator_id)
    }

    /// Marks notifications read; a `read` event for those that changed.
    pub fn mark_read(&self, operator_id: i64, ids: &[String]) -> Result<ReadResult> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let now = Utc::now();
        let mut marked = Vec::new();
        {
            let mut update = tx.prepare_cached(
                "UPDATE notifications SET read_at = ?3 WHERE operator_id = ?1 AND id = ?2 AND read_at IS NULL",
            )?;
            for id in ids {
                if update.execute(params![operator_id, id, ts(now)])? > 0 && !marked.contains(id) {
                    marked.push(id.clone());
                }
            }
        }
        let seq = if marked.is_empty() {
            None
        } else {
            let head = head_seq(&tx, operator_id)? + 1;
            let frame = HubEvent::frame(&ServerFrame::Read {
                seq: head,
                ids: marked.clone(),
                read_at: now,
            });
            self.append_log(&tx, operator_id, head, std::slice::from_ref(&frame))?;
            Some((head, frame))
        };
        let count = unread(&tx, operator_id)?;
        tx.commit()?;
        let seq = seq.map(|(s, frame)| {
            self.hub.publish(operator_id, frame);
            s
        });
        Ok(ReadResult {
            marked,
            unread: count.unread,
            seq,
        })
    }

    /// Marks everything up to `up_to` (or everything) read.
    pub fn mark_all_read(&self, operator_id: i64, up_to: Option<u64>) -> Result<ReadResult> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let now = Utc::now();
        let head = head_seq(&tx, operator_id)?;
        let up_to = up_to.unwrap_or(head).min(head);
        let changed = tx.execute(
            "UPDATE notifications SET read_at = ?3 WHERE operator_id = ?1 AND seq <= ?2 AND read_at IS NULL",
            params![operator_id, up_to, ts(now)],
        )?;
        let seq = if changed == 0 {
            None
        } else {
            let seq = head + 1;
            let frame = HubEvent::frame(&ServerFrame::ReadAll {
                seq,
                up_to_seq: up_to,
                read_at: now,
            });
            self.append_log(&tx, operator_id, seq, std::slice::from_ref(&frame))?;
            Some((seq, frame))
        };
        let count = unread(&tx, operator_id)?;
        tx.commit()?;
        let seq = seq.map(|(s, frame)| {
            self.hub.publish(operator_id, frame);
            s
        });
        Ok(ReadResult {
            marked: Vec::new(),
            unread: count.unread,
            seq,
        })
    }

    /// Records that the operator's desktop showed these notifications.
    pub fn acknowledge(&self, operator_id: i64, ids: &[String]) -> Result<usize> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let now = ts(Utc::now());
        let mut n = 0;
        {
            let mut update = tx.prepare_cached(
                "UPDATE notifications SET delivered_at = ?3 WHERE operator_id = ?1 AND id = ?2 AND delivered_at IS NULL",
            )?;
            for id in ids {
                n += update.execute(params![operator_id, id, now])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Where the operator's log stands.
    pub fn log_state(&self, operator_id: i64) -> Result<LogState> {
        let conn = self.lock();
        conn.query_row(
            "SELECT head_seq, pruned_through FROM operators WHERE id = ?1",
            [operator_id],
            |r| {
                Ok(LogState {
                    head: r.get(0)?,
                    pruned_through: r.get(1)?,
                })
            },
        )
        .optional()?
        .ok_or(StoreError::NotFound)
    }

    /// Up to `limit` logged frames after `after`, oldest first.
    pub fn replay(&self, operator_id: i64, after: u64, limit: u32) -> Result<Vec<(u64, String)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, frame FROM events WHERE operator_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![operator_id, after, limit], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Runs SQLite's integrity check (used by tests and `--check`).
    pub fn integrity_check(&self) -> Result<String> {
        let conn = self.lock();
        Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

fn head_seq(conn: &Connection, operator_id: i64) -> Result<u64> {
    conn.query_row(
        "SELECT head_seq FROM operators WHERE id = ?1",
        [operator_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

fn load_policy(conn: &Connection) -> Result<Policy> {
    let doc: Option<String> = conn
        .query_row("SELECT document FROM policy WHERE id = 1", [], |r| r.get(0))
        .optional()?;
    Ok(match doc {
        Some(d) => serde_json::from_str(&d)?,
        None => Policy::default(),
    })
}

fn load_settings(conn: &Connection, operator_id: i64, policy: &Policy) -> Result<SettingsDocument> {
    let (version, prefs, links): (u64, String, String) = conn
        .query_row(
            "SELECT settings_version, preferences, links FROM operators WHERE id = ?1",
            [operator_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    Ok(SettingsDocument {
        version,
        policy: policy.clone(),
        links: serde_json::from_str(&links)?,
        preferences: serde_json::from_str(&prefs)?,
    })
}

fn load_status(conn: &Connection, operator_id: i64) -> Result<OperatorStatus> {
    let (status, since): (String, String) = conn
        .query_row(
            "SELECT status, status_since FROM operators WHERE id = ?1",
            [operator_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let status = match status.as_str() {
        "not_ready" => Availability::NotReady,
        "away" => Availability::Away,
        _ => Availability::Ready,
    };
    Ok(OperatorStatus {
        status,
        since: Some(parse_ts(&since)?),
    })
}

fn unread(conn: &Connection, operator_id: i64) -> Result<UnreadCount> {
    let head = head_seq(conn, operator_id)?;
    let (events, system): (u64, u64) = conn.query_row(
        "SELECT COALESCE(SUM(category = 'events'), 0), COALESCE(SUM(category = 'system'), 0)
         FROM notifications WHERE operator_id = ?1 AND read_at IS NULL",
        [operator_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(UnreadCount {
        unread: events + system,
        events,
        system,
        server_seq: head,
    })
}
