//! The `belfry` binary: starts the desktop app (or, with `--headless`, the
//! core alone with no GUI at all) and reports a failure to start.

// Release builds on Windows run without a console window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    // Decided before any GUI toolkit is touched: headless never loads GTK.
    if belfry_app::cli::Cli::wants_headless(std::env::args()) {
        return headless();
    }
    // The tray app logs to its file like headless (see `run`).
    let cli = belfry_app::cli::Cli::from_env();
    match belfry_desktop::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("belfry: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn headless() -> ExitCode {
    let cli = belfry_app::cli::Cli::from_env();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("belfry: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(belfry_app::headless::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("belfry: {err:#}");
            ExitCode::FAILURE
        }
    }
}
