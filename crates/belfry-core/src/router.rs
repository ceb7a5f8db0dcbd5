//! The delivery router: for every notification, what the operator gets
//! besides the inbox (which always gets everything): a toast, a melody, or
//! nothing. Pure logic over an `Instant` the caller passes in; the sinks
//! carry out its [`Action`]s.
//!
//! The rules, in the order they apply:
//! 1. Already read (elsewhere) by the time it arrives: nothing.
//! 2. Replayed history after a reconnect: nothing per item; one summary
//!    toast ("12 new while you were away") and at most one melody at the end.
//! 3. The inbox window has focus: nothing (the operator is looking at it).
//! 4. Master switch off, or paused: nothing, except that **mandatory types
//!    still raise their toast, silently** — the admin requires them to be
//!    seen; the pause and the master switch keep them quiet.
//! 5. Otherwise the type's channels decide: a toast when the type lists
//!    `banner` and the banner channel is on; a melody when the type lists
//!    `sound` and the sound channel is on. In simplified mode (Notification
//!    Center off) the classic toggles decide for new dialogues (ticket or
//!    chat created) and new messages; other types get the inbox only.
//! 6. Toasts: one per item (a second message in the same ticket or chat
//!    replaces that item's toast); never more than `max_simultaneous` on
//!    screen; beyond that, one summary toast counts the rest. A toast's
//!    place frees when its time is up, or, on a notification service that
//!    keeps toasts on screen until it closes them ([`Local::toasts_stay`]),
//!    when the service says it closed (at most [`HELD_AT_MOST`] later). An unread
//!    toast is raised again every `repeat_interval_s`, `repeats` times, and
//!    stops the moment it is read anywhere. Repeats are silent.
//! 7. Melodies: one at a time; none within [`MIN_SOUND_GAP`] of the last
//!    one (a burst plays once); the same melody not within
//!    [`SAME_MELODY_GAP`]. A "Send test" on the sound channel always plays.

pub use crate::sinks::Sound;
use belfry_proto::catalogue::{self, BANNER, SOUND, TEST_NOTIFICATION};
use belfry_proto::inbox::Notification;
use belfry_proto::settings::{Preferences, SettingsDocument};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// No melody starts within this time of the previous one.
pub const MIN_SOUND_GAP: Duration = Duration::from_millis(1500);
/// The same melody does not play again within this time.
pub const SAME_MELODY_GAP: Duration = Duration::from_secs(4);
/// The type id the status reminder's melody is kept under.
pub const STATUS_REMINDER: &str = "status_reminder";
/// The melody of the "while you were away" summary.
pub const SUMMARY_MELODY: &str = "chime";
/// On a service that keeps toasts until it closes them, a toast's place is
/// freed this long after its time is up even if the service never said it
/// closed (one that forgets to say would otherwise leave only the summary).
pub const HELD_AT_MOST: Duration = Duration::from_secs(3600);

/// Which toast a toast replaces: one per ticket or chat, else per notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ToastKey {
    /// A ticket's toast.
    Ticket(String),
    /// A chat's toast.
    Chat(String),
    /// A notification without an item.
    Notification(String),
    /// The burst / away summary.
    Summary,
    /// The status reminder (one at a time, replaced as the minutes grow).
    StatusReminder,
}

impl ToastKey {
    /// The key of a notification's toast.
    pub fn of(n: &Notification) -> Self {
        let id = |k: &str| match n.data.get(k) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(x)) => Some(x.to_string()),
            _ => None,
        };
        if let Some(t) = id("ticket_id") {
            ToastKey::Ticket(t)
        } else if let Some(c) = id("chat_id") {
            ToastKey::Chat(c)
        } else {
            ToastKey::Notification(n.id.clone())
        }
    }
}

/// How loud a toast is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Most types.
    Normal,
    /// SLA breaches, negative CSAT.
    Critical,
}

/// What a toast shows.
#[derive(Debug, Clone, PartialEq)]
pub enum ToastBody {
    /// One notification.
    Item(Box<Notification>),
    /// `count` notifications that did not get a toast of their own.
    Burst {
        /// How many.
        count: u32,
    },
    /// `count` notifications that arrived while the app was away.
    Away {
        /// How many.
        count: u32,
    },
    /// The operator has been "not ready" for `minutes`: a prompt to change
    /// status, with a Set ready button where the platform has buttons.
    StatusReminder {
        /// How long so far.
        minutes: u32,
    },
}

/// A toast to show (or to replace the toast with the same key).
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    /// Replacement key.
    pub key: ToastKey,
    /// Content.
    pub body: ToastBody,
    /// Urgency.
    pub urgency: Urgency,
    /// How long it stays.
    pub timeout: Duration,
    /// 0 for the first showing, then 1, 2… for repeats.
    pub repeat: u32,
}

