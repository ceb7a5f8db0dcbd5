//! The settings document: the instance's policy plus one operator's
//! preferences, versioned as a whole. [`validate`] is the rule book both
//! sides use: the instance refuses a write that breaks it, the client uses it
//! to show locks and to check what a server sends.

use crate::catalogue::{
    self, BANNER, BELL, BOT_CHANNELS, BROWSER, CORE_CHANNELS, Catalogue, ChannelInfo, ChannelKind,
    DEFAULT_TYPE_CHANNELS, Group, GroupInfo, SOUND, TYPES, TypeInfo, is_known_melody,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Instance-wide rules an admin sets (Settings → Notification settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Policy {
    /// The Notification Center is on. Off: the simplified mode (classic
    /// sound / pop-up toggles, no per-type table).
    pub notification_center: bool,
    /// Channels operators cannot switch off. The bell is always implied.
    pub mandatory_channels: Vec<String>,
    /// Types operators cannot switch off.
    pub mandatory_types: Vec<String>,
    /// CSAT, SLA and normative types are editable by operators.
    pub extended_settings: bool,
    /// Types temporarily unavailable on this instance.
    pub unavailable_types: Vec<String>,
    /// Bot channels the admin enabled (configured a bot and scenario for).
    pub bot_channels: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            notification_center: true,
            mandatory_channels: Vec::new(),
            mandatory_types: Vec::new(),
            extended_settings: false,
            unavailable_types: Vec::new(),
            bot_channels: Vec::new(),
        }
    }
}

impl Policy {
    /// Is `channel` mandatory under this policy? The bell always is.
    pub fn channel_mandatory(&self, channel: &str) -> bool {
        channel == BELL || self.mandatory_channels.iter().any(|c| c == channel)
    }

    /// Is `type_id` mandatory under this policy?
    pub fn type_mandatory(&self, type_id: &str) -> bool {
        self.mandatory_types.iter().any(|t| t == type_id)
    }

    /// Is `type_id` view-only for operators: an extended type while extended
    /// settings are off, or a temporarily unavailable type?
    pub fn type_view_only(&self, type_id: &str) -> Option<Reason> {
        if self.unavailable_types.iter().any(|t| t == type_id) {
            return Some(Reason::Unavailable);
        }
        let extended = catalogue::type_def(type_id).is_some_and(|d| d.extended);
        (extended && !self.extended_settings).then_some(Reason::ViewOnly)
    }

    /// Why an operator cannot edit `type_id`'s row, if they cannot: it is
    /// unavailable, mandatory, or view-only (extended settings off). The
    /// server refuses such an edit with the same reason.
    pub fn type_lock(&self, type_id: &str) -> Option<Reason> {
        match self.type_view_only(type_id) {
            Some(Reason::Unavailable) => Some(Reason::Unavailable),
            _ if self.type_mandatory(type_id) => Some(Reason::MandatoryType),
            view_only => view_only,
        }
    }

    /// Why an operator cannot switch `channel`, if they cannot: the bell
    /// is always on; a mandatory channel stays on.
    pub fn channel_lock(&self, channel: &str) -> Option<Reason> {
        if channel == BELL {
            Some(Reason::BellLocked)
        } else if self.channel_mandatory(channel) {
            Some(Reason::MandatoryChannel)
        } else {
            None
        }
    }

    /// Is `channel` usable on this instance (core channels always; bot channels
    /// when the admin enabled them)?
    pub fn channel_available(&self, channel: &str) -> bool {
        catalogue::CORE_CHANNELS.contains(&channel)
            || self.bot_channels.iter().any(|c| c == channel)
    }
}

/// A channel's on/off switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Toggle {
    /// On.
    pub enabled: bool,
}

/// The banner (toast) channel and its knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct BannerPrefs {
    /// On.
    pub enabled: bool,
    /// Seconds a toast stays up, 1–60.
    pub duration_s: u32,
    /// Toasts on screen at once, 1–10.
    pub max_simultaneous: u32,
    /// How many times an unread toast is shown again, 0–5.
    pub repeats: u32,
    /// Seconds between repeats, 10–3600.
    pub repeat_interval_s: u32,
}

