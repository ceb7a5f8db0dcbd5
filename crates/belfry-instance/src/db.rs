//! The two storage engines behind one small interface: SQLite (embedded,
//! the default) and PostgreSQL (several nodes on one database).
//!
//! The store writes its SQL once, in the dialect both understand, with
//! SQLite's numbered `?N` parameters; [`Db`] turns them into PostgreSQL's
//! `$N` and gives rows and errors one shape. Where the engines differ
//! ([`Db::for_update`], [`Db::like`], [`Db::notify`]) the store asks.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed (disk full, corrupt file, …).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed (connection lost, constraint, …).
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// A stored value did not decode into what the store expects.
    #[error("stored value: {0}")]
    Decode(String),
}

impl DbError {
    /// A unique (or other) constraint refused the write.
    pub fn is_conflict(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::ConstraintViolation
            }
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

/// Shorthand for this module's results.
pub type DbResult<T> = std::result::Result<T, DbError>;

/// A parameter, owned so both engines can borrow it their own way.
#[derive(Debug, Clone)]
pub enum Value {
    /// SQL NULL (of a text column: every nullable parameter the store binds is text).
    Null,
    /// An integer (BIGINT on PostgreSQL).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (BYTEA on PostgreSQL).
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        // Sequences and counts never reach 2^63; saturate rather than wrap.
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a parameter list: `params![a, b, c]`.
macro_rules! params {
    ($($v:expr),* $(,)?) => {
        &[$($crate::db::Value::from($v)),*][..]
    };
}
pub(crate) use params;

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

static NULL_TEXT: Option<String> = None;

/// The parameters as PostgreSQL takes them: its text cannot hold NUL, so
/// a NUL (only ever in hostile input) becomes U+FFFD, which no id or login
/// contains: a lookup finds nothing, as on SQLite, instead of failing.
fn pg_params(params: &[Value]) -> Cow<'_, [Value]> {
    let has_nul = |v: &Value| matches!(v, Value::Text(t) if t.contains('\0'));
    if !params.iter().any(has_nul) {
        return Cow::Borrowed(params);
    }
    Cow::Owned(
        params
            .iter()
            .map(|v| match v {
                Value::Text(t) => Value::Text(t.replace('\0', "\u{FFFD}")),
                other => other.clone(),
            })
            .collect(),
    )
}

impl Value {
    fn as_pg(&self) -> &(dyn postgres::types::ToSql + Sync) {
        match self {
            Value::Null => &NULL_TEXT,
            Value::Int(i) => i,
            Value::Text(s) => s,
            Value::Blob(b) => b,
        }
    }
}

/// A column position or name.
#[derive(Debug, Clone, Copy)]
pub enum Idx<'a> {
    /// By position, from 0.
    At(usize),
    /// By name.
    Named(&'a str),
}
impl From<usize> for Idx<'_> {
    fn from(i: usize) -> Self {
        Idx::At(i)
    }
}
impl<'a> From<&'a str> for Idx<'a> {
    fn from(n: &'a str) -> Self {
        Idx::Named(n)
    }
}

/// One row of a result, from either engine.
pub enum Row<'a> {
    /// SQLite's.
    Sqlite(&'a rusqlite::Row<'a>),
    /// PostgreSQL's.
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// The column at `idx` as `T`.
    pub fn get<'i, T: Column>(&self, idx: impl Into<Idx<'i>>) -> DbResult<T> {
        let idx = idx.into();
        match self {
            Row::Sqlite(r) => T::sqlite(r, idx),
            Row::Postgres(r) => T::postgres(r, idx),
        }
    }
}

fn sqlite_get<T: rusqlite::types::FromSql>(r: &rusqlite::Row<'_>, idx: Idx<'_>) -> DbResult<T> {
    Ok(match idx {
        Idx::At(i) => r.get(i)?,
        Idx::Named(n) => r.get(n)?,
    })
}

fn pg_get<'r, T: postgres::types::FromSql<'r>>(r: &'r postgres::Row, idx: Idx<'_>) -> DbResult<T> {
    Ok(match idx {
        Idx::At(i) => r.try_get(i)?,
        Idx::Named(n) => r.try_get(n)?,
    })
}

