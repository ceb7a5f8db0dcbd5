//! The status reminder (the Reminders tab): while the operator is "not
//! ready" for new chats longer than the minutes they chose, the desktop
//! prompts them to change status, and again every as many minutes while it
//! lasts. The schedule is pure ([`Reminder`], on times given by the
//! caller); the engine's task feeds it the status from the stream and the
//! settings, and hands what is due to the router.

use belfry_proto::api::{Availability, OperatorStatus};
use belfry_proto::settings::Preferences;
use chrono::{DateTime, Duration, Utc};

/// What the reminder does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing to remind of: not "not ready", or the reminder is off.
    Idle,
    /// Remind at this time.
    At(DateTime<Utc>),
}

/// The reminder's state across status and settings changes.
#[derive(Debug, Clone, Default)]
pub struct Reminder {
    /// When the current "not ready" stretch began (the server's `since`, or
    /// when this app first saw it).
    stretch: Option<DateTime<Utc>>,
    /// When the last reminder of this stretch was shown.
    last: Option<DateTime<Utc>>,
}

impl Reminder {
    /// A reminder that has shown nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Follows a status seen at `now`. Returns true when a reminder of the
    /// stretch that just ended was shown, so its toast goes away.
    pub fn status(&mut self, status: Option<&OperatorStatus>, now: DateTime<Utc>) -> bool {
        let not_ready = status.filter(|s| s.status == Availability::NotReady);
        let Some(s) = not_ready else {
            let shown = self.last.is_some();
            *self = Self::default();
            return shown;
        };
        let began = match s.since {
            Some(t) => t.min(now),
            None => self.stretch.unwrap_or(now),
        };
        // The same stretch reported again (a reconnect's welcome) keeps its
        // schedule; a new one starts over.
        if self.stretch != Some(began) {
            let shown = self.last.is_some();
            self.stretch = Some(began);
            self.last = None;
            return shown;
        }
        false
    }

    /// When the next reminder is due under `prefs`.
    pub fn next(&self, prefs: &Preferences) -> Next {
        let r = prefs.reminders.status;
        let Some(began) = self.stretch else {
            return Next::Idle;
        };
        if !r.enabled || !prefs.receive {
            return Next::Idle;
        }
        let every = Duration::minutes(i64::from(r.after_minutes.max(1)));
        Next::At(self.last.unwrap_or(began) + every)
    }

    /// Records a reminder shown at `now`; returns how many minutes of "not
    /// ready" it reports.
    pub fn shown(&mut self, now: DateTime<Utc>) -> u32 {
        self.last = Some(now);
        self.stretch.map_or(0, |began| {
            u32::try_from((now - began).num_minutes().max(0)).unwrap_or(u32::MAX)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_ready(since: DateTime<Utc>) -> OperatorStatus {
        OperatorStatus {
            status: Availability::NotReady,
            since: Some(since),
        }
    }

    fn prefs(enabled: bool, minutes: u32) -> Preferences {
        let mut p = Preferences::default();
        p.reminders.status.enabled = enabled;
        p.reminders.status.after_minutes = minutes;
        p
    }

    #[test]
    fn reminds_after_the_minutes_and_again_every_as_many() {
        let t0 = Utc::now();
        let mut r = Reminder::new();
        assert!(!r.status(Some(&not_ready(t0)), t0));
        let p = prefs(true, 15);
        assert_eq!(r.next(&p), Next::At(t0 + Duration::minutes(15)));
        assert_eq!(r.shown(t0 + Duration::minutes(15)), 15);
        assert_eq!(r.next(&p), Next::At(t0 + Duration::minutes(30)));
        // The welcome of a reconnect reports the same stretch: no restart.
        assert!(!r.status(Some(&not_ready(t0)), t0 + Duration::minutes(20)));
        assert_eq!(r.next(&p), Next::At(t0 + Duration::minutes(30)));
    }

    #[test]
    fn a_stretch_that_began_long_ago_reminds_once_now_not_in_a_storm() {
        let now = Utc::now();
        let mut r = Reminder::new();
        r.status(Some(&not_ready(now - Duration::minutes(47))), now);
        let p = prefs(true, 15);
        let Next::At(due) = r.next(&p) else {
            unreachable!("not ready with the reminder on is due")
        };
        assert!(due <= now);
        assert_eq!(r.shown(now), 47);
        assert_eq!(r.next(&p), Next::At(now + Duration::minutes(15)));
    }

    #[test]
    fn ready_or_off_means_no_reminder_and_ending_a_shown_one_says_so() {
        let t0 = Utc::now();
        let mut r = Reminder::new();
        r.status(Some(&not_ready(t0)), t0);
        assert_eq!(r.next(&prefs(false, 15)), Next::Idle);
        let mut off = prefs(true, 15);
        off.receive = false;
        assert_eq!(r.next(&off), Next::Idle);
        r.shown(t0 + Duration::minutes(15));
        let ready = OperatorStatus {
            status: Availability::Ready,
            since: Some(t0 + Duration::minutes(16)),
        };
        assert!(
            r.status(Some(&ready), t0 + Duration::minutes(16)),
            "the shown reminder goes"
        );
        assert_eq!(r.next(&prefs(true, 15)), Next::Idle);
        assert!(!r.status(None, t0), "nothing was shown: nothing to close");
    }

    #[test]
    fn a_status_with_no_since_counts_from_when_it_was_seen() {
        let now = Utc::now();
        let mut r = Reminder::new();
        let s = OperatorStatus {
            status: Availability::NotReady,
            since: None,
        };
        r.status(Some(&s), now);
        assert_eq!(
            r.next(&prefs(true, 5)),
            Next::At(now + Duration::minutes(5))
        );
    }
}
