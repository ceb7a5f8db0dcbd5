//! What a kind's mapper returns: the notifications an event raises, each
//! with who should get it (as the helpdesk names them), or the reason it
//! raises nothing. Also the small JSON readers the mappers share.

use serde_json::{Map, Value};

/// A helpdesk user as the payload names them: their id, email or login
/// there (tried in order against the source's user map, then the
/// operators' emails), or an operator login given outright (generic kind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Who {
    /// Helpdesk ids, emails, logins, in the order to try.
    pub keys: Vec<String>,
    /// A Belfry login named directly.
    pub login: Option<String>,
}

impl Who {
    /// A user known by these keys (empty ones dropped).
    pub fn keys<I: IntoIterator<Item = Option<String>>>(keys: I) -> Option<Self> {
        let keys: Vec<String> = keys
            .into_iter()
            .flatten()
            .filter(|k| !k.trim().is_empty())
            .collect();
        (!keys.is_empty()).then_some(Self { keys, login: None })
    }

    /// How the user is named in a reason.
    pub fn describe(&self) -> String {
        match (&self.login, self.keys.first()) {
            (Some(l), _) => format!("operator {l:?}"),
            (None, Some(k)) => format!("helpdesk user {:?}", crate::render::clip(k, 80)),
            (None, None) => "nobody".into(),
        }
    }
}

/// One notification an event raises.
#[derive(Debug, Clone, PartialEq)]
pub struct Raised {
    /// Catalogue type id.
    pub type_id: &'static str,
    /// Who gets it (each resolved on its own; duplicates collapse).
    pub to: Vec<Who>,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// The item on the helpdesk.
    pub link: Option<String>,
    /// Extras (`ticket_id`, `chat_id`, `subject`, …).
    pub data: Map<String, Value>,
}

impl Raised {
    /// A notification of `type_id` titled as the catalogue titles it.
    pub fn new(type_id: &'static str, to: Vec<Who>, body: String, link: Option<String>) -> Self {
        let title = belfry_proto::catalogue::type_def(type_id)
            .map(|d| d.title_en.to_owned())
            .unwrap_or_default();
        Self {
            type_id,
            to,
            title,
            body,
            link,
            data: Map::new(),
        }
    }

    /// Adds an extra.
    pub fn with(mut self, key: &str, value: Option<Value>) -> Self {
        if let Some(v) = value.filter(|v| !v.is_null()) {
            self.data.insert(key.to_owned(), v);
        }
        self
    }
}

/// What a delivery maps to.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// These notifications; `event` names what happened for the list.
    Raise {
        /// The sender's event name, as the deliveries list shows it.
        event: Option<String>,
        /// The notifications.
        raised: Vec<Raised>,
        /// A note for the deliveries list (e.g. a state remembered but no change).
        note: Option<String>,
    },
    /// Nothing, for this reason.
    Ignored {
        /// The sender's event name, when it has one.
        event: Option<String>,
        /// Why.
        reason: String,
    },
}

impl Mapped {
    /// Ignored with `reason`.
    pub fn ignored(event: Option<&str>, reason: impl Into<String>) -> Self {
        Mapped::Ignored {
            event: event.map(str::to_owned),
            reason: reason.into(),
        }
    }

    /// These notifications, or ignored with `reason_if_none` when there are none.
    pub fn raise(event: Option<&str>, raised: Vec<Raised>, reason_if_none: &str) -> Self {
        if raised.is_empty() {
            Self::ignored(event, reason_if_none)
        } else {
            Mapped::Raise {
                event: event.map(str::to_owned),
                raised,
                note: None,
            }
        }
    }
}

/// A string or number at a JSON pointer, as text (ids come both ways).
pub fn text(v: &Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A bool at a JSON pointer.
pub fn flag(v: &Value, pointer: &str) -> Option<bool> {
    v.pointer(pointer).and_then(Value::as_bool)
}

/// `Ticket #7 · “Subject”` and any more parts, joined as the instance's
/// own bodies are.
pub fn body(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A one-line excerpt of a comment or message (HTML tags dropped, spaces
/// folded), up to `max` characters.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if in_tag => {}
            c if c.is_whitespace() => out.push(' '),
            c => out.push(c),
        }
    }
    let folded = out.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::render::clip(&folded, max)
}

/// `Ticket #id` with the subject in quotes, when there is one.
pub fn ticket_line(id: Option<&str>, subject: Option<&str>) -> Vec<Option<String>> {
    vec![
        id.map(|i| format!("Ticket #{i}")),
        subject.map(|s| format!("“{}”", crate::render::clip(s, 200))),
    ]
}