/// What the router asks a channel to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Show or replace a toast.
    Toast(Toast),
    /// Close a toast (its notification was read).
    Close(ToastKey),
    /// Play a sound.
    Play(Sound),
}

impl Action {
    /// The channel that carries it out (the catalogue's id): the delivery
    /// task hands it to the channel registered under this id.
    pub fn channel(&self) -> &'static str {
        match self {
            Action::Toast(_) | Action::Close(_) => BANNER,
            Action::Play(_) => SOUND,
        }
    }
}

/// What happened.
#[derive(Debug, Clone)]
pub enum Input {
    /// A notification arrived live.
    Live(Notification),
    /// A notification arrived in a replay (catch-up after reconnect).
    Replayed(Notification),
    /// The replay is over.
    ReplayDone,
    /// These were read (here or elsewhere).
    Read(Vec<String>),
    /// Everything up to this sequence was read.
    ReadAll(u64),
    /// The toast with this key was closed by the user or timed out.
    Closed(ToastKey),
    /// Time passed.
    Tick,
    /// The status reminder is due: "not ready" for `minutes`.
    Reminder {
        /// How long so far.
        minutes: u32,
    },
    /// The operator is no longer "not ready": the reminder goes away.
    ReminderOver,
}

/// The local state the decision needs besides the settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Local {
    /// Notifications are paused (tray menu).
    pub paused: bool,
    /// The operating system's do-not-disturb is on.
    pub os_quiet: bool,
    /// The inbox window has focus and shows new notifications.
    pub inbox_focused: bool,
    /// The notification service keeps a toast on screen until it closes it
    /// (and says so), whatever the toast's timeout: dunst and mako, which
    /// hold every toast while the user is away (dunst's `idle_threshold`).
    /// Toasts then take their place until the service says they closed, so
    /// an empty desk collects at most `max_simultaneous` and one summary.
    pub toasts_stay: bool,
}

/// What one notification gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// A toast.
    pub toast: bool,
    /// A melody.
    pub melody: Option<String>,
}

/// Decides rules 1, 3, 4 and 5 for one notification.
pub fn decide(n: &Notification, doc: &SettingsDocument, local: Local) -> Decision {
    let nothing = Decision {
        toast: false,
        melody: None,
    };
    // The OS's do-not-disturb holds back every toast and sound, mandatory
    // ones too: the user asked the whole desktop to be quiet, and the inbox
    // and tray still show what came.
    if n.read_at.is_some() || local.inbox_focused || local.os_quiet {
        return nothing;
    }
    let prefs = &doc.preferences;
    let mandatory = doc.policy.type_mandatory(&n.type_id);
    let wanted = channels_for(n, doc);
    if !prefs.receive || local.paused {
        return Decision {
            toast: mandatory && wanted.banner,
            melody: None,
        };
    }
    Decision {
        toast: wanted.banner,
        melody: wanted.sound.then_some(wanted.melody),
    }
}

/// What a type's channels ask of this computer: one field per channel the
/// desktop delivers (the bell is the inbox, always; the browser and bots
/// are the instance's). A new channel is a field here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    /// The banner channel: a toast.
    banner: bool,
    /// The sound channel: the melody below.
    sound: bool,
    /// The type's melody.
    melody: String,
}

/// What the type's channels ask for, under the user's channel switches.
fn channels_for(n: &Notification, doc: &SettingsDocument) -> Wanted {
    let prefs: &Preferences = &doc.preferences;
    let def = catalogue::type_def(&n.type_id);
    let default_melody = def.map_or("chime", |d| d.default_melody).to_owned();
    let banner_on = prefs.channels.banner.enabled;
    let sound_on = prefs.channels.sound.enabled;
    if n.type_id == TEST_NOTIFICATION {
        // "Send test" shows on the channel it names, whatever the type table says.
        let channel = n
            .data
            .get("channel")
            .and_then(|c| c.as_str())
            .unwrap_or_default();
        return Wanted {
            banner: channel == BANNER,
            sound: channel == SOUND,
            melody: default_melody,
        };
    }
    if !doc.policy.notification_center {
        let s = &prefs.simplified;
        let (banner, sound) = match n.type_id.as_str() {
            "ticket_created" | "chat_created" => (s.new_dialogue_popup, s.new_dialogue_sound),
            "ticket_message" | "comment_created" => (s.new_message_popup, s.new_message_sound),
            _ if doc.policy.type_mandatory(&n.type_id) => (true, false),
            _ => (false, false),
        };
        return Wanted {
            banner,
            sound,
            melody: default_melody,
        };
    }
    match prefs.types.get(&n.type_id) {
        Some(row) => {
            let has = |c: &str| row.channels.iter().any(|x| x == c);
            Wanted {
                banner: has(BANNER) && banner_on,
                sound: has(SOUND) && sound_on,
                melody: row.melody.clone(),
            }
        }
        // Unlisted or unknown types follow the defaults: bell + banner.
        None => Wanted {
            banner: banner_on,
            sound: false,
            melody: default_melody,
        },
    }
}

