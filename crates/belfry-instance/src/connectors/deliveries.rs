//! What arrived from each source and what became of it: accepted (with the
//! notifications it made once mapped), ignored (why), duplicate, refused
//! (why; the refused body itself is not kept). The admin API and CLI list
//! them; the seen delivery ids make retries harmless.

use crate::db::{Db, DbError, params};
use crate::store::{Store, StoreError, parse_ts, ts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Deliveries kept per source; older ones (and their ids, so a retry older
/// than this many deliveries is no longer known) are pruned.
pub const KEPT_PER_SOURCE: i64 = 10_000;
/// Refusals kept per source: enough to diagnose a misconfigured helpdesk,
/// and a flood of forged requests cannot grow the database.
pub const REFUSALS_KEPT_PER_SOURCE: i64 = 200;

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored and answered; mapped into `notifications` once processed.
    Accepted,
    /// Stored but nothing to notify: `reason` says why.
    Ignored,
    /// A delivery id seen before: answered 2xx and dropped.
    Duplicate,
    /// Not verified or not readable: answered with an error, body not kept.
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Ignored => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::Refused => "refused",
        }
    }

    fn from_name(s: &str) -> Self {
        match s {
            "ignored" => Outcome::Ignored,
            "duplicate" => Outcome::Duplicate,
            "refused" => Outcome::Refused,
            _ => Outcome::Accepted,
        }
    }
}

/// One notification a delivery became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Made {
    /// The notification id.
    pub id: String,
    /// Whose inbox.
    pub operator: String,
    /// Its type.
    #[serde(rename = "type")]
    pub type_id: String,
}

/// A delivery as the admin sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// Row id.
    pub id: i64,
    /// The sender's delivery id, when it gives one.
    pub delivery_id: Option<String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// What became of it.
    pub outcome: Outcome,
    /// Why it was refused or ignored, or a note on an accepted one
    /// (a recipient the map does not know, a link dropped).
    pub reason: Option<String>,
    /// What the sender said happened (its event name or trigger).
    pub event: Option<String>,
    /// When the mapping ran; null while it waits.
    pub processed_at: Option<DateTime<Utc>>,
    /// The notifications it became.
    pub notifications: Vec<Made>,
}

/// The answer to storing an accepted delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// New: its row id, to be mapped.
    New(i64),
    /// Its delivery id was seen: the row of the first one.
    Duplicate(i64),
}

/// A stored delivery waiting to be mapped.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Row id.
    pub id: i64,
    /// The source's row id.
    pub source_id: i64,
    /// The sender's hint (trigger name).
    pub hint: Option<String>,
    /// The body as received.
    pub body: Vec<u8>,
}

/// Pruning walks up to [`KEPT_PER_SOURCE`] index entries, so it runs once
/// every this many deliveries (by row id), not on each: a source holds at
/// most this many more than it keeps.
const PRUNE_EVERY: i64 = 128;

