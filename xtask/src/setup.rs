//! Installs or checks what the commands need: Debian packages, cargo-nextest,
//! schemathesis (PyPI, in a venv under target/), and the front end built
//! into ui/dist (npm).

use crate::{root, run};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian/Ubuntu packages for building the app and running the test rig.
/// (The names are Debian's; other systems: install the equivalents of
/// WebKitGTK 4.1, libayatana-appindicator3, librsvg2, ALSA, D-Bus, Xvfb,
/// dunst, gnome-keyring, Python 3 with venv.)
pub const PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "libssl-dev",
    "libdbus-1-dev",
    "libwebkit2gtk-4.1-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libasound2-dev",
    "xvfb",
    "xauth",
    "dbus-x11",
    "dunst",
    "libnotify-bin",
    "webkit2gtk-driver",
    "imagemagick",
    "curl",
    "gnome-keyring",
    "libsecret-tools",
    "keyutils",
    "haskell-status-notifier-item-utils",
    "python3-venv",
    "xdg-utils",
    "libglib2.0-bin",
    "gsettings-desktop-schemas",
    // Reads the .rpm's metadata in the packaging test.
    "rpm",
    // The instance's second engine: its tests run again on a throwaway
    // cluster (tests/src/pg.rs), and the several-node tests need it.
    "postgresql",
    // The load balancer of the failover test (tests/tests/instance_failover.rs).
    "haproxy",
];

fn missing_packages<'a>(wanted: &[&'a str]) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|p| {
            Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| !String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(true)
        })
        .collect()
}

/// Installs missing Debian packages (as root, or through sudo); elsewhere
/// says what to install.
pub fn system_packages() -> Result<()> {
    packages(PACKAGES)
}

/// Installs those of `wanted` that are missing (Debian's names), reading
/// the package lists first; elsewhere says what to install.
pub fn packages(wanted: &[&str]) -> Result<()> {
    if !std::path::Path::new("/etc/debian_version").exists() {
        eprintln!(
            "xtask: not a Debian-family system; make sure these (or your distribution's equivalents) are installed:\n  {}",
            wanted.join(" ")
        );
        return Ok(());
    }
    let missing = missing_packages(wanted);
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&missing);
    apt(&install).with_context(|| {
        format!(
            "while installing: sudo apt-get install {}",
            missing.join(" ")
        )
    })
}

/// Runs apt-get (as root, or through sudo), without questions.
pub fn apt(args: &[&str]) -> Result<()> {
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut c = if root_user {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.arg("apt-get");
        c
    };
    c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    run(&mut c)
}

/// The cargo-nextest binary, installed from crates.io when missing.
pub fn nextest() -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let ok = Command::new(&cargo)
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("xtask: installing cargo-nextest");
        run(Command::new(&cargo).args(["install", "cargo-nextest", "--locked"]))?;
    }
    Ok(PathBuf::from(cargo))
}

/// tauri-driver (the WebDriver front for Tauri apps), built into
/// `target/tools` when missing. Pinned to ^2 with the rest of Tauri.
pub fn tauri_driver() -> Result<PathBuf> {
    tool("tauri-driver", "^2")
}

/// cargo-deny (licences, bans, sources, advisories), built into
/// `target/tools` when missing. Pinned to the minor version whose
/// `deny.toml` format the project's file is written for.
pub fn cargo_deny() -> Result<PathBuf> {
    tool("cargo-deny", "~0.20")
}

/// A crate's binary of the same name, `cargo install`ed into `target/tools`
/// when missing (so the machine's own cargo bin stays untouched).
fn tool(name: &str, version: &str) -> Result<PathBuf> {
    let tools = root().join("target").join("tools");
    let bin = tools.join("bin").join(name);
    if bin.exists() {
        return Ok(bin);
    }
    eprintln!("xtask: installing {name} into {}", tools.display());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(&cargo)
        .args(["install", name, "--locked", "--version", version, "--root"])
        .arg(&tools))?;
    Ok(bin)
}

