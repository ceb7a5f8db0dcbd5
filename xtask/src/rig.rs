//! The Linux test rig (see LINUX-TEST-RIG in the shared notes): every test
//! runs with a throwaway HOME and XDG dirs, inside its own D-Bus session,
//! with Xvfb, the dunst notification daemon, an unlocked gnome-keyring and
//! ALSA's null device, so tests reach real OS parts without touching the
//! machine's own.

use crate::root;
use anyhow::{Context, Result, bail};
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Password for the throwaway keyring (headless unlock needs a non-empty one).
const KEYRING_PASSWORD: &str = "belfry-rig";

/// Starts the rig and runs `command` inside it; returns its exit status as ours.
pub fn run(command: &[String], extra_env: &[(&str, &OsStr)]) -> Result<()> {
    let base = root()
        .join("target")
        .join("rig")
        .join(std::process::id().to_string());
    let home = base.join("home");
    for dir in [
        "home/.config",
        "home/.local/share",
        "home/.cache",
        "home/.local/state",
        "runtime",
    ] {
        std::fs::create_dir_all(base.join(dir)).with_context(|| format!("while creating {dir}"))?;
    }
    set_private(&base.join("runtime"))?;
    // ALSA's null device: playback "works" with no sound card.
    std::fs::write(
        home.join(".asoundrc"),
        "pcm.!default { type null }\nctl.!default { type hw card 0 }\n",
    )
    .context("while writing .asoundrc")?;
    // dunst opens its context menu (the toast's action buttons) through a
    // dmenu-like picker. Tests play the user: this picker records the menu
    // dunst offers and picks the line the test wrote to ~/dmenu-choice.
    let picker = base.join("pick.sh");
    std::fs::write(
        &picker,
        "#!/bin/sh\nmenu=$(cat)\nprintf '%s\\n' \"$menu\" > \"$HOME/dmenu-menu\"\n\
         choice=$(cat \"$HOME/dmenu-choice\" 2>/dev/null)\n\
         printf '%s\\n' \"$menu\" | grep -F -- \"$choice\" | head -n 1\n",
    )
    .context("while writing the menu picker")?;
    make_executable(&picker)?;
    // dunst's history has no urgency; a rule script sees every toast with
    // it (arguments: app name, summary, body, icon, urgency).
    let recorder = base.join("record.sh");
    std::fs::write(
        &recorder,
        "#!/bin/sh\nprintf '%s|%s|%s|%s\\n' \"$1\" \"$2\" \"$4\" \"$5\" >> \"$HOME/dunst-seen\"\n",
    )
    .context("while writing the toast recorder")?;
    make_executable(&recorder)?;
    // Markup on, as GNOME Shell and most daemons render it: the harder case
    // for showing notification text as typed.
    std::fs::create_dir_all(home.join(".config/dunst")).context("while creating dunst's config")?;
    std::fs::write(
        home.join(".config/dunst/dunstrc"),
        format!(
            "[global]\n    dmenu = {}\n    markup = full\n\n[record]\n    appname = \"*\"\n    script = {}\n",
            picker.display(),
            recorder.display()
        ),
    )
    .context("while writing dunstrc")?;

    // Keep the toolchain where it is when HOME moves.
    let real_home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cargo_home =
        std::env::var_os("CARGO_HOME").map_or_else(|| real_home.join(".cargo"), PathBuf::from);
    let rustup_home =
        std::env::var_os("RUSTUP_HOME").map_or_else(|| real_home.join(".rustup"), PathBuf::from);

    let exe = std::env::current_exe().context("while locating xtask")?;
    let mut cmd = Command::new("dbus-run-session");
    cmd.arg("--").arg(exe).arg("rig-inner").args(command);
    cmd.current_dir(root())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_RUNTIME_DIR", base.join("runtime"))
        .env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home)
        .env("NO_AT_BRIDGE", "1")
        .env("BELFRY_RIG", "1")
        // GSettings in a plain file under XDG_CONFIG_HOME: readable by every
        // process in the rig with no dconf service.
        .env("GSETTINGS_BACKEND", "keyfile")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let status = cmd
        .status()
        .context("while starting dbus-run-session (Debian: apt-get install dbus)")?;
    let _ = std::fs::remove_dir_all(&base);
    if !status.success() {
        bail!("tests failed ({status})");
    }
    Ok(())
}

