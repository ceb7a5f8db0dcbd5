//! The notification catalogue: every type id, its group and category, its
//! titles, its default channels and melody, and the channel ids. The seeds'
//! Notification Center lists 19 types in five groups; `operator_mentioned` is
//! known but not listed; the system group comes from the KeyCRM peer.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which inbox section a notification belongs to (the bell's "events" and
/// "system" tabs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Work events: tickets, chats, CSAT, SLA, normatives.
    Events,
    /// Instance health: disconnected channels and sources, payments, failed deliveries.
    System,
}

impl Category {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Events => "events",
            Category::System => "system",
        }
    }

    /// From the wire name; anything unknown is an event.
    pub fn from_name(s: &str) -> Self {
        if s == "system" {
            Category::System
        } else {
            Category::Events
        }
    }
}

/// The groups of the Notification types tab, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Creation and messages.
    Creation,
    /// Changes: reassignments, transfers, closing, status and subject changes.
    Changes,
    /// Client satisfaction ratings.
    Csat,
    /// SLA breaches.
    Sla,
    /// Normative response limits.
    Normatives,
    /// Instance health messages.
    System,
    /// Known to the system but not listed in the Center.
    Other,
}

impl Group {
    /// Groups in display order.
    pub const ALL: [Group; 7] = [
        Group::Creation,
        Group::Changes,
        Group::Csat,
        Group::Sla,
        Group::Normatives,
        Group::System,
        Group::Other,
    ];

    /// The wire id of the group.
    pub fn id(self) -> &'static str {
        match self {
            Group::Creation => "creation",
            Group::Changes => "changes",
            Group::Csat => "csat",
            Group::Sla => "sla",
            Group::Normatives => "normatives",
            Group::System => "system",
            Group::Other => "other",
        }
    }

    /// Titles in English, Russian and Ukrainian.
    pub fn titles(self) -> Titles {
        let (en, ru, uk) = match self {
            Group::Creation => (
                "Creation and messages",
                "Создание и сообщения",
                "Створення та повідомлення",
            ),
            Group::Changes => ("Changes", "Изменения", "Зміни"),
            Group::Csat => ("CSAT", "CSAT", "CSAT"),
            Group::Sla => ("SLA", "SLA", "SLA"),
            Group::Normatives => ("Normatives", "Нормативы", "Нормативи"),
            Group::System => ("System", "Системные", "Системні"),
            Group::Other => ("Other", "Прочее", "Інше"),
        };
        titles(en, ru, uk)
    }
}

/// The always-on inbox channel.
pub const BELL: &str = "bell";
/// OS toasts on the desktop.
pub const BANNER: &str = "banner";
/// The per-type melody.
pub const SOUND: &str = "sound";
/// Browser push (server-side only; the desktop edits but does not deliver it).
pub const BROWSER: &str = "browser";
/// The built-in channels, always present.
pub const CORE_CHANNELS: [&str; 4] = [BELL, BANNER, SOUND, BROWSER];
/// Bot channels an admin can enable for the instance.
pub const BOT_CHANNELS: [&str; 6] = ["telegram", "viber", "whatsapp", "echat", "email", "custom"];

/// Is `id` a channel this protocol version knows (core or bot)?
pub fn is_known_channel(id: &str) -> bool {
    CORE_CHANNELS.contains(&id) || BOT_CHANNELS.contains(&id)
}

/// Built-in melody ids. The desktop ships a sound for each; the server only
/// stores the id. Stable: never rename one, only add.
pub const MELODIES: [&str; 10] = [
    "chime", "ding", "marimba", "pluck", "bubble", "harp", "triad", "knock", "bells", "alert",
];

/// Is `id` one of [`MELODIES`]?
pub fn is_known_melody(id: &str) -> bool {
    MELODIES.contains(&id)
}

/// The type a server sends for "Send test" on a channel.
pub const TEST_NOTIFICATION: &str = "test_notification";

