//! `cargo xtask`: the project's commands.
//!
//! - `demo`: runs Belfry's demo (for now the reference instance with its
//!   event generator; the desktop app joins it in a later step).
//! - `test`: installs what the suite needs and runs every test inside the
//!   Linux test rig: a temp HOME, a private D-Bus session, Xvfb, a
//!   notification daemon, an unlocked keyring and the ALSA null device.
//! - `lint`: rustfmt and clippy, as CI runs them.
//! - `openapi`: rewrites `docs/openapi.json` from the routes.

mod rig;
mod setup;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "usage: cargo xtask <demo|test|lint|openapi> [args]
  demo [--listen ADDR]    run the demo instance (sign in as demo / belfry-demo)
  test [nextest args]     install what is missing, then run every test in the rig
  lint                    cargo fmt --check and clippy -D warnings
  openapi                 regenerate docs/openapi.json";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match cmd.as_str() {
        "demo" => demo(&rest),
        "test" => test(&rest),
        "lint" => lint(),
        "openapi" => openapi(),
        "rig-inner" => rig::inner(&rest),
        _ => {
            eprintln!("{USAGE}");
            bail!("unknown command {cmd:?}")
        }
    }
}

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs a command to completion; fails on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("while starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

fn demo(args: &[String]) -> Result<()> {
    setup::rust_only()?;
    let data = setup::data_dir().join("demo");
    std::fs::create_dir_all(&data).with_context(|| format!("while creating {}", data.display()))?;
    let listen = args
        .windows(2)
        .find(|w| w[0] == "--listen")
        .map_or("127.0.0.1:8700", |w| w[1].as_str())
        .to_owned();
    eprintln!(
        "Belfry demo: the reference instance at http://{listen} with a demo event every few seconds.\n\
         Accounts: demo / belfry-demo (operator), admin / belfry-admin (admin).\n\
         Try: curl -s -XPOST http://{listen}/api/v1/auth/login -H 'content-type: application/json' \\\n\
         \x20      -d '{{\"login\":\"demo\",\"password\":\"belfry-demo\"}}'\n\
         The API is described at http://{listen}/api-docs. Ctrl-C stops it."
    );
    run(cargo()
        .args([
            "run",
            "--release",
            "-p",
            "belfry-instance",
            "--",
            "serve",
            "--demo",
        ])
        .args(["--listen", &listen])
        .arg("--db")
        .arg(data.join("instance.db")))
}

fn test(args: &[String]) -> Result<()> {
    setup::system_packages()?;
    let nextest = setup::nextest()?;
    let schemathesis = setup::schemathesis()?;
    // Build first, outside the rig, so compile output is not mixed into it.
    run(cargo().args(["nextest", "run", "--workspace", "--no-run"]))?;
    let mut inner = vec![
        nextest.to_string_lossy().into_owned(),
        "nextest".into(),
        "run".into(),
        "--workspace".into(),
    ];
    if std::env::var_os("CI").is_some() {
        inner.extend(["--profile".into(), "ci".into()]);
    }
    inner.extend(args.iter().cloned());
    rig::run(&inner, &[("BELFRY_SCHEMATHESIS", schemathesis.as_os_str())])
}

fn lint() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

fn openapi() -> Result<()> {
    let out = cargo()
        .args(["run", "--quiet", "-p", "belfry-instance", "--", "openapi"])
        .output()
        .context("while running belfry-instance openapi")?;
    if !out.status.success() {
        bail!(
            "belfry-instance openapi failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = root().join("docs/openapi.json");
    std::fs::write(&path, &out.stdout)
        .with_context(|| format!("while writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