/// Drops a source's oldest deliveries beyond what is kept, when `row` (the
/// delivery just written) is due for it.
fn prune(conn: &mut Db, source_id: i64, row: i64) -> Result<(), DbError> {
    if row % PRUNE_EVERY != 0 {
        return Ok(());
    }
    conn.execute(
        "DELETE FROM deliveries WHERE source_id = ?1 AND outcome = 'refused' AND id <=
           (SELECT id FROM deliveries WHERE source_id = ?1 AND outcome = 'refused' ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        params![source_id, REFUSALS_KEPT_PER_SOURCE],
    )?;
    conn.execute(
        "DELETE FROM deliveries WHERE source_id = ?1 AND id <=
           (SELECT id FROM deliveries WHERE source_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        params![source_id, KEPT_PER_SOURCE],
    )?;
    Ok(())
}

/// The advisory lock key of a delivery: its id in a range of its own
/// (bit 62 set), apart from the migration lock's.
fn claim_key(id: i64) -> i64 {
    (1 << 62) | (id & ((1 << 62) - 1))
}

/// Delivery `id` held for mapping by this node; released on drop.
pub struct DeliveryClaim {
    store: Store,
    id: i64,
    /// The connection whose session holds the lock.
    slot: usize,
}

impl Drop for DeliveryClaim {
    fn drop(&mut self) {
        let mut conn = self.store.lock_slot(self.slot);
        if conn.engine() == crate::db::Engine::Postgres
            && let Err(error) =
                conn.execute("SELECT pg_advisory_unlock(?1)", params![claim_key(self.id)])
        {
            // A lost connection released it already.
            tracing::debug!(delivery = self.id, %error, "releasing the claim failed");
        }
    }
}

impl Store {
    /// Records a refusal (no body) for the admin to see.
    pub fn record_refusal(
        &self,
        source_id: i64,
        delivery_id: Option<&str>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let id = conn.insert(
            "INSERT INTO deliveries (source_id, delivery_id, received_at, outcome, reason) VALUES (?1, ?2, ?3, 'refused', ?4)",
            params![source_id, delivery_id, ts(Utc::now()), reason],
        )?;
        prune(&mut conn, source_id, id)?;
        Ok(())
    }

    /// Stores a verified delivery, or says it is a duplicate (and records that).
    pub fn store_delivery(
        &self,
        source_id: i64,
        delivery_id: Option<&str>,
        hint: Option<&str>,
        body: &[u8],
    ) -> Result<Stored, StoreError> {
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        let now = ts(Utc::now());
        if let Some(d) = delivery_id {
            let first: Option<i64> = tx.query_opt(
                "SELECT id FROM deliveries WHERE source_id = ?1 AND delivery_id = ?2 AND outcome IN ('accepted', 'ignored')",
                params![source_id, d],
                |r| r.get(0),
            )?;
            if let Some(first) = first {
                let id = tx.insert(
                    "INSERT INTO deliveries (source_id, delivery_id, received_at, outcome, reason, hint, processed_at)
                     VALUES (?1, ?2, ?3, 'duplicate', ?4, ?5, ?3)",
                    params![source_id, d, now.as_str(), format!("the same delivery id as #{first}"), hint],
                )?;
                prune(&mut tx, source_id, id)?;
                tx.commit()?;
                return Ok(Stored::Duplicate(first));
            }
        }
        let inserted = tx.insert(
            "INSERT INTO deliveries (source_id, delivery_id, received_at, outcome, hint, body) VALUES (?1, ?2, ?3, 'accepted', ?4, ?5)",
            params![source_id, delivery_id, now, hint, body],
        );
        let id = match inserted {
            // Another node stored the same delivery id between our check
            // and our insert (the unique index `deliveries_seen`): a retry.
            Err(e) if e.is_conflict() => {
                drop(tx);
                drop(conn);
                return self.store_delivery(source_id, delivery_id, hint, body);
            }
            other => other?,
        };
        prune(&mut tx, source_id, id)?;
        tx.commit()?;
        Ok(Stored::New(id))
    }

    /// Accepted deliveries not mapped yet, oldest first (after a restart).
    pub fn pending_deliveries(&self) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.lock();
        Ok(conn.query(
            "SELECT id FROM deliveries WHERE outcome = 'accepted' AND processed_at IS NULL ORDER BY id",
            &[],
            |r| r.get(0),
        )?)
    }

    /// Takes delivery `id` for mapping on this node, or `None` when another
    /// node holds it. On PostgreSQL a session advisory lock: two nodes that
    /// both find it pending at start map it once, and the lock goes with
    /// the connection of a node that dies. SQLite has one node.
    pub fn claim_delivery(&self, id: i64) -> Result<Option<DeliveryClaim>, StoreError> {
        let mut conn = self.lock();
        if conn.engine() == crate::db::Engine::Postgres {
            let got = conn.query_opt(
                "SELECT 1 WHERE pg_try_advisory_lock(?1)",
                params![claim_key(id)],
                |_| Ok(()),
            )?;
            if got.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(DeliveryClaim {
            store: self.clone(),
            id,
            slot: conn.slot(),
        }))
    }

    /// A delivery to map, if it still waits (read it under its claim).
    pub fn pending_delivery(&self, id: i64) -> Result<Option<Pending>, StoreError> {
        let mut conn = self.lock();
        Ok(conn.query_opt(
            "SELECT id, source_id, hint, body FROM deliveries WHERE id = ?1 AND outcome = 'accepted' AND processed_at IS NULL",
            params![id],
            |r| {
                Ok(Pending {
                    id: r.get(0)?,
                    source_id: r.get(1)?,
                    hint: r.get(2)?,
                    body: r.get::<Option<Vec<u8>>>(3)?.unwrap_or_default(),
                })
            },
        )?)
    }

    /// Records what a delivery became: `Some(reason)` with nothing made is
    /// `ignored`; an `event` name found in the body is kept for the list.
    pub fn finish_delivery(
        &self,
        id: i64,
        event: Option<&str>,
        made: &[Made],
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let outcome = if made.is_empty() && reason.is_some() {
            Outcome::Ignored
        } else {
            Outcome::Accepted
        };
        conn.execute(
            "UPDATE deliveries SET outcome = ?2, reason = ?3, hint = COALESCE(?4, hint), processed_at = ?5, notifications = ?6 WHERE id = ?1",
            params![
                id,
                outcome.as_str(),
                reason,
                event,
                ts(Utc::now()),
                serde_json::to_string(made)?
            ],
        )?;
        Ok(())
    }

    /// A source's latest deliveries, newest first.
    pub fn deliveries(&self, source_id: i64, limit: u32) -> Result<Vec<DeliveryView>, StoreError> {
        let mut conn = self.lock();
        Ok(conn.query(
            "SELECT id, delivery_id, received_at, outcome, reason, hint, processed_at, notifications
             FROM deliveries WHERE source_id = ?1 ORDER BY id DESC LIMIT ?2",
            params![source_id, limit.clamp(1, 1000)],
            |r| {
                let received: String = r.get(2)?;
                let outcome: String = r.get(3)?;
                let processed: Option<String> = r.get(6)?;
                let made: String = r.get(7)?;
                Ok(DeliveryView {
                    id: r.get(0)?,
                    delivery_id: r.get(1)?,
                    received_at: parse_ts(&received)?,
                    outcome: Outcome::from_name(&outcome),
                    reason: r.get(4)?,
                    event: r.get(5)?,
                    processed_at: processed.as_deref().map(parse_ts).transpose()?,
                    notifications: serde_json::from_str(&made).unwrap_or_default(),
                })
            },
        )?)
    }

    /// The last state seen of a ticket (kinds that send whole tickets).
    pub fn ticket_state(
        &self,
        source_id: i64,
        ticket: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let mut conn = self.lock();
        let raw: Option<String> = conn.query_opt(
            "SELECT state FROM ticket_states WHERE source_id = ?1 AND ticket = ?2",
            params![source_id, ticket],
            |r| r.get(0),
        )?;
        Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    /// Keeps a ticket's state for the next comparison.
    pub fn set_ticket_state(
        &self,
        source_id: i64,
        ticket: &str,
        state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        conn.execute(
            "INSERT INTO ticket_states (source_id, ticket, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (source_id, ticket) DO UPDATE SET state = excluded.state",
            params![source_id, ticket, serde_json::to_string(state)?],
        )?;
        Ok(())
    }

    /// A source's row id, by name.
    pub fn source_id(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let mut conn = self.lock();
        Ok(conn.query_opt(
            "SELECT id FROM sources WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )?)
    }
}