impl Default for BannerPrefs {
    fn default() -> Self {
        Self {
            enabled: true,
            duration_s: 6,
            max_simultaneous: 3,
            repeats: 0,
            repeat_interval_s: 60,
        }
    }
}

/// Allowed ranges for the banner knobs and the reminder.
pub mod limits {
    use std::ops::RangeInclusive;
    /// `banner.duration_s`.
    pub const BANNER_DURATION_S: RangeInclusive<u32> = 1..=60;
    /// `banner.max_simultaneous`.
    pub const BANNER_MAX_SIMULTANEOUS: RangeInclusive<u32> = 1..=10;
    /// `banner.repeats`.
    pub const BANNER_REPEATS: RangeInclusive<u32> = 0..=5;
    /// `banner.repeat_interval_s`.
    pub const BANNER_REPEAT_INTERVAL_S: RangeInclusive<u32> = 10..=3600;
    /// `reminders.status.after_minutes`.
    pub const REMINDER_MINUTES: RangeInclusive<u32> = 1..=240;
}

/// The Channels tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct ChannelPrefs {
    /// The inbox; always on.
    pub bell: Toggle,
    /// Toasts.
    pub banner: BannerPrefs,
    /// Melodies.
    pub sound: Toggle,
    /// Browser push.
    pub browser: Toggle,
    /// Bot channels by id (`telegram`, …).
    pub bots: BTreeMap<String, Toggle>,
}

impl Default for ChannelPrefs {
    fn default() -> Self {
        Self {
            bell: Toggle { enabled: true },
            banner: BannerPrefs::default(),
            sound: Toggle { enabled: false },
            browser: Toggle { enabled: false },
            bots: BTreeMap::new(),
        }
    }
}

impl ChannelPrefs {
    /// Is the channel `id` switched on?
    pub fn is_on(&self, id: &str) -> bool {
        match id {
            BELL => self.bell.enabled,
            BANNER => self.banner.enabled,
            SOUND => self.sound.enabled,
            BROWSER => self.browser.enabled,
            other => self.bots.get(other).is_some_and(|t| t.enabled),
        }
    }
}

/// One row of the Notification types tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TypePrefs {
    /// Channels this type is delivered on; empty means the type is off. An
    /// on type always includes the bell.
    pub channels: Vec<String>,
    /// Melody id (one of the catalogue's melodies).
    pub melody: String,
}

/// The status reminder: prompt to change status while "not ready" too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct StatusReminder {
    /// On.
    pub enabled: bool,
    /// Minutes of "not ready" before the reminder, 1–240.
    pub after_minutes: u32,
}

impl Default for StatusReminder {
    fn default() -> Self {
        Self {
            enabled: false,
            after_minutes: 15,
        }
    }
}

/// The Reminders tab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Reminders {
    /// The status reminder.
    pub status: StatusReminder,
}

/// The classic toggles shown while the Notification Center is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Simplified {
    /// Sound for a new dialogue.
    pub new_dialogue_sound: bool,
    /// Pop-up for a new dialogue.
    pub new_dialogue_popup: bool,
    /// Sound for a new message.
    pub new_message_sound: bool,
    /// Pop-up for a new message.
    pub new_message_popup: bool,
}

impl Default for Simplified {
    fn default() -> Self {
        Self {
            new_dialogue_sound: true,
            new_dialogue_popup: true,
            new_message_sound: true,
            new_message_popup: false,
        }
    }
}

/// One operator's choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Preferences {
    /// Master switch: receive notifications. Off silences every channel but
    /// the bell, except for mandatory types.
    pub receive: bool,
    /// The Channels tab.
    pub channels: ChannelPrefs,
    /// The Notification types tab, by type id (listed types only).
    pub types: BTreeMap<String, TypePrefs>,
    /// The Reminders tab.
    pub reminders: Reminders,
    /// Simplified-mode toggles.
    pub simplified: Simplified,
}

