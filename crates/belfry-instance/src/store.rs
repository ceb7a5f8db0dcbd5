//! The instance's persistent state, in SQLite (WAL) or PostgreSQL (see
//! `db.rs`): operators, tokens, the policy, settings, the inbox and each
//! operator's replayable event log.
//!
//! Every write that creates a stream event publishes it to the [`Hub`] while
//! its connection is still held: on SQLite (one connection) live frames
//! leave in sequence order. PostgreSQL has [`POSTGRES_CONNECTIONS`] per
//! node and other nodes beside, so a frame may overtake an earlier one;
//! streams then fill the gap from the log and skip the late one
//! (`stream.rs`). Each write also notifies the other nodes (`relay.rs`) in
//! its transaction.

use crate::db::{Db, DbError, Migration, Row, params};
use crate::hub::{Hub, HubEvent};
use belfry_proto::api::{Availability, Operator, OperatorStatus, Role};
use belfry_proto::catalogue::Category;
use belfry_proto::inbox::{InboxPage, Notification, ReadResult, UnreadCount};
use belfry_proto::settings::{
    self, FieldError, Policy, Preferences, SettingsDocument, SettingsWrite,
};
use belfry_proto::stream::ServerFrame;
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (disk full, corrupt file, connection lost, …).
    #[error("database: {0}")]
    Db(#[from] DbError),
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
    conns: Arc<Pool>,
    hub: Arc<Hub>,
    replay_window: u64,
    /// This node's name in the notifies it sends, so its relay skips its own.
    node: Arc<str>,
}

/// Connections a node keeps to PostgreSQL: requests that wait on another
/// node's row lock do not hold up the rest. (SQLite keeps one: its writes
/// are one at a time anyway.)
pub const POSTGRES_CONNECTIONS: usize = 4;

/// Values per `IN (…)` list: far below SQLite's 32,766 parameters and
/// short enough to plan quickly.
const IN_LIST: usize = 500;

/// `?from, ?from+1, …` for `n` parameters.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the store's connections show in `pg_stat_activity`.
const APPLICATION: &str = "belfry-instance";

struct Pool {
    slots: Vec<Mutex<Db>>,
    /// Where the next search for a free connection starts.
    next: AtomicUsize,
}

/// One of the store's connections, held; derefs to it.
pub(crate) struct Conn<'a> {
    guard: MutexGuard<'a, Db>,
    slot: usize,
}

impl<'a> Conn<'a> {
    fn ready(mut guard: MutexGuard<'a, Db>, slot: usize) -> Self {
        guard.heal();
        Self { guard, slot }
    }

    /// Which connection this is (see [`Store::lock_slot`]).
    pub(crate) fn slot(&self) -> usize {
        self.slot
    }
}

impl std::ops::Deref for Conn<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.guard
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Db {
        &mut self.guard
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.into())
    }
}

/// The schema, SQLite's spelling and PostgreSQL's, step by step (see
/// [`crate::db::migrate`]). Never edit one that shipped; add another.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "base",
        sqlite: SQLITE_BASE,
        postgres: POSTGRES_BASE,
    },
    Migration {
        name: "sources",
        sqlite: crate::connectors::schema::SOURCES,
        postgres: crate::connectors::schema::SOURCES_POSTGRES,
    },
];

const SQLITE_BASE: &str = "
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

/// The same tables on PostgreSQL: BIGINT ids and counters, BYTEA for
/// hashes, and timestamps as the same RFC 3339 text, compared byte-wise
/// (`COLLATE "C"`) whatever the database's locale.
const POSTGRES_BASE: &str = r#"
CREATE TABLE operators (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'ready',
    status_since TEXT COLLATE "C" NOT NULL,
    head_seq BIGINT NOT NULL DEFAULT 0,
    pruned_through BIGINT NOT NULL DEFAULT 0,
    settings_version BIGINT NOT NULL DEFAULT 1,
    preferences TEXT NOT NULL,
    links TEXT NOT NULL DEFAULT '{}',
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE TABLE tokens (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    operator_id BIGINT NOT NULL REFERENCES operators(id),
    token_hash BYTEA NOT NULL UNIQUE,
    client TEXT,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    revoked_at TEXT COLLATE "C"
);
CREATE TABLE policy (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    document TEXT NOT NULL
);
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    operator_id BIGINT NOT NULL REFERENCES operators(id),
    seq BIGINT NOT NULL,
    type TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT,
    data TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    read_at TEXT COLLATE "C",
    delivered_at TEXT COLLATE "C",
    UNIQUE (operator_id, seq)
);
CREATE INDEX notifications_unread ON notifications (operator_id, seq) WHERE read_at IS NULL;
CREATE TABLE events (
    operator_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    frame TEXT NOT NULL,
    PRIMARY KEY (operator_id, seq)
);
"#;

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(s: &str) -> std::result::Result<DateTime<Utc>, DbError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| DbError::Decode(format!("timestamp {s:?}: {e}")))
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

