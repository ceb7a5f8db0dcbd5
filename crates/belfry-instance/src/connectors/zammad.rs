//! Zammad: trigger webhooks. The default payload is the whole ticket (and
//! the article that fired the trigger) with no event name, so it goes
//! through the ticket comparison ([`super::snapshot`]); a custom payload
//! with a catalogue `type` is read as the generic kind's JSON. Links go to
//! `{base}/#ticket/zoom/{id}`.

use super::mapping::{Mapped, text};
use super::snapshot::{Article, Seen, Snapshot};
use super::sources::Source;
use super::{Parsed, generic};
use serde_json::Value;

/// Zammad's user 1 is the system ("-"): a ticket owned by it has no owner.
const NOBODY: &str = "1";

fn user_keys(v: &Value, base: &str, id_field: &str) -> Vec<String> {
    let id = text(v, &format!("{base}/id")).or_else(|| text(v, id_field));
    if id.as_deref() == Some(NOBODY) {
        return vec![];
    }
    [
        id,
        text(v, &format!("{base}/email")),
        text(v, &format!("{base}/login")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Maps one Zammad delivery.
pub fn map(source: &Source, hint: Option<&str>, v: &Value) -> Parsed {
    if v.get("ticket").is_none() && v.get("type").is_some() {
        return generic::map(source, v);
    }
    let Some(id) = text(v, "/ticket/id") else {
        return Parsed::Mapped(Mapped::ignored(hint, "no ticket.id in the body"));
    };
    let state = text(v, "/ticket/state")
        .or_else(|| text(v, "/ticket/state/name"))
        .unwrap_or_default();
    let closed = matches!(state.as_str(), "closed" | "merged" | "removed");
    let article = v.get("article").filter(|a| a.is_object()).and_then(|a| {
        Some(Article {
            id: text(a, "/id")?,
            text: text(a, "/body").unwrap_or_default(),
            internal: a.get("internal").and_then(Value::as_bool).unwrap_or(false),
            author: user_keys(a, "/created_by", "/created_by_id"),
        })
    });
    let count = v
        .pointer("/ticket/article_count")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let trigger_says_new = hint.is_some_and(|h| h.to_ascii_lowercase().contains("creat"));
    Parsed::Ticket(Seen {
        now: Snapshot {
            title: text(v, "/ticket/title").unwrap_or_default(),
            status: state,
            closed,
            owner: user_keys(v, "/ticket/owner", "/ticket/owner_id"),
            last_article: article.as_ref().map(|a| a.id.clone()),
        },
        new_ticket: count <= 1 || trigger_says_new,
        article,
        link: Some(format!("{}/#ticket/zoom/{id}", source.info.base_url)),
        id,
    })
}
