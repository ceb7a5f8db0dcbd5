//! The headless mode's tray icon, where the desktop has a panel that shows
//! StatusNotifierItems: the same glyphs and the same menu as the desktop
//! shell's tray (the state, the last few unread, pause, status, retry),
//! without GTK or WebKit in the process. "Open inbox" hands the process
//! over to the full app (`belfry`, beside this binary), which opens the
//! window; without it, the instance's web app opens in the browser.
//! "Update to X…" shows when the feed offers a newer version (see
//! [`crate::updates`]) and hands over the same way: the full app checks at
//! its start, offers the update and installs it once its signature
//! verifies. This tray never downloads or installs anything.

use crate::cli::Cli;
use crate::front::{Change, Front};
use crate::glance::{self, Glance, TrayState};
use crate::menu::{self, Acted, Asked, MenuId, UpdateStep};
use crate::session::Session;
use belfry_core::config::{DeviceConfig, Paths};
use belfry_core::event::CoreEvent;
use belfry_os::menu::Entry;
use belfry_os::tray::{Look, OnClick, StatusItem};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Each state's glyph at the panel's usual 22 px (it scales what it gets).
const GLYPHS: [(TrayState, &[u8]); 5] = [
    (
        TrayState::SignedOut,
        include_bytes!("../../../icons/tray/light/signed-out-22.png"),
    ),
    (
        TrayState::Offline,
        include_bytes!("../../../icons/tray/light/offline-22.png"),
    ),
    (
        TrayState::Paused,
        include_bytes!("../../../icons/tray/light/paused-22.png"),
    ),
    (
        TrayState::Unread,
        include_bytes!("../../../icons/tray/light/unread-22.png"),
    ),
    (
        TrayState::Idle,
        include_bytes!("../../../icons/tray/light/idle-22.png"),
    ),
];

/// The tray and what it shows.
pub struct Tray {
    item: StatusItem,
    clicks: mpsc::UnboundedReceiver<String>,
    icons: Option<PathBuf>,
    front: Front,
    recent: Vec<(String, String)>,
    /// The update entry ([`crate::updates::Updater::tray_entry`]).
    update: Option<(String, Option<UpdateStep>)>,
}

impl Tray {
    /// Shows the icon when the desktop has a panel for it; `None` (said in
    /// the log) when it has not. The caller listens to the core's events
    /// first: this reads the state they change from then on.
    pub async fn start(paths: &Paths, session: &Session) -> Option<Self> {
        let icons = write_icons(&paths.cache_dir.join("tray"));
        let (tx, rx) = mpsc::unbounded_channel();
        let on_click: OnClick = Arc::new(move |id| {
            let _ = tx.send(id);
        });
        let glance = Glance::default();
        let look = look(icons.as_deref(), &glance);
        match StatusItem::start("belfry", look, Vec::new(), on_click).await {
            Ok(item) => {
                tracing::info!("tray icon shown");
                let tray = Self {
                    item,
                    clicks: rx,
                    icons,
                    front: Front::of(&session.engine),
                    recent: glance::recent_unread(session).await.unwrap_or_default(),
                    update: None,
                };
                tray.show().await;
                Some(tray)
            }
            Err(e) => {
                tracing::info!(reason = %e, "no tray icon");
                None
            }
        }
    }

    /// The next menu entry clicked (its id).
    pub async fn click(&mut self) -> Option<String> {
        self.clicks.recv().await
    }

    /// Waits until the panel has had the reply to its last click: before
    /// this process hands itself over (exec).
    pub async fn settle(&self) {
        self.item.settle().await;
    }

    /// Follows the core; the menu's unread list is read again from the
    /// store when notifications came or were read.
    pub async fn on_event(&mut self, ev: &CoreEvent, session: &Session) {
        match self.front.apply(ev) {
            Change::Nothing => return,
            Change::State => {}
            Change::Items => match glance::recent_unread(session).await {
                Some(recent) => self.recent = recent,
                None => return,
            },
        }
        self.show().await;
    }

    /// The update entry the menu shows (`None`: none): "Update to X…"
    /// when the feed offers a newer version.
    pub async fn show_update(&mut self, entry: Option<(String, Option<UpdateStep>)>) {
        if self.update != entry {
            self.update = entry;
            self.show().await;
        }
    }

    async fn show(&self) {
        let glance = self.front.glance(false);
        self.item
            .set(look(self.icons.as_deref(), &glance), self.menu(&glance))
            .await;
    }

    fn menu(&self, g: &Glance<'_>) -> Vec<Entry> {
        menu::menu(&menu::MenuOf {
            glance: g,
            recent: &self.recent,
            availability: self.front.availability,
            // This tray installs nothing: the full app does, handed over.
            update: self.update.clone(),
            // Settings are in the full app's window: Open inbox hands over.
            settings: false,
        })
    }

    /// Does what a click asked, or returns it when the loop has to.
    pub async fn on_click(
        &mut self,
        id: &str,
        session: &Session,
        cfg: &mut DeviceConfig,
        config_file: &Path,
    ) -> Option<Asked> {
        let id = MenuId::parse(id)?;
        match menu::act(id, session).await {
            Acted::Done => None,
            Acted::Yours(MenuId::Pause(choice)) => {
                menu::pause(session, choice, cfg, config_file);
                None
            }
            Acted::ShowAgain => {
                self.show().await;
                None
            }
            Acted::Yours(MenuId::Quit) => Some(Asked::Quit),
            Acted::Yours(MenuId::Open) => Some(Asked::Open),
            Acted::Yours(MenuId::Update(_)) => Some(Asked::Update),
            Acted::Yours(_) => None,
        }
    }
}

