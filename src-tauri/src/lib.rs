//! Belfry's desktop shell: a tray icon and the bell inbox window around the
//! core. The shell stays thin: it starts a [`Session`] (the same one the
//! headless mode runs), forwards the UI's commands to it and the core's
//! events to the UI and the tray. The window's webview exists only while the
//! window is open; closed, the app is the core and the tray alone.

mod bindings;
mod commands;
#[cfg(target_os = "linux")]
mod single_instance;
#[cfg(target_os = "linux")]
mod small_tray;
mod tray;
mod ui_error;
mod updates;

use anyhow::Context as _;
use belfry_app::cli::Cli;
use belfry_app::front::{Change, Front};
use belfry_app::session::{self, FromOs, Password, Session, SignInNeeded, Target};
use belfry_core::config::{DeviceConfig, Paths};
use belfry_core::event::{ConnState, CoreEvent};
use belfry_core::managed::Managed;
use serde::Serialize;
use std::sync::{Arc, Mutex, PoisonError};
use tauri::{AppHandle, Emitter, Manager, RunEvent, Runtime, WebviewUrl, WebviewWindowBuilder};

/// The label of the inbox window.
pub const MAIN_WINDOW: &str = "main";

/// The event that tells the window which view to show (`"settings"`).
pub const NAVIGATE_EVENT: &str = "navigate";

/// The event the UI listens to: every [`CoreEvent`], as the core emits it.
pub const CORE_EVENT: &str = "core";

/// What the tray and the window's status line show: the session's
/// [`Front`] and what only the window has.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Status {
    /// The state at a glance, as the core's events left it.
    #[serde(flatten)]
    #[cfg_attr(test, ts(flatten))]
    pub front: Front,
    /// Why the session did not start.
    pub problem: Option<String>,
    /// The instance and login, once signed in.
    pub account: Option<String>,
    /// Not signed in: what the sign-in form starts with.
    pub sign_in: Option<SignInForm>,
}

/// What the sign-in form starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SignInForm {
    /// The instance address: the last one used, or the organization's.
    pub address: Option<String>,
    /// The login last used.
    pub login: Option<String>,
    /// The organization set the address: it cannot be changed here.
    pub address_locked: bool,
    /// Why signing in is needed, or why the last try failed.
    pub reason: Option<ui_error::UiError>,
}

pub use belfry_app::menu::Pause;

/// Pauses or resumes toasts and melodies, and keeps the choice across
/// restarts; the core's `Quiet` event tells the tray and the window.
async fn pause<R: Runtime>(app: &AppHandle<R>, choice: Pause) -> Result<(), String> {
    let shell = app.state::<Shell>();
    let session = shell.session().await?;
    shell
        .act(belfry_app::menu::MenuId::Pause(choice), &session)
        .await;
    Ok(())
}

/// The window's focus and which view it shows.
#[derive(Debug, Clone, Copy, Default)]
struct Focus {
    /// The window has the keyboard focus.
    window: bool,
    /// It shows something other than the inbox (Settings, the sign-in form).
    elsewhere: bool,
}

impl Focus {
    fn on_inbox(self) -> bool {
        self.window && !self.elsewhere
    }
}

/// Tells the core whether the inbox is in front of the user.
async fn follow_focus<R: Runtime>(app: &AppHandle<R>) {
    let shell = app.state::<Shell>();
    let on_inbox = shell
        .focus
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .on_inbox();
    if let Ok(s) = shell.session().await {
        s.engine.set_inbox_focused(on_inbox);
    }
}

/// The shell's state, shared by commands, the tray and the event loop.
pub struct Shell {
    session: tokio::sync::RwLock<Option<Arc<Session>>>,
    /// Held while signing in, so two clicks make one session.
    signing_in: tokio::sync::Mutex<()>,
    status: Mutex<Status>,
    paths: Paths,
    config: Mutex<DeviceConfig>,
    managed: Managed,
    /// Whether the user is looking at the inbox: toasts for what the inbox
    /// shows live would be noise.
    focus: Mutex<Focus>,
    /// The view a window opened from the tray starts on (taken once).
    start_view: Mutex<Option<&'static str>>,
}