/// One row of the static catalogue.
#[derive(Debug, Clone, Copy)]
pub struct TypeDef {
    /// Wire id, e.g. `ticket_created`.
    pub id: &'static str,
    /// Display group.
    pub group: Group,
    /// Inbox section.
    pub category: Category,
    /// English title.
    pub title_en: &'static str,
    /// Russian title.
    pub title_ru: &'static str,
    /// Editable only while the instance's extended settings are on (CSAT, SLA, normatives).
    pub extended: bool,
    /// Shown in the Notification types tab.
    pub listed: bool,
    /// Melody used until the operator picks another.
    pub default_melody: &'static str,
    /// Toast urgency: SLA breaches and negative CSAT are critical.
    pub critical: bool,
}

const fn t(
    id: &'static str,
    group: Group,
    title_en: &'static str,
    title_ru: &'static str,
    default_melody: &'static str,
) -> TypeDef {
    let extended = matches!(group, Group::Csat | Group::Sla | Group::Normatives);
    let category = match group {
        Group::System => Category::System,
        _ => Category::Events,
    };
    TypeDef {
        id,
        group,
        category,
        title_en,
        title_ru,
        extended,
        listed: !matches!(group, Group::Other),
        default_melody,
        critical: false,
    }
}

const fn critical(def: TypeDef) -> TypeDef {
    TypeDef {
        critical: true,
        ..def
    }
}

/// Every type this protocol version knows, in display order.
pub const TYPES: [TypeDef; 26] = [
    t(
        "ticket_created",
        Group::Creation,
        "Ticket created",
        "Создан тикет",
        "chime",
    ),
    t(
        "chat_created",
        Group::Creation,
        "Chat created",
        "Создан чат",
        "chime",
    ),
    t(
        "comment_created",
        Group::Creation,
        "Comment",
        "Комментарий",
        "bubble",
    ),
    t(
        "ticket_message",
        Group::Creation,
        "Message in ticket",
        "Сообщение в тикете",
        "bubble",
    ),
    t(
        "ticket_reassign",
        Group::Changes,
        "Ticket reassigned",
        "Тикет переназначен",
        "pluck",
    ),
    t(
        "chat_reassign",
        Group::Changes,
        "Chat reassigned",
        "Чат переназначен",
        "pluck",
    ),
    t(
        "send_transfer_chat",
        Group::Changes,
        "Chat transfer",
        "Передача чата",
        "pluck",
    ),
    t(
        "ticket_closed",
        Group::Changes,
        "Ticket closed",
        "Тикет закрыт",
        "ding",
    ),
    t(
        "ticket_reopened",
        Group::Changes,
        "Ticket reopened",
        "Тикет переоткрыт",
        "ding",
    ),
    t(
        "chat_closed",
        Group::Changes,
        "Chat closed",
        "Чат закрыт",
        "ding",
    ),
    t(
        "ticket_status_name_changed",
        Group::Changes,
        "Ticket status name changed",
        "Изменено название статуса тикета",
        "ding",
    ),
    t(
        "watcher_added",
        Group::Changes,
        "Watcher added",
        "Добавлен наблюдатель",
        "ding",
    ),
    t(
        "subject_change",
        Group::Changes,
        "Subject changed",
        "Изменена тема",
        "ding",
    ),
    t(
        "csat_received",
        Group::Csat,
        "CSAT received",
        "Получена оценка CSAT",
        "harp",
    ),
    critical(t(
        "csat_negative",
        Group::Csat,
        "Negative CSAT",
        "Негативная оценка CSAT",
        "knock",
    )),
    critical(t(
        "sla_expired",
        Group::Sla,
        "SLA breached",
        "SLA нарушен",
        "alert",
    )),
    critical(t(
        "sla_time_in_status_exceeded",
        Group::Sla,
        "Time in status exceeded",
        "Превышено время в статусе",
        "alert",
    )),
    t(
        "normative_response_warning",
        Group::Normatives,
        "Normative response warning",
        "Предупреждение о нормативе ответа",
        "triad",
    ),
    t(
        "normative_response_overlimit",
        Group::Normatives,
        "Normative responses over limit",
        "Превышен лимит норматива ответов",
        "triad",
    ),
    t(
        "channel_disconnected",
        Group::System,
        "Channel disconnected",
        "Канал отключён",
        "bells",
    ),
    t(
        "source_disconnected",
        Group::System,
        "Source disconnected",
        "Источник отключён",
        "bells",
    ),
    t(
        "channel_payment_needed",
        Group::System,
        "Channel payment needed",
        "Необходима оплата канала",
        "bells",
    ),
    t(
        "message_delivery_failed",
        Group::System,
        "Message delivery failed",
        "Ошибка отправки сообщения",
        "bells",
    ),
    t(
        "operator_mentioned",
        Group::Other,
        "You were mentioned",
        "Вас упомянули",
        "marimba",
    ),
    t(
        TEST_NOTIFICATION,
        Group::Other,
        "Test notification",
        "Тестовое уведомление",
        "chime",
    ),
    // Not a server event: the desktop raises it itself (Reminders tab). Listed
    // here so its melody has a stable home.
    t(
        "status_reminder",
        Group::Other,
        "Status reminder",
        "Напоминание о статусе",
        "marimba",
    ),
];