/// The icon for `g`: Belfry's glyph where its PNGs could be written, else
/// a theme icon every desktop has.
fn look(icons: Option<&Path>, g: &Glance<'_>) -> Look {
    let state = TrayState::of(g);
    let (icon_name, icon_dir) = match icons {
        Some(dir) => (
            format!("belfry-{}", state.file_stem()),
            dir.display().to_string(),
        ),
        None => (
            match state {
                TrayState::Unread => "mail-unread",
                _ => "mail-read",
            }
            .to_owned(),
            String::new(),
        ),
    };
    Look {
        icon_name,
        icon_dir,
        title: "Belfry".into(),
        tooltip: glance::tooltip(g),
    }
}

/// Writes the glyphs where the panel can read them (a full or read-only
/// disk: `None`, and the tray uses theme icons).
fn write_icons(dir: &Path) -> Option<PathBuf> {
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        GLYPHS.iter().try_for_each(|(state, png)| {
            let path = dir.join(format!("belfry-{}.png", state.file_stem()));
            if std::fs::read(&path).is_ok_and(|old| old == *png) {
                return Ok(());
            }
            std::fs::write(path, png)
        })
    });
    match written {
        Ok(()) => Some(dir.to_owned()),
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "tray glyphs not written; using theme icons");
            None
        }
    }
}

/// How long the full app waits with no window before it hands over to the
/// small tray, so that reopening the inbox soon after closing it is instant.
const SMALL_TRAY_AFTER: Duration = Duration::from_secs(120);

/// The small tray's setting, `BELFRY_SMALL_TRAY`: `off` keeps the full
/// app's tray always (`None`); a number of seconds sets the wait with no
/// window before the full app hands over (default 120).
pub fn small_tray_wait() -> Option<Duration> {
    match std::env::var("BELFRY_SMALL_TRAY") {
        Ok(v) if v.trim() == "off" => None,
        Ok(v) => Some(
            v.trim()
                .parse()
                .map(Duration::from_secs)
                .unwrap_or(SMALL_TRAY_AFTER),
        ),
        Err(_) => Some(SMALL_TRAY_AFTER),
    }
}

/// Whether the tray can be this small one: not the demo, not turned off
/// ([`small_tray_wait`]), the panel shows StatusNotifierItems and a sign-in
/// is saved (this tray has no sign-in form; the full app has). The caller
/// checks that the small binary is there.
pub fn small_tray_will_do(cli: &Cli) -> bool {
    // The demo's instance lives in the full app's process.
    if cli.demo || small_tray_wait().is_none() {
        return false;
    }
    let Ok(paths) = Paths::platform() else {
        return false;
    };
    let cfg = crate::session::effective_config(&paths.config_file());
    let (Some(address), Some(login)) = (
        cli.instance.clone().or_else(|| cfg.instance.clone()),
        cli.login.clone().or_else(|| cfg.login.clone()),
    ) else {
        return false;
    };
    let Ok(target) = crate::session::Target::new(
        &address,
        &login,
        cli.allow_insecure || cfg.allow_insecure,
        cli.extra_ca.as_deref().or(cfg.extra_ca.as_deref()),
    ) else {
        return false;
    };
    if !matches!(belfry_os::tray::panel_present(), Ok(true)) {
        return false;
    }
    // A locked keyring or none: the full app, which says so.
    matches!(
        belfry_os::secrets::load(target.base.as_str(), &target.login),
        Ok(Some(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_stays_in_the_full_app() {
        use clap::Parser as _;
        // Its instance runs in the full app's process: the small binary
        // has none, so handing the demo over would end it (the hand-back
        // is checked in src-tauri/tests/tray.rs).
        let demo = Cli::parse_from(["belfry", "--demo", "--autostarted"]);
        assert!(demo.demo && demo.autostarted);
        assert!(!Cli::wants_small_tray([
            "belfry",
            "--autostarted",
            "--demo"
        ]));
        assert!(Cli::wants_small_tray(["belfry", "--autostarted"]));
    }

    #[test]
    fn every_state_has_its_own_glyph() {
        for state in TrayState::ALL {
            let png = GLYPHS.iter().find(|(s, _)| *s == state).map(|(_, p)| *p);
            assert!(png.is_some_and(|p| p.starts_with(b"\x89PNG")), "{state:?}");
        }
    }

    #[test]
    fn the_glyphs_are_written_once_and_named_by_state() {
        let dir = tempfile::tempdir().unwrap();
        let icons = write_icons(&dir.path().join("tray")).unwrap();
        let connected = belfry_core::event::ConnState::Connected;
        let g = Glance {
            connection: Some(&connected),
            unread: 2,
            ..Glance::default()
        };
        let look = look(Some(&icons), &g);
        assert_eq!(look.icon_name, "belfry-unread");
        assert!(icons.join("belfry-unread.png").is_file());
        assert!(look.tooltip.contains("2 unread"));
        // A directory that cannot be made: theme icons.
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, b"x").unwrap();
        assert_eq!(write_icons(&blocked.join("tray")), None);
    }
}
