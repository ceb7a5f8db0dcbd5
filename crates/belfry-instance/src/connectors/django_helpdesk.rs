//! django-helpdesk: its two webhooks (new ticket, follow-up) post the
//! whole ticket (`TicketSerializer`: `id`, `title`, numeric `status`,
//! `assigned_to` as the helpdesk's user id, `followup_set`), at the top
//! level or under `ticket` depending on the version, with `followup_id` on
//! a follow-up. No event name and no old values: the ticket comparison
//! ([`super::snapshot`]) raises what changed. Links go to
//! `{base}/tickets/{id}/`, `base` being where the helpdesk is mounted.

use super::Parsed;
use super::mapping::{Mapped, text};
use super::snapshot::{Article, Seen, Snapshot};
use super::sources::Source;
use serde_json::Value;

/// `Ticket.STATUS_CHOICES` in django-helpdesk's models.
fn status_name(code: &str) -> (&'static str, bool) {
    match code {
        "1" => ("Open", false),
        "2" => ("Reopened", false),
        "3" => ("Resolved", true),
        "4" => ("Closed", true),
        "5" => ("Duplicate", true),
        _ => ("Unknown", false),
    }
}

/// Maps one django-helpdesk delivery.
pub fn map(source: &Source, v: &Value) -> Parsed {
    let ticket = v.get("ticket").filter(|t| t.is_object()).unwrap_or(v);
    let Some(id) = text(ticket, "/id") else {
        return Parsed::Mapped(Mapped::ignored(None, "no ticket id in the body"));
    };
    let followup_id = text(v, "/followup_id");
    let (status, closed) = status_name(&text(ticket, "/status").unwrap_or_default());
    let followups = ticket
        .get("followup_set")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // The follow-up this webhook is for, else the latest one.
    let latest = followups
        .iter()
        .find(|f| followup_id.is_some() && text(f, "/id") == followup_id)
        .or_else(|| {
            followups
                .iter()
                .max_by_key(|f| f.get("id").and_then(Value::as_i64))
        });
    let article = latest.and_then(|f| {
        Some(Article {
            id: text(f, "/id")?,
            text: text(f, "/comment").unwrap_or_default(),
            internal: !f.get("public").and_then(Value::as_bool).unwrap_or(true),
            author: text(f, "/user").into_iter().collect(),
        })
    });
    // Only a follow-up has followup_id; the new-ticket webhook's only
    // follow-up is the ticket's opening ("Ticket Opened").
    let new_ticket = followup_id.is_none();
    Parsed::Ticket(Seen {
        now: Snapshot {
            title: text(ticket, "/title").unwrap_or_default(),
            status: status.to_owned(),
            closed,
            owner: text(ticket, "/assigned_to").into_iter().collect(),
            last_article: article.as_ref().map(|a| a.id.clone()),
        },
        new_ticket,
        article: if new_ticket { None } else { article },
        link: Some(format!("{}/tickets/{id}/", source.info.base_url)),
        id,
    })
}
