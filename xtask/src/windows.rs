//! The Windows pass (`cargo xtask windows`, and the last part of
//! `cargo xtask test`): the workspace built for `x86_64-pc-windows-gnu` from
//! Debian's packages alone, linted, and its tests run under Wine.
//!
//! One build serves all three: `cargo test --no-run` with clippy as the
//! workspace's compiler wrapper type-checks and lints every Belfry crate
//! (`-D warnings`) while it compiles the test binaries, so the standard
//! library (built from source with `-Zbuild-std`) and the dependencies are
//! compiled once. The same command without `--no-run`, with Wine as the
//! target's runner, then runs the tests.
//!
//! Why Debian's toolchain: rustup's prebuilt standard library for other
//! targets cannot be counted on from a machine that reaches only the package
//! registries, but Debian ships a rustc (`rustc-web`) with the library's
//! source (`rust-web-src`), from which `-Zbuild-std` builds std for Windows;
//! MinGW compiles the C parts (SQLite, ring) and links.

use crate::{root, run, setup};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target: MinGW's, which compiles the same `cfg(windows)` code as the
/// MSVC target the release builds.
pub const TARGET: &str = "x86_64-pc-windows-gnu";

/// Debian's packages for the pass: the toolchain with the standard library's
/// source and clippy, MinGW, and Wine.
const PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "rust-web-clippy",
    "gcc-mingw-w64-x86-64",
    "wine",
    "wine64",
    // The display Wine draws the desktop app's hidden windows on.
    "xvfb",
];

/// Debian's toolchain (`rustc-web` installs here).
const RUSTC: &str = "/usr/bin/rustc";
const RUSTDOC: &str = "/usr/bin/rustdoc";
const CARGO: &str = "/usr/bin/cargo";
const CLIPPY_DRIVER: &str = "/usr/bin/clippy-driver";
/// Wine's 64-bit loader (package wine64).
const WINE: &str = "/usr/lib/wine/wine64";
const WINESERVER: &str = "/usr/lib/wine/wineserver";

/// The crates that are not built for Windows, and why: the bare window is
/// a floor of a Linux benchmark, and xtask runs on the build machine.
const EXCLUDED: &[&str] = &["belfry-bare-window", "xtask"];

/// The oldest rustc the workspace builds with (its `rust-version`).
const RUST_VERSION: (u32, u32) = (1, 88);

/// Runs the pass: installs what it needs, builds and lints, then tests.
pub fn pass(test_args: &[String]) -> Result<()> {
    toolchain()?;
    let started = std::time::Instant::now();
    let dlls = stub_dll()?;
    eprintln!("xtask: windows: building and linting the workspace for {TARGET}");
    run(cargo_test(&dlls).arg("--no-run"))
        .context("the Windows build or its lint (clippy -D warnings) failed")?;
    let built = started.elapsed();
    let prefix = wine_prefix()?;
    // ALSA's own configuration with the default device made the null one.
    std::fs::write(
        dir().join("asound.conf"),
        "</usr/share/alsa/alsa.conf>\npcm.!default { type null }\nctl.!default { type hw card 0 }\n",
    )
    .context("while writing the Wine pass's ALSA configuration")?;
    no_crash_dialogs(&prefix)?;
    // The desktop app's own test (src-tauri/tests/windows_app.rs) runs
    // belfry.exe, whose hidden windows and tray need a display under
    // Wine: a private Xvfb, never the build machine's desktop.
    let (display, mut xvfb) = crate::rig::xvfb()?;
    eprintln!("xtask: windows: running the tests under Wine (DISPLAY={display})");
    let counts = run_counting(
        cargo_test(&dlls)
            .env("WINEPREFIX", &prefix)
            .env("DISPLAY", &display)
            .args(test_args),
    );
    // Wine's own processes the app started (its desktop, the tray's
    // host) go before their display does.
    let _ = Command::new(WINESERVER)
        .arg("-k")
        .env("WINEPREFIX", &prefix)
        .status();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    let counts = counts?;
    eprintln!(
        "xtask: windows: {} passed, {} failed, {} ignored in {} test binaries \
         (built and linted in {} s, {} s in all)",
        counts.passed,
        counts.failed,
        counts.ignored,
        counts.binaries,
        built.as_secs(),
        started.elapsed().as_secs()
    );
    if counts.failed > 0 || counts.binaries == 0 {
        bail!("the Windows tests failed");
    }
    Ok(())
}

