//! Chatwoot: account webhooks (`event` names what happened; the body is
//! the conversation, or the message with its conversation) onto the
//! catalogue. A conversation is a chat; links go to
//! `{base}/app/accounts/{account}/conversations/{display id}`.

use super::Parsed;
use super::mapping::{Mapped, Raised, Who, body, excerpt, flag, text};
use super::sources::Source;
use serde_json::Value;

fn assignee_at(v: &Value, base: &str) -> Option<Who> {
    Who::keys([
        text(v, &format!("{base}/meta/assignee/id")),
        text(v, &format!("{base}/meta/assignee/email")),
        text(v, &format!("{base}/assignee_id")),
    ])
}

/// The `changed_attributes` entry for `key`, as (previous, current).
fn changed(v: &Value, key: &str) -> Option<(Option<String>, Option<String>)> {
    let list = v.get("changed_attributes")?.as_array()?;
    list.iter().find_map(|entry| {
        let c = entry.get(key)?;
        Some((text(c, "/previous_value"), text(c, "/current_value")))
    })
}

/// Maps one Chatwoot delivery.
pub fn map(source: &Source, v: &Value) -> Parsed {
    let Some(event) = text(v, "/event") else {
        return Parsed::Mapped(Mapped::ignored(None, "no `event` in the body"));
    };
    let name = Some(event.as_str());
    let is_message = event.starts_with("message_");
    // The conversation: the body itself, or the message's `conversation`.
    let conv = if is_message { "/conversation" } else { "" };
    let conv_id = text(v, &format!("{conv}/display_id")).or_else(|| text(v, &format!("{conv}/id")));
    let account = text(v, "/account/id").or_else(|| text(v, &format!("{conv}/account_id")));
    let link = match (&account, &conv_id) {
        (Some(a), Some(c)) => Some(format!(
            "{}/app/accounts/{a}/conversations/{c}",
            source.info.base_url
        )),
        _ => None,
    };
    let assignee: Vec<Who> = assignee_at(v, conv)
        .or_else(|| assignee_at(v, ""))
        .into_iter()
        .collect();
    let contact = text(v, &format!("{conv}/meta/sender/name")).or_else(|| text(v, "/sender/name"));
    let line = vec![
        conv_id.as_ref().map(|c| format!("Chat #{c}")),
        contact.map(|c| format!("from {c}")),
    ];
    let make = |type_id: &'static str, to: Vec<Who>, extra: Option<String>| {
        let mut parts = line.clone();
        parts.push(extra);
        Raised::new(type_id, to, body(&parts), link.clone())
            .with("chat_id", conv_id.clone().map(Value::String))
    };
    let raised = match event.as_str() {
        "conversation_created" => vec![make("chat_created", assignee, None)],
        "message_created" => {
            let private = flag(v, "/private").unwrap_or(false);
            let kind = text(v, "/message_type").unwrap_or_default();
            let said = text(v, "/content").map(|c| excerpt(&c, 300));
            if private {
                // A private note: from another agent, to the assignee.
                let author = [text(v, "/sender/id"), text(v, "/sender/email")];
                let by_assignee = assignee.first().is_some_and(|a| {
                    author
                        .iter()
                        .flatten()
                        .any(|k| a.keys.iter().any(|x| x.eq_ignore_ascii_case(k)))
                });
                if by_assignee {
                    return Parsed::Mapped(Mapped::ignored(name, "the assignee wrote the note"));
                }
                vec![make("comment_created", assignee, said)]
            } else if kind == "incoming" {
                vec![make("ticket_message", assignee, said)]
            } else {
                return Parsed::Mapped(Mapped::ignored(
                    name,
                    format!("a {kind} message is the helpdesk's own reply"),
                ));
            }
        }
        "conversation_status_changed" => match text(v, "/status").unwrap_or_default().as_str() {
            "resolved" => vec![make("chat_closed", assignee, None)],
            other => {
                return Parsed::Mapped(Mapped::ignored(
                    name,
                    format!("status {other:?} has no notification type"),
                ));
            }
        },
        "conversation_updated" | "assignee_changed" => match changed(v, "assignee_id") {
            Some((previous, _)) => {
                let mut to = assignee;
                to.extend(Who::keys([previous]));
                vec![make("chat_reassign", to, None)]
            }
            None => {
                return Parsed::Mapped(Mapped::ignored(
                    name,
                    "no assignee change in changed_attributes",
                ));
            }
        },
        other => {
            return Parsed::Mapped(Mapped::ignored(
                name,
                format!("Chatwoot event {other:?} has no notification type"),
            ));
        }
    };
    let raised: Vec<Raised> = raised.into_iter().filter(|r| !r.to.is_empty()).collect();
    Parsed::Mapped(Mapped::raise(
        name,
        raised,
        "the conversation has no assignee",
    ))
}
