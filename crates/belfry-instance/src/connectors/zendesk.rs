//! Zendesk: event webhooks (`zen:event-type:ticket.*`, the body Zendesk
//! writes: `detail` is the ticket, `event` what changed) onto the catalogue;
//! a trigger webhook's body, which the admin writes, is read as the generic
//! kind's JSON. Links go to the agent view, `{base}/agent/tickets/{id}`.

use super::Parsed;
use super::generic;
use super::mapping::{Mapped, Raised, Who, body, excerpt, flag, text, ticket_line};
use super::sources::Source;
use serde_json::Value;

const PREFIX: &str = "zen:event-type:";

fn user(id: Option<String>) -> Option<Who> {
    Who::keys([id])
}

fn ids(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Object(_) => text(i, "/id"),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => vec![],
    }
}

fn is_closed(status: &str) -> bool {
    matches!(
        status.to_ascii_uppercase().as_str(),
        "SOLVED" | "CLOSED" | "DELETED" | "ARCHIVED"
    )
}

/// Maps one Zendesk delivery.
pub fn map(source: &Source, body_json: &Value) -> Parsed {
    let Some(event_type) = text(body_json, "/type").filter(|t| t.starts_with(PREFIX)) else {
        // A trigger or automation webhook: the admin wrote the body.
        return generic::map(source, body_json);
    };
    let event = event_type.trim_start_matches(PREFIX).to_owned();
    let name = Some(event.as_str());
    let d = |p: &str| text(body_json, &format!("/detail{p}"));
    let ticket = d("/id").or_else(|| {
        text(body_json, "/subject").and_then(|s| s.strip_prefix("zen:ticket:").map(str::to_owned))
    });
    let subject = d("/subject");
    let link = ticket
        .as_ref()
        .map(|id| format!("{}/agent/tickets/{id}", source.info.base_url));
    let assignee: Vec<Who> = user(d("/assignee_id")).into_iter().collect();
    let line = ticket_line(ticket.as_deref(), subject.as_deref());
    let make = |type_id: &'static str, to: Vec<Who>, extra: Option<String>| {
        let mut parts = line.clone();
        parts.push(extra);
        Raised::new(type_id, to, body(&parts), link.clone())
            .with("ticket_id", ticket.clone().map(Value::String))
            .with("subject", subject.clone().map(Value::String))
    };
    let cur = text(body_json, "/event/current");
    let prev = text(body_json, "/event/previous");
    let raised = match event.as_str() {
        "ticket.created" => vec![make("ticket_created", assignee, None)],
        "ticket.comment_added" => {
            let author = text(body_json, "/event/comment/author/id");
            if author.is_some() && author == d("/assignee_id") {
                return Parsed::Mapped(Mapped::ignored(name, "the assignee wrote the comment"));
            }
            let public = flag(body_json, "/event/comment/is_public").unwrap_or(true);
            let t = if public {
                "ticket_message"
            } else {
                "comment_created"
            };
            let said = text(body_json, "/event/comment/body").map(|b| excerpt(&b, 300));
            vec![make(t, assignee, said)]
        }
        "ticket.agent_assignment_changed" => {
            let to: Vec<Who> = [user(cur), user(prev)].into_iter().flatten().collect();
            vec![make("ticket_reassign", to, None)]
        }
        "ticket.status_changed" => {
            let (now, was) = (cur.unwrap_or_default(), prev.unwrap_or_default());
            let t = match (is_closed(&was), is_closed(&now)) {
                (false, true) => "ticket_closed",
                (true, false) => "ticket_reopened",
                _ => "ticket_status_name_changed",
            };
            vec![make(t, assignee, Some(format!("{was} → {now}")))]
        }
        "ticket.custom_status_changed" => {
            vec![make("ticket_status_name_changed", assignee, None)]
        }
        "ticket.subject_changed" => vec![make("subject_change", assignee, None)],
        "ticket.followers_changed" => {
            // Who is a follower now and was not before (`current` and
            // `previous` lists; an `added` list where the event has one).
            let before = ids(body_json.pointer("/event/previous"));
            let mut added = ids(body_json.pointer("/event/added"));
            added.extend(
                ids(body_json.pointer("/event/current"))
                    .into_iter()
                    .filter(|c| !before.contains(c)),
            );
            added.dedup();
            let to: Vec<Who> = added.into_iter().filter_map(|a| user(Some(a))).collect();
            if to.is_empty() {
                return Parsed::Mapped(Mapped::ignored(name, "no follower was added"));
            }
            vec![make("watcher_added", to, None)]
        }
        other => {
            return Parsed::Mapped(Mapped::ignored(
                name,
                format!("Zendesk event {other:?} has no notification type"),
            ));
        }
    };
    let raised: Vec<Raised> = raised.into_iter().filter(|r| !r.to.is_empty()).collect();
    Parsed::Mapped(Mapped::raise(name, raised, "the ticket has no assignee"))
}
