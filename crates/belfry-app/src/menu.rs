//! The tray menu both trays show, its entries as a typed [`MenuId`], and
//! what a click on the entries every tray shares does ([`act`]): pause,
//! availability, retry, open an item. A toolkit sees an entry's id only as
//! the string [`MenuId::id`] writes and [`MenuId::parse`] reads back; the
//! rules live here once, so the desktop shell's tray, the headless tray and
//! the window's General tab cannot disagree.

use crate::glance::{Glance, availability_text, state_line};
use crate::session::Session;
use belfry_core::config::DeviceConfig;
use belfry_core::event::{ConnState, Quiet};
use belfry_os::menu::Entry;
use belfry_proto::api::{Availability, OperatorStatus};
use chrono::{DateTime, Duration, Local, Utc};
use std::path::Path;

/// A pause of toasts and melodies, as the tray menu and the General tab
/// offer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Pause {
    /// For 30 minutes.
    HalfHour,
    /// For an hour.
    Hour,
    /// Until 08:00 tomorrow.
    Tomorrow,
    /// Resume now.
    Resume,
}

impl Pause {
    /// When the pause ends, from `now`; `None` resumes.
    pub fn until(self, now: DateTime<Local>) -> Option<DateTime<Utc>> {
        let utc = now.with_timezone(&Utc);
        match self {
            Self::HalfHour => Some(utc + Duration::minutes(30)),
            Self::Hour => Some(utc + Duration::hours(1)),
            Self::Tomorrow => Some(tomorrow_morning(now)),
            Self::Resume => None,
        }
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

/// Pauses or resumes toasts and melodies and keeps the choice across
/// restarts (in `cfg`, saved to `config_file`); the core's `Quiet` event
/// then tells the trays and the window.
pub fn pause(session: &Session, choice: Pause, cfg: &mut DeviceConfig, config_file: &Path) {
    let until = choice.until(Local::now());
    session.engine.pause_until(until);
    cfg.paused_until = until;
    if let Err(e) = cfg.save(config_file) {
        tracing::warn!(error = %e, "could not save the pause");
    }
    tracing::info!(?choice, "pause");
}

/// The update line's step, in the app that installs updates (the shell)
/// and the one that hands them over (the headless tray).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateStep {
    /// Install the offered update (the headless tray: hand over to the
    /// full app, which installs it).
    Install,
    /// Restart into the installed update.
    Restart,
}

/// A tray menu's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuId {
    /// Open inbox (or Sign in…); also the icon's own activation.
    Open,
    /// The state line (says, does nothing).
    State,
    /// One of the last few unread: opens it.
    Item(String),
    /// Pause or resume.
    Pause(Pause),
    /// Set the operator's availability.
    Availability(Availability),
    /// Retry now, while the connection is down.
    Retry,
    /// The update line.
    Update(UpdateStep),
    /// The update line when it only says something.
    UpdateNote,
    /// The settings window.
    Settings,
    /// Quit Belfry.
    Quit,
}

/// The availabilities the operator can pick, in the menu's order.
pub const AVAILABILITY: [Availability; 3] = [
    Availability::Ready,
    Availability::NotReady,
    Availability::Away,
];

impl MenuId {
    /// Every entry but the unread items.
    pub const FIXED: [Self; 15] = [
        Self::Open,
        Self::State,
        Self::Pause(Pause::HalfHour),
        Self::Pause(Pause::Hour),
        Self::Pause(Pause::Tomorrow),
        Self::Pause(Pause::Resume),
        Self::Availability(Availability::Ready),
        Self::Availability(Availability::NotReady),
        Self::Availability(Availability::Away),
        Self::Retry,
        Self::Update(UpdateStep::Install),
        Self::Update(UpdateStep::Restart),
        Self::UpdateNote,
        Self::Settings,
        Self::Quit,
    ];

    /// The entry's id as a toolkit carries it.
    pub fn id(&self) -> String {
        match self {
            Self::Open => "open".into(),
            Self::State => "state".into(),
            Self::Item(id) => format!("item:{id}"),
            Self::Pause(Pause::HalfHour) => "pause:30".into(),
            Self::Pause(Pause::Hour) => "pause:60".into(),
            Self::Pause(Pause::Tomorrow) => "pause:tomorrow".into(),
            Self::Pause(Pause::Resume) => "resume".into(),
            Self::Availability(Availability::Ready) => "status:ready".into(),
            Self::Availability(Availability::NotReady) => "status:not_ready".into(),
            Self::Availability(Availability::Away) => "status:away".into(),
            Self::Retry => "retry".into(),
            Self::Update(UpdateStep::Install) => "update:install".into(),
            Self::Update(UpdateStep::Restart) => "update:restart".into(),
            Self::UpdateNote => "update:note".into(),
            Self::Settings => "settings".into(),
            Self::Quit => "quit".into(),
        }
    }