impl Shell {
    fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut Status)) -> Status {
        let mut s = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut s);
        s.clone()
    }

    async fn session(&self) -> Result<Arc<Session>, String> {
        self.session
            .read()
            .await
            .clone()
            .ok_or_else(|| "not signed in".to_owned())
    }

    fn update_focus(&self, f: impl FnOnce(&mut Focus)) {
        f(&mut self.focus.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn config(&self) -> DeviceConfig {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The sign-in form for the saved settings, saying `reason`.
    fn sign_in_form(&self, reason: Option<ui_error::UiError>) -> SignInForm {
        let cfg = self.config();
        SignInForm {
            address: cfg.instance,
            login: cfg.login,
            address_locked: self.managed.instance_locked(),
            reason,
        }
    }

    /// Saves a change to the device settings; a failure is logged (the
    /// change still holds for this run).
    /// Does what the tray's shared entries ask, and a pause (from the tray
    /// or the General tab) with the device settings this shell keeps.
    async fn act(
        &self,
        id: belfry_app::menu::MenuId,
        session: &Session,
    ) -> belfry_app::menu::Acted {
        use belfry_app::menu::{self, Acted, MenuId};
        match menu::act(id, session).await {
            Acted::Yours(MenuId::Pause(choice)) => {
                let mut cfg = self.config.lock().unwrap_or_else(PoisonError::into_inner);
                menu::pause(session, choice, &mut cfg, &self.paths.config_file());
                Acted::Done
            }
            acted => acted,
        }
    }

    fn save_config(&self, f: impl FnOnce(&mut DeviceConfig)) {
        let mut cfg = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut cfg);
        if let Err(e) = cfg.save(&self.paths.config_file()) {
            tracing::warn!(error = %e, "could not save the settings");
        }
    }
}

/// Builds the app and runs it until the user quits from the tray.
///
/// A second launch of `belfry` does not start a second app: it opens this
/// one's inbox instead.
///
/// # Errors
///
/// When the app cannot start, e.g. with no display or when the webview
/// fails to initialise.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = Paths::platform().context("while finding the app's directories")?;
    // A directory that cannot be made (a read-only or full disk) is said
    // once the log is up; the app goes on (the inbox then lives in memory).
    let created = paths.create();
    let _log = belfry_app::logging::init(&paths.log_dir, cli.verbose)
        .context("while setting up the log")?;
    if let Err(e) = created {
        tracing::warn!(error = %e, "the app's directories cannot be made; going on without them");
    }
    let fresh_install = !paths.config_file().exists();
    let config = session::effective_config(&paths.config_file());
    let managed = session::managed();
    belfry_app::start_at_login::apply_organizations(
        &managed,
        fresh_install,
        belfry_app::start_at_login::Starts::Tray,
    );
    let open_window = !cli.autostarted;
    let install_update = cli.install_update;
    let shell = Shell {
        session: tokio::sync::RwLock::new(None),
        signing_in: tokio::sync::Mutex::new(()),
        status: Mutex::new(Status::default()),
        paths,
        config: Mutex::new(config),
        managed,
        start_view: Mutex::new(None),
        focus: Mutex::new(Focus::default()),
    };
    #[cfg(target_os = "linux")]
    let window_cli = cli.clone();
    let app = tauri::Builder::default()
        // First plugin, so a second instance exits before setting anything up.
        .plugin(single_instance(|app| {
            tracing::info!("Belfry was launched again: bringing the inbox forward");
            open_inbox(app);
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        // The webview gets none of its commands (the capability grants no
        // updater permission): the shell checks and installs.
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(shell)
        .manage(small_tray_windows())
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::inbox_page,
            commands::mark_read,
            commands::mark_all_read,
            commands::open_item,
            commands::retry_now,
            commands::sign_in,
            commands::sign_out,
            commands::general,
            commands::set_start_at_login,
            commands::start_view,
            commands::center,
            commands::edit_preferences,
            commands::send_test,
            commands::preview_melody,
            commands::shown_view,
            commands::sound_output,
            commands::set_sound_output,
            commands::import_sound,
            commands::remove_sound,
            commands::open_web_profile,
            commands::pause,
            commands::update_info,
            commands::check_updates,
            commands::install_update,
            commands::set_update_channel,
            commands::restart_to_update,
            commands::inbox_painted,
        ])
        .on_window_event(move |window, event| {
            let focused = match event {
                tauri::WindowEvent::Focused(f) => *f,
                tauri::WindowEvent::Destroyed => {
                    #[cfg(target_os = "linux")]
                    if window.label() == MAIN_WINDOW {
                        small_tray::no_window(window.app_handle(), window_cli.clone());
                    }
                    false
                }
                _ => return,
            };
            let app = window.app_handle().clone();
            app.state::<Shell>().update_focus(|f| f.window = focused);
            tauri::async_runtime::spawn(async move { follow_focus(&app).await });
        })
        .setup(move |app| {
            updates::init(app.handle());
            tray::create(app.handle())?;
            updates::schedule(app.handle().clone(), install_update);
            let handle = app.handle().clone();
            #[cfg(target_os = "linux")]
            if !open_window {
                small_tray::no_window(app.handle(), cli.clone());
            }
            tauri::async_runtime::spawn(start_session(handle, cli));
            if install_update {
                // Handed over by the small tray's "Update to X…": the General
                // tab shows the update's progress.
                open_settings(app.handle());
            } else if open_window {
                open_inbox(app.handle());
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .context("while building the Tauri app")?;
    app.run(|app, event| match event {
        // Closing the last window keeps the app in the tray; only Quit
        // (an explicit exit code) ends it.
        RunEvent::ExitRequested { api, code, .. } if code.is_none() => api.prevent_exit(),
        RunEvent::Exit => {
            let app = app.clone();
            tauri::async_runtime::block_on(async move {
                let session = app.state::<Shell>().session.write().await.take();
                if let Some(s) = session
                    && let Err(e) = s.stop().await
                {
                    tracing::warn!(error = %e, "stopping");
                }
            });
        }
        _ => {}
    });
    Ok(())
}

/// What the wait for the small tray counts (nothing where there is none).
fn small_tray_windows() -> impl Send + Sync + 'static {
    #[cfg(target_os = "linux")]
    return small_tray::Windows::default();
    #[cfg(not(target_os = "linux"))]
    ()
}

/// The single-instance plugin: this crate's on Linux (see
/// [`single_instance`]), the official one elsewhere.
fn single_instance<R: Runtime>(
    on_launch: impl Fn(&AppHandle<R>) + Send + Sync + 'static,
) -> tauri::plugin::TauriPlugin<R> {
    #[cfg(target_os = "linux")]
    return single_instance::init(on_launch);
    #[cfg(not(target_os = "linux"))]
    tauri_plugin_single_instance::init(move |app, _argv, _cwd| on_launch(app))
}

/// Signs in with what was saved (or the command line) and runs the core.
/// With nothing to sign in with, the window shows the sign-in form.
pub(crate) async fn start_session<R: Runtime>(app: AppHandle<R>, cli: Cli) {
    let shell = app.state::<Shell>();
    let _guard = shell.signing_in.lock().await;
    upgrade_old_sounds(&shell).await;
    let mut cfg = shell.config();
    let started =
        match Target::resolve(&cli, &shell.paths, &cfg, Some(belfry_app::demo::STARTER)).await {
            Ok(target) => Session::start(target, &shell.paths, &mut cfg, Password::NoPrompt).await,
            Err(e) => Err(e),
        };
    match started {
        Ok((session, from_os)) => run_session(&app, session, from_os, cfg).await,
        Err(e) => {
            let reason = if e.downcast_ref::<SignInNeeded>().is_some() {
                tracing::info!("not signed in yet");
                None
            } else {
                Some(ui_error::UiError::of("signing in at start", &e))
            };
            show_signed_out(&app, reason);
        }
    }
}

/// Rewrites the own sounds an older Belfry kept in their chosen format as
/// the WAV copies the player reads (`belfry_os::sounds::upgrade_old`) and
/// keeps where they are now: this app links the decoders,
/// `belfry-headless` does not. One that cannot be
/// rewritten is logged and its melody plays, as for any unusable file.
async fn upgrade_old_sounds(shell: &Shell) {
    let custom = shell.config().sound.custom;
    let data_dir = shell.paths.data_dir.clone();
    let upgraded = tauri::async_runtime::spawn_blocking(move || {
        belfry_os::sounds::upgrade_old(&custom, &data_dir)
    })
    .await
    .unwrap_or_default();
    for (type_id, result) in upgraded {
        match result {
            Ok(path) => {
                tracing::info!(%type_id, "own sound rewritten as WAV");
                shell.save_config(|c| {
                    c.sound.custom.insert(type_id, path);
                });
            }
            Err(e) => {
                tracing::warn!(%type_id, error = %e, "own sound unusable; its melody plays instead")
            }
        }
    }
}

/// Signs in with what the user typed into the form.
async fn sign_in<R: Runtime>(
    app: &AppHandle<R>,
    address: &str,
    login: &str,
    password: belfry_core::secret::Secret,
) -> anyhow::Result<()> {
    let shell = app.state::<Shell>();
    let Ok(_guard) = shell.signing_in.try_lock() else {
        anyhow::bail!("already signing in");
    };
    if shell.session.read().await.is_some() {
        anyhow::bail!("already signed in");
    }
    let mut cfg = shell.config();
    // An address the organization enforces is used whatever the form sent.
    let address = match (&shell.managed.enforced.instance, address) {
        (Some(locked), _) => locked.clone(),
        (None, typed) => typed.to_owned(),
    };
    let target = Target::new(&address, login, cfg.allow_insecure, cfg.extra_ca.as_deref())?;
    let (session, from_os) =
        Session::start(target, &shell.paths, &mut cfg, Password::Given(password)).await?;
    run_session(app, session, from_os, cfg).await;
    Ok(())
}

/// Signs out: the token is revoked on the instance and removed from the
/// keyring; the window shows the sign-in form.
async fn sign_out<R: Runtime>(app: &AppHandle<R>) -> anyhow::Result<()> {
    let shell = app.state::<Shell>();
    let session = shell.session.write().await.take();
    let result = match session {
        Some(s) => s.sign_out().await,
        None => Ok(()),
    };
    show_signed_out(app, None);
    result
}

/// The status of a signed-out app, shown in the tray and the window.
fn show_signed_out<R: Runtime>(app: &AppHandle<R>, reason: Option<ui_error::UiError>) {
    let shell = app.state::<Shell>();
    let form = shell.sign_in_form(reason);
    let status = shell.update(|s| {
        *s = Status {
            sign_in: Some(form),
            ..Status::default()
        };
    });
    tray::show(app, &status);
    let _ = app.emit("status", &status);
}

/// Makes `session` the app's: the tray and the window follow its events
/// until it stops.
async fn run_session<R: Runtime>(
    app: &AppHandle<R>,
    session: Session,
    mut from_os: tokio::sync::mpsc::UnboundedReceiver<FromOs>,
    cfg: DeviceConfig,
) {
    let shell = app.state::<Shell>();
    *shell.config.lock().unwrap_or_else(PoisonError::into_inner) = cfg;
    let session = Arc::new(session);
    // Listen before reading the state: the core has been connecting since
    // it started, and what it said before this would otherwise be lost
    // (the welcome's status was, until a test of the tray caught it).
    let mut events = session.engine.events();
    let status = shell.update(|s| {
        *s = Status {
            front: Front::of(&session.engine),
            account: Some(format!("{}@{}", session.login, session.base)),
            problem: None,
            sign_in: None,
        };
    });
    tray::show(app, &status);
    let _ = app.emit("status", &status);
    tray::show_recent(app, &session).await;
    *shell.session.write().await = Some(Arc::clone(&session));

    let os_session = Arc::clone(&session);
    let os_app = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(msg) = from_os.recv().await {
            // A summary toast's Open shows the inbox.
            if os_session.handle_os(msg).await {
                open_inbox(&os_app);
            }
        }
    });
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Shell>();
        loop {
            let ev = match events.recv().await {
                Ok(ev) => ev,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(n, "the shell fell behind the core");
                    continue;
                }
                Err(_) => return,
            };
            match &ev {
                // Signed out or quitting: whoever stopped it shows what comes next.
                CoreEvent::State(ConnState::Stopped) => return,
                CoreEvent::State(ConnState::SignedOut) => {
                    session.on_core_event(&ev);
                    let ours = shell
                        .session
                        .write()
                        .await
                        .take_if(|s| Arc::ptr_eq(s, &session));
                    if let Some(s) = ours
                        && let Err(e) = s.stop().await
                    {
                        tracing::warn!(error = %e, "stopping");
                    }
                    show_signed_out(&app, Some(ui_error::UiError::Revoked));
                    return;
                }
                _ => {}
            }
            session.on_core_event(&ev);
            let mut change = Change::Nothing;
            let status = shell.update(|s| change = s.front.apply(&ev));
            match change {
                Change::State => {
                    tray::show(&app, &status);
                    let _ = app.emit("status", &status);
                }
                Change::Items => tray::show_recent(&app, &session).await,
                Change::Nothing => {}
            }
            let _ = app.emit(CORE_EVENT, &ev);
        }
    });
}