/// A value the store reads from a row.
pub trait Column: Sized {
    /// From a SQLite row.
    fn sqlite(r: &rusqlite::Row<'_>, idx: Idx<'_>) -> DbResult<Self>;
    /// From a PostgreSQL row.
    fn postgres(r: &postgres::Row, idx: Idx<'_>) -> DbResult<Self>;
}

fn pg_int(r: &postgres::Row, idx: Idx<'_>) -> DbResult<Option<i64>> {
    // Literals such as `SELECT 1` are INTEGER, columns BIGINT.
    match pg_get::<Option<i64>>(r, idx) {
        Ok(v) => Ok(v),
        Err(_) => Ok(pg_get::<Option<i32>>(r, idx)?.map(i64::from)),
    }
}

impl Column for i64 {
    fn sqlite(r: &rusqlite::Row<'_>, idx: Idx<'_>) -> DbResult<Self> {
        sqlite_get(r, idx)
    }
    fn postgres(r: &postgres::Row, idx: Idx<'_>) -> DbResult<Self> {
        pg_int(r, idx)?.ok_or_else(|| DbError::Decode("NULL integer".into()))
    }
}
impl Column for Option<i64> {
    fn sqlite(r: &rusqlite::Row<'_>, idx: Idx<'_>) -> DbResult<Self> {
        sqlite_get(r, idx)
    }
    fn postgres(r: &postgres::Row, idx: Idx<'_>) -> DbResult<Self> {
        pg_int(r, idx)
    }
}
impl Column for u64 {
    fn sqlite(r: &rusqlite::Row<'_>, idx: Idx<'_>) -> DbResult<Self> {
        sqlite_get(r, idx)
    }
    fn postgres(r: &postgres::Row, idx: Idx<'_>) -> DbResult<Self> {
        let v = i64::postgres(r, idx)?;
        u64::try_from(v).map_err(|_| DbError::Decode(format!("negative count {v}")))
    }
}
impl Column for String {
    fn sqlite(r: &rusqlite::Row<'_>, idx: Idx<'_>) -> DbResult<Self> {
        sqlite_get(r, idx)
    }
    fn postgres(r: &postgres::Row, idx: Idx<'_>) -> DbResult<Self> {
        pg_get(r, idx)
    }
}
impl Column for Option<String> {
    fn sqlite(r: &rusqlite::Row<'_>, idx: Idx<'_>) -> DbResult<Self> {
        sqlite_get(r, idx)
    }
    fn postgres(r: &postgres::Row, idx: Idx<'_>) -> DbResult<Self> {
        pg_get(r, idx)
    }
}
impl Column for Option<Vec<u8>> {
    fn sqlite(r: &rusqlite::Row<'_>, idx: Idx<'_>) -> DbResult<Self> {
        sqlite_get(r, idx)
    }
    fn postgres(r: &postgres::Row, idx: Idx<'_>) -> DbResult<Self> {
        pg_get(r, idx)
    }
}

/// Which engine a [`Db`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A PostgreSQL client and how to reach the server again.
pub struct PgConn {
    /// Always `Some` until dropped (see `Drop`).
    client: Option<postgres::Client>,
    /// Statements prepared on this connection, by their SQL: a statement
    /// sent as text is parsed and planned by the server at every call, one
    /// round trip more each (as rusqlite's `prepare_cached` saves SQLite's).
    statements: std::collections::HashMap<String, postgres::Statement>,
    url: String,
    application: String,
}

fn pg_connect(url: &str, application: &str) -> DbResult<postgres::Client> {
    let mut config: postgres::Config = url.parse()?;
    if config.get_application_name().is_none() {
        config.application_name(application);
    }
    Ok(config.connect(postgres::NoTls)?)
}

impl PgConn {
    fn client(&mut self) -> DbResult<&mut postgres::Client> {
        self.client
            .as_mut()
            .ok_or_else(|| DbError::Decode("connection closed".into()))
    }

