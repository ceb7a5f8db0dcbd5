//! The `belfry` binary: starts the desktop app (or, with `--headless`, the
//! core alone with no GUI at all) and reports a failure to start.

// Release builds on Windows run without a console window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Decided before any GUI toolkit is touched: headless never loads GTK.
    if belfry_app::cli::Cli::wants_headless(std::env::args()) {
        return headless();
    }
    // Logs go to stderr; RUST_LOG overrides the level. Logging is not worth
    // refusing to start over, so a failure to set it up is only reported.
    if let Err(err) = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init()
    {
        eprintln!("belfry: logging is off: {err}");
    }
    match belfry_desktop::run() {
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
