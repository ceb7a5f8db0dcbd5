//! Logs: a daily-rolling file in the platform's log directory, and standard
//! error when asked. Nothing here ever logs a token: tokens are `Secret`s.

use std::path::Path;
use tracing::{Level, Metadata};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{FilterExt as _, Targets, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Crates whose debug and trace output can hold secrets.
const CAPPED: &[&str] = &[
    "zbus",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "tungstenite",
    "tokio_tungstenite",
    "rustls",
    "secret_service",
    "keyring",
    "http",
];

/// Log lines waiting for the file at most: 32 bytes each, allocated whole
/// (8,192 were 256 kB of an idle headless app). The core logs nothing per
/// notification at the file's level, so a burst of events is a handful of
/// lines; a flood of warnings past this is dropped and counted.
const LOG_QUEUE: usize = 1024;

/// What BELFRY_LOG asks for ("info,belfry_core=debug"; info when unset or
/// unreadable), with [`CAPPED`]'s crates held at info whatever it asks.
/// `Targets`, not `EnvFilter`: the same `target=level` lists without the
/// regex engine (about 250 kB of the headless binary's code).
fn filter<S>() -> impl tracing_subscriber::layer::Filter<S> {
    let asked = std::env::var("BELFRY_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO));
    // The libraries that carry the token (HTTP headers, the WebSocket
    // handshake, the keyring's D-Bus messages) log what they carry at
    // debug and trace: capped at info whatever BELFRY_LOG asks (a more
    // specific target such as `zbus::conn` too), so no level puts a token
    // in the log (a test runs at trace and looks).
    asked.and(filter_fn(|meta: &Metadata<'_>| {
        *meta.level() <= Level::INFO || !is_capped(meta.target())
    }))
}

/// Whether `target` is one of [`CAPPED`]'s crates or a module in one.
fn is_capped(target: &str) -> bool {
    CAPPED.iter().any(|c| {
        target
            .strip_prefix(c)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Keep the guard alive for the process: dropping it flushes the file.
/// `None` when the log directory cannot be written (a read-only or full
/// disk): the app then logs to standard error only, says so, and goes on.
pub fn init(log_dir: &Path, to_stderr: bool) -> anyhow::Result<Option<WorkerGuard>> {
    let appender = std::fs::create_dir_all(log_dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("belfry")
                .filename_suffix("log")
                .max_log_files(7)
                .build(log_dir)
                .map_err(anyhow::Error::from)
        });
    let (file_layer, guard, problem) = match appender {
        Ok(appender) => {
            // The writer's queue is allocated whole up front: the default
            // of 128,000 lines was 4 MB of an idle headless app's 19. A
            // burst's lines beyond this, while the file falls behind, are
            // dropped (and counted), never waited for.
            let (file, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_QUEUE)
                .lossy(true)
                .finish(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(file)
                .with_ansi(false)
                .with_filter(filter());
            (Some(layer), Some(guard), None)
        }
        Err(e) => (None, None, Some(e)),
    };
    let stderr_layer = (to_stderr || problem.is_some()).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init()?;
    if let Some(e) = problem {
        tracing::warn!(error = %e, dir = %log_dir.display(), "the log cannot be written there; logging to the terminal only");
    }
    Ok(guard)
}

use tracing_subscriber::Layer as _;

#[cfg(test)]
mod tests {
    use super::is_capped;

    #[test]
    fn the_token_carrying_crates_and_their_modules_are_capped() {
        assert!(is_capped("zbus"));
        assert!(is_capped("zbus::connection::handshake"));
        assert!(is_capped("hyper_util::client"));
        assert!(!is_capped("zbusy"));
        assert!(!is_capped("belfry_core::engine"));
    }
}