#[derive(Debug)]
struct Shown {
    notification_id: String,
    seq: u64,
    expires: Instant,
}

#[derive(Debug)]
struct Repeat {
    notification: Notification,
    left: u32,
    done: u32,
    next: Instant,
}

/// The router's state between inputs.
#[derive(Debug, Default)]
pub struct Router {
    shown: HashMap<ToastKey, Shown>,
    summary: Option<(u32, Instant)>,
    repeats: HashMap<String, Repeat>,
    last_sound: Option<Instant>,
    last_by_melody: HashMap<String, Instant>,
    away_count: u32,
    away_sound: bool,
}

impl Router {
    /// A router with nothing on screen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Toasts the router believes are on screen, the summary included.
    pub fn on_screen(&self) -> usize {
        self.shown.len() + usize::from(self.summary.is_some())
    }

    /// Pending repeats.
    pub fn pending_repeats(&self) -> usize {
        self.repeats.len()
    }

    /// When the next [`Input::Tick`] has something to do: the earliest
    /// pending repeat. `None` when nothing is pending, so the caller can
    /// sleep until an input rather than tick (expiry needs no tick: it is
    /// done on every input).
    pub fn next_due(&self) -> Option<Instant> {
        self.repeats.values().map(|r| r.next).min()
    }

    /// Feeds one input at `now`; returns what to do.
    pub fn handle(
        &mut self,
        input: Input,
        now: Instant,
        doc: &SettingsDocument,
        local: Local,
    ) -> Vec<Action> {
        self.expire(now, local.toasts_stay);
        let mut out = Vec::new();
        match input {
            Input::Live(n) => self.live(n, now, doc, local, &mut out),
            Input::Replayed(n) => {
                let d = decide(&n, doc, local);
                if d.toast || d.melody.is_some() {
                    self.away_count += 1;
                }
                self.away_sound |= d.melody.is_some();
            }
            Input::ReplayDone => self.replay_done(now, doc, &mut out),
            Input::Read(ids) => {
                for id in ids {
                    self.read(|nid, _| nid == id, &mut out);
                }
            }
            Input::ReadAll(up_to) => self.read(|_, seq| seq <= up_to, &mut out),
            Input::Closed(key) => {
                if key == ToastKey::Summary {
                    self.summary = None;
                } else {
                    self.shown.remove(&key);
                }
            }
            // Repeats wait while the OS is quiet; they come due again after.
            Input::Tick if local.os_quiet => {}
            Input::Tick => self.due_repeats(now, doc, &mut out),
            Input::Reminder { minutes } => self.reminder(minutes, now, doc, local, &mut out),
            Input::ReminderOver => out.push(Action::Close(ToastKey::StatusReminder)),
        }
        out
    }

    fn expire(&mut self, now: Instant, toasts_stay: bool) {
        let held = if toasts_stay {
            HELD_AT_MOST
        } else {
            Duration::ZERO
        };
        self.shown.retain(|_, s| s.expires + held > now);
        if self.summary.is_some_and(|(_, until)| until + held <= now) {
            self.summary = None;
        }
    }

    fn timeout(doc: &SettingsDocument) -> Duration {
        Duration::from_secs(u64::from(doc.preferences.channels.banner.duration_s.max(1)))
    }

    fn live(
        &mut self,
        n: Notification,
        now: Instant,
        doc: &SettingsDocument,
        local: Local,
        out: &mut Vec<Action>,
    ) {
        let d = decide(&n, doc, local);
        if let Some(melody) = d.melody {
            let sound = Sound {
                melody,
                type_id: Some(n.type_id.clone()),
            };
            self.play(sound, now, out);
        }
        if !d.toast {
            return;
        }
        let key = ToastKey::of(&n);
        // A newer notification of the same item supersedes the older one's repeats.
        let superseded: Vec<String> = self
            .repeats
            .iter()
            .filter(|(_, r)| ToastKey::of(&r.notification) == key)
            .map(|(id, _)| id.clone())
            .collect();
        for id in superseded {
            self.repeats.remove(&id);
        }
        let banner = &doc.preferences.channels.banner;
        if self.shown.contains_key(&key)
            || self.shown.len() < banner.max_simultaneous.max(1) as usize
        {
            if banner.repeats > 0 {
                self.repeats.insert(
                    n.id.clone(),
                    Repeat {
                        notification: n.clone(),
                        left: banner.repeats,
                        done: 0,
                        next: now + Duration::from_secs(u64::from(banner.repeat_interval_s.max(1))),
                    },
                );
            }
            self.show(n, 0, now, doc, out);
        } else {
            let count = self.summary.map_or(0, |(c, _)| c) + 1;
            let timeout = Self::timeout(doc);
            self.summary = Some((count, now + timeout));
            out.push(Action::Toast(Toast {
                key: ToastKey::Summary,
                body: ToastBody::Burst { count },
                urgency: Urgency::Normal,
                timeout,
                repeat: 0,
            }));
        }
    }