/// Debian's rustc, new enough, with its library source; MinGW; Wine.
fn toolchain() -> Result<()> {
    setup::packages(PACKAGES)?;
    if version_of(RUSTC)? < RUST_VERSION {
        // An older rustc-web from stale package lists: the lists are read
        // again and the newer one installed.
        eprintln!("xtask: windows: Debian's rustc is older than the workspace needs; upgrading");
        setup::apt(&["update", "-qq"])?;
        let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
        install.extend(PACKAGES);
        setup::apt(&install)?;
        let now = version_of(RUSTC)?;
        if now < RUST_VERSION {
            bail!(
                "Debian's rustc-web is {}.{}; the workspace needs {}.{} (Debian 12's bookworm-updates has it)",
                now.0,
                now.1,
                RUST_VERSION.0,
                RUST_VERSION.1
            );
        }
    }
    Ok(())
}

/// `rustc --version` as (major, minor).
fn version_of(rustc: &str) -> Result<(u32, u32)> {
    let out = Command::new(rustc)
        .arg("--version")
        .output()
        .with_context(|| format!("while running {rustc} --version"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    Ok((parts.next().unwrap_or(0), parts.next().unwrap_or(0)))
}

/// Where the pass keeps its build, the stub DLL and the Wine prefix.
fn dir() -> PathBuf {
    root().join("target").join("windows")
}

/// `cargo test` for Windows with Debian's toolchain, clippy as the
/// workspace's wrapper (deny warnings) and Wine as the runner. The
/// environment is the same for the build and the run, so the run builds
/// nothing again.
fn cargo_test(dlls: &Path) -> Command {
    let mut c = Command::new(CARGO);
    c.current_dir(root())
        .env("RUSTC", RUSTC)
        .env("RUSTDOC", RUSTDOC)
        // -Zbuild-std on a stable toolchain.
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", dir().join("build"))
        .env("RUSTC_WORKSPACE_WRAPPER", CLIPPY_DRIVER)
        // What `cargo clippy -- -D warnings` hands its driver.
        .env(
            "CLIPPY_ARGS",
            "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
        )
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER", WINE)
        .env("WINEARCH", "win64")
        .env("WINEDEBUG", "-all")
        .env("WINEPATH", wine_path(dlls))
        // Sound goes WASAPI → Wine → ALSA's null device (no sound card
        // here); the audio tests take that for the rig's device.
        .env("ALSA_CONFIG_PATH", dir().join("asound.conf"))
        .env("BELFRY_RIG", "1")
        // A test of the OS parts must not find the build machine's desktop.
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .args([
            "test",
            "-Zbuild-std=std,panic_unwind,test",
            "--target",
            TARGET,
            "--workspace",
            "--all-targets",
            "--no-fail-fast",
        ]);
    for krate in EXCLUDED {
        c.args(["--exclude", krate]);
    }
    c
}

/// The folders Wine looks in for DLLs: the stub's and MinGW's runtime's.
fn wine_path(dlls: &Path) -> String {
    [
        dlls.to_path_buf(),
        // WebView2Loader.dll, which the build puts beside the app (not
        // beside the test binaries in deps/).
        dir().join("build").join(TARGET).join("debug"),
        PathBuf::from("/usr/lib/gcc/x86_64-w64-mingw32/12-win32"),
        PathBuf::from("/usr/x86_64-w64-mingw32/lib"),
    ]
    .iter()
    .map(|p| format!("Z:{}", p.display().to_string().replace('/', "\\")))
    .collect::<Vec<_>>()
    .join(";")
}

/// Builds `bcryptprimitives.dll` (see `xtask/wine/bcryptprimitives.c`)
/// with MinGW when it is missing or older than its source; returns its
/// folder.
fn stub_dll() -> Result<PathBuf> {
    let source = root().join("xtask").join("wine").join("bcryptprimitives.c");
    let out_dir = dir().join("dlls");
    let dll = out_dir.join("bcryptprimitives.dll");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&dll).is_some_and(|built| modified(&source).is_some_and(|src| built >= src)) {
        return Ok(out_dir);
    }
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("while creating {}", out_dir.display()))?;
    run(Command::new("x86_64-w64-mingw32-gcc")
        .args(["-shared", "-O2", "-o"])
        .arg(&dll)
        .arg(&source)
        .arg("-ladvapi32"))
    .context("while building the bcryptprimitives.dll stub")?;
    Ok(out_dir)
}

