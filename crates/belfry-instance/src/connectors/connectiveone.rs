//! ConnectiveOne: a scenario's `send_request` posts the Notification
//! Center's own JSON (read as the generic kind: the type ids are already
//! Belfry's), and the operator panel's `event_webhook_url` posts
//! `event_name` with `chat_id` and `operator.id`, mapped here for chats.

use super::mapping::{Mapped, Raised, Who, text};
use super::sources::Source;
use super::{Parsed, generic};
use serde_json::Value;

/// Maps one ConnectiveOne delivery.
pub fn map(source: &Source, v: &Value) -> Parsed {
    let Some(event) = text(v, "/event_name") else {
        return generic::map(source, v);
    };
    let name = Some(event.as_str());
    let type_id = match event.as_str() {
        "chat_created" => "chat_created",
        "chat_closed" => "chat_closed",
        "chat_transferred" | "send_transfer_chat" => "send_transfer_chat",
        other => {
            return Parsed::Mapped(Mapped::ignored(
                name,
                format!("operator-panel event {other:?} has no notification type"),
            ));
        }
    };
    let Some(to) = Who::keys([text(v, "/operator/id"), text(v, "/operator/email")]) else {
        return Parsed::Mapped(Mapped::ignored(name, "no operator.id in the body"));
    };
    let chat = text(v, "/chat_id");
    let raised = Raised::new(
        type_id,
        vec![to],
        chat.as_ref()
            .map(|c| format!("Chat #{c}"))
            .unwrap_or_default(),
        // The panel documents no link to a chat; a `url` in the body is used.
        text(v, "/url"),
    )
    .with("chat_id", chat.map(Value::String));
    Parsed::Mapped(Mapped::raise(name, vec![raised], "no recipient"))
}
