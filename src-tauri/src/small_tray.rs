//! Back to the small tray: when the full app has had no window for a
//! while, it replaces itself (exec, same process) with `belfry-headless`,
//! whose tray shows the same menu without GTK and WebKitGTK in memory
//! (about 10 MB where this process idles near 95). "Open inbox" there
//! hands back, and so does its "Update to X…": this app's check at start
//! then offers the update, and this app stays while it is on offer. Linux
//! and the BSDs: the small tray is a StatusNotifierItem.

use crate::shell::Shell;
use crate::window::MAIN_WINDOW;
use belfry_app::cli::Cli;
use belfry_app::hand_over::HandOver;
use std::sync::atomic::{AtomicU64, Ordering};
use tauri::{AppHandle, Manager, Runtime};

/// Counts window openings and closings: a wait that sees it change was
/// overtaken (the window opened again).
#[derive(Default)]
pub struct Windows(AtomicU64);

/// The window opened: any wait under way is off.
pub fn window_opened<R: Runtime>(app: &AppHandle<R>) {
    app.state::<Windows>().0.fetch_add(1, Ordering::SeqCst);
}

/// There is no window (closed, or none at start): after the wait, if
/// there is still none, hand over to the small tray where it will do.
pub fn no_window<R: Runtime>(app: &AppHandle<R>, cli: Cli) {
    let Some(after) = belfry_app::tray::small_tray_wait() else {
        return;
    };
    let windows = app.state::<Windows>();
    let seen = windows.0.fetch_add(1, Ordering::SeqCst) + 1;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(after).await;
        let now = app.state::<Windows>().0.load(Ordering::SeqCst);
        if now != seen || app.get_webview_window(MAIN_WINDOW).is_some() {
            return;
        }
        hand_over(&app, cli).await;
    });
}

async fn hand_over<R: Runtime>(app: &AppHandle<R>, cli: Cli) {
    let to = HandOver::ToSmallTray;
    let Some(small) = to.binary() else {
        return;
    };
    // An update on offer or half done is the full tray's to show.
    if crate::updates::tray_entry(app).is_some() {
        tracing::debug!("staying whole: an update is on offer");
        return;
    }
    let shell = app.state::<Shell>();
    if shell.status().sign_in.is_some() || shell.session.read().await.is_none() {
        return;
    }
    let asked = cli.clone();
    let will_do =
        tauri::async_runtime::spawn_blocking(move || belfry_app::tray::small_tray_will_do(&asked))
            .await;
    if !matches!(will_do, Ok(true)) {
        return;
    }
    tracing::info!("no window for a while: handing over to the small tray");
    if let Some(session) = shell.session.write().await.take()
        && let Err(e) = session.stop().await
    {
        tracing::warn!(error = %e, "stopping");
    }
    let err = to.exec(&small);
    // Still here: stay whole, with the session started again.
    tracing::error!(error = %err, small = %small.display(), "could not start the small tray");
    crate::lifecycle::start_session(app.clone(), cli).await;
}