impl Preferences {
    /// Applies the bell rule to an edit of `before`: a type is on exactly
    /// when its bell is. A row that lost its bell is switched off (its
    /// channels cleared); a row given a channel without the bell gets the
    /// bell first (the type comes on with it). Clients send the channels
    /// the user switched, and this makes the row whole before validation.
    pub fn follow_bell(&mut self, before: &Preferences) {
        for (id, row) in &mut self.types {
            if row.channels.is_empty() || row.channels.iter().any(|c| c == BELL) {
                continue;
            }
            let had_bell = before
                .types
                .get(id)
                .is_some_and(|b| b.channels.iter().any(|c| c == BELL));
            if had_bell {
                row.channels.clear();
            } else {
                row.channels.insert(0, BELL.to_owned());
            }
        }
    }
}

impl Default for Preferences {
    /// A new operator's preferences: bell + banner on for every listed type.
    fn default() -> Self {
        let types = TYPES
            .iter()
            .filter(|d| d.listed)
            .map(|d| {
                let prefs = TypePrefs {
                    channels: DEFAULT_TYPE_CHANNELS
                        .iter()
                        .map(|c| (*c).to_owned())
                        .collect(),
                    melody: d.default_melody.to_owned(),
                };
                (d.id.to_owned(), prefs)
            })
            .collect();
        Self {
            receive: true,
            channels: ChannelPrefs::default(),
            types,
            reminders: Reminders::default(),
            simplified: Simplified::default(),
        }
    }
}

/// `GET /api/v1/settings`: policy, link state and preferences under one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsDocument {
    /// Bumped on every change to any part of the document.
    pub version: u64,
    /// The instance's policy (read-only for operators).
    pub policy: Policy,
    /// Bot channels this operator linked in the web profile (read-only here).
    pub links: BTreeMap<String, bool>,
    /// The operator's preferences.
    pub preferences: Preferences,
}

impl SettingsDocument {
    /// The catalogue this operator sees: every type and channel with the
    /// instance's policy flags and the operator's link state.
    pub fn catalogue(&self) -> Catalogue {
        let doc = self;
        let policy = &doc.policy;
        let groups = Group::ALL
            .iter()
            .map(|g| GroupInfo {
                id: *g,
                titles: g.titles(),
            })
            .collect();
        let types = catalogue::TYPES
            .iter()
            .filter(|d| d.id != "status_reminder")
            .map(|d| TypeInfo {
                id: d.id.to_owned(),
                group: d.group,
                category: d.category,
                titles: d.titles(),
                default_channels: catalogue::DEFAULT_TYPE_CHANNELS
                    .iter()
                    .map(|c| (*c).to_owned())
                    .collect(),
                default_melody: d.default_melody.to_owned(),
                extended: d.extended,
                unavailable: policy.unavailable_types.iter().any(|t| t == d.id),
                listed: d.listed,
                mandatory: policy.type_mandatory(d.id),
                critical: d.critical,
                lock: policy.type_lock(d.id),
            })
            .collect();
        let core = CORE_CHANNELS.iter().map(|id| {
            let kind = match *id {
                catalogue::BELL => ChannelKind::Bell,
                catalogue::BANNER => ChannelKind::Banner,
                catalogue::SOUND => ChannelKind::Sound,
                _ => ChannelKind::Browser,
            };
            ChannelInfo {
                id: (*id).to_owned(),
                kind,
                titles: catalogue::channel_titles(id),
                enabled: true,
                linked: true,
                mandatory: policy.channel_mandatory(id),
                lock: policy.channel_lock(id),
            }
        });
        let bots = BOT_CHANNELS.iter().map(|id| ChannelInfo {
            id: (*id).to_owned(),
            kind: ChannelKind::Bot,
            titles: catalogue::channel_titles(id),
            enabled: policy.channel_available(id),
            linked: doc.links.get(*id).copied().unwrap_or(false),
            mandatory: policy.channel_mandatory(id),
            lock: policy.channel_lock(id),
        });
        Catalogue {
            groups,
            types,
            channels: core.chain(bots).collect(),
            melodies: catalogue::MELODIES
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
        }
    }
}