    /// The client and `sql` prepared on it (once per connection).
    fn prepared(&mut self, sql: &str) -> DbResult<(&mut postgres::Client, postgres::Statement)> {
        /// Statements kept per connection; the batch's lists of varying
        /// length make new ones, so the cache starts over when full.
        const MAX_STATEMENTS: usize = 256;
        let client = self
            .client
            .as_mut()
            .ok_or_else(|| DbError::Decode("connection closed".into()))?;
        let sql = pg_sql(sql);
        if let Some(stmt) = self.statements.get(sql.as_ref()) {
            return Ok((client, stmt.clone()));
        }
        let stmt = client.prepare(sql.as_ref())?;
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.into_owned(), stmt.clone());
        Ok((client, stmt))
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // The blocking client closes by running its own runtime, which
        // panics inside the instance's: the last store clone often goes
        // with an async task. Close it on a thread of its own then.
        if let Some(client) = self.client.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let spawned = std::thread::Builder::new()
                .name("belfry-db-close".into())
                .spawn(move || drop(client));
            if let Err(error) = spawned {
                tracing::warn!(%error, "could not close the database connection");
            }
        }
    }
}

/// One connection to either engine.
pub enum Db {
    /// An SQLite file (or memory).
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL server.
    Postgres(Box<PgConn>),
}

/// Is `url` a PostgreSQL connection string rather than a file path?
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// PostgreSQL's spelling of a statement written for both: `?N` becomes
/// `$N` (outside quoted text) and SQLite's `COLLATE NOCASE` goes, the
/// PostgreSQL schema making those columns `citext` instead.
fn pg_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') && !sql.contains("COLLATE NOCASE") {
        return Cow::Borrowed(sql);
    }
    let sql = sql.replace(" COLLATE NOCASE", "");
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

impl Db {
    /// Opens an SQLite file, or memory for `None`.
    pub fn sqlite(path: Option<&std::path::Path>) -> DbResult<Self> {
        let conn = match path {
            Some(p) => rusqlite::Connection::open(p)?,
            None => rusqlite::Connection::open_in_memory()?,
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Db::Sqlite(conn))
    }

    /// Connects to PostgreSQL as `application` (what `pg_stat_activity`
    /// shows the admin). Blocking: call it off the async threads.
    pub fn postgres(url: &str, application: &str) -> DbResult<Self> {
        let client = pg_connect(url, application)?;
        Ok(Db::Postgres(Box::new(PgConn {
            client: Some(client),
            statements: std::collections::HashMap::new(),
            url: url.to_owned(),
            application: application.to_owned(),
        })))
    }

    /// Which engine this is.
    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Reconnects a PostgreSQL client whose connection was lost (a server
    /// restart, a failover), so one broken socket does not fail every later
    /// call. The call that saw the loss has already failed.
    pub fn heal(&mut self) {
        if let Db::Postgres(pg) = self
            && pg.client.as_ref().is_none_or(postgres::Client::is_closed)
        {
            match pg_connect(&pg.url, &pg.application) {
                Ok(client) => {
                    tracing::info!("database connection re-established");
                    pg.client = Some(client);
                    // Prepared on the lost connection: gone with it.
                    pg.statements.clear();
                }
                Err(error) => tracing::warn!(%error, "database still unreachable"),
            }
        }
    }

    /// Runs several statements with no parameters.
    pub fn execute_batch(&mut self, sql: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(c) => c.execute_batch(sql)?,
            Db::Postgres(pg) => pg.client()?.batch_execute(sql)?,
        }
        Ok(())
    }

