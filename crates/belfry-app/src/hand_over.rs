//! Handing the process over between Belfry's two binaries, written once.
//! `belfry` links GTK and WebKitGTK; `belfry-headless` (the small binary:
//! headless, and the small tray) does not. Where both are installed side
//! by side, the process replaces itself (exec, the same process id) in
//! three moments:
//!
//! - **at start**: `belfry --headless`, or `belfry` started at login with
//!   a sign-in saved, becomes the small binary with the same arguments;
//! - **to the small tray**: the full app, with no window for a while,
//!   becomes the small tray (`--autostarted`, no install asked again);
//! - **to the full app**: the small tray's "Open inbox" or "Update to X…"
//!   becomes the full app (without the flags that keep it headless or
//!   hidden; `--install-update` only when asked now).
//!
//! After the first sign-in the keyring holds the token, so a hand-over
//! drops `BELFRY_PASSWORD` from the environment. Replacing a process is
//! Unix's `exec`; elsewhere there is no small binary, and [`exec`] says so.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The full app's binary name.
pub const FULL_APP: &str = "belfry";

/// The small binary's name.
pub const SMALL_APP: &str = "belfry-headless";

/// Which hand-over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOver {
    /// At start, to the small binary, with the same arguments.
    AtStart,
    /// From the full app with no window to the small tray.
    ToSmallTray,
    /// From the small tray to the full app, which opens its window (on
    /// Settings, installing the offered update, with `install_update`).
    ToFullApp {
        /// Install what the full app's first check finds.
        install_update: bool,
    },
}

impl HandOver {
    /// The binary this hand-over starts, when it is installed beside this
    /// one.
    pub fn binary(self) -> Option<PathBuf> {
        let name = match self {
            Self::AtStart | Self::ToSmallTray => SMALL_APP,
            Self::ToFullApp { .. } => FULL_APP,
        };
        let path = std::env::current_exe().ok()?.with_file_name(name);
        path.is_file().then_some(path)
    }

    /// The arguments the other binary gets from this process's `args`
    /// (without the program name).
    pub fn args(self, args: impl Iterator<Item = OsString>) -> Vec<OsString> {
        match self {
            Self::AtStart => args.collect(),
            // An install asked for at this start is done or on offer in
            // the menu: not asked for again by the next hand-over.
            Self::ToSmallTray => {
                let mut args: Vec<OsString> = args.filter(|a| a != "--install-update").collect();
                if !args.iter().any(|a| a == "--autostarted") {
                    args.push("--autostarted".into());
                }
                args
            }
            Self::ToFullApp { install_update } => args
                .filter(|a| a != "--headless" && a != "--autostarted" && a != "--install-update")
                .chain(install_update.then(|| "--install-update".into()))
                .collect(),
        }
    }

    /// Replaces this process with `binary`, given this process's arguments
    /// as [`HandOver::args`] makes them. Returns only the error when it
    /// cannot.
    pub fn exec(self, binary: &Path) -> std::io::Error {
        tracing::info!(hand_over = ?self, to = %binary.display(), "handing over");
        let mut argv = std::env::args_os();
        let name = argv.next();
        let mut cmd = std::process::Command::new(binary);
        cmd.args(self.args(argv));
        if self != Self::AtStart {
            cmd.env_remove("BELFRY_PASSWORD");
        }
        replace_process(cmd, name)
    }
}

#[cfg(unix)]
fn replace_process(mut cmd: std::process::Command, name: Option<OsString>) -> std::io::Error {
    use std::os::unix::process::CommandExt as _;
    // The same name in `ps` and in messages as the user typed.
    if let Some(name) = name {
        cmd.arg0(name);
    }
    cmd.exec()
}

#[cfg(not(unix))]
fn replace_process(_: std::process::Command, _: Option<OsString>) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "a process replaces itself only on Unix",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn an_install_is_handed_over_once_and_not_carried_to_the_next_hand_over() {
        let small = os(&[
            "--autostarted",
            "--instance",
            "https://desk.example",
            "--verbose",
        ]);
        let asked = HandOver::ToFullApp {
            install_update: true,
        }
        .args(small.clone().into_iter());
        assert_eq!(
            asked,
            os(&[
                "--instance",
                "https://desk.example",
                "--verbose",
                "--install-update"
            ])
        );
        // The full app hands back to the small tray: no install asked for
        // again, and started as at login.
        let back = HandOver::ToSmallTray.args(asked.into_iter());
        assert_eq!(
            back,
            os(&[
                "--instance",
                "https://desk.example",
                "--verbose",
                "--autostarted"
            ])
        );
        // "Open inbox" there opens the inbox only.
        assert_eq!(
            HandOver::ToFullApp {
                install_update: false
            }
            .args(back.into_iter()),
            os(&["--instance", "https://desk.example", "--verbose"])
        );
    }

    #[test]
    fn at_start_the_small_binary_gets_the_same_arguments() {
        let args = os(&["--headless", "--instance", "https://desk.example"]);
        assert_eq!(HandOver::AtStart.args(args.clone().into_iter()), args);
    }
}
