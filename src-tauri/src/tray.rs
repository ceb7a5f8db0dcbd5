//! The tray icon and its menu: the state at a glance, the last few unread,
//! pause, and the way to the inbox. On Linux (appindicator) the menu is the
//! only way in: clicks on the icon do not reach the app, so everything is in
//! the menu; a left click opens the inbox where the platform reports it.
//!
//! The icon is one of five glyphs ([`TrayState`]), rendered from
//! `icons/tray/*.svg` by `icons/render.sh` and embedded here.

use crate::shell::{Shell, Status};
use crate::window::open_inbox;
use belfry_app::glance::{self, Glance, TrayState};
use belfry_app::menu::{self as tray_menu, Acted, MenuId};
use belfry_app::session::Session;
use belfry_os::menu::Entry;
use std::sync::{Mutex, PoisonError};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

const TRAY: &str = "belfry";

/// The unread items the menu lists: id and title.
#[derive(Default)]
pub struct Recent(Mutex<Vec<(String, String)>>);

/// The glyph the tray shows now, so [`show`] replaces the icon only when the
/// state changes: the unread count changes far more often than the state,
/// and each new icon is a visible redraw (on Linux also a new temporary PNG
/// for the panel to load).
#[derive(Default)]
struct Shown(Mutex<Option<TrayState>>);

impl Shown {
    /// Records `state` as shown; true when it differs from what was.
    fn replace(&self, state: TrayState) -> bool {
        let mut shown = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        shown.replace(state) != Some(state)
    }

    /// Forgets what is shown, so the next [`show`] sets the icon again.
    fn forget(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Creates the tray icon with its first menu.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    app.manage(Recent::default());
    app.manage(Shown::default());
    let status = Status::default();
    let state = state_of(&status);
    let menu = menu(app, &status, &[])?;
    let mut builder = TrayIconBuilder::with_id(TRAY)
        .tooltip(tooltip(&status))
        .icon_as_template(Platform::CURRENT == Platform::MacOs)
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
    let glyph = glyph(app, state);
    let shown = glyph.is_ok();
    match glyph {
        Ok(icon) => builder = builder.icon(icon),
        // Cannot happen with the embedded PNGs (a test decodes them all);
        // the app icon still beats an empty slot in the panel.
        Err(error) => {
            tracing::warn!(%error, "tray glyph");
            if let Some(icon) = app.default_window_icon() {
                builder = builder.icon(icon.clone());
            }
        }
    }
    builder.build(app)?;
    if shown {
        app.state::<Shown>().replace(state);
    }
    Ok(())
}

/// Shows `status` in the tray: the glyph when the state changed, tooltip,
/// the unread count as the title where the panel shows one, and the menu.
pub fn show<R: Runtime>(app: &AppHandle<R>, status: &Status) {
    let Some(tray) = app.tray_by_id(TRAY) else {
        return;
    };
    let state = state_of(status);
    // Not holding the lock while setting the icon: set_icon waits for the
    // main thread, which may itself be waiting for this lock.
    if app.state::<Shown>().replace(state)
        && let Err(error) = set_glyph(app, &tray, state)
    {
        tracing::debug!(?state, %error, "tray icon update");
        app.state::<Shown>().forget();
    }
    let recent = app
        .state::<Recent>()
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let unread = status.front.unread.total;
    let title = (unread > 0).then(|| unread.to_string());
    let results = [
        ("tooltip", tray.set_tooltip(Some(tooltip(status)))),
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
    let Some(recent) = glance::recent_unread(session).await else {
        return;
    };
    *app.state::<Recent>()
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = recent;
    let status = app.state::<Shell>().status();
    show(app, &status);
}

/// What the tray shows of `status`, in the words both trays use.
fn glance(status: &Status) -> Glance<'_> {
    status
        .front
        .glance(status.problem.is_some() || status.sign_in.is_some())
}

fn state_of(status: &Status) -> TrayState {
    TrayState::of(&glance(status))
}

fn tooltip(status: &Status) -> String {
    glance::tooltip(&glance(status))
}

/// The desktop the tray is on, which decides the glyph set and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    Windows,
    MacOs,
    /// And the other Unixes: an AppIndicator / StatusNotifierItem panel.
    Linux,
}