/// `PUT /api/v1/settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsWrite {
    /// The document version this edit was based on.
    pub base_version: u64,
    /// The whole new preferences.
    pub preferences: Preferences,
}

/// Why a field of a settings write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The bell cannot be switched off, nor removed from an on type.
    BellLocked,
    /// The admin made this channel mandatory.
    MandatoryChannel,
    /// The admin made this type mandatory.
    MandatoryType,
    /// An extended-settings type while the instance's extended settings are off.
    ViewOnly,
    /// The type is temporarily unavailable on this instance.
    Unavailable,
    /// Per-type settings while the Notification Center is off.
    NotificationCenterOff,
    /// A type id the catalogue does not know.
    UnknownType,
    /// A type the Center does not list.
    NotListed,
    /// A channel id the catalogue does not know.
    UnknownChannel,
    /// A bot channel the admin has not enabled.
    ChannelNotEnabled,
    /// A melody id the catalogue does not know.
    UnknownMelody,
    /// A number outside its allowed range.
    OutOfRange,
    /// The same channel twice in one type.
    Duplicate,
    /// Not an identifier (a ticket or chat id put into a link): letters,
    /// digits, `-`, `_`, `.`, `~`, not starting with a dot.
    NotAnIdentifier,
}

impl Reason {
    /// A sentence for people.
    pub fn message(self) -> &'static str {
        match self {
            Reason::BellLocked => "the bell is always on",
            Reason::MandatoryChannel => "your administrator made this channel mandatory",
            Reason::MandatoryType => "your administrator made this notification type mandatory",
            Reason::ViewOnly => {
                "extended settings for CSAT, SLA and normatives are off on this instance"
            }
            Reason::Unavailable => "this notification type is temporarily unavailable",
            Reason::NotificationCenterOff => "the Notification Center is off on this instance",
            Reason::UnknownType => "unknown notification type",
            Reason::NotListed => "this notification type is not in the Notification Center",
            Reason::UnknownChannel => "unknown channel",
            Reason::ChannelNotEnabled => "your administrator has not enabled this channel",
            Reason::UnknownMelody => "unknown melody",
            Reason::OutOfRange => "value out of range",
            Reason::Duplicate => "channel listed twice",
            Reason::NotAnIdentifier => {
                "not an identifier: letters, digits, '-', '_', '.' or '~', not starting with '.'"
            }
        }
    }
}

/// One refused field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldError {
    /// Dotted path into the document, e.g. `preferences.types.sla_expired.channels`.
    pub path: String,
    /// Machine-readable reason.
    pub reason: Reason,
    /// The same for people.
    pub message: String,
}

impl FieldError {
    /// A refused field at `path` (dotted), with the reason's sentence.
    pub fn new(path: impl Into<String>, reason: Reason) -> Self {
        Self {
            path: path.into(),
            reason,
            message: reason.message().to_owned(),
        }
    }
}

/// Checks a proposed `next` against `policy`, given the stored `current`
/// preferences (needed for the fields that must stay as they are). Returns
/// every refused field, so a client can revert each control with its reason.
pub fn validate(policy: &Policy, current: &Preferences, next: &Preferences) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_channels(policy, next, &mut errors);
    validate_types(policy, current, next, &mut errors);
    let m = next.reminders.status.after_minutes;
    if !limits::REMINDER_MINUTES.contains(&m) {
        errors.push(FieldError::new(
            "preferences.reminders.status.after_minutes",
            Reason::OutOfRange,
        ));
    }
    errors
}