    fn show(
        &mut self,
        n: Notification,
        repeat: u32,
        now: Instant,
        doc: &SettingsDocument,
        out: &mut Vec<Action>,
    ) {
        let key = ToastKey::of(&n);
        let timeout = Self::timeout(doc);
        let critical = catalogue::type_def(&n.type_id).is_some_and(|d| d.critical);
        self.shown.insert(
            key.clone(),
            Shown {
                notification_id: n.id.clone(),
                seq: n.seq,
                expires: now + timeout,
            },
        );
        out.push(Action::Toast(Toast {
            key,
            body: ToastBody::Item(Box::new(n)),
            urgency: if critical {
                Urgency::Critical
            } else {
                Urgency::Normal
            },
            timeout,
            repeat,
        }));
    }

    fn play(&mut self, sound: Sound, now: Instant, out: &mut Vec<Action>) {
        let melody = sound.melody.clone();
        let recent = |t: Option<&Instant>, gap: Duration| {
            t.is_some_and(|t| now.saturating_duration_since(*t) < gap)
        };
        // A test the operator just asked for always sounds: the gaps keep
        // events from ringing over each other, not the operator's click.
        let asked = sound.type_id.as_deref() == Some(TEST_NOTIFICATION);
        if !asked
            && (recent(self.last_sound.as_ref(), MIN_SOUND_GAP)
                || recent(self.last_by_melody.get(&melody), SAME_MELODY_GAP))
        {
            return;
        }
        self.last_sound = Some(now);
        self.last_by_melody.insert(melody.clone(), now);
        out.push(Action::Play(sound));
    }

    /// The status reminder: a toast that stays until the operator acts
    /// (it is not a delivery channel, so the banner switch and the limit on
    /// toasts at once do not apply), and its melody where sound is on. A
    /// pause, the OS's do-not-disturb and the master switch hold it back;
    /// the inbox being in front does not, as the inbox does not show it.
    fn reminder(
        &mut self,
        minutes: u32,
        now: Instant,
        doc: &SettingsDocument,
        local: Local,
        out: &mut Vec<Action>,
    ) {
        let prefs = &doc.preferences;
        if local.paused || local.os_quiet || !prefs.receive {
            return;
        }
        out.push(Action::Toast(Toast {
            key: ToastKey::StatusReminder,
            body: ToastBody::StatusReminder { minutes },
            urgency: Urgency::Normal,
            timeout: Duration::ZERO,
            repeat: 0,
        }));
        if prefs.channels.sound.enabled {
            let melody = prefs.types.get(STATUS_REMINDER).map_or_else(
                || {
                    catalogue::type_def(STATUS_REMINDER)
                        .map_or(SUMMARY_MELODY, |d| d.default_melody)
                        .to_owned()
                },
                |row| row.melody.clone(),
            );
            let sound = Sound {
                melody,
                type_id: Some(STATUS_REMINDER.to_owned()),
            };
            self.play(sound, now, out);
        }
    }

    fn replay_done(&mut self, now: Instant, doc: &SettingsDocument, out: &mut Vec<Action>) {
        let count = std::mem::take(&mut self.away_count);
        let sound = std::mem::take(&mut self.away_sound);
        if count == 0 {
            return;
        }
        let timeout = Self::timeout(doc);
        self.summary = Some((count, now + timeout));
        out.push(Action::Toast(Toast {
            key: ToastKey::Summary,
            body: ToastBody::Away { count },
            urgency: Urgency::Normal,
            timeout,
            repeat: 0,
        }));
        if sound {
            let sound = Sound {
                melody: SUMMARY_MELODY.to_owned(),
                type_id: None,
            };
            self.play(sound, now, out);
        }
    }

    fn read(&mut self, is_read: impl Fn(&str, u64) -> bool, out: &mut Vec<Action>) {
        self.repeats
            .retain(|id, r| !is_read(id, r.notification.seq));
        let closed: Vec<ToastKey> = self
            .shown
            .iter()
            .filter(|(_, s)| is_read(&s.notification_id, s.seq))
            .map(|(k, _)| k.clone())
            .collect();
        for key in closed {
            self.shown.remove(&key);
            out.push(Action::Close(key));
        }
    }