impl Platform {
    /// The platform this binary runs on.
    const CURRENT: Self = if cfg!(target_os = "macos") {
        Self::MacOs
    } else if cfg!(windows) {
        Self::Windows
    } else {
        Self::Linux
    };
}

/// The embedded pixel sizes of the light set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Px {
    P16,
    P22,
    P24,
    P32,
    P44,
}

impl Px {
    #[cfg(test)]
    const ALL: [Self; 5] = [Self::P16, Self::P22, Self::P24, Self::P32, Self::P44];

    #[cfg(test)]
    const fn pixels(self) -> u32 {
        match self {
            Self::P16 => 16,
            Self::P22 => 22,
            Self::P24 => 24,
            Self::P32 => 32,
            Self::P44 => 44,
        }
    }
}

/// Which rendering of a glyph the tray gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    /// The white bell, for a dark panel, at this size.
    Light(Px),
    /// The black macOS template, 36 px: tray-icon draws the image 18 pt
    /// tall whatever its size, so this is pixel-exact on Retina.
    Template,
}

impl Look {
    /// The look for `platform` at a display `scale` (1.0 is 96 dpi, or a
    /// non-Retina Mac).
    ///
    /// Windows and Linux get the white bell, drawn for dark panels: nothing
    /// here reads the panel's theme yet, and dark is the common case on
    /// Linux (GNOME's top bar is always dark, as are most panels' defaults)
    /// and the Windows taskbar in dark mode. On a light taskbar (Windows 11
    /// Home and Pro ship in light mode) the white bell is faint: the fix is
    /// to read `SystemUsesLightTheme` under
    /// `HKCU\Software\Microsoft\Windows\CurrentVersion\Themes\Personalize`
    /// and use `icons/tray/dark/`, rendered for that.
    ///
    /// macOS gets the template, which it tints to the menu bar itself.
    fn pick(platform: Platform, scale: f64) -> Self {
        match platform {
            Platform::MacOs => Self::Template,
            // Windows draws the small icon at 16 px times the scale and
            // resamples what it is given: the nearest size at or above.
            Platform::Windows if scale <= 1.0 => Self::Light(Px::P16),
            Platform::Windows if scale <= 1.5 => Self::Light(Px::P24),
            Platform::Windows if scale <= 2.0 => Self::Light(Px::P32),
            Platform::Windows => Self::Light(Px::P44),
            // The panel scales the icon to its own size (22 in most, 16 to
            // 24 in some): 22 and 22@2x.
            Platform::Linux if scale < 1.5 => Self::Light(Px::P22),
            Platform::Linux => Self::Light(Px::P44),
        }
    }

    /// Its width and height in pixels.
    #[cfg(test)]
    const fn pixels(self) -> u32 {
        match self {
            Self::Light(px) => px.pixels(),
            Self::Template => 36,
        }
    }
}

