//! The state at a glance, as a tray says it: the glyph, the tooltip and
//! the menu ([`menu`]). Shared by the two trays: the desktop shell's
//! (Tauri, which turns the entries into its own menu items) and the
//! headless one (a StatusNotifierItem of its own, see [`crate::tray`]), so
//! both say the same thing the same way.

use crate::session::Session;
use belfry_core::event::{ConnState, Quiet};
use belfry_core::store::Filter;
use belfry_os::menu::Entry;
use belfry_proto::api::{Availability, OperatorStatus};
use chrono::{DateTime, Duration, Local, Utc};

/// Longest notification title in a menu, in characters.
pub const MENU_TITLE: usize = 60;

/// How many unread a tray's menu lists.
pub const RECENT: u32 = 5;

/// The last few unread as a menu lists them: id and title. `None` when the
/// store cannot say (the menu keeps what it listed).
pub async fn recent_unread(session: &Session) -> Option<Vec<(String, String)>> {
    let filter = Filter {
        unread: true,
        limit: RECENT,
        ..Filter::default()
    };
    let store = session.engine.store().clone();
    match tokio::task::spawn_blocking(move || store.page(&filter)).await {
        Ok(Ok(items)) => Some(
            items
                .into_iter()
                .map(|n| (n.id, menu_title(&n.title)))
                .collect(),
        ),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "the tray's unread list");
            None
        }
        Err(_) => None,
    }
}

/// What a tray shows, borrowed from whatever holds the state.
#[derive(Debug, Clone, Default)]
pub struct Glance<'a> {
    /// The connection; `None` before the session started.
    pub connection: Option<&'a ConnState>,
    /// No session: the sign-in form is up or the session failed to start.
    pub signed_out: bool,
    /// Why toasts and sounds are held back, if they are.
    pub quiet: Option<&'a Quiet>,
    /// Unread notifications in all.
    pub unread: u64,
    /// What is wrong now, oldest first, in words for people.
    pub problems: Vec<&'a str>,
}

/// The connection and quiet state in words, and the newest problem.
pub fn state_line(g: &Glance<'_>) -> String {
    let connection = match g.connection {
        None if g.signed_out => "Signed out".to_owned(),
        None => "Starting…".to_owned(),
        Some(ConnState::Connecting) => "Connecting…".to_owned(),
        Some(ConnState::Connected) => "Connected".to_owned(),
        Some(ConnState::Reconnecting { next_attempt, .. }) => {
            format!("Reconnecting in {} s", seconds_until(*next_attempt))
        }
        Some(ConnState::Offline { .. }) => "Offline — showing saved notifications".to_owned(),
        Some(ConnState::SignedOut) => "Signed out".to_owned(),
        Some(ConnState::Incompatible { .. }) => "Instance not supported".to_owned(),
        Some(ConnState::Stopped) => "Stopped".to_owned(),
    };
    let line = match g.quiet {
        Some(Quiet::Paused { until }) => format!(
            "{connection} · paused until {}",
            until.with_timezone(&Local).format("%H:%M")
        ),
        Some(Quiet::DoNotDisturb { source }) => format!("{connection} · quiet: {source}"),
        None => connection,
    };
    // The menu's first line and the tooltip are where a tray says what is
    // wrong; the newest problem, as the window's status line shows it.
    match g.problems.as_slice() {
        [] => line,
        [only] => format!("{line} · {only}"),
        [.., last] => format!("{line} · {last} (and {} more)", g.problems.len() - 1),
    }
}

/// The tooltip: the state in words and, once there is a connection to
/// count from, the unread count.
pub fn tooltip(g: &Glance<'_>) -> String {
    let line = state_line(g);
    match (g.connection, g.unread) {
        (None, _) => format!("Belfry — {line}"),
        (Some(_), 0) => format!("Belfry — nothing unread — {line}"),
        (Some(_), n) => format!("Belfry — {n} unread — {line}"),
    }
}

fn seconds_until(t: DateTime<Utc>) -> i64 {
    (t - Utc::now()).num_seconds().max(0)
}

/// What the tray glyph shows. When several hold, the first listed wins:
/// a glyph can say one thing, and what needs the user, or explains why
/// nothing arrives, matters more than a count the title and tooltip give
/// anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    /// Nothing will arrive until the user acts: no session (the window
    /// shows the sign-in form, or the session failed to start), the token
    /// was refused, or the instance speaks no protocol this app knows. A
    /// hollow bell.
    SignedOut,
    /// Not live, but it will be without the user: starting, connecting,
    /// reconnecting, offline (saved items still show) or stopped. A faded
    /// bell.
    Offline,
    /// Live, toasts and sounds held back: paused from the tray or the
    /// system's do-not-disturb. It beats [`TrayState::Unread`] because a
    /// pause is easy to forget and the count is in the title anyway. A
    /// slashed bell.
    Paused,
    /// Live, with unread notifications. A bell with a dot.
    Unread,
    /// Live, nothing unread. A plain bell.
    Idle,
}