fn operator_from_row(row: &Row<'_>) -> std::result::Result<Operator, DbError> {
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

/// The notifications' insert, for [`stored`]'s ten values per row.
const INSERT_NOTIFICATIONS: &str = "INSERT INTO notifications (id, operator_id, seq, type, category, title, body, link, data, created_at)";

/// `n` as stored for `operator_id` at `seq`: the notification, and its
/// row's values appended to `rows` (the columns of [`INSERT_NOTIFICATIONS`]).
fn stored(
    n: NewNotification,
    operator_id: i64,
    seq: u64,
    now: DateTime<Utc>,
    created: &str,
    rows: &mut Vec<crate::db::Value>,
) -> Result<Notification> {
    let notification = Notification {
        id: uuid::Uuid::now_v7().to_string(),
        seq,
        type_id: n.type_id,
        category: n.category,
        title: n.title,
        body: n.body,
        link: n.link,
        created_at: now,
        read_at: None,
        data: n.data,
    };
    rows.extend_from_slice(params![
        notification.id.as_str(),
        operator_id,
        seq,
        notification.type_id.as_str(),
        notification.category.as_str(),
        notification.title.as_str(),
        notification.body.as_str(),
        notification.link.as_deref(),
        serde_json::to_string(&notification.data)?,
        created,
    ]);
    Ok(notification)
}

fn notification_from_row(row: &Row<'_>) -> std::result::Result<Notification, DbError> {
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
        Self::with_db(vec![Db::sqlite(path)?], hub, replay_window)
    }

    /// Connects to PostgreSQL at `url` (a `postgres://…` URL or key=value
    /// string) and brings its schema up to date. Blocking.
    pub fn open_postgres(url: &str, hub: Arc<Hub>, replay_window: u64) -> Result<Self> {
        let conns = (0..POSTGRES_CONNECTIONS)
            .map(|_| Db::postgres(url, APPLICATION))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Self::with_db(conns, hub, replay_window)
    }

    /// Opens `location`: a PostgreSQL URL, a file path, or memory for `None`.
    pub fn open_at(location: Option<&str>, hub: Arc<Hub>, replay_window: u64) -> Result<Self> {
        match location {
            Some(url) if crate::db::is_postgres_url(url) => {
                Self::open_postgres(url, hub, replay_window)
            }
            Some(path) => Self::open(Some(Path::new(path)), hub, replay_window),
            None => Self::open(None, hub, replay_window),
        }
    }

    fn with_db(mut conns: Vec<Db>, hub: Arc<Hub>, replay_window: u64) -> Result<Self> {
        if let Some(first) = conns.first_mut() {
            crate::db::migrate(first, MIGRATIONS)?;
        }
        Ok(Self {
            conns: Arc::new(Pool {
                slots: conns.into_iter().map(Mutex::new).collect(),
                next: AtomicUsize::new(0),
            }),
            hub,
            replay_window: replay_window.max(1),
            node: Arc::from(uuid::Uuid::now_v7().simple().to_string()),
        })
    }

    /// A free connection (the next one's turn when all are busy), for the
    /// modules that keep their own tables here (`connectors`) too. Held
    /// briefly: every store call takes one.
    pub(crate) fn lock(&self) -> Conn<'_> {
        let slots = &self.conns.slots;
        let start = self.conns.next.fetch_add(1, Ordering::Relaxed) % slots.len().max(1);
        for i in 0..slots.len() {
            let slot = (start + i) % slots.len();
            let guard = match slots[slot].try_lock() {
                Ok(g) => g,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => continue,
            };
            return Conn::ready(guard, slot);
        }
        self.lock_slot(start)
    }

    /// Connection `slot`, waiting for it (a session lock lives there).
    pub(crate) fn lock_slot(&self, slot: usize) -> Conn<'_> {
        let slots = &self.conns.slots;
        let slot = slot % slots.len().max(1);
        Conn::ready(
            slots[slot].lock().unwrap_or_else(PoisonError::into_inner),
            slot,
        )
    }

    /// Which engine the store runs on.
    pub fn engine(&self) -> crate::db::Engine {
        self.lock().engine()
    }

    /// This node's id in its notifies.
    pub(crate) fn node(&self) -> &str {
        &self.node
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
        let mut tx = conn.transaction()?;
        let policy = load_policy(&mut tx)?;
        let mut prefs = Preferences::default();
        settings::enforce(&policy, &mut prefs);
        let now = ts(Utc::now());
        let inserted = tx.insert(
            "INSERT INTO operators (login, name, role, password_hash, status_since, preferences, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5)",
            params![login, name, role_str(role), password_hash, now, serde_json::to_string(&prefs)?],
        );
        let id = match inserted {
            Err(e) if e.is_conflict() => return Err(StoreError::Conflict),
            other => other?,
        };
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
        let mut conn = self.lock();
        Ok(conn.query_opt(
            "SELECT * FROM operators WHERE login = ?1",
            params![login],
            |row| Ok((operator_from_row(row)?, row.get("password_hash")?)),
        )?)
    }

    /// Every account.
    pub fn operators(&self) -> Result<Vec<Operator>> {
        let mut conn = self.lock();
        Ok(conn.query(
            "SELECT * FROM operators ORDER BY id",
            &[],
            operator_from_row,
        )?)
    }

    /// Stores a new token (by hash).
    pub fn insert_token(
        &self,
        operator_id: i64,
        hash: &[u8],
        client: Option<&str>,
        expires_at: DateTime<Utc>,
    ) -> Result<i64> {
        let mut conn = self.lock();
        Ok(conn.insert(
            "INSERT INTO tokens (operator_id, token_hash, client, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![operator_id, hash, client, ts(Utc::now()), ts(expires_at)],
        )?)
    }

    /// The live session for a token hash: not revoked, not expired.
    pub fn session(&self, hash: &[u8]) -> Result<Option<Session>> {
        let mut conn = self.lock();
        let now = ts(Utc::now());
        Ok(conn.query_opt(
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
        )?)
    }

    /// Is the token still good (not revoked, not expired)?
    pub fn token_alive(&self, token_id: i64) -> Result<bool> {
        let mut conn = self.lock();
        let now = ts(Utc::now());
        let alive = conn.query_opt(
            "SELECT 1 FROM tokens WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
            params![token_id, now],
            |_| Ok(()),
        )?;
        Ok(alive.is_some())
    }

    /// Revokes a token and closes the streams that use it, on every node.
    pub fn revoke_token(&self, operator_id: i64, token_id: i64) -> Result<()> {
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        tx.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![token_id, ts(Utc::now())],
        )?;
        tx.notify(
            &Wake::Revoked {
                operator_id,
                token_id,
            }
            .payload(&self.node),
        )?;
        tx.commit()?;
        self.hub
            .publish(operator_id, HubEvent::Revoked { token_id });
        Ok(())
    }

    // ---- status ----

    /// The operator's availability.
    pub fn status(&self, operator_id: i64) -> Result<OperatorStatus> {
        let mut conn = self.lock();
        load_status(&mut conn, operator_id)
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
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        // The row locked first: a change on another node at the same
        // moment waits, then sees this one (the stretch's start is read
        // and written here).
        head_seq_for_append(&mut tx, operator_id)?;
        let now = Utc::now();
        let current = load_status(&mut tx, operator_id)?;
        let since = match since {
            Some(t) => t.min(now),
            None if current.status == status => current.since.unwrap_or(now),
            None => now,
        };
        // What the database keeps (milliseconds) is what everyone is told.
        let since = parse_ts(&ts(since))?;
        let n = tx.execute(
            "UPDATE operators SET status = ?2, status_since = ?3 WHERE id = ?1",
            params![operator_id, status_str(status), ts(since)],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.notify(&Wake::Status { operator_id }.payload(&self.node))?;
        tx.commit()?;
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
        let mut conn = self.lock();
        load_policy(&mut conn)
    }

    /// Replaces the policy, brings every operator's preferences in line with
    /// it and sends each their new document.
    pub fn set_policy(&self, policy: &Policy) -> Result<()> {
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO policy (id, document) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET document = excluded.document",
            params![serde_json::to_string(policy)?],
        )?;
        let ids: Vec<i64> = tx.query("SELECT id FROM operators ORDER BY id", &[], |r| r.get(0))?;
        let mut docs = Vec::with_capacity(ids.len());
        for id in ids {
            let mut doc = load_settings(&mut tx, id, policy, true)?;
            settings::enforce(policy, &mut doc.preferences);
            doc.version += 1;
            tx.execute(
                "UPDATE operators SET preferences = ?2, settings_version = ?3 WHERE id = ?1",
                params![id, serde_json::to_string(&doc.preferences)?, doc.version],
            )?;
            docs.push((id, doc));
        }
        tx.notify(&Wake::Everyone.payload(&self.node))?;
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
        let mut conn = self.lock();
        let policy = load_policy(&mut conn)?;
        load_settings(&mut conn, operator_id, &policy, false)
    }

    /// Applies a settings write: refused when stale or against policy.
    /// Type rows missing from the write keep their stored values.
    pub fn write_settings(
        &self,
        operator_id: i64,
        write: SettingsWrite,
    ) -> Result<SettingsDocument> {
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        let policy = load_policy(&mut tx)?;
        let current = load_settings(&mut tx, operator_id, &policy, true)?;
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
        tx.notify(&Wake::Settings { operator_id }.payload(&self.node))?;
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
        let mut tx = conn.transaction()?;
        let policy = load_policy(&mut tx)?;
        let mut doc = load_settings(&mut tx, operator_id, &policy, true)?;
        doc.links.extend(links.iter().map(|(k, v)| (k.clone(), *v)));
        doc.version += 1;
        tx.execute(
            "UPDATE operators SET links = ?2, settings_version = ?3 WHERE id = ?1",
            params![operator_id, serde_json::to_string(&doc.links)?, doc.version],
        )?;
        tx.notify(&Wake::Settings { operator_id }.payload(&self.node))?;
        tx.commit()?;
        self.publish_settings(operator_id, doc.clone());
        Ok(doc)
    }

    // ---- inbox and event log ----

    /// Stores notifications for an operator, in order, in one transaction,
    /// and streams them.
    pub fn emit(&self, operator_id: i64, batch: Vec<NewNotification>) -> Result<Vec<Notification>> {
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        let first = head_seq_for_append(&mut tx, operator_id)? + 1;
        let mut head = first - 1;
        let now = Utc::now();
        let mut out = Vec::with_capacity(batch.len());
        let mut frames = Vec::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len() * 10);
        let created = ts(now);
        for n in batch {
            head += 1;
            let notification = stored(n, operator_id, head, now, &created, &mut rows)?;
            let frame = ServerFrame::Notification {
                seq: head,
                notification: notification.clone(),
            };
            frames.push(HubEvent::frame(&frame));
            out.push(notification);
        }
        tx.insert_rows(INSERT_NOTIFICATIONS, 10, &rows)?;
        if head >= first {
            self.append_log(&mut tx, operator_id, first, head, &frames)?;
        }
        tx.commit()?;
        for f in frames {
            self.hub.publish(operator_id, f);
        }
        Ok(out)
    }

    /// The ids of `logins` that exist, in a few queries (a batch for every
    /// operator looked each one up in a call of its own: issue 32).
    pub fn operator_ids(
        &self,
        logins: &[String],
    ) -> Result<std::collections::HashMap<String, i64>> {
        let mut conn = self.lock();
        let mut out = std::collections::HashMap::with_capacity(logins.len());
        for chunk in logins.chunks(IN_LIST) {
            let list = placeholders(1, chunk.len());
            let args: Vec<crate::db::Value> = chunk.iter().map(Into::into).collect();
            for (login, id) in conn.query(
                &format!("SELECT login, id FROM operators WHERE login IN ({list})"),
                &args,
                |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)),
            )? {
                out.insert(login, id);
            }
        }
        Ok(out)
    }

    /// Stores runs of notifications for several operators (each run in
    /// order, an operator's runs in the order given) in one transaction,
    /// then streams them: one change for every operator is one commit, not
    /// one per operator. Returns the notifications in the order given.
    /// On PostgreSQL the operators' rows are locked in id order, so two
    /// such batches on two nodes take turns instead of deadlocking.
    pub fn emit_runs(&self, runs: Vec<(i64, Vec<NewNotification>)>) -> Result<Vec<Notification>> {
        let mut ids: Vec<i64> = runs.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        let lock = tx.for_update();
        let mut heads: std::collections::HashMap<i64, u64> =
            std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IN_LIST) {
            let list = placeholders(1, chunk.len());
            let args: Vec<crate::db::Value> = chunk.iter().map(|id| (*id).into()).collect();
            for (id, head) in tx.query(
                &format!(
                    "SELECT id, head_seq FROM operators WHERE id IN ({list}) ORDER BY id{lock}"
                ),
                &args,
                |r| Ok((r.get::<i64>(0)?, r.get::<u64>(1)?)),
            )? {
                heads.insert(id, head);
            }
        }
        if heads.len() != ids.len() {
            return Err(StoreError::NotFound);
        }
        let firsts: std::collections::HashMap<i64, u64> =
            heads.iter().map(|(id, head)| (*id, head + 1)).collect();
        let now = Utc::now();
        let created = ts(now);
        let total: usize = runs.iter().map(|(_, run)| run.len()).sum();
        let mut out = Vec::with_capacity(total);
        let mut published = Vec::with_capacity(total);
        let mut rows = Vec::with_capacity(total * 10);
        let mut log = Vec::with_capacity(total * 3);
        for (operator_id, run) in runs {
            let Some(head) = heads.get_mut(&operator_id) else {
                return Err(StoreError::NotFound);
            };
            for n in run {
                *head += 1;
                let notification = stored(n, operator_id, *head, now, &created, &mut rows)?;
                let frame = HubEvent::frame(&ServerFrame::Notification {
                    seq: *head,
                    notification: notification.clone(),
                });
                if let HubEvent::Seq { seq, frame } = &frame {
                    log.extend_from_slice(params![operator_id, *seq, frame.as_str()]);
                }
                published.push((operator_id, frame));
                out.push(notification);
            }
        }
        tx.insert_rows(INSERT_NOTIFICATIONS, 10, &rows)?;
        tx.insert_rows("INSERT INTO events (operator_id, seq, frame)", 3, &log)?;
        // The heads in a hundred rows per statement, as the inserts; the
        // pruning, when the window is full, per operator.
        let mut moved: Vec<(i64, u64)> = heads
            .iter()
            .filter(|(id, head)| firsts.get(id).is_some_and(|first| **head >= *first))
            .map(|(id, head)| (*id, *head))
            .collect();
        moved.sort_unstable();
        for chunk in moved.chunks(100) {
            let mut values = Vec::with_capacity(chunk.len());
            let mut args: Vec<crate::db::Value> = Vec::with_capacity(chunk.len() * 3);
            for (i, (id, head)) in chunk.iter().enumerate() {
                let n = i * 3;
                values.push(format!(
                    "(CAST(?{} AS BIGINT), CAST(?{} AS BIGINT), CAST(?{} AS BIGINT))",
                    n + 1,
                    n + 2,
                    n + 3
                ));
                args.extend_from_slice(params![
                    *id,
                    *head,
                    head.saturating_sub(self.replay_window)
                ]);
            }
            tx.execute(
                &format!(
                    "UPDATE operators SET head_seq = v.column2,
                       pruned_through = CASE WHEN pruned_through > v.column3 THEN pruned_through ELSE v.column3 END
                     FROM (VALUES {}) AS v WHERE operators.id = v.column1",
                    values.join(", ")
                ),
                &args,
            )?;
        }
        for (id, head) in &moved {
            let prune_through = head.saturating_sub(self.replay_window);
            if prune_through > 0 {
                tx.execute(
                    "DELETE FROM events WHERE operator_id = ?1 AND seq <= ?2",
                    params![*id, prune_through],
                )?;
            }
        }
        let wakes: Vec<String> = moved
            .iter()
            .filter_map(|(id, _)| firsts.get(id).map(|first| (*id, *first)))
            .map(|(operator_id, first)| Wake::Events { operator_id, first }.payload(&self.node))
            .collect();
        tx.notify_many(&wakes)?;
        tx.commit()?;
        for (operator_id, frame) in published {
            self.hub.publish(operator_id, frame);
        }
        Ok(out)
    }

    /// Writes frames to the event log, moves the head to `head`, prunes
    /// what falls out of the replay window and wakes the other nodes with
    /// the first new sequence.
    fn append_log(
        &self,
        tx: &mut Db,
        operator_id: i64,
        first: u64,
        head: u64,
        frames: &[HubEvent],
    ) -> Result<()> {
        let mut rows = Vec::with_capacity(frames.len() * 3);
        for f in frames {
            if let HubEvent::Seq { seq, frame } = f {
                rows.extend_from_slice(params![operator_id, *seq, frame.as_str()]);
            }
        }
        tx.insert_rows("INSERT INTO events (operator_id, seq, frame)", 3, &rows)?;
        let prune_through = head.saturating_sub(self.replay_window);
        tx.execute(
            "UPDATE operators SET head_seq = ?2,
               pruned_through = CASE WHEN pruned_through > ?3 THEN pruned_through ELSE ?3 END
             WHERE id = ?1",
            params![operator_id, head, prune_through],
        )?;
        if prune_through > 0 {
            tx.execute(
                "DELETE FROM events WHERE operator_id = ?1 AND seq <= ?2",
                params![operator_id, prune_through],
            )?;
        }
        tx.notify(&Wake::Events { operator_id, first }.payload(&self.node))?;
        Ok(())
    }

    /// One page of the inbox, newest first.
    pub fn inbox(&self, operator_id: i64, filter: &InboxFilter) -> Result<InboxPage> {
        let mut conn = self.lock();
        let head = head_seq(&mut conn, operator_id)?;
        let mut sql = String::from("SELECT * FROM notifications WHERE operator_id = ?1");
        let mut args: Vec<crate::db::Value> = vec![operator_id.into()];
        if filter.unread {
            sql.push_str(" AND read_at IS NULL");
        }
        if let Some(c) = filter.category {
            args.push(c.as_str().into());
            sql.push_str(&format!(" AND category = ?{}", args.len()));
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            args.push(format!("%{escaped}%").into());
            let n = args.len();
            let like = conn.like();
            sql.push_str(&format!(
                " AND (title {like} ?{n} ESCAPE '\\' OR body {like} ?{n} ESCAPE '\\')"
            ));
        }
        if let Some(before) = filter.before {
            args.push(before.into());
            sql.push_str(&format!(" AND seq < ?{}", args.len()));
        }
        let limit = filter.limit.max(1);
        args.push((limit + 1).into());
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ?{}", args.len()));
        let mut items = conn.query(&sql, &args, notification_from_row)?;
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
        let mut conn = self.lock();
        conn.query_opt(
            "SELECT * FROM notifications WHERE operator_id = ?1 AND id = ?2",
            params![operator_id, id],
            |row| {
                let delivered: Option<String> = row.get("delivered_at")?;
                Ok((
                    notification_from_row(row)?,
                    delivered.as_deref().map(parse_ts).transpose()?,
                ))
            },
        )?
        .ok_or(StoreError::NotFound)
    }

    /// Unread counts.
    pub fn unread(&self, operator_id: i64) -> Result<UnreadCount> {
        let mut conn = self.lock();
        unread(&mut conn, operator_id)
    }

    /// Marks notifications read; a `read` event for those that changed.
    pub fn mark_read(&self, operator_id: i64, ids: &[String]) -> Result<ReadResult> {
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        // Taken first: the read event's sequence comes from this row.
        let head = head_seq_for_append(&mut tx, operator_id)?;
        let now = Utc::now();
        let mut marked = Vec::new();
        for id in ids {
            let n = tx.execute(
                "UPDATE notifications SET read_at = ?3 WHERE operator_id = ?1 AND id = ?2 AND read_at IS NULL",
                params![operator_id, id, ts(now)],
            )?;
            if n > 0 && !marked.contains(id) {
                marked.push(id.clone());
            }
        }
        let seq = if marked.is_empty() {
            None
        } else {
            let seq = head + 1;
            let frame = HubEvent::frame(&ServerFrame::Read {
                seq,
                ids: marked.clone(),
                read_at: now,
            });
            self.append_log(&mut tx, operator_id, seq, seq, std::slice::from_ref(&frame))?;
            Some((seq, frame))
        };
        let count = unread(&mut tx, operator_id)?;
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
        let mut tx = conn.transaction()?;
        let now = Utc::now();
        let head = head_seq_for_append(&mut tx, operator_id)?;
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
            self.append_log(&mut tx, operator_id, seq, seq, std::slice::from_ref(&frame))?;
            Some((seq, frame))
        };
        let count = unread(&mut tx, operator_id)?;
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
        let mut tx = conn.transaction()?;
        let now = ts(Utc::now());
        let mut n = 0;
        for id in ids {
            n += tx.execute(
                "UPDATE notifications SET delivered_at = ?3 WHERE operator_id = ?1 AND id = ?2 AND delivered_at IS NULL",
                params![operator_id, id, now.as_str()],
            )?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Several acknowledgements (operator, ids) in one transaction; how
    /// many each newly marked, in order (see `acks.rs`).
    pub fn acknowledge_many(&self, acks: &[(i64, Vec<String>)]) -> Result<Vec<usize>> {
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        let now = ts(Utc::now());
        let mut counts = Vec::with_capacity(acks.len());
        for (operator_id, ids) in acks {
            let mut n = 0;
            for id in ids {
                n += tx.execute(
                    "UPDATE notifications SET delivered_at = ?3 WHERE operator_id = ?1 AND id = ?2 AND delivered_at IS NULL",
                    params![*operator_id, id, now.as_str()],
                )?;
            }
            counts.push(n);
        }
        tx.commit()?;
        Ok(counts)
    }

    /// Where the operator's log stands.
    pub fn log_state(&self, operator_id: i64) -> Result<LogState> {
        let mut conn = self.lock();
        conn.query_opt(
            "SELECT head_seq, pruned_through FROM operators WHERE id = ?1",
            params![operator_id],
            |r| {
                Ok(LogState {
                    head: r.get(0)?,
                    pruned_through: r.get(1)?,
                })
            },
        )?
        .ok_or(StoreError::NotFound)
    }

    /// Up to `limit` logged frames after `after`, oldest first.
    pub fn replay(&self, operator_id: i64, after: u64, limit: u32) -> Result<Vec<(u64, String)>> {
        let mut conn = self.lock();
        Ok(replay(&mut conn, operator_id, after, limit)?)
    }

    /// A round trip to the database (the balancer's probe); which engine.
    pub fn ping(&self) -> Result<crate::db::Engine> {
        let mut conn = self.lock();
        conn.query_opt("SELECT 1", &[], |r| r.get::<i64>(0))?
            .ok_or(StoreError::NotFound)?;
        Ok(conn.engine())
    }

    /// Checks the database: SQLite's integrity check, or a round trip to
    /// PostgreSQL (which checks its own pages). "ok" when sound.
    pub fn integrity_check(&self) -> Result<String> {
        let mut conn = self.lock();
        let sql = match conn.engine() {
            crate::db::Engine::Sqlite => "PRAGMA integrity_check",
            crate::db::Engine::Postgres => "SELECT 'ok'::text",
        };
        conn.query_opt(sql, &[], |r| r.get(0))?
            .ok_or(StoreError::NotFound)
    }
}

