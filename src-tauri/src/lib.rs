//! Belfry's desktop shell: a tray icon and the bell inbox window around the
//! core. The shell stays thin: it starts a [`Session`](belfry_app::session::Session)
//! (the same one the headless mode runs), forwards the UI's commands to it
//! and the core's events to the UI and the tray. The window's webview
//! exists only while the window is open; closed, the app is the core and
//! the tray alone.
//!
//! One idea per file: [`shell`] the state the parts share, [`lifecycle`]
//! the session's start and end, [`window`] the inbox window, [`focus`]
//! whether the user is looking at it, [`commands`] the window's calls,
//! [`tray`] the tray icon, [`updates`] the updater, [`ui_error`] what a
//! user reads when something fails; this file assembles the app.

mod bindings;
mod commands;
mod focus;
mod lifecycle;
mod shell;
#[cfg(target_os = "linux")]
mod single_instance;
#[cfg(target_os = "linux")]
mod small_tray;
mod tray;
mod ui_error;
mod updates;
mod window;

use anyhow::Context as _;
use belfry_app::cli::Cli;
use belfry_app::session;
use belfry_core::config::Paths;
use shell::Shell;
use tauri::{AppHandle, Manager, RunEvent, Runtime};

pub use shell::{SignInForm, Status};
pub use window::{MAIN_WINDOW, NAVIGATE_EVENT, open_inbox, open_settings};

/// The event the UI listens to: every [`CoreEvent`], as the core emits it.
pub const CORE_EVENT: &str = "core";

pub use belfry_app::menu::Pause;

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
    let shell = Shell::new(paths, config, managed);
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
            tauri::async_runtime::spawn(async move { focus::follow_focus(&app).await });
        })
        .setup(move |app| {
            updates::init(app.handle(), install_update);
            tray::create(app.handle())?;
            let handle = app.handle().clone();
            #[cfg(target_os = "linux")]
            if !open_window {
                small_tray::no_window(app.handle(), cli.clone());
            }
            tauri::async_runtime::spawn(lifecycle::start_session(handle, cli));
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