/// The type table wants room: Settings widens a narrow inbox window (the
/// window-state plugin then remembers the size the user keeps).
pub fn widen_for_settings<R: Runtime>(app: &AppHandle<R>) {
    const SETTINGS_WIDTH: f64 = 760.0;
    let Some(window) = app.get_webview_window(MAIN_WINDOW) else {
        return;
    };
    let (Ok(size), Ok(scale)) = (window.inner_size(), window.scale_factor()) else {
        return;
    };
    let logical = size.to_logical::<f64>(scale);
    if logical.width < SETTINGS_WIDTH
        && let Err(error) = window.set_size(tauri::LogicalSize::new(SETTINGS_WIDTH, logical.height))
    {
        tracing::debug!(%error, "could not widen the window for Settings");
    }
}

/// Opens the window on its Settings view.
pub fn open_settings<R: Runtime>(app: &AppHandle<R>) {
    let fresh = app.get_webview_window(MAIN_WINDOW).is_none();
    if fresh {
        // A new webview asks for its first view itself.
        *app.state::<Shell>()
            .start_view
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some("settings");
    }
    open_inbox(app);
    if !fresh {
        let _ = app.emit(NAVIGATE_EVENT, "settings");
    }
}

/// Opens the inbox window, creating its webview if it is closed.
pub fn open_inbox<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        for (step, result) in [
            ("show", window.show()),
            ("unminimize", window.unminimize()),
            ("set_focus", window.set_focus()),
        ] {
            if let Err(error) = result {
                tracing::warn!(step, %error, "could not bring the inbox forward");
            }
        }
        return;
    }
    #[cfg(target_os = "linux")]
    small_tray::window_opened(app);
    let built = WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::App("index.html".into()))
        .title("Belfry")
        .inner_size(420.0, 640.0)
        .min_inner_size(320.0, 360.0)
        .build();
    match built {
        Ok(window) => without_gl(&window),
        Err(error) => tracing::error!(%error, "could not open the inbox"),
    }
}

