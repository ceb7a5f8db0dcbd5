//! The command line of the `belfry` binary.

use clap::Parser;
use std::path::PathBuf;

/// Belfry: helpdesk notifications in your tray.
#[derive(Debug, Clone, Parser)]
#[command(name = "belfry", version, about)]
pub struct Cli {
    /// Run without a window or GUI toolkit: toasts, melodies, a log, and a
    /// tray icon of its own where the panel shows StatusNotifierItems.
    #[arg(long)]
    pub headless: bool,
    /// The instance address, e.g. https://help.example.com (saved for next time).
    #[arg(long, env = "BELFRY_INSTANCE")]
    pub instance: Option<String>,
    /// Sign in as this login (saved for next time). The password comes from
    /// BELFRY_PASSWORD or is asked for on the terminal.
    #[arg(long, env = "BELFRY_LOGIN")]
    pub login: Option<String>,
    /// Start an embedded reference instance with demo events and sign in to it.
    #[arg(long)]
    pub demo: bool,
    /// Milliseconds between demo events.
    #[arg(long, default_value_t = 3000)]
    pub demo_every_ms: u64,
    /// Allow plain http to an instance that is not on this machine.
    #[arg(long)]
    pub allow_insecure: bool,
    /// An extra CA certificate (PEM) to trust for the instance.
    #[arg(long)]
    pub extra_ca: Option<PathBuf>,
    /// Sign out: revoke the saved token on the instance, forget it, and exit.
    #[arg(long)]
    pub sign_out: bool,
    /// Start Belfry at login: `on` or `off`. Saved; then exits.
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    pub start_at_login: Option<bool>,
    /// Set by the start-at-login entry: the tray app starts without a window.
    #[arg(long, hide = true)]
    pub autostarted: bool,
    /// Set by the small tray's "Update to X…": the full app opens on
    /// Settings and installs the update its check at start finds.
    #[arg(long, hide = true)]
    pub install_update: bool,
    /// Log to standard error as well as to the log file.
    #[arg(long)]
    pub verbose: bool,
}

impl Cli {
    /// Parses the process arguments.
    pub fn from_env() -> Self {
        Self::parse()
    }

    /// Is `--headless` among the arguments? (Checked before clap runs, so the
    /// shell can decide without building a GUI.)
    pub fn wants_headless<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> bool {
        args.into_iter().any(|a| a.as_ref() == "--headless")
    }

    /// Asked to turn start at login on or off (checked before clap runs,
    /// like [`Cli::wants_headless`]): that is saved and the process exits,
    /// with no window and so no display needed.
    pub fn wants_start_at_login<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> bool {
        args.into_iter()
            .any(|a| a.as_ref().starts_with("--start-at-login"))
    }

    /// Started at login (`--autostarted`) and not for the demo: the tray
    /// may be the small binary's (checked before clap runs, like
    /// [`Cli::wants_headless`]).
    pub fn wants_small_tray<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> bool {
        let (mut autostarted, mut demo) = (false, false);
        for a in args {
            autostarted |= a.as_ref() == "--autostarted";
            demo |= a.as_ref() == "--demo";
        }
        autostarted && !demo
    }

    /// Is `--demo` among the arguments? (The demo instance is in `belfry`
    /// only, so `belfry --headless --demo` stays in it.)
    pub fn wants_demo<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> bool {
        args.into_iter().any(|a| a.as_ref() == "--demo")
    }
}

/// A Linux or BSD session with no display to open a window on (neither
/// `DISPLAY` nor `WAYLAND_DISPLAY` set): a terminal on a server, a
/// systemd unit. Windows and macOS always have one.
pub fn no_display() -> bool {
    let unset = |name: &str| std::env::var_os(name).is_none_or(|v| v.is_empty());
    cfg!(all(unix, not(target_os = "macos"))) && unset("DISPLAY") && unset("WAYLAND_DISPLAY")
}