/// One glyph's embedded PNGs.
struct Pngs {
    /// The light set, one per [`Px`].
    light: [&'static [u8]; 5],
    /// The macOS template.
    template: &'static [u8],
}

/// Embeds one state's PNGs from `icons/tray/`; the order of `light` is the
/// order of [`Px`].
macro_rules! pngs {
    ($stem:literal) => {
        Pngs {
            light: [
                include_bytes!(concat!("../../icons/tray/light/", $stem, "-16.png")),
                include_bytes!(concat!("../../icons/tray/light/", $stem, "-22.png")),
                include_bytes!(concat!("../../icons/tray/light/", $stem, "-24.png")),
                include_bytes!(concat!("../../icons/tray/light/", $stem, "-32.png")),
                include_bytes!(concat!("../../icons/tray/light/", $stem, "-44.png")),
            ],
            template: include_bytes!(concat!("../../icons/tray/template/", $stem, "-36.png")),
        }
    };
}

const SIGNED_OUT: Pngs = pngs!("signed-out");
const OFFLINE: Pngs = pngs!("offline");
const PAUSED: Pngs = pngs!("paused");
const UNREAD: Pngs = pngs!("unread");
const IDLE: Pngs = pngs!("idle");

/// The PNG for `state` in `look`.
const fn png(state: TrayState, look: Look) -> &'static [u8] {
    let pngs = match state {
        TrayState::SignedOut => &SIGNED_OUT,
        TrayState::Offline => &OFFLINE,
        TrayState::Paused => &PAUSED,
        TrayState::Unread => &UNREAD,
        TrayState::Idle => &IDLE,
    };
    match look {
        Look::Template => pngs.template,
        Look::Light(Px::P16) => pngs.light[0],
        Look::Light(Px::P22) => pngs.light[1],
        Look::Light(Px::P24) => pngs.light[2],
        Look::Light(Px::P32) => pngs.light[3],
        Look::Light(Px::P44) => pngs.light[4],
    }
}

/// The glyph for `state` on this platform, sized for the primary display.
/// The scale is read when the glyph changes, so moving to another display
/// sizes it right from the next change of state.
fn glyph<R: Runtime>(app: &AppHandle<R>, state: TrayState) -> tauri::Result<Image<'static>> {
    let scale = app
        .primary_monitor()
        .ok()
        .flatten()
        .map_or(1.0, |m| m.scale_factor());
    Image::from_bytes(png(state, Look::pick(Platform::CURRENT, scale)))
}

fn set_glyph<R: Runtime>(
    app: &AppHandle<R>,
    tray: &TrayIcon<R>,
    state: TrayState,
) -> tauri::Result<()> {
    // Icon and template flag together: tray-icon's plain set_icon clears
    // the flag on macOS (it draws a black bell on a dark menu bar), and
    // setting them one after the other flickers.
    tray.set_icon_with_as_template(
        Some(glyph(app, state)?),
        Platform::CURRENT == Platform::MacOs,
    )
}

fn menu<R: Runtime>(
    app: &AppHandle<R>,
    status: &Status,
    recent: &[(String, String)],
) -> tauri::Result<Menu<R>> {
    let entries = tray_menu::menu(&tray_menu::MenuOf {
        glance: &glance(status),
        recent,
        availability: status.front.availability,
        update: crate::updates::tray_entry(app),
        settings: true,
    });
    let items = menu_items(app, &entries)?;
    let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(AsRef::as_ref).collect();
    Menu::with_items(app, &refs)
}

/// The shared menu's entries as the shell's menu items.
fn menu_items<R: Runtime>(
    app: &AppHandle<R>,
    entries: &[Entry],
) -> tauri::Result<Vec<Box<dyn IsMenuItem<R>>>> {
    let none = None::<&str>;
    entries
        .iter()
        .map(|e| -> tauri::Result<Box<dyn IsMenuItem<R>>> {
            Ok(match e {
                Entry::Item {
                    id,
                    label: text,
                    enabled,
                } => Box::new(MenuItem::with_id(app, id, label(text), *enabled, none)?),
                Entry::Check {
                    id,
                    label: text,
                    checked,
                } => Box::new(CheckMenuItem::with_id(
                    app,
                    id,
                    label(text),
                    true,
                    *checked,
                    none,
                )?),
                Entry::Separator => Box::new(PredefinedMenuItem::separator(app)?),
                Entry::Submenu {
                    label: text,
                    entries,
                } => {
                    let items = menu_items(app, entries)?;
                    let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(AsRef::as_ref).collect();
                    Box::new(Submenu::with_items(app, label(text), true, &refs)?)
                }
            })
        })
        .collect()
}