impl TrayState {
    /// Every state, in the order above.
    pub const ALL: [Self; 5] = [
        Self::SignedOut,
        Self::Offline,
        Self::Paused,
        Self::Unread,
        Self::Idle,
    ];

    /// The glyph for `g`.
    pub fn of(g: &Glance<'_>) -> Self {
        match g.connection {
            None if g.signed_out => Self::SignedOut,
            Some(ConnState::SignedOut | ConnState::Incompatible { .. }) => Self::SignedOut,
            None
            | Some(
                ConnState::Connecting
                | ConnState::Reconnecting { .. }
                | ConnState::Offline { .. }
                | ConnState::Stopped,
            ) => Self::Offline,
            Some(ConnState::Connected) if g.quiet.is_some() => Self::Paused,
            Some(ConnState::Connected) if g.unread > 0 => Self::Unread,
            Some(ConnState::Connected) => Self::Idle,
        }
    }

    /// The name its PNGs have under `icons/tray/`.
    pub const fn file_stem(self) -> &'static str {
        match self {
            Self::SignedOut => "signed-out",
            Self::Offline => "offline",
            Self::Paused => "paused",
            Self::Unread => "unread",
            Self::Idle => "idle",
        }
    }
}

/// A title as a menu label: plain (no markup, bidi or zero-width tricks),
/// one line, short. Each tray escapes its toolkit's mnemonic markers
/// (`_` for dbusmenu, `&` for the desktop shell's menus) itself.
pub fn menu_title(title: &str) -> String {
    let plain = belfry_os::toast::sanitize(title).replace('\n', " ");
    belfry_os::toast::clip(&plain, MENU_TITLE)
}

/// The operator's availability in words.
pub fn availability_text(a: Availability) -> &'static str {
    match a {
        Availability::Ready => "Ready",
        Availability::NotReady => "Not ready",
        Availability::Away => "Away",
    }
}

/// The menu id of each availability the operator can pick.
pub const AVAILABILITY: [(&str, Availability); 3] = [
    ("status:ready", Availability::Ready),
    ("status:not_ready", Availability::NotReady),
    ("status:away", Availability::Away),
];

/// The pauses a tray offers, by menu id: 30 minutes, an hour, until
/// tomorrow morning, and resume (`None`).
pub fn pause_until(id: &str, now: DateTime<Local>) -> Option<Option<DateTime<Utc>>> {
    let utc = now.with_timezone(&Utc);
    match id {
        "pause:30" => Some(Some(utc + Duration::minutes(30))),
        "pause:60" => Some(Some(utc + Duration::hours(1))),
        "pause:tomorrow" => Some(Some(tomorrow_morning(now))),
        "resume" => Some(None),
        _ => None,
    }
}

/// When "until tomorrow" ends: 08:00 local time tomorrow.
pub fn tomorrow_morning(now: DateTime<Local>) -> DateTime<Utc> {
    let day = now.date_naive() + Duration::days(1);
    day.and_hms_opt(8, 0, 0)
        .and_then(|t| t.and_local_timezone(Local).earliest())
        .unwrap_or_else(|| now + Duration::hours(12))
        .with_timezone(&Utc)
}

/// The ids of a tray menu's fixed entries (the others are made from data:
/// `item:<id>`, `pause:<when>` and the [`AVAILABILITY`] ids).
pub mod id {
    /// Open inbox (or Sign in…).
    pub const OPEN: &str = "open";
    /// The state line (says, does nothing).
    pub const STATE: &str = "state";
    /// Retry now, while the connection is down.
    pub const RETRY: &str = "retry";
    /// End a pause.
    pub const RESUME: &str = "resume";
    /// The settings window.
    pub const SETTINGS: &str = "settings";
    /// Quit Belfry.
    pub const QUIT: &str = "quit";
}

/// What a tray's menu asked for that the headless loop does itself (the
/// rest a tray does at once). Here, not in the Linux tray, so the loop
/// that reads it compiles the same on every platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Quit Belfry.
    Quit,
    /// Open the inbox: hand over to the full app.
    Open,
    /// Update: hand over to the full app, which offers the update (its
    /// check at start finds it) and installs it once it verifies.
    Update,
}

