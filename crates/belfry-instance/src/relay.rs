//! Several nodes on one PostgreSQL: what another node wrote reaches this
//! node's streams.
//!
//! The rows are the truth. A write sends one `NOTIFY` per transaction (see
//! `store.rs`, `Wake`) that only says whose log grew; the relay, on its own
//! connection, reads the new events from the `events` table and publishes
//! them to the local [`Hub`]. It remembers the last sequence it relayed per
//! operator, so a relay that lost its connection (and with it any notify
//! sent meanwhile) re-reads from there once it is back, for every operator
//! with a stream here. Streams skip what they already sent and fetch any
//! gap from the log themselves (`stream.rs`), so a late or repeated relay
//! never shows anything twice.

use crate::db::{Db, DbError};
use crate::hub::{Hub, HubEvent};
use crate::store::{self, Wake};
use belfry_proto::stream::ServerFrame;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The `LISTEN` channel.
pub const CHANNEL: &str = "belfry";

/// The relay's connection in `pg_stat_activity`.
pub const APPLICATION: &str = "belfry-relay";

/// How often the relay looks whether its instance is gone, between notifies.
const POLL: Duration = Duration::from_millis(250);
/// Events read per query while catching up.
const PAGE: u32 = 1000;

/// Starts the relay thread for the store's database, if it is PostgreSQL.
/// It ends once `hub` has no other owner (the instance stopped).
pub fn start(url: String, node: Arc<str>, hub: &Arc<Hub>) -> std::io::Result<()> {
    let hub = Arc::downgrade(hub);
    std::thread::Builder::new()
        .name("belfry-relay".into())
        .spawn(move || run(&url, &node, &hub))?;
    Ok(())
}

fn run(url: &str, node: &str, hub: &Weak<Hub>) {
    let mut relay = Relay::default();
    let mut backoff = Duration::from_millis(100);
    while hub.strong_count() > 0 {
        match relay.session(url, node, hub) {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, "relay lost its database connection; reconnecting");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[derive(Default)]
struct Relay {
    /// The last sequence relayed per operator.
    last: HashMap<i64, u64>,
}

impl Relay {
    /// One connection's life: listen, catch up, relay until the instance
    /// is gone (`Ok`) or the connection fails (`Err`).
    fn session(&mut self, url: &str, node: &str, hub: &Weak<Hub>) -> Result<(), DbError> {
        let mut db = Db::postgres(url, APPLICATION)?;
        if let Some(client) = db.pg_client() {
            client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
        }
        tracing::debug!("relay listening");
        // Anything written while we were not listening: every operator
        // with a stream here reads on from where we left it.
        let Some(h) = hub.upgrade() else {
            return Ok(());
        };
        for operator_id in h.operators_with_streams() {
            self.events(&mut db, &h, operator_id, None)?;
        }
        drop(h);
        loop {
            let next = {
                let Some(client) = db.pg_client() else {
                    return Ok(());
                };
                let mut notifications = client.notifications();
                let mut iter = notifications.timeout_iter(POLL);
                postgres::fallible_iterator::FallibleIterator::next(&mut iter)?
            };
            let Some(h) = hub.upgrade() else {
                return Ok(());
            };
            let Some(n) = next else {
                continue;
            };
            let Some((from, wake)) = Wake::parse(n.payload()) else {
                tracing::debug!(payload = n.payload(), "relay: unknown notify");
                continue;
            };
            if from == node {
                // Our own write: the store published it already.
                continue;
            }
            match wake {
                Wake::Events { operator_id, first } => {
                    self.events(&mut db, &h, operator_id, Some(first))?;
                }
                Wake::Settings { operator_id } => state(&mut db, &h, operator_id, Part::Settings)?,
                Wake::Status { operator_id } => state(&mut db, &h, operator_id, Part::Status)?,
                Wake::Everyone => {
                    for operator_id in h.operators_with_streams() {
                        state(&mut db, &h, operator_id, Part::Settings)?;
                    }
                }
                Wake::Revoked {
                    operator_id,
                    token_id,
                } => h.publish(operator_id, HubEvent::Revoked { token_id }),
            }
        }
    }

    /// Publishes an operator's events after the last one relayed (or from
    /// `first`, the notify's, for an operator not relayed before; or only
    /// the newest, after a reconnect: a stream that missed more sees the
    /// gap and reads the log).
    fn events(
        &mut self,
        db: &mut Db,
        hub: &Hub,
        operator_id: i64,
        first: Option<u64>,
    ) -> Result<(), DbError> {
        if hub.streams(operator_id) == 0 {
            // Nobody here: a stream that opens later replays from the log.
            self.last.remove(&operator_id);
            return Ok(());
        }
        let mut after = match (self.last.get(&operator_id), first) {
            (Some(&last), _) => last,
            (None, Some(first)) => first.saturating_sub(1),
            (None, None) => {
                let head: Option<u64> = db.query_opt(
                    "SELECT head_seq FROM operators WHERE id = ?1",
                    crate::db::params![operator_id],
                    |r| r.get(0),
                )?;
                head.unwrap_or(0).saturating_sub(1)
            }
        };
        loop {
            let page = store::replay(db, operator_id, after, PAGE)?;
            let full = page.len() == PAGE as usize;
            for (seq, frame) in page {
                after = seq;
                hub.publish(
                    operator_id,
                    HubEvent::Seq {
                        seq,
                        frame: frame.into(),
                    },
                );
            }
            if !full {
                break;
            }
        }
        self.last.insert(operator_id, after);
        Ok(())
    }
}

/// Which state frame a wake is about.
#[derive(Debug, Clone, Copy)]
enum Part {
    Settings,
    Status,
}

/// Publishes an operator's current settings or status, as read now (a
/// later change's frame follows its own notify).
fn state(db: &mut Db, hub: &Hub, operator_id: i64, part: Part) -> Result<(), DbError> {
    if hub.streams(operator_id) == 0 {
        return Ok(());
    }
    let read = (|| {
        Ok::<_, store::StoreError>(match part {
            Part::Settings => {
                let policy = store::load_policy(db)?;
                ServerFrame::Settings {
                    document: Box::new(store::load_settings(db, operator_id, &policy, false)?),
                }
            }
            Part::Status => ServerFrame::Status {
                status: store::load_status(db, operator_id)?,
            },
        })
    })();
    match read {
        Ok(frame) => {
            hub.publish(operator_id, HubEvent::frame(&frame));
            Ok(())
        }
        Err(store::StoreError::Db(e)) => Err(e),
        Err(error) => {
            tracing::warn!(%error, operator_id, "relay: state unreadable");
            Ok(())
        }
    }
}