/// Text from outside (a title, an error) as a label of the shell's menus:
/// their toolkit (muda) reads a single `&` as a mnemonic marker ("Q&A"
/// would show as "QA" with an underlined A), so each one is doubled; it
/// escapes GTK's `_` itself.
fn label(text: &str) -> String {
    text.replace('&', "&&")
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(id) = MenuId::parse(id) else {
        return;
    };
    match id {
        MenuId::Open => return open_inbox(app),
        MenuId::Settings => return crate::open_settings(app),
        MenuId::Quit => return app.exit(0),
        MenuId::Update(step) => return crate::updates::on_tray(app, step),
        _ => {}
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Shell>();
        let Ok(session) = shell.session().await else {
            return;
        };
        if shell.act(id, &session).await == Acted::ShowAgain {
            // Rebuilt, the menu puts the check back where it holds.
            show(&app, &shell.status());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use belfry_app::front::Front;
    use belfry_core::event::{ConnState, Quiet};

    /// The menu's first line for `status`.
    fn state_line(status: &Status) -> String {
        glance::state_line(&glance(status))
    }
    use belfry_core::store::Unread;
    use chrono::{Duration, Utc};

    #[test]
    fn the_state_line_says_why_it_is_quiet() {
        let status = shown(Front {
            connection: Some(ConnState::Connected),
            quiet: Some(Quiet::DoNotDisturb {
                source: "dunst is paused".into(),
            }),
            ..Front::default()
        });
        assert_eq!(state_line(&status), "Connected · quiet: dunst is paused");
        let signed_out = Status {
            problem: Some("no login".into()),
            ..Status::default()
        };
        assert_eq!(state_line(&signed_out), "Signed out");
    }

    #[test]
    fn the_state_line_says_what_is_wrong_until_it_works_again() {
        let mut status = shown(connected());
        status.front.set_problem(
            "storing notifications",
            "storing notifications: disk full".into(),
        );
        assert_eq!(
            state_line(&status),
            "Connected · storing notifications: disk full"
        );
        status
            .front
            .set_problem("playing sounds", "playing sounds: no device".into());
        status.front.set_problem(
            "storing notifications",
            "storing notifications: read-only".into(),
        );
        assert_eq!(
            state_line(&status),
            "Connected · storing notifications: read-only (and 1 more)"
        );
        status.front.clear_problem("storing notifications");
        assert_eq!(state_line(&status), "Connected · playing sounds: no device");
        status.front.clear_problem("playing sounds");
        assert_eq!(state_line(&status), "Connected");
        assert_eq!(state_of(&status), TrayState::Idle);
    }

    const STATES: [TrayState; 5] = TrayState::ALL;

    /// The status of a session whose front is `front`.
    fn shown(front: Front) -> Status {
        Status {
            front,
            ..Status::default()
        }
    }

    fn connected() -> Front {
        Front {
            connection: Some(ConnState::Connected),
            ..Front::default()
        }
    }

    fn unread(total: u64) -> Unread {
        Unread {
            total,
            events: total,
            system: 0,
        }
    }

    #[test]
    fn connected_is_idle_until_something_is_unread() {
        assert_eq!(state_of(&shown(connected())), TrayState::Idle);
        let status = shown(Front {
            unread: unread(3),
            ..connected()
        });
        assert_eq!(state_of(&status), TrayState::Unread);
    }

    #[test]
    fn a_pause_or_do_not_disturb_wins_over_connected_and_unread() {
        let until = Utc::now() + Duration::minutes(30);
        for quiet in [
            Quiet::Paused { until },
            Quiet::DoNotDisturb {
                source: "dunst is paused".into(),
            },
        ] {
            let status = shown(Front {
                quiet: Some(quiet),
                unread: unread(2),
                ..connected()
            });
            assert_eq!(state_of(&status), TrayState::Paused);
        }
    }

    #[test]
    fn not_live_is_offline_whatever_is_unread_or_paused() {
        let next_attempt = Utc::now() + Duration::seconds(5);
        for connection in [
            None,
            Some(ConnState::Connecting),
            Some(ConnState::Reconnecting {
                next_attempt,
                attempt: 2,
            }),
            Some(ConnState::Offline {
                next_attempt,
                attempt: 7,
            }),
            Some(ConnState::Stopped),
        ] {
            let status = shown(Front {
                connection,
                quiet: Some(Quiet::Paused {
                    until: next_attempt,
                }),
                unread: unread(4),
                ..Front::default()
            });
            assert_eq!(state_of(&status), TrayState::Offline, "{status:?}");
        }
    }

    #[test]
    fn what_needs_the_user_is_signed_out() {
        let no_session = Status {
            problem: Some("no login".into()),
            ..Status::default()
        };
        assert_eq!(state_of(&no_session), TrayState::SignedOut);
        let sign_in_form = Status {
            sign_in: Some(crate::SignInForm::default()),
            ..Status::default()
        };
        assert_eq!(state_of(&sign_in_form), TrayState::SignedOut);
        assert_eq!(state_line(&sign_in_form), "Signed out");
        for connection in [
            ConnState::SignedOut,
            ConnState::Incompatible {
                reason: "protocol 9".into(),
            },
        ] {
            let status = shown(Front {
                connection: Some(connection),
                unread: unread(1),
                ..Front::default()
            });
            assert_eq!(state_of(&status), TrayState::SignedOut);
        }
    }

    #[test]
    fn the_tooltip_says_the_state_and_the_count_once_connected() {
        assert_eq!(tooltip(&Status::default()), "Belfry — Starting…");
        assert_eq!(
            tooltip(&shown(connected())),
            "Belfry — nothing unread — Connected"
        );
        let status = shown(Front {
            unread: unread(12),
            ..connected()
        });
        assert_eq!(tooltip(&status), "Belfry — 12 unread — Connected");
    }

    #[test]
    fn each_platform_gets_its_set_at_the_size_it_draws() {
        assert_eq!(Look::pick(Platform::MacOs, 1.0), Look::Template);
        assert_eq!(Look::pick(Platform::MacOs, 2.0), Look::Template);
        for (scale, px) in [
            (1.0, Px::P16),
            (1.25, Px::P24),
            (1.5, Px::P24),
            (1.75, Px::P32),
            (2.0, Px::P32),
            (3.0, Px::P44),
        ] {
            assert_eq!(Look::pick(Platform::Windows, scale), Look::Light(px));
        }
        assert_eq!(Look::pick(Platform::Linux, 1.0), Look::Light(Px::P22));
        assert_eq!(Look::pick(Platform::Linux, 2.0), Look::Light(Px::P44));
    }

    #[test]
    fn every_embedded_glyph_decodes_at_its_size() {
        let looks = Px::ALL.map(Look::Light);
        for state in STATES {
            for look in looks.iter().copied().chain([Look::Template]) {
                let image = Image::from_bytes(png(state, look))
                    .unwrap_or_else(|e| panic!("{state:?} {look:?}: {e}"));
                let px = look.pixels();
                assert_eq!(
                    (image.width(), image.height()),
                    (px, px),
                    "{state:?} {look:?}"
                );
            }
        }
    }

    #[test]
    fn the_glyphs_differ_from_each_other() {
        // Catches a copy-paste in the table: two states on one PNG.
        for look in [Look::Light(Px::P16), Look::Template] {
            let mut seen: Vec<&[u8]> = STATES.map(|s| png(s, look)).to_vec();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), STATES.len(), "{look:?}");
        }
    }

    #[test]
    fn every_rendered_png_decodes_at_the_size_in_its_name() {
        // The dark set is not embedded: this keeps it checked all the same.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../icons/tray");
        let mut count = 0;
        for set in ["light", "dark", "template"] {
            for state in STATES {
                let sizes: &[u32] = if set == "template" {
                    &[36]
                } else {
                    &[16, 22, 24, 32, 44]
                };
                for px in sizes {
                    let path = dir
                        .join(set)
                        .join(format!("{}-{px}.png", state.file_stem()));
                    let image = Image::from_path(&path)
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    assert_eq!(
                        (image.width(), image.height()),
                        (*px, *px),
                        "{}",
                        path.display()
                    );
                    count += 1;
                }
            }
        }
        assert_eq!(count, 55);
    }
}
