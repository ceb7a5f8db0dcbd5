//! Belfry's desktop shell: builds the Tauri app around the front end in
//! `ui/` and runs it. The shell stays thin: the client engine lives in crates
//! that do not depend on Tauri.

use anyhow::Context as _;
use tauri::{AppHandle, Manager, Runtime};

/// The label of the app's one window, as `tauri.conf.json` declares it.
pub const MAIN_WINDOW: &str = "main";

/// Builds the app and runs it until it exits.
///
/// A second launch of `belfry` does not start a second app: it brings this
/// one's main window to the front instead.
///
/// # Errors
///
/// When the app cannot start, e.g. with no display to open the window on or
/// when the webview fails to initialise.
pub fn run() -> anyhow::Result<()> {
    tauri::Builder::default()
        // First plugin, so a second instance exits before setting anything up.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main_window(app);
        }))
        .run(tauri::generate_context!())
        .context("while running the Tauri app")
}

/// Shows, unminimises and focuses the main window; failures are logged, as
/// there is no caller to return them to.
fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = app.get_webview_window(MAIN_WINDOW) else {
        tracing::warn!(window = MAIN_WINDOW, "no window to show");
        return;
    };
    let steps = [
        ("show", window.show()),
        ("unminimize", window.unminimize()),
        ("set_focus", window.set_focus()),
    ];
    for (step, result) in steps {
        if let Err(error) = result {
            tracing::warn!(window = MAIN_WINDOW, step, %error, "could not bring the window forward");
        }
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
    fn the_configured_window_is_the_one_the_shell_shows() {
        let config = config();
        let windows = config["app"]["windows"].as_array().expect("app.windows");
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0]["label"], MAIN_WINDOW);

        let capability: Value =
            serde_json::from_str(include_str!("../capabilities/default.json")).expect("parses");
        assert_eq!(capability["windows"], serde_json::json!([MAIN_WINDOW]));
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
