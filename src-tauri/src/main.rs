//! The `belfry` binary: starts the desktop app (or, with `--headless`, the
//! core alone with no GUI at all) and reports a failure to start.

// Release builds on Windows run without a console window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    // Decided before any GUI toolkit is touched: headless never loads GTK.
    if belfry_app::cli::Cli::wants_headless(std::env::args()) {
        // The small binary has no demo instance (see belfry_app::demo).
        #[cfg(unix)]
        if !belfry_app::cli::Cli::wants_demo(std::env::args()) {
            hand_over_to_headless_binary();
        }
        return belfry_app::headless::main(Some(belfry_app::demo::STARTER));
    }
    // `--start-at-login on|off` saves the choice and exits: no window, so
    // it works without a display (over SSH, from an install script).
    if belfry_app::cli::Cli::wants_start_at_login(std::env::args()) {
        return belfry_app::headless::main(None);
    }
    // Started at login with a sign-in saved, the small binary's tray will
    // do (a StatusNotifierItem of its own, the window a hand-over away):
    // about 10 MB, where this binary's tray holds GTK and WebKitGTK.
    #[cfg(all(unix, not(target_os = "macos")))]
    if belfry_app::cli::Cli::wants_small_tray(std::env::args())
        && belfry_app::tray::small_tray_will_do(&belfry_app::cli::Cli::from_env())
    {
        hand_over_to_headless_binary();
    }
    // Not `GDK_GL=disable` (it saves GTK's GL probe, 32 MB under Xvfb): with
    // it WebKit stopped delivering rendering updates (a screenshot waited
    // for ever) and one start crashed in GLib, in the webview tests. See
    // docs/benchmarks.md.
    // The tray app logs to its file like headless (see `run`).
    let cli = belfry_app::cli::Cli::from_env();
    // GTK cannot start without a display (it would panic): say so in one
    // line, after `--help` and `--version` had their chance.
    if belfry_app::cli::no_display() {
        eprintln!(
            "belfry: there is no display to open the window on (neither DISPLAY nor \
             WAYLAND_DISPLAY is set). Start Belfry from your desktop, or run \
             `belfry --headless` for toasts and sounds without a window."
        );
        return ExitCode::FAILURE;
    }
    match belfry_desktop::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("belfry: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Replaces this process with `belfry-headless` when it is installed
/// beside this binary (the packages ship both). This binary links GTK and
/// WebKitGTK, about 170 libraries the loader maps and relocates before
/// `main`: some 50 MB of a headless process's memory that the small binary
/// never has. Returns only when it cannot (then this process goes on).
#[cfg(unix)]
fn hand_over_to_headless_binary() {
    use belfry_app::hand_over::HandOver;
    let Some(small) = HandOver::AtStart.binary() else {
        return;
    };
    let err = HandOver::AtStart.exec(&small);
    eprintln!(
        "belfry: could not start {}: {err}; going on in this process",
        small.display()
    );
}