#[cfg(unix)]
fn set_private(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .context("while securing XDG_RUNTIME_DIR")
}

#[cfg(not(unix))]
fn set_private(_: &Path) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn make_executable(file: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("while making {} executable", file.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<()> {
    Ok(())
}

/// Children that die with the rig.
struct Services(Vec<(&'static str, Child)>);

impl Drop for Services {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > timeout {
            bail!("{what} did not come up within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn bus_name_owned(name: &str) -> bool {
    Command::new("dbus-send")
        .args([
            "--session",
            "--dest=org.freedesktop.DBus",
            "--type=method_call",
            "--print-reply",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
        ])
        .arg(format!("string:{name}"))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
        .unwrap_or(false)
}

fn quiet(cmd: &mut Command) -> &mut Command {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
}

/// Inside `dbus-run-session`: start the services, run the command.
/// A private Xvfb on a free display number: its `DISPLAY` and the
/// process (the caller stops it).
pub fn xvfb() -> Result<(String, Child)> {
    let display = (99..400)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .context("no free X display number")?;
    let mut xvfb = quiet(Command::new("Xvfb").arg(format!(":{display}")).args([
        "-screen",
        "0",
        "1280x800x24",
        "-nolisten",
        "tcp",
    ]))
    .spawn()
    .context("while starting Xvfb")?;
    if let Err(e) = wait_until("Xvfb", Duration::from_secs(15), || {
        Path::new(&format!("/tmp/.X11-unix/X{display}")).exists()
    }) {
        let _ = xvfb.kill();
        let _ = xvfb.wait();
        return Err(e);
    }
    Ok((format!(":{display}"), xvfb))
}

pub fn inner(command: &[String]) -> Result<()> {
    let Some((program, args)) = command.split_first() else {
        bail!("rig-inner needs a command");
    };
    let mut services = Services(Vec::new());

    let (display, xvfb) = xvfb()?;
    services.0.push(("Xvfb", xvfb));

    // Start dunst ourselves and wait for its bus name; asking dunstctl first
    // would D-Bus-activate a second dunst.
    let dunst = quiet(Command::new("dunst").env("DISPLAY", &display))
        .spawn()
        .context("while starting dunst")?;
    services.0.push(("dunst", dunst));
    wait_until("dunst", Duration::from_secs(15), || {
        bus_name_owned("org.freedesktop.Notifications")
    })?;

    let mut keyring_env = Vec::new();
    let mut keyring = Command::new("gnome-keyring-daemon")
        .args(["--unlock", "--components=secrets"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("while starting gnome-keyring-daemon")?;
    if let Some(mut stdin) = keyring.stdin.take() {
        stdin
            .write_all(KEYRING_PASSWORD.as_bytes())
            .context("while unlocking the keyring")?;
    }
    let out = keyring
        .wait_with_output()
        .context("while starting gnome-keyring-daemon")?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((k, v)) = line.split_once('=') {
            keyring_env.push((k.to_owned(), v.to_owned()));
        }
    }
    wait_until("gnome-keyring", Duration::from_secs(15), || {
        bus_name_owned("org.freedesktop.secrets")
    })?;

    // A tray host, so tray icons have somewhere to register.
    if let Ok(watcher) = quiet(&mut Command::new("status-notifier-watcher")).spawn() {
        services.0.push(("status-notifier-watcher", watcher));
    }

    eprintln!(
        "rig: DISPLAY={display}, session bus {}, dunst, gnome-keyring (unlocked), ALSA null device, HOME={}",
        std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default(),
        std::env::var("HOME").unwrap_or_default()
    );
    let status = Command::new(program)
        .args(args)
        .env("DISPLAY", &display)
        .envs(keyring_env)
        .status()
        .with_context(|| format!("while running {program}"))?;
    drop(services);
    if !status.success() {
        bail!("{program} failed ({status})");
    }
    Ok(())
}
