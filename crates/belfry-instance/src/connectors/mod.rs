//! The notification gateway: helpdesks (Zendesk, Chatwoot, Zammad,
//! django-helpdesk, ConnectiveOne, anything that can sign a JSON POST) send
//! their webhooks here; each is verified by its source's scheme, stored,
//! answered, and then mapped onto the catalogue's types and the right
//! operators (`docs/connectors.md`).
//!
//! The parts: [`sources`] (who may send, with which secret and user map),
//! [`verify`] (each kind's signature scheme), [`ingest`] (the endpoint),
//! [`deliveries`] (what arrived and what became of it), [`worker`] (the
//! mapping after the answer), and one module per kind's payloads.

pub mod chatwoot;
pub mod cli;
pub mod connectiveone;
pub mod deliveries;
pub mod django_helpdesk;
pub mod generic;
pub mod ingest;
pub mod mapping;
pub mod schema;
pub mod snapshot;
pub mod sources;
pub mod verify;
pub mod worker;
pub mod zammad;
pub mod zendesk;

use serde::{Deserialize, Serialize};
use sources::Source;

/// What a kind's mapper makes of a body.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// Notifications (or a reason for none), from an event.
    Mapped(mapping::Mapped),
    /// A whole ticket, to compare with the last one seen.
    Ticket(snapshot::Seen),
}

/// Reads a verified JSON body of `source`'s kind.
pub fn parse(source: &Source, hint: Option<&str>, body: &serde_json::Value) -> Parsed {
    match source.info.kind {
        Kind::Generic => generic::map(source, body),
        Kind::Connectiveone => connectiveone::map(source, body),
        Kind::Zendesk => zendesk::map(source, body),
        Kind::Chatwoot => chatwoot::map(source, body),
        Kind::Zammad => zammad::map(source, hint, body),
        Kind::DjangoHelpdesk => django_helpdesk::map(source, body),
    }
}

/// Which helpdesk a source is, and so how it signs and what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Belfry-shaped JSON signed with HMAC-SHA256 (`X-Belfry-Signature`).
    Generic,
    /// ConnectiveOne's scenario `send_request` or operator-panel webhook, with a bearer token.
    Connectiveone,
    /// Zendesk event or trigger webhooks (`X-Zendesk-Webhook-Signature`).
    Zendesk,
    /// Chatwoot account webhooks (`X-Chatwoot-Signature`).
    Chatwoot,
    /// Zammad trigger webhooks (`X-Hub-Signature`, HMAC-SHA1).
    Zammad,
    /// django-helpdesk's two webhooks: a secret in the URL or Basic auth.
    DjangoHelpdesk,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Generic,
        Kind::Connectiveone,
        Kind::Zendesk,
        Kind::Chatwoot,
        Kind::Zammad,
        Kind::DjangoHelpdesk,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Generic => "generic",
            Kind::Connectiveone => "connectiveone",
            Kind::Zendesk => "zendesk",
            Kind::Chatwoot => "chatwoot",
            Kind::Zammad => "zammad",
            Kind::DjangoHelpdesk => "django-helpdesk",
        }
    }

    /// From the wire name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source's shared secret. Its `Debug` prints `<redacted>` and it cannot
/// be serialized, so it reaches no log and no API answer by accident; the
/// one answer that shows it (creation, rotation) copies it out on purpose.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a stored or generated secret.
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// A new random secret: 32 bytes, URL-safe base64 (it may sit in a URL
    /// for django-helpdesk).
    pub fn generate() -> Result<Self, crate::auth::CryptoError> {
        use base64::Engine;
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| crate::auth::CryptoError::Random(e.to_string()))?;
        Ok(Self(format!(
            "whs_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        )))
    }

    /// The secret itself, for signing checks and the one answer that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks a secret an admin supplies: 16–512 printable ASCII
    /// characters without spaces (what the helpdesks generate).
    pub fn check(&self) -> Result<(), &'static str> {
        let ok = (16..=512).contains(&self.0.len()) && self.0.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(())
        } else {
            Err("secret: 16-512 printable characters without spaces")
        }
    }
}

/// Read from a request (a helpdesk's own signing secret); never written out.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}