    /// Runs one statement; how many rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<usize> {
        match self {
            Db::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(params))?),
            Db::Postgres(pg) => {
                let params = pg_params(params);
                let args: Vec<_> = params.iter().map(Value::as_pg).collect();
                let (client, stmt) = pg.prepared(sql)?;
                let n = client.execute(&stmt, &args)?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// Every row of a query, each through `f`.
    pub fn query<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(f(&Row::Sqlite(row))?);
                }
                Ok(out)
            }
            Db::Postgres(pg) => {
                let params = pg_params(params);
                let args: Vec<_> = params.iter().map(Value::as_pg).collect();
                let (client, stmt) = pg.prepared(sql)?;
                client
                    .query(&stmt, &args)?
                    .iter()
                    .map(|row| f(&Row::Postgres(row)))
                    .collect()
            }
        }
    }

    /// The first row of a query through `f`, if there is one.
    pub fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Option<T>> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                rows.next()?.map(|row| f(&Row::Sqlite(row))).transpose()
            }
            Db::Postgres(pg) => {
                let params = pg_params(params);
                let args: Vec<_> = params.iter().map(Value::as_pg).collect();
                let (client, stmt) = pg.prepared(sql)?;
                let rows = client.query(&stmt, &args)?;
                rows.first().map(|row| f(&Row::Postgres(row))).transpose()
            }
        }
    }

    /// Inserts rows of `width` values each (`values` holds them one after
    /// the other) with `insert` (`INSERT INTO t (a, b)`), a hundred rows
    /// per statement: a 10,000-event batch is a hundred round trips to
    /// PostgreSQL instead of ten thousand.
    pub fn insert_rows(&mut self, insert: &str, width: usize, values: &[Value]) -> DbResult<()> {
        const ROWS: usize = 100;
        if width == 0 {
            return Ok(());
        }
        for chunk in values.chunks(width * ROWS) {
            let mut sql = format!("{insert} VALUES ");
            for row in 0..chunk.len() / width {
                if row > 0 {
                    sql.push_str(", ");
                }
                let cells: Vec<String> = (1..=width)
                    .map(|c| format!("?{}", row * width + c))
                    .collect();
                sql.push('(');
                sql.push_str(&cells.join(", "));
                sql.push(')');
            }
            self.execute(&sql, chunk)?;
        }
        Ok(())
    }

    /// Runs an `INSERT` and gives the new row's `id`.
    pub fn insert(&mut self, sql: &str, params: &[Value]) -> DbResult<i64> {
        self.query_opt(&format!("{sql} RETURNING id"), params, |r| r.get(0))?
            .ok_or_else(|| DbError::Decode("INSERT returned no id".into()))
    }

    /// Starts a transaction; it rolls back unless committed.
    pub fn transaction(&mut self) -> DbResult<Tx<'_>> {
        // IMMEDIATE: an SQLite writer takes the lock at once instead of
        // failing on upgrade; PostgreSQL locks rows as the statements go.
        let begin = match self {
            Db::Sqlite(_) => "BEGIN IMMEDIATE",
            Db::Postgres(_) => "BEGIN",
        };
        self.execute_batch(begin)?;
        Ok(Tx {
            db: self,
            done: false,
        })
    }

    /// ` FOR UPDATE` on PostgreSQL, to append to a row read in a
    /// transaction: two nodes writing for one operator then take turns, so
    /// sequences stay gap-free and in commit order. SQLite's one writer
    /// needs nothing.
    pub fn for_update(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE",
        }
    }

    /// The operator for a case-insensitive match of ASCII text, as
    /// SQLite's `LIKE` is.
    pub fn like(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "LIKE",
            Db::Postgres(_) => "ILIKE",
        }
    }

    /// Wakes the other nodes (PostgreSQL `NOTIFY`, sent at commit); a
    /// no-op on SQLite, which has one node.
    pub fn notify(&mut self, payload: &str) -> DbResult<()> {
        if let Db::Postgres(_) = self {
            self.query_opt(
                "SELECT pg_notify(?1, ?2)::text",
                params![crate::relay::CHANNEL, payload],
                |_| Ok(()),
            )?;
        }
        Ok(())
    }

    /// Sends several notifies (see [`Db::notify`]) in a hundred per
    /// statement: a batch for every operator wakes the other nodes for each
    /// in a few round trips.
    pub fn notify_many(&mut self, payloads: &[String]) -> DbResult<()> {
        if let Db::Postgres(_) = self {
            for chunk in payloads.chunks(100) {
                let mut args: Vec<Value> = Vec::with_capacity(chunk.len() + 1);
                args.push(crate::relay::CHANNEL.into());
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(CAST(?{} AS TEXT))", i + 2))
                    .collect();
                args.extend(chunk.iter().map(Value::from));
                self.query(
                    &format!(
                        "SELECT pg_notify(?1, v.column1)::text FROM (VALUES {}) AS v",
                        values.join(", ")
                    ),
                    &args,
                    |_| Ok(()),
                )?;
            }
        }
        Ok(())
    }

    /// The PostgreSQL client, for the relay's `LISTEN`.
    pub(crate) fn pg_client(&mut self) -> Option<&mut postgres::Client> {
        match self {
            Db::Postgres(pg) => pg.client.as_mut(),
            Db::Sqlite(_) => None,
        }
    }
}