/// A tray's menu: the glance and what else the tray holds.
pub struct MenuOf<'a> {
    /// The state.
    pub glance: &'a Glance<'a>,
    /// The last few unread (id, title), newest first.
    pub recent: &'a [(String, String)],
    /// The operator's availability, once the instance said it.
    pub availability: Option<OperatorStatus>,
    /// The update line, when there is one: what it says, and the id a
    /// click reports (`None`: it only says).
    pub update: Option<(String, Option<&'a str>)>,
    /// A Settings… line (the app that has a settings window).
    pub settings: bool,
}

/// The menu both trays show: Open inbox and the state, the last few
/// unread, pause, the operator's status, Retry now while the connection
/// is down, the update, Settings…, Quit. Signed out, the first line signs
/// in and there is nothing unread or to set. Labels are plain text: each
/// tray escapes its toolkit's mnemonic markers.
pub fn menu(m: &MenuOf<'_>) -> Vec<Entry> {
    let g = m.glance;
    let item = |id: &str, label: &str, enabled: bool| Entry::Item {
        id: id.to_owned(),
        label: label.to_owned(),
        enabled,
    };
    let open = if g.signed_out {
        "Sign in…"
    } else {
        "Open inbox"
    };
    let mut menu = vec![
        item(id::OPEN, open, true),
        item(id::STATE, &state_line(g), false),
        Entry::Separator,
    ];
    let recent = if g.signed_out { &[] } else { m.recent };
    for (id, title) in recent {
        menu.push(item(&format!("item:{id}"), title, true));
    }
    if !recent.is_empty() {
        menu.push(Entry::Separator);
    }
    let paused = matches!(g.quiet, Some(Quiet::Paused { .. }));
    menu.push(Entry::Submenu {
        label: "Pause notifications".into(),
        entries: vec![
            item("pause:30", "For 30 minutes", true),
            item("pause:60", "For 1 hour", true),
            item("pause:tomorrow", "Until tomorrow", true),
            item(id::RESUME, "Resume", paused),
        ],
    });
    if let Some(current) = m.availability.filter(|_| !g.signed_out) {
        let mut label = format!("Status: {}", availability_text(current.status));
        if let Some(since) = current.since {
            label.push_str(&format!(
                " since {}",
                since.with_timezone(&Local).format("%H:%M")
            ));
        }
        menu.push(Entry::Submenu {
            label,
            entries: AVAILABILITY
                .iter()
                .map(|(id, a)| Entry::Check {
                    id: (*id).to_owned(),
                    label: availability_text(*a).to_owned(),
                    checked: *a == current.status,
                })
                .collect(),
        });
    }
    if matches!(
        g.connection,
        Some(ConnState::Reconnecting { .. } | ConnState::Offline { .. })
    ) {
        menu.push(item(id::RETRY, "Retry now", true));
    }
    menu.push(Entry::Separator);
    if let Some((label, action)) = &m.update {
        // A line that only says has an id that does nothing when clicked.
        menu.push(item(
            action.unwrap_or("update:note"),
            label,
            action.is_some(),
        ));
    }
    if m.settings {
        menu.push(item(id::SETTINGS, "Settings…", true));
    }
    menu.push(item(id::QUIT, "Quit Belfry", true));
    menu
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_titles_are_plain_and_short() {
        assert_eq!(menu_title("SLA_breach\u{202E}txt\n2"), "SLA_breachtxt 2");
        assert!(menu_title(&"x".repeat(200)).chars().count() <= MENU_TITLE);
    }

    /// The labels of `entries`, submenus' after theirs, indented, with
    /// `(off)` for lines that do nothing and `[x]` for a checked one.
    fn shown(entries: &[Entry], depth: usize, out: &mut Vec<String>) {
        for e in entries {
            let pad = "  ".repeat(depth);
            match e {
                Entry::Item { label, enabled, .. } => {
                    out.push(format!(
                        "{pad}{label}{}",
                        if *enabled { "" } else { " (off)" }
                    ));
                }
                Entry::Check { label, checked, .. } => {
                    out.push(format!(
                        "{pad}{}{label}",
                        if *checked { "[x] " } else { "[ ] " }
                    ));
                }
                Entry::Separator => out.push(format!("{pad}---")),
                Entry::Submenu { label, entries } => {
                    out.push(format!("{pad}{label} >"));
                    shown(entries, depth + 1, out);
                }
            }
        }
    }

    #[test]
    fn the_menu_offers_what_the_state_allows() {
        let offline = ConnState::Offline {
            next_attempt: Utc::now(),
            attempt: 2,
        };
        let paused = Quiet::Paused {
            until: Utc::now() + Duration::hours(1),
        };
        let g = Glance {
            connection: Some(&offline),
            quiet: Some(&paused),
            unread: 1,
            ..Glance::default()
        };
        let recent = [("n1".to_owned(), "Q&A_ticket".to_owned())];
        let entries = menu(&MenuOf {
            glance: &g,
            recent: &recent,
            availability: Some(OperatorStatus {
                status: Availability::NotReady,
                since: None,
            }),
            update: Some(("Update 2.0 refused".to_owned(), None)),
            settings: true,
        });
        let mut lines = Vec::new();
        shown(&entries, 0, &mut lines);
        assert_eq!(lines[0], "Open inbox");
        assert!(lines[1].ends_with("(off)"), "the state line only says");
        assert!(
            lines.contains(&"Q&A_ticket".to_owned()),
            "plain text: {lines:?}"
        );
        assert!(lines.contains(&"  Resume".to_owned()), "a pause can end");
        assert!(lines.contains(&"Status: Not ready >".to_owned()));
        assert!(lines.contains(&"  [x] Not ready".to_owned()));
        assert!(lines.contains(&"  [ ] Ready".to_owned()));
        assert!(
            lines.contains(&"Retry now".to_owned()),
            "offline: {lines:?}"
        );
        assert!(lines.contains(&"Update 2.0 refused (off)".to_owned()));
        assert_eq!(&lines[lines.len() - 2..], ["Settings…", "Quit Belfry"]);
        let item = entries.iter().find_map(|e| match e {
            Entry::Item { id, label, .. } if label == "Q&A_ticket" => Some(id.as_str()),
            _ => None,
        });
        assert_eq!(item, Some("item:n1"), "a click opens the item");

        // Connected, not paused, signed out: no unread, status or retry;
        // the first line signs in; the small tray has no Settings….
        let connected = ConnState::Connected;
        let g = Glance {
            connection: Some(&connected),
            signed_out: true,
            ..Glance::default()
        };
        let entries = menu(&MenuOf {
            glance: &g,
            recent: &recent,
            availability: Some(OperatorStatus {
                status: Availability::Ready,
                since: None,
            }),
            update: None,
            settings: false,
        });
        let mut lines = Vec::new();
        shown(&entries, 0, &mut lines);
        assert_eq!(lines[0], "Sign in…");
        assert!(
            lines.contains(&"  Resume (off)".to_owned()),
            "nothing to resume"
        );
        for gone in ["Q&A_ticket", "Status: Ready >", "Retry now", "Settings…"] {
            assert!(!lines.contains(&gone.to_owned()), "{gone} in {lines:?}");
        }
        assert_eq!(lines.last().map(String::as_str), Some("Quit Belfry"));
    }

    #[test]
    fn until_tomorrow_is_tomorrow_morning() {
        let now = Local::now();
        let until = tomorrow_morning(now).with_timezone(&Local);
        assert_eq!(until.date_naive(), now.date_naive() + Duration::days(1));
        assert_eq!(until.format("%H:%M").to_string(), "08:00");
        assert_eq!(pause_until("resume", now), Some(None));
        assert_eq!(pause_until("open", now), None);
    }

    #[test]
    fn the_state_line_says_why_it_is_quiet() {
        let connected = ConnState::Connected;
        let quiet = Quiet::DoNotDisturb {
            source: "dunst is paused".into(),
        };
        let g = Glance {
            connection: Some(&connected),
            quiet: Some(&quiet),
            ..Glance::default()
        };
        assert_eq!(state_line(&g), "Connected · quiet: dunst is paused");
        assert_eq!(TrayState::of(&g), TrayState::Paused);
        let signed_out = Glance {
            signed_out: true,
            ..Glance::default()
        };
        assert_eq!(state_line(&signed_out), "Signed out");
        assert_eq!(TrayState::of(&signed_out), TrayState::SignedOut);
    }

    #[test]
    fn the_state_line_says_the_newest_problem_and_how_many_more() {
        let connected = ConnState::Connected;
        let mut g = Glance {
            connection: Some(&connected),
            unread: 3,
            problems: vec!["playing sounds: no device"],
            ..Glance::default()
        };
        assert_eq!(state_line(&g), "Connected · playing sounds: no device");
        g.problems.push("storing notifications: read-only");
        assert_eq!(
            state_line(&g),
            "Connected · storing notifications: read-only (and 1 more)"
        );
        assert_eq!(TrayState::of(&g), TrayState::Unread);
        assert!(tooltip(&g).starts_with("Belfry — 3 unread — Connected"));
    }
}
