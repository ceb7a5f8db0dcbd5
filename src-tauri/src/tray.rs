//! The tray icon and its menu: the state at a glance, the last few unread,
//! pause, and the way to the inbox. On Linux (appindicator) the menu is the
//! only way in: clicks on the icon do not reach the app, so everything is in
//! the menu; a left click opens the inbox where the platform reports it.

use crate::{Shell, Status, open_inbox};
use belfry_app::session::Session;
use belfry_core::event::{ConnState, Quiet};
use belfry_core::store::Filter;
use chrono::{DateTime, Duration, Local, Utc};
use std::sync::{Mutex, PoisonError};
use tauri::menu::{IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

const TRAY: &str = "belfry";
/// How many unread the menu lists.
const RECENT: u32 = 5;
/// Longest title in the menu, in characters.
const MENU_TITLE: usize = 60;

/// The unread items the menu lists: id and title.
#[derive(Default)]
pub struct Recent(Mutex<Vec<(String, String)>>);

/// Creates the tray icon with its first menu.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    app.manage(Recent::default());
    let menu = menu(app, &Status::default(), &[])?;
    let mut builder = TrayIconBuilder::with_id(TRAY)
        .tooltip("Belfry")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                open_inbox(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Shows `status` in the tray: tooltip, the unread count as the title where
/// the panel shows one, and the menu.
pub fn show<R: Runtime>(app: &AppHandle<R>, status: &Status) {
    let Some(tray) = app.tray_by_id(TRAY) else {
        return;
    };
    let recent = app
        .state::<Recent>()
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let line = state_line(status);
    let tooltip = match status.unread.total {
        0 => format!("Belfry — {line}"),
        n => format!("Belfry — {n} unread — {line}"),
    };
    let title = (status.unread.total > 0).then(|| status.unread.total.to_string());
    let results = [
        ("tooltip", tray.set_tooltip(Some(tooltip))),
        ("title", tray.set_title(title)),
        (
            "menu",
            menu(app, status, &recent).and_then(|m| tray.set_menu(Some(m))),
        ),
    ];
    for (what, r) in results {
        if let Err(error) = r {
            tracing::debug!(what, %error, "tray update");
        }
    }
}

/// Refreshes the last few unread in the menu from the store.
pub async fn show_recent<R: Runtime>(app: &AppHandle<R>, session: &Session) {
    let filter = Filter {
        unread: true,
        limit: RECENT,
        ..Filter::default()
    };
    let store = session.engine.store().clone();
    let page = tauri::async_runtime::spawn_blocking(move || store.page(&filter)).await;
    let Ok(Ok(items)) = page else {
        return;
    };
    *app.state::<Recent>()
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = items
        .into_iter()
        .map(|n| (n.id, menu_text(&n.title)))
        .collect();
    let status = app.state::<Shell>().status();
    show(app, &status);
}

/// The connection and quiet state in words.
pub fn state_line(status: &Status) -> String {
    let connection = match &status.connection {
        None if status.problem.is_some() => "Signed out".to_owned(),
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
    match &status.quiet {
        Some(Quiet::Paused { until }) => format!(
            "{connection} · paused until {}",
            until.with_timezone(&Local).format("%H:%M")
        ),
        Some(Quiet::DoNotDisturb { source }) => format!("{connection} · quiet: {source}"),
        None => connection,
    }
}

fn seconds_until(t: DateTime<Utc>) -> i64 {
    (t - Utc::now()).num_seconds().max(0)
}

/// A title as a menu label: plain, short, with `_` kept literal (GTK reads
/// it as a mnemonic marker).
fn menu_text(title: &str) -> String {
    let plain = belfry_os::toast::sanitize(title).replace('\n', " ");
    belfry_os::toast::clip(&plain, MENU_TITLE).replace('_', "__")
}

fn menu<R: Runtime>(
    app: &AppHandle<R>,
    status: &Status,
    recent: &[(String, String)],
) -> tauri::Result<Menu<R>> {
    let none = None::<&str>;
    let open = MenuItem::with_id(app, "open", "Open inbox", true, none)?;
    let state = MenuItem::with_id(app, "state", state_line(status), false, none)?;
    let mut items: Vec<Box<dyn IsMenuItem<R>>> = vec![
        Box::new(open),
        Box::new(state),
        Box::new(PredefinedMenuItem::separator(app)?),
    ];
    for (id, title) in recent {
        items.push(Box::new(MenuItem::with_id(
            app,
            format!("item:{id}"),
            title,
            true,
            none,
        )?));
    }
    if !recent.is_empty() {
        items.push(Box::new(PredefinedMenuItem::separator(app)?));
    }
    let paused = matches!(status.quiet, Some(Quiet::Paused { .. }));
    let pause = Submenu::with_items(
        app,
        "Pause notifications",
        true,
        &[
            &MenuItem::with_id(app, "pause:30", "For 30 minutes", true, none)?,
            &MenuItem::with_id(app, "pause:60", "For 1 hour", true, none)?,
            &MenuItem::with_id(app, "pause:tomorrow", "Until tomorrow", true, none)?,
            &MenuItem::with_id(app, "resume", "Resume", paused, none)?,
        ],
    )?;
    items.push(Box::new(pause));
    if matches!(
        status.connection,
        Some(ConnState::Reconnecting { .. } | ConnState::Offline { .. })
    ) {
        items.push(Box::new(MenuItem::with_id(
            app,
            "retry",
            "Retry now",
            true,
            none,
        )?));
    }
    items.push(Box::new(PredefinedMenuItem::separator(app)?));
    items.push(Box::new(MenuItem::with_id(
        app,
        "quit",
        "Quit Belfry",
        true,
        none,
    )?));
    let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(AsRef::as_ref).collect();
    Menu::with_items(app, &refs)
}

/// When "until tomorrow" ends: 08:00 local time tomorrow.
fn tomorrow_morning(now: DateTime<Local>) -> DateTime<Utc> {
    let day = now.date_naive() + Duration::days(1);
    day.and_hms_opt(8, 0, 0)
        .and_then(|t| t.and_local_timezone(Local).earliest())
        .unwrap_or_else(|| now + Duration::hours(12))
        .with_timezone(&Utc)
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let pause = match id {
        "open" => return open_inbox(app),
        "quit" => return app.exit(0),
        "pause:30" => Some(Some(Utc::now() + Duration::minutes(30))),
        "pause:60" => Some(Some(Utc::now() + Duration::hours(1))),
        "pause:tomorrow" => Some(Some(tomorrow_morning(Local::now()))),
        "resume" => Some(None),
        _ => None,
    };
    let app = app.clone();
    let id = id.to_owned();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Shell>();
        let Ok(session) = shell.session().await else {
            return;
        };
        if let Some(until) = pause {
            session.engine.pause_until(until);
            shell.save_config(|c| c.paused_until = until);
        } else if id == "retry" {
            session.engine.retry_now();
        } else if let Some(item) = id.strip_prefix("item:")
            && let Err(e) = session.open_item(item).await
        {
            tracing::warn!(error = format!("{e:#}"), "opening from the tray");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_titles_are_plain_short_and_keep_underscores() {
        assert_eq!(menu_text("SLA_breach\u{202E}txt"), "SLA__breachtxt");
        assert!(menu_text(&"x".repeat(200)).chars().count() <= MENU_TITLE);
    }

    #[test]
    fn until_tomorrow_is_tomorrow_morning() {
        let now = Local::now();
        let until = tomorrow_morning(now).with_timezone(&Local);
        assert_eq!(until.date_naive(), now.date_naive() + Duration::days(1));
        assert_eq!(until.format("%H:%M").to_string(), "08:00");
    }

    #[test]
    fn the_state_line_says_why_it_is_quiet() {
        let status = Status {
            connection: Some(ConnState::Connected),
            quiet: Some(Quiet::DoNotDisturb {
                source: "dunst is paused".into(),
            }),
            ..Status::default()
        };
        assert_eq!(state_line(&status), "Connected · quiet: dunst is paused");
        let signed_out = Status {
            problem: Some("no login".into()),
            ..Status::default()
        };
        assert_eq!(state_line(&signed_out), "Signed out");
    }
}