    fn due_repeats(&mut self, now: Instant, doc: &SettingsDocument, out: &mut Vec<Action>) {
        let max = doc.preferences.channels.banner.max_simultaneous.max(1) as usize;
        let interval = Duration::from_secs(u64::from(
            doc.preferences.channels.banner.repeat_interval_s.max(1),
        ));
        let mut due: Vec<String> = self
            .repeats
            .iter()
            .filter(|(_, r)| r.next <= now)
            .map(|(id, _)| id.clone())
            .collect();
        due.sort_by_key(|id| self.repeats.get(id).map(|r| r.notification.seq));
        for id in due {
            let Some(r) = self.repeats.get_mut(&id) else {
                continue;
            };
            let key = ToastKey::of(&r.notification);
            if !self.shown.contains_key(&key) && self.shown.len() >= max {
                // No room now; try again next interval.
                r.next = now + interval;
                continue;
            }
            r.left -= 1;
            r.done += 1;
            r.next = now + interval;
            let (n, done, finished) = (r.notification.clone(), r.done, r.left == 0);
            if finished {
                self.repeats.remove(&id);
            }
            self.show(n, done, now, doc, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use belfry_proto::catalogue::Category;
    use belfry_proto::settings::Policy;
    use serde_json::json;

    fn doc() -> SettingsDocument {
        SettingsDocument {
            version: 1,
            policy: Policy::default(),
            links: Default::default(),
            preferences: Preferences::default(),
        }
    }

    fn with_sound(mut d: SettingsDocument, type_id: &str) -> SettingsDocument {
        d.preferences.channels.sound.enabled = true;
        d.preferences
            .types
            .get_mut(type_id)
            .unwrap()
            .channels
            .push("sound".into());
        d
    }

    fn n(seq: u64, type_id: &str, data: serde_json::Value) -> Notification {
        Notification {
            id: format!("n{seq}"),
            seq,
            type_id: type_id.into(),
            category: Category::Events,
            title: format!("title {seq}"),
            body: String::new(),
            link: None,
            created_at: chrono::Utc::now(),
            read_at: None,
            data: data.as_object().cloned().unwrap_or_default(),
        }
    }

    fn toasts(actions: &[Action]) -> Vec<&Toast> {
        actions
            .iter()
            .filter_map(|a| {
                if let Action::Toast(t) = a {
                    Some(t)
                } else {
                    None
                }
            })
            .collect()
    }

    fn plays(actions: &[Action]) -> usize {
        actions
            .iter()
            .filter(|a| matches!(a, Action::Play(_)))
            .count()
    }

    #[test]
    fn type_channels_decide_toast_and_melody() {
        let t0 = Instant::now();
        let d = with_sound(doc(), "sla_expired");
        let mut r = Router::new();
        let a = r.handle(
            Input::Live(n(1, "sla_expired", json!({}))),
            t0,
            &d,
            Local::default(),
        );
        assert_eq!(toasts(&a).len(), 1);
        assert_eq!(toasts(&a)[0].urgency, Urgency::Critical);
        assert_eq!(
            a.iter().find(|x| matches!(x, Action::Play(_))),
            Some(&Action::Play(Sound {
                melody: "alert".into(),
                type_id: Some("sla_expired".into()),
            }))
        );
        // ticket_created has bell + banner only: a toast, no melody.
        let a = r.handle(
            Input::Live(n(2, "ticket_created", json!({}))),
            t0 + Duration::from_secs(10),
            &d,
            Local::default(),
        );
        assert_eq!((toasts(&a).len(), plays(&a)), (1, 0));
        // A type switched off gets the inbox only.
        let mut off = d.clone();
        off.preferences
            .types
            .get_mut("chat_created")
            .unwrap()
            .channels
            .clear();
        let a = r.handle(
            Input::Live(n(3, "chat_created", json!({}))),
            t0,
            &off,
            Local::default(),
        );
        assert!(a.is_empty());
        // Banner channel off: no toasts for anything.
        let mut no_banner = d.clone();
        no_banner.preferences.channels.banner.enabled = false;
        let a = r.handle(
            Input::Live(n(4, "ticket_created", json!({}))),
            t0,
            &no_banner,
            Local::default(),
        );
        assert!(a.is_empty());
    }

    #[test]
    fn never_more_than_max_simultaneous_and_a_burst_coalesces() {
        let t0 = Instant::now();
        let d = with_sound(doc(), "chat_created");
        let max = d.preferences.channels.banner.max_simultaneous as usize;
        let mut r = Router::new();
        let mut all = Vec::new();
        for i in 0..50 {
            let a = r.handle(
                Input::Live(n(i, "chat_created", json!({ "chat_id": i }))),
                t0 + Duration::from_millis(i * 10),
                &d,
                Local::default(),
            );
            assert!(r.on_screen() <= max + 1, "on screen: {}", r.on_screen());
            all.extend(a);
        }
        let items = toasts(&all)
            .iter()
            .filter(|t| t.key != ToastKey::Summary)
            .count();
        assert_eq!(items, max);
        let last_summary = toasts(&all)
            .into_iter()
            .rev()
            .find(|t| t.key == ToastKey::Summary)
            .unwrap();
        assert_eq!(
            last_summary.body,
            ToastBody::Burst {
                count: 50 - max as u32
            }
        );
        assert_eq!(plays(&all), 1, "a burst plays once");
        // Once the toasts time out, new ones get their own toast again.
        let later = t0 + Duration::from_secs(60);
        let a = r.handle(
            Input::Live(n(99, "chat_created", json!({"chat_id": 99}))),
            later,
            &d,
            Local::default(),
        );
        assert_eq!(toasts(&a)[0].key, ToastKey::Chat("99".into()));
    }

    #[test]
    fn toasts_a_service_keeps_hold_their_place_until_it_closes_them() {
        let t0 = Instant::now();
        let d = doc();
        let max = d.preferences.channels.banner.max_simultaneous as usize;
        let stay = Local {
            toasts_stay: true,
            ..Local::default()
        };
        let mut r = Router::new();
        let chat = |i: u64| Input::Live(n(i, "chat_created", json!({ "chat_id": i })));
        let mut all = Vec::new();
        for i in 0..max as u64 {
            all.extend(r.handle(chat(i), t0, &d, stay));
        }
        // Long after their time, nobody at the desk: the service still
        // shows them, so the next goes into the summary, not onto a pile.
        let later = t0 + Duration::from_secs(600);
        let a = r.handle(chat(50), later, &d, stay);
        assert_eq!(toasts(&a)[0].key, ToastKey::Summary);
        assert_eq!(r.on_screen(), max + 1);
        // The service closes one (it expired or was dismissed): its place is free.
        r.handle(Input::Closed(ToastKey::Chat("0".into())), later, &d, stay);
        let a = r.handle(chat(51), later, &d, stay);
        assert_eq!(toasts(&a)[0].key, ToastKey::Chat("51".into()));
        // A service that never says: the places free after HELD_AT_MOST.
        let much_later = later + HELD_AT_MOST + Duration::from_secs(60);
        let a = r.handle(chat(52), much_later, &d, stay);
        assert_eq!(toasts(&a)[0].key, ToastKey::Chat("52".into()));
        assert_eq!(r.on_screen(), 1);
        // Where the service moves a toast to its list when the time is up
        // (GNOME, KDE), the place frees then, as before.
        let mut r = Router::new();
        for i in 0..max as u64 {
            r.handle(chat(i), t0, &d, Local::default());
        }
        let a = r.handle(chat(50), later, &d, Local::default());
        assert_eq!(toasts(&a)[0].key, ToastKey::Chat("50".into()));
    }

    #[test]
    fn a_second_message_in_the_same_ticket_replaces_its_toast() {
        let t0 = Instant::now();
        let d = doc();
        let mut r = Router::new();
        r.handle(
            Input::Live(n(1, "ticket_message", json!({"ticket_id": 7}))),
            t0,
            &d,
            Local::default(),
        );
        let a = r.handle(
            Input::Live(n(2, "ticket_message", json!({"ticket_id": 7}))),
            t0,
            &d,
            Local::default(),
        );
        assert_eq!(toasts(&a)[0].key, ToastKey::Ticket("7".into()));
        assert_eq!(r.on_screen(), 1);
    }

    #[test]
    fn repeats_come_back_on_time_and_stop_when_read() {
        let t0 = Instant::now();
        let mut d = doc();
        d.preferences.channels.banner.repeats = 2;
        d.preferences.channels.banner.repeat_interval_s = 30;
        let mut r = Router::new();
        r.handle(
            Input::Live(n(1, "ticket_created", json!({"ticket_id": 1}))),
            t0,
            &d,
            Local::default(),
        );
        r.handle(
            Input::Live(n(2, "ticket_created", json!({"ticket_id": 2}))),
            t0,
            &d,
            Local::default(),
        );
        assert!(
            r.handle(
                Input::Tick,
                t0 + Duration::from_secs(29),
                &d,
                Local::default()
            )
            .is_empty()
        );
        let a = r.handle(
            Input::Tick,
            t0 + Duration::from_secs(30),
            &d,
            Local::default(),
        );
        assert_eq!(
            toasts(&a).iter().map(|t| t.repeat).collect::<Vec<_>>(),
            [1, 1]
        );
        // Read #1 elsewhere: its toast closes and it never comes back.
        let a = r.handle(
            Input::Read(vec!["n1".into()]),
            t0 + Duration::from_secs(31),
            &d,
            Local::default(),
        );
        assert_eq!(a, vec![Action::Close(ToastKey::Ticket("1".into()))]);
        let a = r.handle(
            Input::Tick,
            t0 + Duration::from_secs(60),
            &d,
            Local::default(),
        );
        assert_eq!(toasts(&a).len(), 1);
        assert_eq!(toasts(&a)[0].key, ToastKey::Ticket("2".into()));
        assert_eq!(toasts(&a)[0].repeat, 2);
        assert_eq!(r.pending_repeats(), 0, "two repeats and done");
        assert!(
            r.handle(
                Input::Tick,
                t0 + Duration::from_secs(200),
                &d,
                Local::default()
            )
            .is_empty()
        );
    }

    #[test]
    fn read_all_stops_repeats_up_to_the_sequence() {
        let t0 = Instant::now();
        let mut d = doc();
        d.preferences.channels.banner.repeats = 5;
        let mut r = Router::new();
        r.handle(
            Input::Live(n(1, "ticket_created", json!({}))),
            t0,
            &d,
            Local::default(),
        );
        r.handle(
            Input::Live(n(5, "ticket_created", json!({}))),
            t0,
            &d,
            Local::default(),
        );
        r.handle(Input::ReadAll(3), t0, &d, Local::default());
        assert_eq!(r.pending_repeats(), 1);
    }

    #[test]
    fn os_do_not_disturb_holds_back_everything() {
        let t0 = Instant::now();
        let mut d = with_sound(doc(), "sla_expired");
        d.policy.mandatory_types = vec!["sla_expired".into()];
        let quiet = Local {
            os_quiet: true,
            ..Local::default()
        };
        let mut r = Router::new();
        for (i, t) in ["ticket_created", "sla_expired"].into_iter().enumerate() {
            let a = r.handle(Input::Live(n(i as u64 + 1, t, json!({}))), t0, &d, quiet);
            assert!(a.is_empty(), "{t}: inbox only while the OS is quiet");
        }
        let a = r.handle(
            Input::Live(n(3, "sla_expired", json!({}))),
            t0,
            &d,
            Local::default(),
        );
        assert_eq!(
            (toasts(&a).len(), plays(&a)),
            (1, 1),
            "back to normal after"
        );
    }

    #[test]
    fn master_switch_and_pause_silence_all_but_mandatory_types() {
        let t0 = Instant::now();
        let mut d = with_sound(doc(), "sla_expired");
        d.policy.mandatory_types = vec!["sla_expired".into()];
        let paused = Local {
            paused: true,
            ..Local::default()
        };
        let mut r = Router::new();
        let a = r.handle(
            Input::Live(n(1, "ticket_created", json!({}))),
            t0,
            &d,
            paused,
        );
        assert!(a.is_empty(), "paused: inbox only");
        let a = r.handle(Input::Live(n(2, "sla_expired", json!({}))), t0, &d, paused);
        assert_eq!(
            (toasts(&a).len(), plays(&a)),
            (1, 0),
            "mandatory: silent toast"
        );
        d.preferences.receive = false;
        let a = r.handle(
            Input::Live(n(3, "ticket_created", json!({}))),
            t0,
            &d,
            Local::default(),
        );
        assert!(a.is_empty(), "master switch off: inbox only");
        let a = r.handle(
            Input::Live(n(4, "sla_expired", json!({}))),
            t0,
            &d,
            Local::default(),
        );
        assert_eq!((toasts(&a).len(), plays(&a)), (1, 0));
    }

    #[test]
    fn replayed_history_is_one_summary_and_one_melody() {
        let t0 = Instant::now();
        let d = with_sound(doc(), "chat_created");
        let mut r = Router::new();
        for i in 0..12 {
            assert!(
                r.handle(
                    Input::Replayed(n(i, "chat_created", json!({}))),
                    t0,
                    &d,
                    Local::default()
                )
                .is_empty()
            );
        }
        let mut read = n(100, "chat_created", json!({}));
        read.read_at = Some(chrono::Utc::now());
        r.handle(Input::Replayed(read), t0, &d, Local::default());
        let a = r.handle(Input::ReplayDone, t0, &d, Local::default());
        assert_eq!(toasts(&a).len(), 1);
        assert_eq!(toasts(&a)[0].body, ToastBody::Away { count: 12 });
        assert_eq!(plays(&a), 1);
        // A second replay with nothing new says nothing.
        assert!(
            r.handle(
                Input::ReplayDone,
                t0 + Duration::from_secs(9),
                &d,
                Local::default()
            )
            .is_empty()
        );
    }

    #[test]
    fn one_melody_at_a_time_and_not_the_same_one_too_often() {
        let t0 = Instant::now();
        let mut d = with_sound(with_sound(doc(), "chat_created"), "sla_expired");
        d.preferences.channels.banner.enabled = false;
        let mut r = Router::new();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(
            plays(&r.handle(
                Input::Live(n(1, "chat_created", json!({}))),
                at(0),
                &d,
                Local::default()
            )),
            1
        );
        assert_eq!(
            plays(&r.handle(
                Input::Live(n(2, "sla_expired", json!({}))),
                at(1000),
                &d,
                Local::default()
            )),
            0
        );
        assert_eq!(
            plays(&r.handle(
                Input::Live(n(3, "sla_expired", json!({}))),
                at(1600),
                &d,
                Local::default()
            )),
            1
        );
        assert_eq!(
            plays(&r.handle(
                Input::Live(n(4, "chat_created", json!({}))),
                at(3500),
                &d,
                Local::default()
            )),
            0,
            "same melody within 4 s"
        );
        assert_eq!(
            plays(&r.handle(
                Input::Live(n(5, "chat_created", json!({}))),
                at(4100),
                &d,
                Local::default()
            )),
            1
        );
    }

    #[test]
    fn read_elsewhere_or_watched_inbox_means_no_toast() {
        let t0 = Instant::now();
        let d = doc();
        let mut r = Router::new();
        let mut read = n(1, "ticket_created", json!({}));
        read.read_at = Some(chrono::Utc::now());
        assert!(
            r.handle(Input::Live(read), t0, &d, Local::default())
                .is_empty()
        );
        let focused = Local {
            inbox_focused: true,
            ..Local::default()
        };
        assert!(
            r.handle(
                Input::Live(n(2, "ticket_created", json!({}))),
                t0,
                &d,
                focused
            )
            .is_empty()
        );
    }

    #[test]
    fn simplified_mode_uses_the_classic_toggles() {
        let t0 = Instant::now();
        let mut d = doc();
        d.policy.notification_center = false;
        d.preferences.channels.sound.enabled = true;
        let mut r = Router::new();
        let a = r.handle(
            Input::Live(n(1, "chat_created", json!({}))),
            t0,
            &d,
            Local::default(),
        );
        assert_eq!(
            (toasts(&a).len(), plays(&a)),
            (1, 1),
            "new dialogue: pop-up and sound"
        );
        let a = r.handle(
            Input::Live(n(2, "ticket_message", json!({}))),
            t0 + Duration::from_secs(10),
            &d,
            Local::default(),
        );
        assert_eq!(
            (toasts(&a).len(), plays(&a)),
            (0, 1),
            "new message: sound only by default"
        );
        let a = r.handle(
            Input::Live(n(3, "ticket_closed", json!({}))),
            t0 + Duration::from_secs(20),
            &d,
            Local::default(),
        );
        assert!(a.is_empty());
    }

    #[test]
    fn test_notifications_show_on_the_channel_they_name() {
        let t0 = Instant::now();
        let d = doc();
        let mut r = Router::new();
        let a = r.handle(
            Input::Live(n(1, TEST_NOTIFICATION, json!({"channel": "sound"}))),
            t0,
            &d,
            Local::default(),
        );
        assert_eq!(
            (toasts(&a).len(), plays(&a)),
            (0, 1),
            "sound is off in the settings, the test still plays"
        );
        // Asked for again at once, it plays again: the gaps between
        // melodies are for events, not for the operator's click.
        let again = r.handle(
            Input::Live(n(3, TEST_NOTIFICATION, json!({"channel": "sound"}))),
            t0,
            &d,
            Local::default(),
        );
        assert_eq!(plays(&again), 1);
        let a = r.handle(
            Input::Live(n(2, TEST_NOTIFICATION, json!({"channel": "banner"}))),
            t0,
            &d,
            Local::default(),
        );
        assert_eq!(toasts(&a).len(), 1);
    }

    #[test]
    fn the_status_reminder_stays_up_rings_and_goes_when_the_status_changes() {
        let t0 = Instant::now();
        let mut d = doc();
        d.preferences.channels.banner.enabled = false;
        let mut r = Router::new();
        let focused = Local {
            inbox_focused: true,
            ..Local::default()
        };
        let a = r.handle(Input::Reminder { minutes: 20 }, t0, &d, focused);
        let shown = toasts(&a);
        assert_eq!(
            shown.len(),
            1,
            "not a delivery channel: banner off, inbox in front"
        );
        assert_eq!(shown[0].key, ToastKey::StatusReminder);
        assert_eq!(shown[0].body, ToastBody::StatusReminder { minutes: 20 });
        assert_eq!(shown[0].timeout, Duration::ZERO, "stays until acted on");
        assert_eq!(plays(&a), 0, "sound is off");
        assert_eq!(r.on_screen(), 0, "it takes no banner slot");

        d.preferences.channels.sound.enabled = true;
        let later = t0 + Duration::from_secs(900);
        let a = r.handle(Input::Reminder { minutes: 35 }, later, &d, Local::default());
        let played: Vec<_> = a
            .iter()
            .filter_map(|x| match x {
                Action::Play(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(played.len(), 1);
        assert_eq!(played[0].type_id.as_deref(), Some(STATUS_REMINDER));

        let a = r.handle(Input::ReminderOver, later, &d, Local::default());
        assert_eq!(a, vec![Action::Close(ToastKey::StatusReminder)]);

        for quiet in [
            Local {
                paused: true,
                ..Local::default()
            },
            Local {
                os_quiet: true,
                ..Local::default()
            },
        ] {
            let a = r.handle(Input::Reminder { minutes: 50 }, later, &d, quiet);
            assert!(a.is_empty(), "held back by {quiet:?}");
        }
        d.preferences.receive = false;
        assert!(
            r.handle(Input::Reminder { minutes: 50 }, later, &d, Local::default())
                .is_empty()
        );
    }
}