/// Up to `limit` logged frames of an operator after `after`, oldest first.
pub(crate) fn replay(
    conn: &mut Db,
    operator_id: i64,
    after: u64,
    limit: u32,
) -> std::result::Result<Vec<(u64, String)>, DbError> {
    conn.query(
        "SELECT seq, frame FROM events WHERE operator_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        params![operator_id, after, limit],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// What a write tells the other nodes (`NOTIFY`); the rows say the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// An operator's log grew from `first`.
    Events {
        /// Whose.
        operator_id: i64,
        /// The first new sequence.
        first: u64,
    },
    /// An operator's settings changed.
    Settings {
        /// Whose.
        operator_id: i64,
    },
    /// An operator's status changed.
    Status {
        /// Whose.
        operator_id: i64,
    },
    /// Every operator's settings changed (a policy).
    Everyone,
    /// A token was revoked.
    Revoked {
        /// Whose.
        operator_id: i64,
        /// Which.
        token_id: i64,
    },
}

impl Wake {
    /// The notify's payload: the sending node, then the wake.
    pub(crate) fn payload(self, node: &str) -> String {
        match self {
            Wake::Events { operator_id, first } => format!("{node} e {operator_id} {first}"),
            Wake::Settings { operator_id } => format!("{node} s {operator_id}"),
            Wake::Status { operator_id } => format!("{node} t {operator_id}"),
            Wake::Everyone => format!("{node} p"),
            Wake::Revoked {
                operator_id,
                token_id,
            } => format!("{node} r {operator_id} {token_id}"),
        }
    }

    /// Reads a payload: the sending node and the wake.
    pub(crate) fn parse(payload: &str) -> Option<(&str, Wake)> {
        let mut words = payload.split(' ');
        let node = words.next()?;
        let kind = words.next()?;
        let mut num = || words.next().and_then(|w| w.parse::<i64>().ok());
        let wake = match kind {
            "e" => Wake::Events {
                operator_id: num()?,
                first: u64::try_from(num()?).ok()?,
            },
            "s" => Wake::Settings {
                operator_id: num()?,
            },
            "t" => Wake::Status {
                operator_id: num()?,
            },
            "p" => Wake::Everyone,
            "r" => Wake::Revoked {
                operator_id: num()?,
                token_id: num()?,
            },
            _ => return None,
        };
        Some((node, wake))
    }
}

fn head_seq(conn: &mut Db, operator_id: i64) -> Result<u64> {
    conn.query_opt(
        "SELECT head_seq FROM operators WHERE id = ?1",
        params![operator_id],
        |r| r.get(0),
    )?
    .ok_or(StoreError::NotFound)
}

/// The head, with the operator's row locked until commit on PostgreSQL so
/// a concurrent append (another node's) waits and then reads the new head.
fn head_seq_for_append(conn: &mut Db, operator_id: i64) -> Result<u64> {
    let sql = format!(
        "SELECT head_seq FROM operators WHERE id = ?1{}",
        conn.for_update()
    );
    conn.query_opt(&sql, params![operator_id], |r| r.get(0))?
        .ok_or(StoreError::NotFound)
}

pub(crate) fn load_policy(conn: &mut Db) -> Result<Policy> {
    let doc: Option<String> =
        conn.query_opt("SELECT document FROM policy WHERE id = 1", &[], |r| {
            r.get(0)
        })?;
    Ok(match doc {
        Some(d) => serde_json::from_str(&d)?,
        None => Policy::default(),
    })
}

/// The settings document; `for_update` locks the row for a write.
pub(crate) fn load_settings(
    conn: &mut Db,
    operator_id: i64,
    policy: &Policy,
    for_update: bool,
) -> Result<SettingsDocument> {
    let lock = if for_update { conn.for_update() } else { "" };
    let (version, prefs, links): (u64, String, String) = conn
        .query_opt(
            &format!(
                "SELECT settings_version, preferences, links FROM operators WHERE id = ?1{lock}"
            ),
            params![operator_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?
        .ok_or(StoreError::NotFound)?;
    Ok(SettingsDocument {
        version,
        policy: policy.clone(),
        links: serde_json::from_str(&links)?,
        preferences: serde_json::from_str(&prefs)?,
    })
}

pub(crate) fn load_status(conn: &mut Db, operator_id: i64) -> Result<OperatorStatus> {
    let (status, since): (String, String) = conn
        .query_opt(
            "SELECT status, status_since FROM operators WHERE id = ?1",
            params![operator_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
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

fn unread(conn: &mut Db, operator_id: i64) -> Result<UnreadCount> {
    let head = head_seq(conn, operator_id)?;
    let (events, system): (u64, u64) = conn
        .query_opt(
            "SELECT COALESCE(SUM(CASE WHEN category = 'events' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN category = 'system' THEN 1 ELSE 0 END), 0)
             FROM notifications WHERE operator_id = ?1 AND read_at IS NULL",
            params![operator_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .unwrap_or((0, 0));
    Ok(UnreadCount {
        unread: events + system,
        events,
        system,
        server_seq: head,
    })
}
