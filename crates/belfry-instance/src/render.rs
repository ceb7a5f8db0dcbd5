//! Turns an admin's "this happened" into the notification an operator
//! sees: the title, a body made from the event's details, and a link on the
//! instance's own origin.

use crate::error::ApiError;
use crate::store::NewNotification;
use belfry_proto::api::EmitEvent;
use belfry_proto::catalogue::{self, TEST_NOTIFICATION};
pub use belfry_proto::inbox::clip;
use belfry_proto::inbox::{MAX_BODY_CHARS, MAX_LINK_BYTES, MAX_TITLE_CHARS};
use belfry_proto::settings::{FieldError, Reason};
use serde_json::{Map, Value};

fn text(data: &Map<String, Value>, key: &str) -> Option<String> {
    match data.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn default_body(type_id: &str, data: &Map<String, Value>) -> String {
    let ticket = text(data, "ticket_id").map(|t| format!("Ticket #{t}"));
    let chat = text(data, "chat_id").map(|c| format!("Chat #{c}"));
    let item = ticket.or(chat).unwrap_or_default();
    let client = text(data, "client");
    let subject = text(data, "subject");
    let mut parts: Vec<String> = Vec::new();
    if !item.is_empty() {
        parts.push(item);
    }
    match type_id {
        "csat_received" | "csat_negative" => {
            if let Some(score) = text(data, "score") {
                parts.push(format!("rated {score}/5"));
            }
        }
        TEST_NOTIFICATION => {
            let channel = text(data, "channel").unwrap_or_else(|| "bell".to_owned());
            parts.push(format!("A test notification for the {channel} channel"));
        }
        _ => {}
    }
    if let Some(c) = client {
        parts.push(format!("from {c}"));
    }
    if let Some(s) = subject {
        parts.push(format!("“{s}”"));
    }
    if let Some(m) = text(data, "message") {
        parts.push(m);
    }
    parts.join(" · ")
}

/// Longest ticket or chat id put into a link, in characters.
const MAX_ID_CHARS: usize = 128;

/// Whether `id` can be a link's last segment as it is meant: letters and
/// digits of any script, `-`, `_`, `.`, `~`, not starting with a dot (so
/// never `.` or `..`). Slashes, `?`, `#`, spaces, control and bidi
/// characters are refused: `1/../../admin` or `42?next=…` would make a
/// link to something other than the ticket.
fn is_identifier(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
}

/// A path segment with every byte outside ASCII letters, digits and
/// `-_.~` percent-encoded (RFC 3986's unreserved characters).
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The link made from `data.ticket_id` (or else `data.chat_id`); a 400
/// naming the field when the id is no identifier.
fn default_path(data: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    for (key, prefix) in [("ticket_id", "/tickets/"), ("chat_id", "/chats/")] {
        let Some(value) = data.get(key) else {
            continue;
        };
        return match text(data, key) {
            Some(id) if is_identifier(&id) => Ok(Some(format!("{prefix}{}", segment(&id)))),
            _ if value.is_null() => continue,
            _ => Err(ApiError::InvalidFields(vec![FieldError::new(
                format!("data.{key}"),
                Reason::NotAnIdentifier,
            )])),
        };
    }
    Ok(None)
}

/// Whether a path has a `.` or `..` segment (also percent-encoded), which
/// a browser resolves to another path than the one written.
fn has_dot_segment(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    })
}

/// Checks and renders one event. `public_url` has no trailing slash.
pub fn render(event: EmitEvent, public_url: &str) -> Result<NewNotification, ApiError> {
    let def = catalogue::type_def(&event.type_id)
        .filter(|d| d.id != "status_reminder")
        .ok_or_else(|| {
            ApiError::Invalid(format!(
                "unknown notification type {:?}",
                clip(&event.type_id, 64)
            ))
        })?;
    let path = match event.path {
        Some(p) => Some(p),
        None => default_path(&event.data)?,
    };
    let link = match path {
        Some(p) if has_dot_segment(&p) => {
            return Err(ApiError::Invalid(
                "path must not have '.' or '..' segments".into(),
            ));
        }
        // Only paths on our own origin: no scheme, no `//host`, no backslashes.
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => {
            let link = format!("{public_url}{p}");
            if link.len() > MAX_LINK_BYTES {
                return Err(ApiError::Invalid("path too long".into()));
            }
            Some(link)
        }
        Some(_) => {
            return Err(ApiError::Invalid(
                "path must start with a single '/'".into(),
            ));
        }
        None => None,
    };
    let title = event.title.unwrap_or_else(|| def.title_en.to_owned());
    let body = event
        .body
        .unwrap_or_else(|| default_body(def.id, &event.data));
    Ok(NewNotification {
        type_id: def.id.to_owned(),
        category: def.category,
        title: clip(&title, MAX_TITLE_CHARS),
        body: clip(&body, MAX_BODY_CHARS),
        link,
        data: event.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(type_id: &str, data: Value) -> EmitEvent {
        EmitEvent {
            operator: "op".into(),
            type_id: type_id.into(),
            title: None,
            body: None,
            path: None,
            data: data.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn csat_body_shows_score_and_links_ticket() {
        let n = render(
            event(
                "csat_received",
                serde_json::json!({"ticket_id": 7, "score": 4}),
            ),
            "http://x",
        )
        .unwrap();
        assert_eq!(n.title, "CSAT received");
        assert_eq!(n.body, "Ticket #7 · rated 4/5");
        assert_eq!(n.link.as_deref(), Some("http://x/tickets/7"));
    }

    #[test]
    fn foreign_links_and_unknown_types_refused() {
        let mut e = event("ticket_created", Value::Null);
        e.path = Some("//evil.example/".into());
        assert!(render(e, "http://x").is_err());
        assert!(render(event("nope", Value::Null), "http://x").is_err());
    }

    #[test]
    fn ids_in_links_are_identifiers_and_encoded() {
        let link = |data: Value| render(event("ticket_created", data), "http://x").map(|n| n.link);
        assert_eq!(
            link(serde_json::json!({"ticket_id": 42}))
                .unwrap()
                .as_deref(),
            Some("http://x/tickets/42")
        );
        assert_eq!(
            link(serde_json::json!({"chat_id": "c-1.a_b~"}))
                .unwrap()
                .as_deref(),
            Some("http://x/chats/c-1.a_b~")
        );
        assert_eq!(
            link(serde_json::json!({"ticket_id": "ТК"}))
                .unwrap()
                .as_deref(),
            Some("http://x/tickets/%D0%A2%D0%9A")
        );
        assert_eq!(link(serde_json::json!({"ticket_id": null})).unwrap(), None);
        for bad in [
            "../x",
            "1/2",
            "a b",
            "",
            ".",
            "..",
            ".x",
            "7\u{2067}",
            "42?next=/",
        ] {
            assert!(
                link(serde_json::json!({ "ticket_id": bad })).is_err(),
                "{bad:?}"
            );
        }
        assert!(has_dot_segment("/a/../b") && has_dot_segment("/a/%2e/b"));
        assert!(!has_dot_segment("/a/..b/c?x=../y") && !has_dot_segment("/tickets/7"));
    }

    #[test]
    fn long_text_is_clipped() {
        let mut e = event("ticket_created", Value::Null);
        e.title = Some("x".repeat(5000));
        let n = render(e, "http://x").unwrap();
        assert_eq!(n.title.chars().count(), MAX_TITLE_CHARS);
        assert!(n.title.ends_with('…'));
    }
}