/// Turns WebKit's hardware acceleration off for the inbox's webview (Linux):
/// a list and a form need no GPU compositing, and without it the web
/// process leaves the GL stack alone (under Xvfb, Mesa's software GL on
/// LLVM: 176 → 113 MB PSS for that process; docs/benchmarks.md). Set
/// through WebKit's own setting rather than `WEBKIT_DISABLE_COMPOSITING_MODE`,
/// which would have to be in the environment before GTK starts (a
/// re-exec) and would pass on to every browser the app opens.
fn without_gl<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    let set = window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt as _, WebViewExt as _};
        if let Some(settings) = webview.inner().settings() {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
    // Elsewhere the system's webview keeps its own policy.
    #[cfg(not(target_os = "linux"))]
    let set: tauri::Result<()> = {
        let _ = window;
        Ok(())
    };
    if let Err(error) = set {
        tracing::warn!(%error, "could not turn the webview's hardware acceleration off");
    }
}

#[cfg(test)]
mod tests {
    use super::MAIN_WINDOW;
    use serde_json::Value;

    fn config() -> Value {
        serde_json::from_str(include_str!("../tauri.conf.json")).expect("tauri.conf.json parses")
    }

    #[test]
    fn no_window_is_made_at_start_and_the_capability_names_the_inbox() {
        let config = config();
        let windows = config["app"]["windows"].as_array().expect("app.windows");
        assert!(windows.is_empty(), "the shell creates the inbox on demand");
        let capability: Value =
            serde_json::from_str(include_str!("../capabilities/default.json")).expect("parses");
        assert_eq!(capability["windows"], serde_json::json!([MAIN_WINDOW]));
    }