/// Creates the venv `venv` and installs `requirement` from PyPI into it.
fn pip_into_venv(venv: &Path, requirement: &str) -> Result<()> {
    eprintln!("xtask: installing {requirement} into {}", venv.display());
    run(Command::new("python3").arg("-m").arg("venv").arg(venv))
        .context("while creating a Python venv (Debian: apt-get install python3-venv)")?;
    run(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        requirement,
    ]))
}

/// The schemathesis CLI, in a venv under `target/tools` (created when missing).
pub fn schemathesis() -> Result<PathBuf> {
    let venv = root().join("target").join("tools").join("venv");
    let bin = venv.join("bin").join("schemathesis");
    if bin.exists() {
        return Ok(bin);
    }
    pip_into_venv(&venv, "schemathesis>=4,<5")?;
    if !bin.exists() {
        bail!("schemathesis did not install to {}", bin.display());
    }
    Ok(bin)
}

/// django-helpdesk from PyPI, for the test with a real helpdesk
/// (tests/tests/django_helpdesk.rs): a venv of its own under the target
/// directory, the version the gateway's mapping was measured against.
/// Returns its Python.
pub fn django_helpdesk() -> Result<PathBuf> {
    let venv = root().join("target").join("tools").join("django-helpdesk");
    let python = venv.join("bin").join("python");
    let marker = venv.join("installed-2.6.1");
    if marker.exists() {
        return Ok(python);
    }
    pip_into_venv(&venv, "django-helpdesk==2.6.1")?;
    std::fs::write(&marker, b"").context("while marking the venv installed")?;
    Ok(python)
}

/// The oldest Node.js major version the front end's tools (Vite 7) run on.
const NODE_MAJOR: u32 = 20;

/// The npm command (a `.cmd` shim on Windows).
fn npm() -> Command {
    Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" })
}

/// Checks that npm is there and Node.js is recent enough.
fn check_node() -> Result<()> {
    let install = format!("install Node.js {NODE_MAJOR}+ (with npm) from https://nodejs.org");
    let npm_ok = npm()
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !npm_ok {
        bail!("npm is not on PATH: {install}");
    }
    let out = Command::new("node")
        .arg("--version")
        .output()
        .with_context(|| format!("node is not on PATH: {install}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(m) if m >= NODE_MAJOR => Ok(()),
        _ => bail!("Node.js {version:?} is too old: {install}"),
    }
}

/// Whether `ui/node_modules` is missing or older than `ui/package-lock.json`.
/// npm rewrites `node_modules/.package-lock.json` on every install, so its
/// time stamp is the install's.
fn ui_needs_install(ui: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        modified(ui.join("node_modules").join(".package-lock.json")),
        modified(ui.join("package-lock.json")),
    ) {
        (Some(installed), Some(locked)) => installed < locked,
        _ => true,
    }
}

/// Builds the front end into `ui/dist`, which src-tauri embeds at compile
/// time (so this runs before anything compiles it): `npm ci` when
/// `ui/node_modules` is missing or stale, then `npm run build`.
pub fn ui() -> Result<()> {
    check_node()?;
    let ui = root().join("ui");
    if ui_needs_install(&ui) {
        eprintln!("xtask: installing the front end's packages (npm ci)");
        run(npm()
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&ui))?;
    }
    run(npm().args(["run", "build"]).current_dir(&ui))
}

/// The Tauri CLI (the bundler), from the UI's npm packages.
pub fn tauri_cli() -> PathBuf {
    root()
        .join("ui")
        .join("node_modules")
        .join(".bin")
        .join(if cfg!(windows) { "tauri.cmd" } else { "tauri" })
}

/// Runs the front end's own tests (vitest).
pub fn ui_tests() -> Result<()> {
    run(npm().arg("test").current_dir(root().join("ui")))
}
