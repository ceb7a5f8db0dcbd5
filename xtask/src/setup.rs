//! Installs or checks what the commands need: Debian packages, cargo-nextest,
//! schemathesis (PyPI, in a venv under target/).

use crate::{root, run};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
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
];

/// Checks that cargo is usable (the demo needs nothing else yet).
pub fn rust_only() -> Result<()> {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .arg("--version")
        .output()
        .context("cargo is not on PATH: install Rust from https://rustup.rs")?;
    Ok(())
}

/// Where the demo keeps its data: `target/belfry-data` (never the user's real profile).
pub fn data_dir() -> PathBuf {
    root().join("target").join("belfry-data")
}

fn missing_packages() -> Vec<&'static str> {
    PACKAGES
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
    if !std::path::Path::new("/etc/debian_version").exists() {
        eprintln!(
            "xtask: not a Debian-family system; make sure these (or your distribution's equivalents) are installed:\n  {}",
            PACKAGES.join(" ")
        );
        return Ok(());
    }
    let missing = missing_packages();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| {
        let mut c = if root_user {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    run(&mut install).with_context(|| {
        format!(
            "while installing: sudo apt-get install {}",
            missing.join(" ")
        )
    })
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

/// The schemathesis CLI, in a venv under `target/tools` (created when missing).
pub fn schemathesis() -> Result<PathBuf> {
    let venv = root().join("target").join("tools").join("venv");
    let bin = venv.join("bin").join("schemathesis");
    if bin.exists() {
        return Ok(bin);
    }
    eprintln!("xtask: installing schemathesis into {}", venv.display());
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))
        .context("while creating a Python venv (Debian: apt-get install python3-venv)")?;
    run(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "schemathesis>=4,<5",
    ]))?;
    if !bin.exists() {
        bail!("schemathesis did not install to {}", bin.display());
    }
    Ok(bin)
}