/// A 64-bit Wine prefix of the pass's own (made once: about half a minute).
fn wine_prefix() -> Result<PathBuf> {
    let prefix = dir().join("wine-prefix");
    if prefix.join("system.reg").exists() {
        return Ok(prefix);
    }
    eprintln!(
        "xtask: windows: creating a Wine prefix in {}",
        prefix.display()
    );
    run(Command::new(WINE)
        .args(["wineboot", "--init"])
        .env("WINEPREFIX", &prefix)
        .env("WINEARCH", "win64")
        .env("WINEDEBUG", "-all")
        .env_remove("DISPLAY"))
    .context("while creating the Wine prefix")?;
    Ok(prefix)
}

/// With a display, Wine would answer a crashed test binary with a dialog
/// and wait for a click that never comes: it says so on stderr instead.
fn no_crash_dialogs(prefix: &Path) -> Result<()> {
    run(Command::new(WINE)
        .args([
            "reg",
            "add",
            "HKCU\\Software\\Wine\\WineDbg",
            "/v",
            "ShowCrashDialog",
            "/t",
            "REG_DWORD",
            "/d",
            "0",
            "/f",
        ])
        .env("WINEPREFIX", prefix)
        .env("WINEARCH", "win64")
        .env("WINEDEBUG", "-all")
        .env_remove("DISPLAY")
        .stdout(Stdio::null()))
    .context("while turning Wine's crash dialog off")
}

/// Test counts summed over the binaries' `test result:` lines.
#[derive(Debug, Default)]
struct Counts {
    binaries: u32,
    passed: u32,
    failed: u32,
    ignored: u32,
}

/// Runs the tests, passing their output through, and counts what they say.
fn run_counting(cmd: &mut Command) -> Result<Counts> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("while starting {cmd:?}"))?;
    let mut counts = Counts::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.context("while reading the tests' output")?;
            eprintln!("{line}");
            if let Some(result) = line.strip_prefix("test result: ") {
                counts.binaries += 1;
                counts.passed += count(result, "passed");
                counts.failed += count(result, "failed");
                counts.ignored += count(result, "ignored");
            }
        }
    }
    let status = child.wait().context("while waiting for the tests")?;
    if !status.success() && counts.failed == 0 {
        bail!("the Windows tests did not run to the end: {status}");
    }
    Ok(counts)
}

/// The number before `what` in a `test result:` line ("ok. 5 passed; 0 failed; …").
fn count(result: &str, what: &str) -> u32 {
    result
        .split(';')
        .filter_map(|part| part.trim().rsplit_once(' '))
        .find(|(_, name)| *name == what)
        .and_then(|(n, _)| n.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_come_from_the_result_line() {
        let line =
            "ok. 58 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 1.20s";
        assert_eq!(count(line, "passed"), 58);
        assert_eq!(count(line, "failed"), 0);
        assert_eq!(count(line, "ignored"), 2);
        let failed = "FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(count(failed, "passed"), 3);
        assert_eq!(count(failed, "failed"), 1);
    }
}
