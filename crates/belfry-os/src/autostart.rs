//! Start at login, through `auto-launch` (the crate the official Tauri
//! autostart plugin wraps): an XDG autostart entry on Linux, a LaunchAgent
//! on macOS, the `Run` registry key on Windows. Used by headless and the
//! tray alike, so both write the same entry.

use std::path::{Path, PathBuf};

/// The entry's name (`belfry.desktop` on Linux).
pub const NAME: &str = "belfry";

/// Added to the command line of a start at login, so the tray app starts
/// in the tray without opening its window.
pub const AUTOSTARTED: &str = "--autostarted";

/// The login item could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AutostartError {
    /// No home directory to hold the entry.
    #[error("no home directory for the start-at-login entry")]
    NoHome,
    /// The app's own path is unknown.
    #[error("cannot tell where Belfry is installed: {0}")]
    NoExe(std::io::Error),
    /// The OS refused.
    #[error("the start-at-login entry: {0}")]
    Os(String),
}

/// The login item for this app.
pub struct Autostart(auto_launch::AutoLaunch);

impl Autostart {
    /// The entry that starts this executable with `args` (plus
    /// [`AUTOSTARTED`]).
    pub fn for_this_app(args: &[&str]) -> Result<Self, AutostartError> {
        // auto-launch 0.5 files the Linux entry under $HOME and panics
        // without one: check first.
        if cfg!(target_os = "linux") && std::env::var_os("HOME").is_none_or(|h| h.is_empty()) {
            return Err(AutostartError::NoHome);
        }
        let exe = this_executable()?;
        let mut all: Vec<&str> = args.to_vec();
        all.push(AUTOSTARTED);
        let launcher = auto_launch::AutoLaunchBuilder::new()
            .set_app_name(NAME)
            .set_app_path(&exec_path(&exe))
            .set_args(&all)
            .build()
            .map_err(|e| AutostartError::Os(e.to_string()))?;
        Ok(Self(launcher))
    }

    /// Turns start at login on or off. Turning it on again rewrites the
    /// entry, so a moved executable (an AppImage in a new place) is found.
    pub fn set(&self, on: bool) -> Result<(), AutostartError> {
        let result = if on {
            // auto-launch 0.5 creates only the last directory of
            // `~/.config/autostart` (and always under $HOME, whatever
            // XDG_CONFIG_HOME says; desktops look there unless it is moved).
            #[cfg(target_os = "linux")]
            if let Some(home) = std::env::var_os("HOME") {
                let dir = PathBuf::from(home).join(".config/autostart");
                std::fs::create_dir_all(&dir)
                    .map_err(|e| AutostartError::Os(format!("creating {}: {e}", dir.display())))?;
            }
            self.0.enable().and_then(|()| {
                // auto-launch names the Linux entry after its file and
                // comments it "belfrystartup script", which desktops show
                // in their startup-applications lists.
                match desktop_entry() {
                    Some(path) => {
                        let text = std::fs::read_to_string(&path)?;
                        std::fs::write(&path, described(&text))?;
                        Ok(())
                    }
                    None => Ok(()),
                }
                .map_err(auto_launch::Error::Io)
            })
        } else {
            self.0.disable()
        };
        result.map_err(|e| AutostartError::Os(e.to_string()))
    }

    /// Whether the entry is there.
    pub fn is_enabled(&self) -> Result<bool, AutostartError> {
        self.0
            .is_enabled()
            .map_err(|e| AutostartError::Os(e.to_string()))
    }
}

/// The Linux desktop entry auto-launch writes (`~/.config/autostart`);
/// `None` elsewhere, where the entry is a registry value or a LaunchAgent
/// that no list shows by its comment.
fn desktop_entry() -> Option<PathBuf> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(
        PathBuf::from(home)
            .join(".config/autostart")
            .join(format!("{NAME}.desktop")),
    )
}

/// A desktop entry with Belfry's own name and a comment that says what it
/// starts; every other line as it was.
fn described(entry: &str) -> String {
    entry
        .lines()
        .map(|line| {
            if line.starts_with("Name=") {
                "Name=Belfry"
            } else if line.starts_with("Comment=") {
                "Comment=Helpdesk notifications in the tray"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The file to start: an AppImage's own path rather than the binary inside
/// its temporary mount, and `belfry` rather than the `belfry-headless` it
/// hands `--headless` over to (so the entry names the app, as the user
/// installed it, whichever of the two wrote it).
fn this_executable() -> Result<PathBuf, AutostartError> {
    if let Some(image) = std::env::var_os("APPIMAGE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(image));
    }
    let exe = std::env::current_exe().map_err(AutostartError::NoExe)?;
    Ok(launcher_beside(&exe).unwrap_or(exe))
}

/// `belfry` beside `exe` when `exe` is the headless-only binary.
fn launcher_beside(exe: &Path) -> Option<PathBuf> {
    let stem = exe.file_stem()?;
    if stem != "belfry-headless" {
        return None;
    }
    let launcher = exe.with_file_name(format!("belfry{}", std::env::consts::EXE_SUFFIX));
    launcher.is_file().then_some(launcher)
}

/// The path as the entry's command line needs it. The Linux entry's `Exec=`
/// is written as given, so a path with spaces is quoted per the desktop
/// entry spec; the other platforms take the path as is.
fn exec_path(exe: &Path) -> String {
    let plain = exe.display().to_string();
    if cfg!(target_os = "linux") && plain.contains([' ', '"', '\\', '`', '$']) {
        let mut quoted = String::from("\"");
        for c in plain.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headless_binary_names_the_app_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let headless = dir.path().join("belfry-headless");
        assert_eq!(launcher_beside(&headless), None, "no belfry beside it");
        let app = dir
            .path()
            .join(format!("belfry{}", std::env::consts::EXE_SUFFIX));
        std::fs::write(&app, "").unwrap();
        assert_eq!(launcher_beside(&headless), Some(app.clone()));
        assert_eq!(launcher_beside(&app), None, "belfry names itself");
    }

    #[test]
    fn the_desktop_entry_is_named_and_commented_for_people() {
        let written = "[Desktop Entry]\nType=Application\nVersion=1.0\nName=belfry\n\
                       Comment=belfrystartup script\nExec=/usr/bin/belfry --autostarted\n\
                       StartupNotify=false\nTerminal=false";
        let entry = described(written);
        assert!(entry.contains("\nName=Belfry\n"), "{entry}");
        assert!(
            entry.contains("\nComment=Helpdesk notifications in the tray\n"),
            "{entry}"
        );
        assert!(!entry.contains("startup script"), "{entry}");
        assert!(entry.contains("\nExec=/usr/bin/belfry --autostarted\n"));
        assert!(entry.ends_with("Terminal=false\n"));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn paths_with_spaces_are_quoted_for_the_desktop_entry() {
        assert_eq!(exec_path(Path::new("/usr/bin/belfry")), "/usr/bin/belfry");
        assert_eq!(
            exec_path(Path::new("/home/o/My Apps/Belfry.AppImage")),
            "\"/home/o/My Apps/Belfry.AppImage\""
        );
        assert_eq!(exec_path(Path::new("/tmp/a $b")), "\"/tmp/a \\$b\"");
    }
}
