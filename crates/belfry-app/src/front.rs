//! The app's state at a glance, kept from the core's events: the one copy
//! both trays and the window's status line read. The desktop shell keeps
//! it inside its `Status` (with what only a window has: the sign-in form,
//! the account line); the headless tray keeps it alone. Either way the
//! events become state here, once.

use crate::glance::Glance;
use belfry_core::engine::Engine;
use belfry_core::event::{ConnState, CoreEvent, Quiet};
use belfry_core::store::Unread;
use belfry_proto::api::OperatorStatus;
use serde::Serialize;

/// What the trays and the window's status line show.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Front {
    /// The connection; `None` before the session started.
    pub connection: Option<ConnState>,
    /// Why toasts and sounds are held back, if they are.
    pub quiet: Option<Quiet>,
    /// Unread counts.
    pub unread: Unread,
    /// What is wrong now while the app goes on (the disk is full, no sound
    /// device, …), oldest first; each goes once what failed works again.
    pub problems: Vec<Problem>,
    /// The operator's availability, once the instance said it.
    pub availability: Option<OperatorStatus>,
}

/// One thing that is wrong now, as [`Front::problems`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Problem {
    /// What failed, which also keys it: "storing notifications".
    pub what: String,
    /// For people: what failed and why.
    pub message: String,
}

/// What a core event changed of what is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing shown.
    Nothing,
    /// The state: show it again.
    State,
    /// Which notifications are unread: a tray lists the last few again.
    Items,
}

impl Front {
    /// What `engine` says now: where a session's front starts, before its
    /// events (listen to them first, so none is missed in between).
    pub fn of(engine: &Engine) -> Self {
        Self {
            connection: Some(engine.state().borrow().clone()),
            quiet: engine.quiet(),
            unread: engine.store().unread().unwrap_or_default(),
            problems: Vec::new(),
            availability: engine.availability(),
        }
    }

    /// Follows one of the core's events.
    pub fn apply(&mut self, ev: &CoreEvent) -> Change {
        match ev {
            CoreEvent::State(c) => self.connection = Some(c.clone()),
            CoreEvent::Unread(u) => self.unread = *u,
            CoreEvent::Quiet { quiet } => self.quiet = quiet.clone(),
            CoreEvent::Status(a) => self.availability = Some(*a),
            CoreEvent::Problem { what, message } => self.set_problem(what, message.clone()),
            CoreEvent::Resolved { what } => self.clear_problem(what),
            CoreEvent::Added { .. } | CoreEvent::Read { .. } | CoreEvent::ReadAll { .. } => {
                return Change::Items;
            }
            _ => return Change::Nothing,
        }
        Change::State
    }

    /// Records `what` as failing with `message` (replacing what it said before).
    pub fn set_problem(&mut self, what: &str, message: String) {
        self.problems.retain(|p| p.what != what);
        self.problems.push(Problem {
            what: what.to_owned(),
            message,
        });
    }

    /// `what` works again.
    pub fn clear_problem(&mut self, what: &str) {
        self.problems.retain(|p| p.what != what);
    }

    /// The glance a tray draws; `signed_out` when there is no session.
    pub fn glance(&self, signed_out: bool) -> Glance<'_> {
        Glance {
            connection: self.connection.as_ref(),
            signed_out,
            quiet: self.quiet.as_ref(),
            unread: self.unread.total,
            problems: self.problems.iter().map(|p| p.message.as_str()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_shown_until_it_is_resolved_and_said_once() {
        let mut f = Front::default();
        let problem = |what: &str, message: &str| CoreEvent::Problem {
            what: what.into(),
            message: message.into(),
        };
        assert_eq!(
            f.apply(&problem("playing sounds", "playing sounds: no device")),
            Change::State
        );
        f.apply(&problem("storing notifications", "the disk is full"));
        f.apply(&problem(
            "playing sounds",
            "playing sounds: still no device",
        ));
        assert_eq!(
            f.glance(false).problems,
            ["the disk is full", "playing sounds: still no device"],
            "one line per problem, the newest last"
        );
        f.apply(&CoreEvent::Resolved {
            what: "storing notifications".into(),
        });
        assert_eq!(
            f.glance(false).problems,
            ["playing sounds: still no device"]
        );
    }
}