    /// The entry a toolkit reported by its id; `None` for one no menu
    /// here made. The StatusNotifierItem's own activation is [`MenuId::Open`].
    pub fn parse(id: &str) -> Option<Self> {
        if let Some(item) = id.strip_prefix("item:") {
            return Some(Self::Item(item.to_owned()));
        }
        if id == belfry_os::menu::ACTIVATE {
            return Some(Self::Open);
        }
        Self::FIXED.into_iter().find(|m| m.id() == id)
    }
}

/// What [`act`] did with a click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acted {
    /// Done (or said in the log and the core's problems).
    Done,
    /// The instance refused the availability: show the menu again, which
    /// puts its check back where it holds.
    ShowAgain,
    /// Not one the session does alone: the tray does it (a pause, with
    /// [`pause`] and the settings it keeps; open, settings, quit, the
    /// update line).
    Yours(MenuId),
}

/// Does what a click on one of the entries every tray shares asks of the
/// session; hands the others back.
pub async fn act(id: MenuId, session: &Session) -> Acted {
    match id {
        MenuId::Availability(a) => {
            // A failure reaches the menu's first line as the core's problem.
            if session.engine.set_availability(a).await.is_err() {
                return Acted::ShowAgain;
            }
        }
        MenuId::Retry => session.engine.retry_now(),
        MenuId::Item(item) => {
            if let Err(e) = session.open_item(&item).await {
                tracing::warn!(error = format!("{e:#}"), "opening from the tray");
            }
        }
        MenuId::State | MenuId::UpdateNote => {}
        other @ (MenuId::Pause(_)
        | MenuId::Open
        | MenuId::Update(_)
        | MenuId::Settings
        | MenuId::Quit) => return Acted::Yours(other),
    }
    Acted::Done
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
    /// The update line, when there is one: what it says, and the step a
    /// click takes (`None`: it only says).
    pub update: Option<(String, Option<UpdateStep>)>,
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
    let item = |id: MenuId, label: &str, enabled: bool| Entry::Item {
        id: id.id(),
        label: label.to_owned(),
        enabled,
    };
    let open = if g.signed_out {
        "Sign in…"
    } else {
        "Open inbox"
    };
    let mut menu = vec![
        item(MenuId::Open, open, true),
        item(MenuId::State, &state_line(g), false),
        Entry::Separator,
    ];
    let recent = if g.signed_out { &[] } else { m.recent };
    for (id, title) in recent {
        menu.push(item(MenuId::Item(id.clone()), title, true));
    }
    if !recent.is_empty() {
        menu.push(Entry::Separator);
    }
    let paused = matches!(g.quiet, Some(Quiet::Paused { .. }));
    menu.push(Entry::Submenu {
        label: "Pause notifications".into(),
        entries: vec![
            item(MenuId::Pause(Pause::HalfHour), "For 30 minutes", true),
            item(MenuId::Pause(Pause::Hour), "For 1 hour", true),
            item(MenuId::Pause(Pause::Tomorrow), "Until tomorrow", true),
            item(MenuId::Pause(Pause::Resume), "Resume", paused),
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
                .map(|a| Entry::Check {
                    id: MenuId::Availability(*a).id(),
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
        menu.push(item(MenuId::Retry, "Retry now", true));
    }
    menu.push(Entry::Separator);
    if let Some((label, step)) = &m.update {
        // A line that only says has an id that does nothing when clicked.
        menu.push(match step {
            Some(step) => item(MenuId::Update(*step), label, true),
            None => item(MenuId::UpdateNote, label, false),
        });
    }
    if m.settings {
        menu.push(item(MenuId::Settings, "Settings…", true));
    }
    menu.push(item(MenuId::Quit, "Quit Belfry", true));
    menu
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glance::Glance;

    #[test]
    fn every_entry_reads_back_as_itself() {
        let all = MenuId::FIXED
            .into_iter()
            .chain([MenuId::Item("01J:x".into())]);
        for m in all {
            assert_eq!(MenuId::parse(&m.id()), Some(m.clone()), "{m:?}");
        }
        assert_eq!(MenuId::parse(belfry_os::menu::ACTIVATE), Some(MenuId::Open));
        assert_eq!(MenuId::parse("pause:45"), None);
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
        assert_eq!(Pause::Resume.until(now), None);
        assert_eq!(
            Pause::HalfHour.until(now),
            Some(now.with_timezone(&Utc) + Duration::minutes(30))
        );
    }
}
