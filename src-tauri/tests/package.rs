//! The Linux packages as an admin ships them (`cargo xtask bundle`; the
//! test pass builds quick debug ones and names their folder in
//! `BELFRY_PACKAGES`). The .deb is installed with dpkg into a throwaway
//! root, so the test never touches the machine's own packages while the
//! installed binary still runs on the machine's libraries; apt checks that
//! its dependencies resolve here; it runs, and its removal leaves nothing
//! behind. The .rpm's metadata is read with rpm.

// Linux's desktop through the rig (docs/platforms.md says what the Windows
// pass covers instead).
#![cfg(target_os = "linux")]
// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_tests::files_under;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The one file ending in `.ext` under the packages folder's `kind/`.
fn package(kind: &str, ext: &str) -> PathBuf {
    let dir = std::env::var_os("BELFRY_PACKAGES")
        .map(PathBuf::from)
        .expect("needs the packages: run with `cargo xtask test`");
    let found: Vec<PathBuf> = std::fs::read_dir(dir.join(kind))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    assert_eq!(found.len(), 1, "one .{ext} expected: {found:?}");
    found.into_iter().next().unwrap()
}

/// Runs a command that must succeed; its standard output.
fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A dpkg database of its own under `root`.
fn dpkg_root(root: &Path) -> impl Fn(&[&str]) -> String {
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for f in ["var/lib/dpkg/status", "var/lib/dpkg/available"] {
        std::fs::write(root.join(f), "").unwrap();
    }
    let root = root.to_owned();
    move |args: &[&str]| {
        output(
            Command::new("dpkg")
                .arg(format!("--root={}", root.display()))
                .arg(format!("--log={}", root.join("var/log/dpkg.log").display()))
                // The libraries it depends on are the host's, outside
                // this root: apt checks them below instead.
                .arg("--force-depends")
                .args(args),
        )
    }
}

#[test]
fn the_deb_declares_what_it_needs_installs_runs_and_uninstalls_cleanly() {
    let deb = package("deb", "deb");
    let field = |name: &str| {
        output(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg(name))
            .trim()
            .to_owned()
    };
    assert_eq!(field("Package"), "belfry");
    assert_eq!(field("Version"), VERSION, "the workspace's version");
    assert_eq!(field("Section"), "net");
    assert_eq!(field("Maintainer"), "The Belfry developers");
    assert!(field("Description").contains("helpdesk"));
    let depends = field("Depends");
    for lib in [
        "libwebkit2gtk-4.1-0",
        "libgtk-3-0",
        "libayatana-appindicator3-1",
        "libasound2",
        "libdbus-1-3",
    ] {
        assert!(depends.contains(lib), "Depends lacks {lib}: {depends}");
    }
    // Every dependency resolves on this Debian machine.
    let plan = output(Command::new("apt-get").args(["install", "-s"]).arg(&deb));
    assert!(plan.contains("Inst belfry"), "{plan}");

    let root = tempfile::tempdir().unwrap();
    let dpkg = dpkg_root(root.path());
    dpkg(&["--install", deb.to_str().unwrap()]);
    assert!(dpkg(&["--status", "belfry"]).contains("Status: install ok installed"));
    let bin = root.path().join("usr/bin/belfry");
    // What `belfry --headless` hands over to, beside it.
    assert!(root.path().join("usr/bin/belfry-headless").is_file());
    let desktop =
        std::fs::read_to_string(root.path().join("usr/share/applications/Belfry.desktop")).unwrap();
    for line in [
        "Exec=belfry",
        "Icon=belfry",
        "Name=Belfry",
        "Categories=Office;",
    ] {
        assert!(desktop.lines().any(|l| l == line), "{line}:\n{desktop}");
    }
    for size in [
        "16x16", "24x24", "32x32", "48x48", "64x64", "128x128", "256x256", "512x512",
    ] {
        let icon = root
            .path()
            .join(format!("usr/share/icons/hicolor/{size}/apps/belfry.png"));
        assert!(icon.exists(), "no {size} icon");
    }

    // The installed binary runs.
    let version = output(Command::new(&bin).arg("--version"));
    assert_eq!(version.trim(), format!("belfry {VERSION}"));
    let home = tempfile::tempdir().unwrap();
    let with_home = |cmd: &mut Command| {
        cmd.env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CACHE_HOME", home.path().join("cache"));
    };
    let mut demo = Command::new(&bin);
    demo.args(["--headless", "--demo", "--verbose"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    with_home(&mut demo);
    let mut child = demo.spawn().unwrap();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&log);
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let start = Instant::now();
    let logged = |needle: &str| log.lock().unwrap().iter().any(|l| l.contains(needle));
    while !(logged("Connected") && logged("notification")) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the installed demo did not connect and deliver:\n{}",
            log.lock().unwrap().join("\n")
        );
        assert!(child.try_wait().unwrap().is_none(), "the demo exited");
        std::thread::sleep(Duration::from_millis(100));
    }
    output(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");

    // Start at login names the installed binary.
    let mut autostart = Command::new(&bin);
    autostart.args(["--headless", "--start-at-login", "on"]);
    with_home(&mut autostart);
    output(&mut autostart);
    let entry = files_under(&home.path().join(".config/autostart"));
    assert_eq!(entry.len(), 1, "{entry:?}");
    let text = std::fs::read_to_string(&entry[0]).unwrap();
    assert!(text.contains(bin.to_str().unwrap()), "{text}");

    // Removed, it leaves no file of its own behind.
    dpkg(&["--remove", "belfry"]);
    let left = files_under(&root.path().join("usr"));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn the_rpm_names_the_app_its_version_licence_and_dependencies() {
    let rpm = package("rpm", "rpm");
    let info = output(
        Command::new("rpm")
            .args([
                "-qp",
                "--queryformat",
                "%{NAME}|%{VERSION}|%{LICENSE}|%{URL}|%{SUMMARY}",
            ])
            .arg(&rpm),
    );
    let fields: Vec<&str> = info.split('|').collect();
    assert_eq!(
        fields[..4],
        [
            "belfry",
            VERSION,
            "MIT OR Apache-2.0",
            "https://example.invalid/belfry"
        ],
        "{info}"
    );
    assert!(fields[4].contains("helpdesk"), "{info}");
    let requires = output(Command::new("rpm").arg("-qpR").arg(&rpm));
    for need in [
        "libwebkit2gtk-4.1.so.0",
        "libgtk-3.so.0",
        "libayatana-appindicator-gtk3",
        "alsa-lib",
        "dbus-libs",
    ] {
        assert!(requires.contains(need), "requires lacks {need}: {requires}");
    }
    let files = output(Command::new("rpm").arg("-qpl").arg(&rpm));
    for path in [
        "/usr/bin/belfry",
        "/usr/bin/belfry-headless",
        "/usr/share/applications/Belfry.desktop",
        "/usr/share/icons/hicolor/512x512/apps/belfry.png",
    ] {
        assert!(files.lines().any(|l| l == path), "no {path}: {files}");
    }
}
