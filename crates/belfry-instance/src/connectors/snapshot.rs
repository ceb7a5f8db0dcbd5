//! For helpdesks that send a whole ticket rather than an event
//! (django-helpdesk always, Zammad's default payload): the source keeps the
//! last state it saw of each ticket and raises what changed — created,
//! reassigned (to the new and the previous assignee), closed, reopened,
//! status renamed, retitled, a new follow-up.

use super::mapping::{Mapped, Raised, Who, body, excerpt, ticket_line};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the source remembers of a ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Title.
    pub title: String,
    /// Status as the helpdesk names it.
    pub status: String,
    /// Whether that status counts as closed.
    pub closed: bool,
    /// The assignee's keys (id, email, login), empty when unassigned.
    pub owner: Vec<String>,
    /// The id of the latest follow-up or article seen.
    pub last_article: Option<String>,
}

/// A follow-up or article in the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Article {
    /// Its id.
    pub id: String,
    /// Its text.
    pub text: String,
    /// Internal (a note between agents) rather than to or from the customer.
    pub internal: bool,
    /// Its author's keys.
    pub author: Vec<String>,
}

/// A ticket as one delivery shows it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The ticket id.
    pub id: String,
    /// Its state now.
    pub now: Snapshot,
    /// The sender says the ticket is new (its "new ticket" webhook).
    pub new_ticket: bool,
    /// The latest follow-up, when the payload has one.
    pub article: Option<Article>,
    /// The ticket on the helpdesk.
    pub link: Option<String>,
}

fn who(keys: &[String]) -> Vec<Who> {
    Who::keys(keys.iter().cloned().map(Some))
        .into_iter()
        .collect()
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.iter()
        .any(|x| b.iter().any(|y| x.eq_ignore_ascii_case(y)))
}

/// Compares `seen` with what was remembered and raises each change.
pub fn diff(before: Option<&Snapshot>, seen: &Seen) -> Mapped {
    let now = &seen.now;
    let line = ticket_line(Some(&seen.id), Some(&now.title));
    let owner = who(&now.owner);
    let mut raised = Vec::new();
    let mut changes: Vec<&str> = Vec::new();
    let raise = |type_id: &'static str, to: Vec<Who>, extra: Option<String>| {
        let mut parts = line.clone();
        parts.push(extra);
        Raised::new(type_id, to, body(&parts), seen.link.clone())
            .with("ticket_id", Some(Value::String(seen.id.clone())))
            .with("subject", Some(Value::String(now.title.clone())))
    };
    match before {
        None if seen.new_ticket => {
            changes.push("created");
            raised.push(raise("ticket_created", owner.clone(), None));
        }
        None => {}
        Some(before) => {
            if before.owner != now.owner {
                changes.push("reassigned");
                let mut to = owner.clone();
                to.extend(who(&before.owner));
                raised.push(raise("ticket_reassign", to, None));
            }
            if before.closed != now.closed {
                let (t, what) = if now.closed {
                    ("ticket_closed", "closed")
                } else {
                    ("ticket_reopened", "reopened")
                };
                changes.push(what);
                raised.push(raise(t, owner.clone(), Some(now.status.clone())));
            } else if before.status != now.status {
                changes.push("status changed");
                raised.push(raise(
                    "ticket_status_name_changed",
                    owner.clone(),
                    Some(format!("{} → {}", before.status, now.status)),
                ));
            }
            if before.title != now.title {
                changes.push("retitled");
                raised.push(raise("subject_change", owner.clone(), None));
            }
        }
    }
    let creating = before.is_none() && seen.new_ticket;
    if let Some(article) = &seen.article {
        let new = before.is_none_or(|b| b.last_article.as_deref() != Some(article.id.as_str()));
        if new && !creating && article.text.trim().is_empty() {
            // A follow-up that only records a change (django-helpdesk's
            // "Assigned to …"): the change itself was raised above.
        } else if new && !creating {
            changes.push("follow-up");
            if overlaps(&article.author, &now.owner) {
                // The assignee wrote it: they need no notification of their own words.
                changes.push("(by the assignee)");
            } else {
                let t = if article.internal {
                    "comment_created"
                } else {
                    "ticket_message"
                };
                raised.push(raise(t, owner.clone(), Some(excerpt(&article.text, 300))));
            }
        }
    }
    let event = Some(format!(
        "ticket {}: {}",
        seen.id,
        if changes.is_empty() {
            "no change".to_owned()
        } else {
            changes.join(", ")
        }
    ));
    if owner.is_empty() {
        // Only a reassignment away from someone can still reach a person.
        raised.retain(|r| !r.to.is_empty());
    }
    let reason = if changes.is_empty() {
        if before.is_none() {
            "first sight of this ticket: its state is kept to compare with the next"
        } else {
            "nothing changed since the last state seen"
        }
    } else if owner.is_empty() {
        "the ticket has no assignee"
    } else {
        "nothing to notify (the assignee's own follow-up)"
    };
    Mapped::raise(event.as_deref(), raised, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(owner: &str, status: &str, closed: bool, title: &str) -> Seen {
        Seen {
            id: "7".into(),
            now: Snapshot {
                title: title.into(),
                status: status.into(),
                closed,
                owner: if owner.is_empty() {
                    vec![]
                } else {
                    vec![owner.into()]
                },
                last_article: None,
            },
            new_ticket: false,
            article: None,
            link: None,
        }
    }

    fn types(m: &Mapped) -> Vec<&'static str> {
        match m {
            Mapped::Raise { raised, .. } => raised.iter().map(|r| r.type_id).collect(),
            Mapped::Ignored { .. } => vec![],
        }
    }

    #[test]
    fn each_change_raises_its_type() {
        let a = seen("1", "Open", false, "Printer");
        let b = seen("2", "Closed", true, "Printer on fire");
        let m = diff(Some(&a.now), &b);
        assert_eq!(
            types(&m),
            ["ticket_reassign", "ticket_closed", "subject_change"]
        );
        if let Mapped::Raise { raised, .. } = &m {
            assert_eq!(raised[0].to.len(), 2, "new and previous assignee");
        }
        let m = diff(Some(&b.now), &b);
        assert!(matches!(m, Mapped::Ignored { .. }));
        let back = seen("2", "Reopened", false, "Printer on fire");
        assert_eq!(types(&diff(Some(&b.now), &back)), ["ticket_reopened"]);
    }
}