fn validate_channels(policy: &Policy, next: &Preferences, errors: &mut Vec<FieldError>) {
    let ch = &next.channels;
    if !ch.bell.enabled {
        errors.push(FieldError::new(
            "preferences.channels.bell.enabled",
            Reason::BellLocked,
        ));
    }
    for (id, on) in [
        (BANNER, ch.banner.enabled),
        (SOUND, ch.sound.enabled),
        (BROWSER, ch.browser.enabled),
    ] {
        if !on && policy.channel_mandatory(id) {
            errors.push(FieldError::new(
                format!("preferences.channels.{id}.enabled"),
                Reason::MandatoryChannel,
            ));
        }
    }
    for (field, value, range) in [
        (
            "duration_s",
            ch.banner.duration_s,
            limits::BANNER_DURATION_S,
        ),
        (
            "max_simultaneous",
            ch.banner.max_simultaneous,
            limits::BANNER_MAX_SIMULTANEOUS,
        ),
        ("repeats", ch.banner.repeats, limits::BANNER_REPEATS),
        (
            "repeat_interval_s",
            ch.banner.repeat_interval_s,
            limits::BANNER_REPEAT_INTERVAL_S,
        ),
    ] {
        if !range.contains(&value) {
            errors.push(FieldError::new(
                format!("preferences.channels.banner.{field}"),
                Reason::OutOfRange,
            ));
        }
    }
    for (id, toggle) in &ch.bots {
        let path = format!("preferences.channels.bots.{id}.enabled");
        if !BOT_CHANNELS.contains(&id.as_str()) {
            errors.push(FieldError::new(path, Reason::UnknownChannel));
        } else if toggle.enabled && !policy.channel_available(id) {
            errors.push(FieldError::new(path, Reason::ChannelNotEnabled));
        } else if !toggle.enabled && policy.channel_mandatory(id) {
            errors.push(FieldError::new(path, Reason::MandatoryChannel));
        }
    }
    for id in &policy.mandatory_channels {
        if BOT_CHANNELS.contains(&id.as_str())
            && policy.channel_available(id)
            && !ch.bots.contains_key(id)
        {
            errors.push(FieldError::new(
                format!("preferences.channels.bots.{id}.enabled"),
                Reason::MandatoryChannel,
            ));
        }
    }
}

fn validate_types(
    policy: &Policy,
    current: &Preferences,
    next: &Preferences,
    errors: &mut Vec<FieldError>,
) {
    for (id, prefs) in &next.types {
        let path = format!("preferences.types.{id}");
        let Some(def) = catalogue::type_def(id) else {
            errors.push(FieldError::new(path, Reason::UnknownType));
            continue;
        };
        if !def.listed {
            errors.push(FieldError::new(path, Reason::NotListed));
            continue;
        }
        let unchanged = current.types.get(id) == Some(prefs);
        if unchanged {
            continue;
        }
        if !policy.notification_center {
            errors.push(FieldError::new(path, Reason::NotificationCenterOff));
            continue;
        }
        if let Some(reason) = policy.type_view_only(id) {
            errors.push(FieldError::new(path, reason));
            continue;
        }
        let channels_path = format!("{path}.channels");
        if prefs.channels.is_empty() {
            if policy.type_mandatory(id) {
                errors.push(FieldError::new(
                    channels_path.clone(),
                    Reason::MandatoryType,
                ));
            }
        } else if !prefs.channels.iter().any(|c| c == BELL) {
            errors.push(FieldError::new(channels_path.clone(), Reason::BellLocked));
        }
        for (i, channel) in prefs.channels.iter().enumerate() {
            if prefs.channels[..i].contains(channel) {
                errors.push(FieldError::new(channels_path.clone(), Reason::Duplicate));
            } else if !catalogue::is_known_channel(channel) {
                errors.push(FieldError::new(
                    channels_path.clone(),
                    Reason::UnknownChannel,
                ));
            } else if !policy.channel_available(channel) {
                errors.push(FieldError::new(
                    channels_path.clone(),
                    Reason::ChannelNotEnabled,
                ));
            }
        }
        if !is_known_melody(&prefs.melody) {
            errors.push(FieldError::new(
                format!("{path}.melody"),
                Reason::UnknownMelody,
            ));
        }
    }
}