    #[test]
    fn the_capability_grants_only_reviewed_permissions() {
        // Tauri loads every file in capabilities/ (and any inline in the
        // config): all of them are read, so a new file cannot slip past.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("capabilities/")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name != "REVIEW.md")
            .collect();
        files.sort();
        assert_eq!(
            files,
            ["default.json"],
            "a capability file other than default.json needs its own review"
        );
        assert!(
            config()["app"]["security"]["capabilities"].is_null(),
            "capabilities inline in tauri.conf.json escape the review"
        );
        let capability: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("default.json")).expect("reads"),
        )
        .expect("parses");
        let granted: std::collections::BTreeSet<String> = capability["permissions"]
            .as_array()
            .expect("a permission list")
            .iter()
            .map(|p| p.as_str().expect("a permission name").to_owned())
            .collect();
        // The review's table: the first column of each row, in backticks.
        let reviewed: std::collections::BTreeSet<String> =
            include_str!("../capabilities/REVIEW.md")
                .lines()
                .filter_map(|l| l.strip_prefix("| `"))
                .filter_map(|l| l.split('`').next())
                .map(str::to_owned)
                .collect();
        assert_eq!(
            granted, reviewed,
            "capabilities/default.json and capabilities/REVIEW.md differ: a permission needs a review line"
        );
        assert!(
            !granted
                .iter()
                .any(|p| p.starts_with("updater:") || p.starts_with("opener:")),
            "the webview must not update or open links itself: {granted:?}"
        );
    }

    #[test]
    fn the_csp_allows_nothing_inline_or_remote() {
        let config = config();
        let csp = config["app"]["security"]["csp"]
            .as_str()
            .expect("a CSP string");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "CSP lacks {directive:?}: {csp}");
        }
        for loophole in ["'unsafe-inline'", "'unsafe-eval'", "https:", "http:*", "*"] {
            assert!(!csp.contains(loophole), "CSP allows {loophole}: {csp}");
        }
    }
}