/// The static definition of a type id, if this protocol version knows it.
pub fn type_def(id: &str) -> Option<&'static TypeDef> {
    TYPES.iter().find(|d| d.id == id)
}

/// Channels a new operator has on for every listed type (the seeds: bell + banner).
pub const DEFAULT_TYPE_CHANNELS: [&str; 2] = [BELL, BANNER];

/// Localized strings, keyed by language tag (`en`, `ru`, `uk`).
pub type Titles = BTreeMap<String, String>;

/// Builds a [`Titles`] map from the English, Russian and Ukrainian strings.
pub fn titles(en: &str, ru: &str, uk: &str) -> Titles {
    BTreeMap::from([
        ("en".to_owned(), en.to_owned()),
        ("ru".to_owned(), ru.to_owned()),
        ("uk".to_owned(), uk.to_owned()),
    ])
}

impl TypeDef {
    /// The type's titles in every language the catalogue has.
    pub fn titles(&self) -> Titles {
        titles(self.title_en, self.title_ru, uk_title(self.id))
    }
}

/// Ukrainian titles, kept apart from [`TYPES`] so the table stays readable.
fn uk_title(id: &str) -> &'static str {
    match id {
        "ticket_created" => "Створено тікет",
        "chat_created" => "Створено чат",
        "comment_created" => "Коментар",
        "ticket_message" => "Повідомлення в тікеті",
        "ticket_reassign" => "Тікет перепризначено",
        "chat_reassign" => "Чат перепризначено",
        "send_transfer_chat" => "Передача чату",
        "ticket_closed" => "Тікет закрито",
        "ticket_reopened" => "Тікет знову відкрито",
        "chat_closed" => "Чат закрито",
        "ticket_status_name_changed" => "Змінено назву статусу тікета",
        "watcher_added" => "Додано спостерігача",
        "subject_change" => "Змінено тему",
        "csat_received" => "Отримано оцінку CSAT",
        "csat_negative" => "Негативна оцінка CSAT",
        "sla_expired" => "SLA порушено",
        "sla_time_in_status_exceeded" => "Перевищено час у статусі",
        "normative_response_warning" => "Попередження про норматив відповіді",
        "normative_response_overlimit" => "Перевищено ліміт нормативу відповідей",
        "channel_disconnected" => "Канал відключено",
        "source_disconnected" => "Джерело відключено",
        "channel_payment_needed" => "Потрібна оплата каналу",
        "message_delivery_failed" => "Помилка надсилання повідомлення",
        "operator_mentioned" => "Вас згадали",
        "test_notification" => "Тестове сповіщення",
        "status_reminder" => "Нагадування про статус",
        _ => "",
    }
}

