//! Maps accepted deliveries after the sender has its answer: one task takes
//! them in the order they were stored (a ticket's states must be compared in
//! order), finds the operators, stores and streams the notifications, and
//! records what each delivery became. Deliveries stored but not mapped when
//! the instance stopped are mapped when it starts again.

use super::deliveries::Made;
use super::mapping::{Mapped, Raised, Who};
use super::snapshot::{self, Snapshot};
use super::sources::{Source, origin_of};
use super::{Parsed, parse};
use crate::store::{NewNotification, Store, StoreError};
use belfry_proto::catalogue;
use belfry_proto::inbox::{MAX_BODY_CHARS, MAX_LINK_BYTES, MAX_TITLE_CHARS, clip};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The handle the ingest endpoint hands accepted deliveries to.
#[derive(Clone, Debug)]
pub struct Gateway {
    tx: mpsc::UnboundedSender<i64>,
}

impl Gateway {
    /// Starts the mapping task; it ends when `shutdown` turns true.
    pub fn start(store: Store, public_url: Arc<str>, shutdown: watch::Receiver<bool>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, public_url, rx, shutdown));
        Self { tx }
    }

    /// Queues a stored delivery for mapping.
    pub fn enqueue(&self, delivery: i64) {
        if self.tx.send(delivery).is_err() {
            // Shutting down: the delivery is stored and is mapped at the next start.
            tracing::debug!(delivery, "gateway stopped; mapping at next start");
        }
    }
}

async fn run(
    store: Store,
    public_url: Arc<str>,
    mut rx: mpsc::UnboundedReceiver<i64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let backlog = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.pending_deliveries()).await
    };
    let mut queue: std::collections::VecDeque<i64> = match backlog {
        Ok(Ok(ids)) => ids.into(),
        Ok(Err(error)) => {
            tracing::error!(%error, "could not read the deliveries left to map");
            Default::default()
        }
        Err(error) => {
            tracing::error!(%error, "delivery backlog task failed");
            Default::default()
        }
    };
    loop {
        let id = match queue.pop_front() {
            Some(id) => id,
            None => tokio::select! {
                got = rx.recv() => match got {
                    Some(id) => id,
                    None => break,
                },
                _ = shutdown.wait_for(|s| *s) => break,
            },
        };
        let store = store.clone();
        let public_url = Arc::clone(&public_url);
        let done = tokio::task::spawn_blocking(move || process(&store, &public_url, id)).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(delivery = id, %error, "mapping a delivery failed"),
            Err(error) => tracing::error!(delivery = id, %error, "mapping task failed"),
        }
    }
}

/// Whether a notification may carry `link`: on the helpdesk's origin or
/// the instance's, http(s), no credentials, within the length limit.
fn allowed_link(link: &str, origins: &[Option<String>]) -> bool {
    let Ok(url) = url::Url::parse(link) else {
        return false;
    };
    let origin = url.origin().ascii_serialization();
    matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && link.len() <= MAX_LINK_BYTES
        && origins.iter().flatten().any(|o| *o == origin)
}

fn resolve(store: &Store, source: &Source, who: &Who) -> Result<Option<(i64, String)>, StoreError> {
    if let Some(login) = &who.login {
        return store.operator_id_by_login(login);
    }
    store.resolve_user(source.id, &who.keys)
}

/// Maps one stored delivery and records the outcome.
pub fn process(store: &Store, public_url: &str, id: i64) -> Result<(), StoreError> {
    let Some(_claim) = store.claim_delivery(id)? else {
        // Another node maps it (both found it pending at start).
        return Ok(());
    };
    let Some(pending) = store.pending_delivery(id)? else {
        return Ok(());
    };
    let Some(source) = store.source_by_id(pending.source_id)? else {
        return Ok(());
    };
    let body: Value = match serde_json::from_slice(&pending.body) {
        Ok(v) => v,
        Err(e) => {
            return store.finish_delivery(id, None, &[], Some(&format!("malformed JSON: {e}")));
        }
    };
    let mapped = match parse(&source, pending.hint.as_deref(), &body) {
        Parsed::Mapped(m) => m,
        Parsed::Ticket(seen) => {
            let before: Option<Snapshot> = store
                .ticket_state(source.id, &seen.id)?
                .and_then(|v| serde_json::from_value(v).ok());
            let mapped = snapshot::diff(before.as_ref(), &seen);
            let mut now = seen.now.clone();
            if now.last_article.is_none() {
                now.last_article = before.and_then(|b| b.last_article);
            }
            store.set_ticket_state(source.id, &seen.id, &serde_json::to_value(&now)?)?;
            mapped
        }
    };
    let (event, raised, mut notes) = match mapped {
        Mapped::Ignored { event, reason } => {
            tracing::info!(source = %source.info.name, delivery = id, %reason, "delivery ignored");
            return store.finish_delivery(id, event.as_deref(), &[], Some(&reason));
        }
        Mapped::Raise {
            event,
            raised,
            note,
        } => (event, raised, note.into_iter().collect::<Vec<_>>()),
    };
    let origins = [origin_of(&source.info.base_url), origin_of(public_url)];
    let mut made = Vec::new();
    for r in raised {
        emit_one(store, &source, &origins, r, &mut made, &mut notes)?;
    }
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    tracing::info!(
        source = %source.info.name,
        delivery = id,
        notifications = made.len(),
        "delivery mapped"
    );
    store.finish_delivery(id, event.as_deref(), &made, note.as_deref())
}

fn emit_one(
    store: &Store,
    source: &Source,
    origins: &[Option<String>],
    r: Raised,
    made: &mut Vec<Made>,
    notes: &mut Vec<String>,
) -> Result<(), StoreError> {
    let Some(def) = catalogue::type_def(r.type_id) else {
        notes.push(format!("unknown type {}", r.type_id));
        return Ok(());
    };
    let link = match r.link {
        Some(l) if allowed_link(&l, origins) => Some(l),
        Some(l) => {
            notes.push(format!(
                "link dropped (not on the helpdesk's or the instance's origin): {}",
                clip(&l, 120)
            ));
            None
        }
        None => None,
    };
    let mut data = r.data;
    data.insert("source".into(), Value::String(source.info.name.clone()));
    let mut sent_to: Vec<i64> = Vec::new();
    for who in &r.to {
        let Some((operator, login)) = resolve(store, source, who)? else {
            notes.push(format!("{} is not mapped to an operator", who.describe()));
            continue;
        };
        if sent_to.contains(&operator) {
            continue;
        }
        sent_to.push(operator);
        let n = NewNotification {
            type_id: def.id.to_owned(),
            category: def.category,
            title: clip(&r.title, MAX_TITLE_CHARS),
            body: clip(&r.body, MAX_BODY_CHARS),
            link: link.clone(),
            data: data.clone(),
        };
        for stored in store.emit(operator, vec![n])? {
            made.push(Made {
                id: stored.id,
                operator: login.clone(),
                type_id: stored.type_id,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_only_on_the_allowed_origins() {
        let origins = [
            Some("https://acme.zendesk.com".to_owned()),
            Some("http://127.0.0.1:8700".to_owned()),
        ];
        assert!(allowed_link(
            "https://acme.zendesk.com/agent/tickets/7",
            &origins
        ));
        assert!(allowed_link("http://127.0.0.1:8700/tickets/7", &origins));
        assert!(!allowed_link(
            "https://evil.example/agent/tickets/7",
            &origins
        ));
        assert!(!allowed_link("https://u:p@acme.zendesk.com/", &origins));
        assert!(!allowed_link("javascript:alert(1)", &origins));
    }
}
