//! The store's upkeep: giving SQLite's page cache back when idle,
//! checkpoints the engine times, retention and the integrity check.

use super::*;

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

/// The store's upkeep: whether it was used lately, for giving its page
/// cache back once it is left alone (see [`Store::release_when_idle`]), and
/// what it wrote since the last checkpoint (see
/// [`Store::defer_checkpoints`]).
#[derive(Default)]
pub(super) struct Use {
    /// Used since the last idle check.
    pub(super) recent: AtomicBool,
    /// Used since the cache was last given back (its pages may be held).
    pub(super) held: AtomicBool,
    /// Wakes the idle watch at the first use after a release, so a store
    /// nobody touches costs no timer at all.
    pub(super) first: tokio::sync::Notify,
    /// How many times the cache was given back.
    pub(super) releases: AtomicU64,
    /// The engine checkpoints, not each commit (see `defer_checkpoints`).
    pub(super) deferred: AtomicBool,
    /// Pages written to the log since the last checkpoint, estimated.
    pub(super) unfolded: AtomicU64,
}

/// Log pages between checkpoints when the engine makes them: SQLite's own
/// default.
const CHECKPOINT_PAGES: u64 = 1000;

impl Store {
    /// Gives SQLite's page cache back to the allocator once the store has
    /// not been used for `idle`, every time it goes quiet, then calls
    /// `after` (which hands freed memory back to the OS where the
    /// allocator keeps it). An app that idles all day holds up to
    /// `CACHE_KIB` of pages it last read at start otherwise; the next
    /// query reads them again from the OS's file cache, in well under a
    /// millisecond. Runs until dropped; asleep while nobody uses the store.
    pub async fn release_when_idle(&self, idle: Duration, after: Option<fn()>) {
        loop {
            self.use_.first.notified().await;
            loop {
                self.use_.recent.store(false, Ordering::Relaxed);
                tokio::time::sleep(idle).await;
                if !self.use_.recent.load(Ordering::Relaxed) {
                    break;
                }
            }
            let store = self.clone();
            // `after` walks the allocator's free memory: off the async
            // threads too, with the release.
            let released = tokio::task::spawn_blocking(move || {
                store.release_memory()?;
                if let Some(after) = after {
                    after();
                }
                Ok::<_, StoreError>(())
            })
            .await;
            match released {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "the store kept its cache"),
                Err(e) => tracing::debug!(error = %e, "the store's release task failed"),
            }
        }
    }

    /// Gives SQLite's page cache back now (`PRAGMA shrink_memory`), after
    /// a checkpoint when the engine makes them: this is a quiet moment.
    pub fn release_memory(&self) -> Result<()> {
        // Not through `lock`: this is not a use.
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if self.use_.deferred.load(Ordering::Relaxed) {
            Self::checkpoint_with(&conn, &self.use_)?;
        }
        conn.execute_batch("PRAGMA shrink_memory")?;
        self.use_.held.store(false, Ordering::Release);
        self.use_.releases.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Stops SQLite from checkpointing inside the commit that fills the
    /// write-ahead log: the engine calls [`Store::checkpoint`] once it has
    /// handed the new events on. Left to SQLite, every thousandth page
    /// written made one event's commit copy the log into the database and
    /// wait for the disk twice, and that event's toast came late (the
    /// slowest percent of event → toast, docs/benchmarks.md).
    pub fn defer_checkpoints(&self) -> Result<()> {
        let conn = self.lock();
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        self.use_.deferred.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Enough written since the last checkpoint for the next one.
    pub fn checkpoint_due(&self) -> bool {
        self.use_.deferred.load(Ordering::Relaxed)
            && self.use_.unfolded.load(Ordering::Relaxed) >= CHECKPOINT_PAGES
    }

    /// Copies the write-ahead log into the database as far as no reader
    /// needs it (a passive checkpoint: it waits for nobody); returns the
    /// pages copied.
    pub fn checkpoint(&self) -> Result<u64> {
        let conn = self.lock();
        Self::checkpoint_with(&conn, &self.use_)
    }

    /// Counts a write transaction of `rows` towards the next checkpoint,
    /// in log pages as measured on this schema: a commit writes about a
    /// dozen (the row, its indexes, its search terms, the counts, the
    /// position; 1,335 for 100 one-row commits), and a row in a batch a
    /// quarter of one (450 for 2,000 rows in four). Rows alone would make
    /// a catch-up checkpoint every few batches, each waiting for the disk.
    pub(super) fn wrote(&self, rows: usize) {
        let rows = u64::try_from(rows).unwrap_or(u64::MAX);
        let pages = rows.div_ceil(4).saturating_add(12);
        self.use_.unfolded.fetch_add(pages, Ordering::Relaxed);
    }

    pub(super) fn checkpoint_with(conn: &Connection, use_: &Use) -> Result<u64> {
        use_.unfolded.store(0, Ordering::Relaxed);
        let copied: i64 = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(2))?;
        Ok(u64::try_from(copied).unwrap_or(0))
    }

    /// How many times the store has given its page cache back.
    pub fn releases(&self) -> u64 {
        self.use_.releases.load(Ordering::Relaxed)
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
