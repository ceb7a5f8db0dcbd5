//! The inbox window: opened from the tray, a second launch or a toast, on
//! the inbox or on Settings; its webview exists only while it is open.

use crate::shell::Shell;
use std::sync::PoisonError;
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

/// The label of the inbox window.
pub const MAIN_WINDOW: &str = "main";

/// The event that tells the window which view to show (`"settings"`).
pub const NAVIGATE_EVENT: &str = "navigate";

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
    crate::small_tray::window_opened(app);
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