/// A type as the catalogue endpoint reports it: static definition plus the
/// instance's current policy flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TypeInfo {
    /// Wire id.
    pub id: String,
    /// Display group id (see [`Group`]).
    pub group: Group,
    /// Inbox section.
    pub category: Category,
    /// Titles by language.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub titles: Titles,
    /// Channels on by default for a new operator.
    pub default_channels: Vec<String>,
    /// Default melody id.
    pub default_melody: String,
    /// An extended-settings type (CSAT, SLA, normatives): view-only while the
    /// instance's extended settings are off.
    pub extended: bool,
    /// Temporarily unavailable on this instance (shown with a notice, not editable).
    pub unavailable: bool,
    /// Listed in the Notification types tab.
    pub listed: bool,
    /// Mandatory on this instance (cannot be turned off).
    pub mandatory: bool,
    /// Shown as a critical toast.
    pub critical: bool,
    /// Why an operator cannot edit this type's row now (`null`: they can):
    /// the policy's rule ([`crate::settings::Policy::type_lock`]), said once
    /// here so no client repeats it.
    #[serde(default)]
    pub lock: Option<crate::settings::Reason>,
}

/// What kind of channel a [`ChannelInfo`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// The inbox.
    Bell,
    /// Toasts.
    Banner,
    /// Melodies.
    Sound,
    /// Browser push.
    Browser,
    /// A messenger or email bot.
    Bot,
}

/// A channel as the catalogue endpoint reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelInfo {
    /// Wire id.
    pub id: String,
    /// Kind.
    pub kind: ChannelKind,
    /// Titles by language.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub titles: Titles,
    /// Available on this instance (bot channels: enabled by the admin; others: always).
    pub enabled: bool,
    /// Linked by this operator in the web profile (bot channels; others: always true).
    pub linked: bool,
    /// Mandatory on this instance: the operator cannot switch it off.
    pub mandatory: bool,
    /// Why an operator cannot switch it (`null`: they can): the bell
    /// always, a mandatory channel ([`crate::settings::Policy::channel_lock`]).
    #[serde(default)]
    pub lock: Option<crate::settings::Reason>,
}

/// A group as the catalogue endpoint reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GroupInfo {
    /// Group id.
    pub id: Group,
    /// Titles by language.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub titles: Titles,
}

/// `GET /api/v1/catalogue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Catalogue {
    /// Groups in display order.
    pub groups: Vec<GroupInfo>,
    /// Types in display order.
    pub types: Vec<TypeInfo>,
    /// Channels in display order.
    pub channels: Vec<ChannelInfo>,
    /// Melody ids the server accepts.
    pub melodies: Vec<String>,
}

/// Titles for a channel id.
pub fn channel_titles(id: &str) -> Titles {
    let (en, ru, uk) = match id {
        BELL => ("Bell", "Колокольчик", "Дзвіночок"),
        BANNER => ("Banner", "Баннер", "Банер"),
        SOUND => ("Sound", "Звук", "Звук"),
        BROWSER => ("Browser", "Браузер", "Браузер"),
        "telegram" => ("Telegram", "Telegram", "Telegram"),
        "viber" => ("Viber", "Viber", "Viber"),
        "whatsapp" => ("WhatsApp", "WhatsApp", "WhatsApp"),
        "echat" => ("eChat", "eChat", "eChat"),
        "email" => ("Email", "Email", "Email"),
        _ => ("Custom channel", "Свой канал", "Власний канал"),
    };
    titles(en, ru, uk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_three_languages_and_a_known_melody() {
        for d in TYPES {
            let t = d.titles();
            assert!(
                ["en", "ru", "uk"].iter().all(|l| !t[*l].is_empty()),
                "{}",
                d.id
            );
            assert!(is_known_melody(d.default_melody), "{}", d.id);
        }
        assert_eq!(
            TYPES
                .iter()
                .filter(|d| d.listed && d.group != Group::System)
                .count(),
            19
        );
    }
}
