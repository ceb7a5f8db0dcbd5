//! The state at a glance, as a tray says it: the glyph, the tooltip and
//! the state line (the menu is [`crate::menu`]). Shared by the two trays: the desktop shell's
//! (Tauri, which turns the entries into its own menu items) and the
//! headless one (a StatusNotifierItem of its own, see [`crate::tray`]), so
//! both say the same thing the same way.

use crate::session::Session;
use belfry_core::event::{ConnState, Quiet};
use belfry_core::store::Filter;
use belfry_proto::api::Availability;
use chrono::{DateTime, Local, Utc};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_titles_are_plain_and_short() {
        assert_eq!(menu_title("SLA_breach\u{202E}txt\n2"), "SLA_breachtxt 2");
        assert!(menu_title(&"x".repeat(200)).chars().count() <= MENU_TITLE);
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