/// Brings stored preferences in line with a (new) policy: mandatory channels
/// and types switched on, bell restored, rows for every listed type present.
/// The instance runs this when the admin changes the policy.
pub fn enforce(policy: &Policy, prefs: &mut Preferences) {
    let defaults = Preferences::default();
    for (id, row) in &defaults.types {
        prefs.types.entry(id.clone()).or_insert_with(|| row.clone());
    }
    prefs
        .types
        .retain(|id, _| catalogue::type_def(id).is_some_and(|d| d.listed));
    prefs.channels.bell.enabled = true;
    for id in &policy.mandatory_channels {
        match id.as_str() {
            BANNER => prefs.channels.banner.enabled = true,
            SOUND => prefs.channels.sound.enabled = true,
            BROWSER => prefs.channels.browser.enabled = true,
            bot if policy.channel_available(bot) => {
                prefs
                    .channels
                    .bots
                    .insert(bot.to_owned(), Toggle { enabled: true });
            }
            _ => {}
        }
    }
    for (id, row) in &mut prefs.types {
        if row.channels.is_empty() && policy.type_mandatory(id) {
            row.channels = DEFAULT_TYPE_CHANNELS
                .iter()
                .map(|c| (*c).to_owned())
                .collect();
        }
        if !row.channels.is_empty() && !row.channels.iter().any(|c| c == BELL) {
            row.channels.insert(0, BELL.to_owned());
        }
    }
}