/// An open transaction; derefs to its connection.
pub struct Tx<'a> {
    db: &'a mut Db,
    done: bool,
}

impl Tx<'_> {
    /// Makes the transaction's writes durable (and sends its notifies).
    pub fn commit(mut self) -> DbResult<()> {
        // Marked done only once committed: an SQLite COMMIT that fails
        // (busy) leaves the transaction open, and the drop rolls it back.
        self.db.execute_batch("COMMIT")?;
        self.done = true;
        Ok(())
    }
}

impl Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Db {
        self.db
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done
            && let Err(error) = self.db.execute_batch("ROLLBACK")
        {
            tracing::debug!(%error, "rollback failed (connection lost?)");
        }
    }
}

/// One schema change for both engines. Steps run in order, each once, in
/// a transaction; never edit one that shipped, add another.
pub struct Migration {
    /// What it does, for the log.
    pub name: &'static str,
    /// SQLite's statements.
    pub sqlite: &'static str,
    /// PostgreSQL's statements.
    pub postgres: &'static str,
}

/// Brings the schema up to date. SQLite counts applied steps in `PRAGMA
/// user_version` (the first step is idempotent and always runs, as files
/// made before the count existed have it uncounted); PostgreSQL in a table,
/// under an advisory lock so nodes starting together migrate once.
pub fn migrate(db: &mut Db, steps: &[Migration]) -> DbResult<()> {
    match db.engine() {
        Engine::Sqlite => {
            let Some((first, rest)) = steps.split_first() else {
                return Ok(());
            };
            db.execute_batch(first.sqlite)?;
            let done: i64 = db
                .query_opt("PRAGMA user_version", &[], |r| r.get(0))?
                .unwrap_or(0);
            let done = usize::try_from(done).unwrap_or(0);
            for (i, step) in rest.iter().enumerate().skip(done) {
                let mut tx = db.transaction()?;
                tx.execute_batch(step.sqlite)?;
                tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
                tx.commit()?;
                tracing::info!(
                    version = i + 1,
                    step = step.name,
                    "database schema migrated"
                );
            }
        }
        Engine::Postgres => {
            let mut tx = db.transaction()?;
            // Any constant: the instance's own lock key.
            tx.execute_batch(
                "SELECT pg_advisory_xact_lock(7242716);
                 CREATE TABLE IF NOT EXISTS belfry_schema (version BIGINT NOT NULL);",
            )?;
            let done: Option<i64> =
                tx.query_opt("SELECT version FROM belfry_schema", &[], |r| r.get(0))?;
            if done.is_none() {
                tx.execute("INSERT INTO belfry_schema (version) VALUES (0)", &[])?;
            }
            let done = usize::try_from(done.unwrap_or(0)).unwrap_or(0);
            for (i, step) in steps.iter().enumerate().skip(done) {
                tx.execute_batch(step.postgres)?;
                tx.execute("UPDATE belfry_schema SET version = ?1", params![i + 1])?;
                tracing::info!(
                    version = i + 1,
                    step = step.name,
                    "database schema migrated"
                );
            }
            tx.commit()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_dollars_outside_quotes() {
        assert_eq!(
            pg_sql("SELECT '?1' FROM t WHERE a = ?1 AND b = ?12 AND c LIKE ?2 ESCAPE '\\'"),
            "SELECT '?1' FROM t WHERE a = $1 AND b = $12 AND c LIKE $2 ESCAPE '\\'"
        );
        assert_eq!(
            pg_sql("SELECT id FROM operators WHERE email = ?1 COLLATE NOCASE"),
            "SELECT id FROM operators WHERE email = $1"
        );
    }
}
