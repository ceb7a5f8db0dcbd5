//! The desktop app itself on Windows, as the Windows pass runs it under
//! Wine (`cargo xtask windows`, which gives Wine a private X display for
//! the app's hidden windows and tray). Each test names the Windows
//! behaviour it covers. WebView2 is not there under Wine, so the inbox
//! window cannot open (`docs/platforms.md`); these tests need none.

// Windows only: on Linux the same behaviour is tests/tray.rs's (the
// single instance over the session bus).
#![cfg(windows)]
// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `belfry.exe` and what it logged.
struct App {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl App {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_belfry"))
            .args(args)
            .arg("--verbose")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("belfry.exe starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, log }
    }

    fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    fn dump(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits up to `limit` for `needle` in the log; fails with the log.
    fn wait_for(&self, needle: &str, limit: Duration) {
        let start = Instant::now();
        while !self.logged(needle) {
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {needle:?}; the app's log:\n{}",
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `belfry.exe --autostarted`, up and not signed in. Wine's comctl32 now
/// and then refuses tao's `SetWindowSubclass` on the event loop's hidden
/// window as the app starts (it panicked so in about one pass of three
/// here; a Windows machine has the real comctl32): such a start is tried
/// again, at most twice. Any other way of not starting fails the test.
fn started_at_login() -> App {
    for _ in 0..3 {
        let mut app = App::start(&["--autostarted"]);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if app.logged("not signed in yet") {
                return app;
            }
            if app.child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The log thread may still be reading the last lines.
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            app.logged("subclass_result"),
            "belfry.exe did not start; its log:\n{}",
            app.dump()
        );
        eprintln!("Wine refused SetWindowSubclass at start; trying again");
    }
    panic!("Wine refused SetWindowSubclass three times in a row");
}

/// One app per user session (tauri-plugin-single-instance: a named mutex
/// and a message window): a second `belfry.exe` hands its launch to the
/// running one, which brings its inbox forward, and exits at once with
/// success; the first goes on running.
#[test]
fn a_second_launch_goes_to_the_running_app_and_exits() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "Wine needs the pass's X display for the app's windows: run with `cargo xtask windows`"
    );
    // At login: the tray alone, no window (WebView2 is not needed).
    let mut first = started_at_login();

    let mut second = Command::new(env!("CARGO_BIN_EXE_belfry"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("a second belfry.exe starts");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = second.kill();
            panic!(
                "the second launch did not exit; the first's log:\n{}",
                first.dump()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "the second launch exits with {status}");
    first.wait_for("Belfry was launched again", Duration::from_secs(30));
    assert!(
        first.child.try_wait().unwrap().is_none(),
        "the first app goes on:\n{}",
        first.dump()
    );
}