/// Makes a document from the server usable as it stands, and says what was
/// wrong with it: a client must not trust an instance (or whatever sits
/// between) to send preferences that obey the instance's own policy. Unknown
/// types and channels are dropped, a channel listed twice once, unknown
/// melodies become the type's default, out-of-range numbers are clamped,
/// and the policy is enforced (mandatory channels and types on, bell on).
pub fn repair(policy: &Policy, prefs: &mut Preferences) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_channels(policy, prefs, &mut errors);
    let defaults = Preferences::default();
    let banner = &mut prefs.channels.banner;
    for (value, range) in [
        (&mut banner.duration_s, limits::BANNER_DURATION_S),
        (
            &mut banner.max_simultaneous,
            limits::BANNER_MAX_SIMULTANEOUS,
        ),
        (&mut banner.repeats, limits::BANNER_REPEATS),
        (
            &mut banner.repeat_interval_s,
            limits::BANNER_REPEAT_INTERVAL_S,
        ),
    ] {
        *value = (*value).clamp(*range.start(), *range.end());
    }
    let m = &mut prefs.reminders.status.after_minutes;
    if !limits::REMINDER_MINUTES.contains(m) {
        errors.push(FieldError::new(
            "preferences.reminders.status.after_minutes",
            Reason::OutOfRange,
        ));
        *m = (*m).clamp(
            *limits::REMINDER_MINUTES.start(),
            *limits::REMINDER_MINUTES.end(),
        );
    }
    prefs
        .channels
        .bots
        .retain(|id, _| BOT_CHANNELS.contains(&id.as_str()));
    for (id, toggle) in &mut prefs.channels.bots {
        if toggle.enabled && !policy.channel_available(id) {
            toggle.enabled = false;
        }
    }
    for (id, row) in &mut prefs.types {
        let path = format!("preferences.types.{id}");
        if !catalogue::type_def(id).is_some_and(|d| d.listed) {
            errors.push(FieldError::new(path, Reason::UnknownType));
            continue;
        }
        let mut seen: Vec<String> = Vec::new();
        for channel in std::mem::take(&mut row.channels) {
            if seen.contains(&channel) {
                errors.push(FieldError::new(
                    format!("{path}.channels"),
                    Reason::Duplicate,
                ));
            } else if !catalogue::is_known_channel(&channel) {
                errors.push(FieldError::new(
                    format!("{path}.channels"),
                    Reason::UnknownChannel,
                ));
            } else {
                seen.push(channel);
            }
        }
        row.channels = seen;
        if !row.channels.is_empty() && !row.channels.iter().any(|c| c == BELL) {
            errors.push(FieldError::new(
                format!("{path}.channels"),
                Reason::BellLocked,
            ));
        }
        if row.channels.is_empty() && policy.type_mandatory(id) {
            errors.push(FieldError::new(
                format!("{path}.channels"),
                Reason::MandatoryType,
            ));
        }
        if !is_known_melody(&row.melody) {
            errors.push(FieldError::new(
                format!("{path}.melody"),
                Reason::UnknownMelody,
            ));
            if let Some(d) = defaults.types.get(id) {
                row.melody.clone_from(&d.melody);
            }
        }
    }
    enforce(policy, prefs);
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_that_breaks_its_own_policy_is_repaired_and_each_fault_named() {
        let policy = Policy {
            mandatory_types: vec!["sla_expired".into()],
            ..Policy::default()
        };
        let mut prefs = Preferences::default();
        prefs.channels.bell.enabled = false;
        prefs.channels.banner.duration_s = 10_000;
        if let Some(row) = prefs.types.get_mut("sla_expired") {
            row.channels.clear();
        }
        if let Some(row) = prefs.types.get_mut("chat_created") {
            row.channels = vec!["bell".into(), "pigeon".into(), "bell".into()];
            row.melody = "no-such-melody".into();
        }
        prefs.types.insert(
            "no_such_type".into(),
            TypePrefs {
                channels: vec!["bell".into()],
                melody: "bells".into(),
            },
        );
        let errors = reasons(&repair(&policy, &mut prefs));
        for want in [
            ("preferences.channels.bell.enabled", Reason::BellLocked),
            ("preferences.channels.banner.duration_s", Reason::OutOfRange),
            (
                "preferences.types.sla_expired.channels",
                Reason::MandatoryType,
            ),
            (
                "preferences.types.chat_created.channels",
                Reason::UnknownChannel,
            ),
            ("preferences.types.chat_created.channels", Reason::Duplicate),
            (
                "preferences.types.chat_created.melody",
                Reason::UnknownMelody,
            ),
            ("preferences.types.no_such_type", Reason::UnknownType),
        ] {
            assert!(
                errors.contains(&(want.0.to_owned(), want.1)),
                "{want:?} in {errors:?}"
            );
        }
        assert!(prefs.channels.bell.enabled);
        assert_eq!(prefs.channels.banner.duration_s, 60);
        assert!(!prefs.types["sla_expired"].channels.is_empty());
        assert_eq!(
            prefs.types["chat_created"].channels,
            vec!["bell".to_owned()]
        );
        assert!(is_known_melody(&prefs.types["chat_created"].melody));
        assert!(!prefs.types.contains_key("no_such_type"));
        // A repaired document has nothing left to repair.
        assert_eq!(repair(&policy, &mut prefs), vec![]);
        // And the defaults were fine to begin with.
        assert_eq!(
            repair(&Policy::default(), &mut Preferences::default()),
            vec![]
        );
    }

    fn reasons(errors: &[FieldError]) -> Vec<(String, Reason)> {
        errors.iter().map(|e| (e.path.clone(), e.reason)).collect()
    }

    #[test]
    fn defaults_are_valid_bell_and_banner() {
        let prefs = Preferences::default();
        assert!(validate(&Policy::default(), &prefs, &prefs).is_empty());
        assert_eq!(prefs.types.len(), 23);
        assert!(
            prefs
                .types
                .values()
                .all(|t| t.channels == ["bell", "banner"])
        );
    }

    #[test]
    fn bell_cannot_be_switched_off_or_removed() {
        let current = Preferences::default();
        let mut next = current.clone();
        next.channels.bell.enabled = false;
        next.types.get_mut("ticket_created").unwrap().channels = vec!["banner".into()];
        let got = reasons(&validate(&Policy::default(), &current, &next));
        assert!(got.contains(&(
            "preferences.channels.bell.enabled".into(),
            Reason::BellLocked
        )));
        assert!(got.contains(&(
            "preferences.types.ticket_created.channels".into(),
            Reason::BellLocked
        )));
    }

    #[test]
    fn a_type_is_on_exactly_when_its_bell_is() {
        let before = Preferences::default();
        let row = |p: &Preferences, id: &str| p.types[id].channels.clone();
        let mut next = before.clone();
        // Off, then a channel switched on: on, with the bell first.
        next.types.get_mut("ticket_created").unwrap().channels = Vec::new();
        let off = next.clone();
        next.types.get_mut("ticket_created").unwrap().channels = vec!["sound".into()];
        next.follow_bell(&off);
        assert_eq!(row(&next, "ticket_created"), ["bell", "sound"]);
        // The bell switched off: the type is off.
        let on = next.clone();
        next.types.get_mut("ticket_created").unwrap().channels = vec!["sound".into()];
        next.follow_bell(&on);
        assert!(row(&next, "ticket_created").is_empty());
        // Another channel switched off: the bell stays.
        let mut next = before.clone();
        next.types.get_mut("chat_created").unwrap().channels = vec!["bell".into()];
        next.follow_bell(&before);
        assert_eq!(row(&next, "chat_created"), ["bell"]);
        assert!(validate(&Policy::default(), &before, &next).is_empty());
    }

    #[test]
    fn the_catalogue_says_each_lock_the_server_refuses_with() {
        let policy = Policy {
            mandatory_types: vec!["chat_created".into()],
            unavailable_types: vec!["ticket_created".into()],
            mandatory_channels: vec!["sound".into()],
            ..Policy::default()
        };
        let doc = SettingsDocument {
            version: 1,
            policy: policy.clone(),
            links: BTreeMap::new(),
            preferences: Preferences::default(),
        };
        let catalogue = doc.catalogue();
        let lock = |id: &str| catalogue.types.iter().find(|t| t.id == id).unwrap().lock;
        assert_eq!(lock("ticket_created"), Some(Reason::Unavailable));
        assert_eq!(lock("chat_created"), Some(Reason::MandatoryType));
        assert_eq!(lock("sla_expired"), Some(Reason::ViewOnly));
        assert_eq!(lock("comment_created"), None);
        let channel = |id: &str| catalogue.channels.iter().find(|c| c.id == id).unwrap().lock;
        assert_eq!(channel("bell"), Some(Reason::BellLocked));
        assert_eq!(channel("sound"), Some(Reason::MandatoryChannel));
        assert_eq!(channel("banner"), None);

        // The server refuses an edit of a locked row with the same reason.
        let current = Preferences::default();
        for (id, reason) in [
            ("ticket_created", Reason::Unavailable),
            ("sla_expired", Reason::ViewOnly),
            ("chat_created", Reason::MandatoryType),
        ] {
            let mut next = current.clone();
            next.types.get_mut(id).unwrap().channels.clear();
            let got = reasons(&validate(&policy, &current, &next));
            assert!(got.iter().any(|(_, r)| *r == reason), "{id}: {got:?}");
        }
        let mut next = current.clone();
        next.channels.sound.enabled = false;
        let got = reasons(&validate(&policy, &current, &next));
        assert_eq!(
            got,
            vec![(
                "preferences.channels.sound.enabled".into(),
                Reason::MandatoryChannel
            )]
        );
    }

    #[test]
    fn view_only_until_extended_settings() {
        let current = Preferences::default();
        let mut next = current.clone();
        next.types.get_mut("sla_expired").unwrap().melody = "harp".into();
        let mut policy = Policy::default();
        let got = reasons(&validate(&policy, &current, &next));
        assert_eq!(
            got,
            vec![("preferences.types.sla_expired".into(), Reason::ViewOnly)]
        );
        policy.extended_settings = true;
        assert!(validate(&policy, &current, &next).is_empty());
    }

    #[test]
    fn enforce_restores_mandatory_parts() {
        let policy = Policy {
            mandatory_channels: vec!["sound".into()],
            mandatory_types: vec!["chat_created".into()],
            ..Policy::default()
        };
        let mut prefs = Preferences::default();
        prefs
            .types
            .get_mut("chat_created")
            .unwrap()
            .channels
            .clear();
        enforce(&policy, &mut prefs);
        assert!(prefs.channels.sound.enabled);
        assert_eq!(prefs.types["chat_created"].channels, ["bell", "banner"]);
        assert!(validate(&policy, &prefs, &prefs).is_empty());
    }
}
