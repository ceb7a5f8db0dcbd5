//! The generic kind's body, Belfry-shaped JSON any system can send
//! (ConnectiveOne's `send_request`, Freshdesk automations, a script, a
//! Zendesk trigger): `type` (a catalogue id), who (`operator` login,
//! `email`, or `user`, the helpdesk's id for the map), `title`, `body`,
//! `url` (on the source's helpdesk or the instance), `data`.

use super::Parsed;
use super::mapping::{Mapped, Raised, Who, text};
use super::sources::Source;
use belfry_proto::catalogue;
use serde_json::Value;

/// Maps one generic delivery.
pub fn map(_source: &Source, v: &Value) -> Parsed {
    let Some(type_id) = text(v, "/type") else {
        return Parsed::Mapped(Mapped::ignored(None, "no `type` in the body"));
    };
    let event = Some(type_id.as_str());
    let Some(def) = catalogue::type_def(&type_id).filter(|d| d.id != "status_reminder") else {
        return Parsed::Mapped(Mapped::ignored(
            event,
            format!(
                "{:?} is not a notification type",
                crate::render::clip(&type_id, 64)
            ),
        ));
    };
    let mut who = Who::keys([text(v, "/user"), text(v, "/email")]).unwrap_or_default();
    who.login = text(v, "/operator");
    if who.login.is_none() && who.keys.is_empty() {
        return Parsed::Mapped(Mapped::ignored(
            event,
            "no recipient: give `operator`, `email` or `user`",
        ));
    }
    let data = v
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut raised = Raised::new(
        def.id,
        vec![who],
        text(v, "/body").unwrap_or_default(),
        text(v, "/url"),
    );
    if let Some(title) = text(v, "/title") {
        raised.title = title;
    }
    raised.data = data;
    Parsed::Mapped(Mapped::raise(event, vec![raised], "no recipient"))
}
