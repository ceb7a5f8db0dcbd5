//! The tray app's inbox in the real webview, driven over WebDriver
//! (tauri-driver in front of WebKitWebDriver) inside the rig's Xvfb, against
//! a reference instance on loopback. Run through `cargo xtask test`, which
//! installs tauri-driver and provides the display and session bus.

// Linux's desktop through the rig (docs/platforms.md says what the Windows
// pass covers instead).
#![cfg(target_os = "linux")]
// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_proto::inbox::UnreadCount;
use belfry_proto::settings::{Policy, SettingsDocument, TypePrefs};
use belfry_tests::{OPERATOR, TestInstance, recording_browser};
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn belfry_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_belfry"))
}

/// tauri-driver on a port of its own, with the app's environment.
struct Driver {
    running: std::sync::Mutex<Running>,
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

/// One tauri-driver process and the port it listens on.
struct Running {
    child: Child,
    port: u16,
}

impl Driver {
    /// The app signs in as the operator with the password from the
    /// environment (as a managed deployment might), in the system theme.
    fn start(instance: &str) -> Self {
        Self::start_with(
            &[("BELFRY_PASSWORD", OPERATOR.1)],
            &["--instance", instance, "--login", OPERATOR.0],
        )
    }

    fn start_with(env: &[(&str, &str)], args: &[&str]) -> Self {
        let home = tempfile::tempdir().unwrap();
        // The rig's audio setup (ALSA's null device) lives in its HOME.
        if let Some(rig_home) = std::env::var_os("HOME") {
            let _ = std::fs::copy(
                PathBuf::from(rig_home).join(".asoundrc"),
                home.path().join(".asoundrc"),
            );
        }
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let running = spawn_driver(home.path(), &env);
        Self {
            running: std::sync::Mutex::new(running),
            home,
            env,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    async fn app(&self) -> Client {
        // fantoccini's connector asks rustls for the process-wide provider;
        // the workspace builds rustls with ring only.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({
                "application": belfry_binary(),
                "args": self.args,
            }),
        );
        let start = Instant::now();
        let mut spawned = Instant::now();
        loop {
            let url = format!("http://127.0.0.1:{}", self.lock().port);
            // WebKitWebDriver waits for ever for an app that died at start:
            // a bounded wait turns that into this test's failure.
            let mut builder = ClientBuilder::rustls().unwrap();
            builder.capabilities(caps.clone());
            let connect = builder.connect(&url);
            let Ok(connected) = tokio::time::timeout(Duration::from_secs(60), connect).await else {
                panic!(
                    "no WebDriver session within 60 s: did the app start? {}",
                    self.log()
                );
            };
            let e = match connected {
                Ok(c) => return c,
                Err(e) => e,
            };
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "no WebDriver session: {e}\ntauri-driver said: {}\napp log: {}",
                self.driver_output(),
                self.log()
            );
            // tauri-driver exits when its port was taken between choosing
            // it and binding it (another test's connection), and its
            // WebKitWebDriver fails the same way on the native port: a
            // driver that is gone or still refuses after a while is
            // started again on fresh ports.
            let exited = self.lock().child.try_wait().ok().flatten().is_some();
            if exited || spawned.elapsed() > Duration::from_secs(8) {
                let mut running = self.lock();
                let _ = running.child.kill();
                let _ = running.child.wait();
                kill_all_with_home(self.home.path());
                *running = spawn_driver(self.home.path(), &self.env);
                spawned = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What tauri-driver and WebKitWebDriver printed.
    fn driver_output(&self) -> String {
        std::fs::read_to_string(self.home.path().join("driver.log")).unwrap_or_default()
    }
}

/// Starts tauri-driver on two ports free at the time (both held while
/// choosing, so they differ), its output in `home`/driver.log.
fn spawn_driver(home: &std::path::Path, env: &[(String, String)]) -> Running {
    let driver = std::env::var_os("BELFRY_TAURI_DRIVER")
        .expect("needs tauri-driver and the rig's display: run with `cargo xtask test`");
    let (port, native) = {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        (
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        )
    };
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join("driver.log"))
        .unwrap();
    let err = out.try_clone().unwrap();
    let child = app_env(&mut Command::new(driver), home)
        .args(["--port", &port.to_string()])
        .args(["--native-port", &native.to_string()])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap();
    Running { child, port }
}

/// Kills every process whose HOME is `home`: the app and WebKitWebDriver
/// that a killed tauri-driver leaves behind.
fn kill_all_with_home(home: &std::path::Path) {
    let home = format!("HOME={}", home.display());
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let dir = entry.path();
        let ours = std::fs::read(dir.join("environ"))
            .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == home.as_bytes()));
        if ours
            && let Some(pid) = entry.file_name().to_str()
            && pid.parse::<u32>().is_ok()
        {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
    }
}

/// The app's directories under `home`, and no password from the test's own
/// environment.
fn app_env<'a>(cmd: &'a mut Command, home: &std::path::Path) -> &'a mut Command {
    // HOME too: start at login writes ~/.config/autostart there.
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env_remove("BELFRY_PASSWORD")
}

impl Driver {
    /// `program` with the same environment the app under test has.
    fn command(&self, program: &std::path::Path) -> Command {
        let mut cmd = Command::new(program);
        app_env(&mut cmd, self.home.path()).env("BELFRY_PASSWORD", OPERATOR.1);
        cmd
    }

    /// Everything the app has logged so far.
    fn log(&self) -> String {
        let dir = self.home.path().join("data/belfry/logs");
        let mut all = String::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        all
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = running.child.kill();
        let _ = running.child.wait();
        // Killing tauri-driver leaves the app it started running when the
        // test did not close its session (it failed, or forgot): that app
        // would hold the single-instance name and turn the next test's
        // app away. Its HOME is this driver's.
        kill_all_with_home(self.home.path());
    }
}

/// The text of every element matching `css`, read in one script so a
/// re-render between finding and reading cannot interleave.
async fn texts(c: &Client, css: &str) -> Vec<String> {
    let v = c
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)",
            vec![css.into()],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

/// Clicks `css` from inside the page. The Settings panels re-render after
/// every edit and WebKitWebDriver sometimes reports their controls not
/// interactable mid-layout; the page's own click runs the same handlers.
async fn press(c: &Client, css: &str) {
    present(c, css).await;
    let done = c
        .execute(
            "const e = document.querySelector(arguments[0]); if (!e) return false; \
             e.scrollIntoView({block: 'center'}); e.click(); return true;",
            vec![css.into()],
        )
        .await
        .unwrap();
    assert_eq!(done, serde_json::json!(true), "no {css}");
}

/// Waits until an element matching `css` is on the page.
async fn present(c: &Client, css: &str) {
    until(css, async || texts(c, css).await.len(), |n| *n > 0).await;
}

/// Clicks the first element matching `css` as the user would; the list may
/// re-render under the pointer (a live event), so a stale element is found
/// again.
async fn click(c: &Client, css: &str) {
    let mut last = None;
    for _ in 0..10 {
        match c.find(Locator::Css(css)).await {
            Ok(e) => match e.click().await {
                Ok(()) => return,
                Err(err) => last = Some(err),
            },
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not click {css}: {last:?}");
}

/// Polls the page until `cond` holds on what `read` returns.
async fn until<T: std::fmt::Debug>(
    what: &str,
    mut read: impl AsyncFnMut() -> T,
    cond: impl Fn(&T) -> bool,
) -> T {
    let start = Instant::now();
    loop {
        let v = read().await;
        if cond(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}: last {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn server_unread(op: &belfry_tests::Api) -> u64 {
    op.get::<UnreadCount>("/api/v1/inbox/unread-count")
        .await
        .unread
}

#[tokio::test]
async fn the_inbox_shows_events_live_marks_read_and_shows_hostile_text_as_text() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let operator = t.operator().await;
    let driver = Driver::start(t.url());
    let c = driver.app().await;
    until(
        "connected",
        async || texts(&c, "[data-testid=status]").await,
        |s| s.first().is_some_and(|s| s == "Connected"),
    )
    .await;

    // Live, newest first, and the unread count matches the server's.
    for i in 1..=3 {
        admin
            .emit(
                "ticket_created",
                &format!("Ticket {i}"),
                "from the webview test",
                "/tickets/1",
            )
            .await;
    }
    let titles = until(
        "three rows",
        async || texts(&c, ".item__title").await,
        |t| t.len() == 3,
    )
    .await;
    assert_eq!(titles, ["Ticket 3", "Ticket 2", "Ticket 1"]);
    assert_eq!(server_unread(&operator).await, 3);
    until(
        "the count",
        async || texts(&c, "[data-testid=unread-count]").await,
        |t| t.first().is_some_and(|s| s == "3"),
    )
    .await;

    // Hostile text is shown as typed and runs nothing.
    let payload =
        "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";
    admin
        .emit(
            "ticket_created",
            payload,
            "<b>bold?</b> invoice\u{202E}fdp.exe\u{200B}",
            "/tickets/1",
        )
        .await;
    let titles = until(
        "the hostile row",
        async || texts(&c, ".item__title").await,
        |t| t.len() == 4,
    )
    .await;
    assert_eq!(titles[0], payload);
    // A bidi override would show "invoiceexe.pdf": removed, with the
    // zero-width space.
    let bodies = texts(&c, ".item__body").await;
    assert_eq!(bodies[0], "<b>bold?</b> invoicefdp.exe");
    assert!(
        c.find_all(Locator::Css(".inbox img, .inbox script, .inbox b"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_ne!(c.title().await.unwrap(), "pwned");

    // Mark one read in the window: the server follows.
    click(&c, ".item__read").await;
    until(
        "the server read one",
        async || server_unread(&operator).await,
        |n| *n == 3,
    )
    .await;

    // A read made elsewhere (on the server) clears it in the window.
    let unread_rows = until(
        "the window shows the read",
        async || texts(&c, ".item--unread .item__title").await,
        |t| t.len() == 3,
    )
    .await;
    let other = admin
        .emit("ticket_created", "Read on the web", "x", "/tickets/1")
        .await;
    until(
        "the new row",
        async || texts(&c, ".item--unread .item__title").await,
        |t| t.len() == unread_rows.len() + 1,
    )
    .await;
    operator
        .send::<serde_json::Value>(
            Method::POST,
            "/api/v1/inbox/read",
            &serde_json::json!({ "ids": [other.id] }),
        )
        .await;
    until(
        "cleared in the window",
        async || texts(&c, ".item--unread .item__title").await,
        |t| !t.iter().any(|s| s == "Read on the web"),
    )
    .await;

    // Mark all read: nothing unread anywhere.
    click(&c, "[data-testid=mark-all]").await;
    until(
        "all read on the server",
        async || server_unread(&operator).await,
        |n| *n == 0,
    )
    .await;
    until(
        "no unread rows",
        async || texts(&c, ".item--unread").await,
        |t| t.is_empty(),
    )
    .await;

    screenshot(&c, "inbox.png").await;
    accessible(&c, "the inbox").await;

    // Settings: start at login writes the desktop's login item and removes it.
    click(&c, "[data-testid=open-settings]").await;
    // Loaded: the version line is filled in from the shell.
    until(
        "Settings loaded",
        async || texts(&c, ".settings__version").await,
        |t| t.first().is_some_and(|v| !v.is_empty()),
    )
    .await;
    let entry = driver.home.path().join(".config/autostart/belfry.desktop");
    assert!(!entry.exists());
    click(&c, "input[name=start-at-login]").await;
    let text = until(
        "the login item",
        async || std::fs::read_to_string(&entry).unwrap_or_default(),
        |t| !t.is_empty(),
    )
    .await;
    assert!(text.contains("--autostarted"), "{text}");
    click(&c, "input[name=start-at-login]").await;
    until("no login item", async || entry.exists(), |e| !e).await;
    click(&c, "[data-testid=settings-back]").await;
    until(
        "the inbox again",
        async || texts(&c, ".item__title").await,
        |t| !t.is_empty(),
    )
    .await;

    // Launching Belfry again (from the menu, or autostart racing the user)
    // starts no second app: the first one brings its inbox forward.
    let mut second = driver
        .command(&belfry_binary())
        .args(driver.args.iter())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let launched = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if launched.elapsed() > Duration::from_secs(20) {
            let _ = second.kill();
            panic!("the second launch is still running: a second app started");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
    until(
        "the first app heard the second launch",
        async || driver.log(),
        |log| log.contains("launched again"),
    )
    .await;
    assert_eq!(c.windows().await.unwrap().len(), 1, "one inbox window");
    c.close().await.unwrap();
}

/// Saves what the window shows under target/screenshots (the README's
/// pictures are copied from there).
async fn screenshot(c: &Client, name: &str) {
    // Let WebKit paint the last change before the capture.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // WebKitWebDriver's capture waits for the page's next rendering
    // update, and a page that is not composited (the app turns WebKit's
    // hardware acceleration off) and has finished painting sends none. A
    // repaint no one can see (an opacity of 0.9999 rounds to the same
    // pixels), due just after the capture starts waiting, makes one.
    c.execute(
        "setTimeout(() => { const s = document.body.style; \
         s.opacity = s.opacity === '0.9999' ? '' : '0.9999'; }, 50)",
        vec![],
    )
    .await
    .unwrap();
    let shot = c.screenshot().await.unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), shot).unwrap();
}

/// Shows the window in `theme` ("light" or "dark") as the theme code does.
async fn show_theme(c: &Client, theme: &str) {
    c.execute(
        "const r = document.documentElement; \
         r.dataset.theme = arguments[0]; r.style.colorScheme = arguments[0];",
        vec![theme.into()],
    )
    .await
    .unwrap();
}

/// Runs axe-core (from the UI's npm packages) in the window on what it
/// shows now, in the light and the dark theme, and fails on any WCAG 2.1
/// A/AA violation, naming the rule and the elements.
async fn accessible(c: &Client, screen: &str) {
    let axe =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&axe)
        .unwrap_or_else(|e| panic!("{}: {e} (run `npm ci` in ui/)", axe.display()));
    let loaded = c
        .execute(
            &format!("{source}\n;window.axe = axe; return typeof window.axe.run;"),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        loaded,
        serde_json::json!("function"),
        "axe-core did not load"
    );
    for theme in ["light", "dark"] {
        let violations = c
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 const root = document.documentElement; \
                 const was = [root.dataset.theme, root.style.colorScheme]; \
                 root.dataset.theme = arguments[0]; root.style.colorScheme = arguments[0]; \
                 window.axe.run(document, { runOnly: { type: 'tag', \
                   values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }) \
                 .then((r) => r.violations.map((v) => v.id + ' (' + v.impact + '): ' + \
                   v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' — ' + \
                   (n.failureSummary || '').replace(/\\s+/g, ' ')).join(' | '))) \
                 .catch((e) => ['axe failed: ' + e]) \
                 .then((v) => { root.dataset.theme = was[0]; root.style.colorScheme = was[1]; done(v); });",
                vec![theme.into()],
            )
            .await
            .unwrap();
        assert_eq!(
            violations,
            serde_json::json!([]),
            "axe-core on {screen}, {theme}"
        );
    }
}

async fn status_line(c: &Client) -> String {
    texts(c, "[data-testid=status]")
        .await
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// Waits until the status line says the app is connected.
async fn until_connected(c: &Client) {
    until(
        "connected",
        async || status_line(c).await,
        |s| s == "Connected",
    )
    .await;
}

/// Waits until the window shows the sign-in form.
async fn until_sign_in_form(c: &Client) {
    until(
        "the sign-in form",
        async || texts(c, "form.signin .signin__title").await,
        |t| t.len() == 1,
    )
    .await;
}

/// Types into the sign-in form's field `name`, replacing what it held.
async fn fill(c: &Client, name: &str, value: &str) {
    let field = c
        .find(Locator::Css(&format!("form.signin input[name={name}]")))
        .await
        .unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

#[tokio::test]
async fn first_run_signs_in_from_the_window_rides_out_an_outage_and_signs_out() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let url = t.url().to_owned();
    // The keyring entry is under the address as the app normalises it.
    let key = format!("{}/", url.trim_end_matches('/'));
    // A first run: nothing saved, no password in the environment, a dark desktop.
    let driver = Driver::start_with(&[("GTK_THEME", "Adwaita:dark")], &[]);
    let c = driver.app().await;

    // The window asks for the instance and the credentials.
    until_sign_in_form(&c).await;
    let dark = c
        .execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        dark,
        serde_json::json!(true),
        "the window follows the dark theme"
    );
    fill(&c, "address", &url).await;
    fill(&c, "login", OPERATOR.0).await;
    fill(&c, "password", "not-the-password").await;
    click(&c, "form.signin .signin__submit").await;
    let error = until(
        "a clear error",
        async || texts(&c, "form.signin .signin__error").await,
        |t| t.first().is_some_and(|s| !s.is_empty()),
    )
    .await;
    assert!(error[0].contains("password"), "{error:?}");
    // A sentence, not the error chain ("while signing in to …: server refused (401): …").
    assert!(!error[0].contains("while "), "{error:?}");
    screenshot(&c, "signin-error-dark.png").await;
    accessible(&c, "the sign-in form with an error").await;
    assert!(
        belfry_os::secrets::load(&key, OPERATOR.0)
            .unwrap()
            .is_none(),
        "nothing kept after a failed sign-in"
    );

    fill(&c, "password", OPERATOR.1).await;
    click(&c, "form.signin .signin__submit").await;
    until_connected(&c).await;
    let token = belfry_os::secrets::load(&key, OPERATOR.0)
        .unwrap()
        .expect("the token is in the keyring");
    let config =
        std::fs::read_to_string(driver.home.path().join("config/belfry/config.toml")).unwrap();
    assert!(config.contains(&url), "the address is saved: {config}");
    assert!(
        !config.contains(token.expose()),
        "the token is not in the config"
    );

    admin
        .emit("sla_expired", "Before the outage", "x", "/tickets/1")
        .await;
    until(
        "the first row",
        async || texts(&c, ".item__title").await,
        |t| t == &["Before the outage"],
    )
    .await;

    // The instance goes away: the status line says so and offers Retry now.
    let stopped = t.pause().await;
    until(
        "reconnecting",
        async || status_line(&c).await,
        |s| s.starts_with("Reconnecting in") || s.starts_with("Offline"),
    )
    .await;
    assert!(!texts(&c, ".inbox__retry").await.is_empty());
    // It comes back with notifications made while the app was away.
    let t = stopped.resume().await;
    let admin = t.admin().await;
    for i in 1..=3 {
        admin
            .emit("sla_expired", &format!("Missed {i}"), "x", "/tickets/1")
            .await;
    }
    // Retry now, unless the app got there by itself first.
    c.execute(
        "const b = document.querySelector('.inbox__retry'); if (b && !b.hidden) b.click();",
        vec![],
    )
    .await
    .unwrap();
    until_connected(&c).await;
    let titles = until(
        "the missed ones, once",
        async || texts(&c, ".item__title").await,
        |t| t.len() >= 4,
    )
    .await;
    assert_eq!(
        titles,
        ["Missed 3", "Missed 2", "Missed 1", "Before the outage"]
    );
    screenshot(&c, "inbox-dark.png").await;
    accessible(&c, "the inbox with unread critical rows").await;

    // Sign out: the token is revoked on the instance and gone from the keyring.
    click(&c, "[data-testid=sign-out]").await;
    until(
        "the sign-in form again",
        async || texts(&c, "form.signin .signin__title").await,
        |t| t.len() == 1,
    )
    .await;
    assert!(
        belfry_os::secrets::load(&key, OPERATOR.0)
            .unwrap()
            .is_none()
    );
    let revoked = reqwest::Client::new()
        .get(format!("{}/api/v1/me", t.url().trim_end_matches('/')))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), reqwest::StatusCode::UNAUTHORIZED);
    c.close().await.unwrap();
}

/// Toasts the rig's notification daemon has shown (closing those on screen
/// moves them to the history).
fn dunst_history() -> String {
    let _ = Command::new("dunstctl").arg("close-all").status();
    let out = Command::new("dunstctl").arg("history").output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn set_policy(admin: &belfry_tests::Api, policy: &Policy) {
    let _: Policy = admin
        .send(Method::PUT, "/api/v1/admin/policy", policy)
        .await;
}

async fn server_type(op: &belfry_tests::Api, id: &str) -> TypePrefs {
    let doc: SettingsDocument = op.get("/api/v1/settings").await;
    doc.preferences.types[id].clone()
}

async fn checkbox(c: &Client, name: &str) -> (bool, bool) {
    let v = c
        .execute(
            "const b = document.querySelector(`input[name=\"${arguments[0]}\"]`); \
             return b ? [b.checked, b.disabled] : null;",
            vec![name.into()],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap_or_else(|_| panic!("no checkbox {name}"))
}

/// Picks `value` in the select `name`, in one script: the table re-renders
/// after every edit, so a found element can go stale before it is used.
async fn choose(c: &Client, name: &str, value: &str) {
    let done = c
        .execute(
            "const s = document.querySelector(`select[name=\"${arguments[0]}\"]`); \
             if (!s) return false; s.value = arguments[1]; \
             s.dispatchEvent(new Event('change')); return true;",
            vec![name.into(), value.into()],
        )
        .await
        .unwrap();
    assert_eq!(done, serde_json::json!(true), "no select {name}");
}

/// The app signed in to `t` under `policy`, its player's log on (what it
/// plays is read from there), with Settings open.
async fn settings_under_policy(
    t: &TestInstance,
    admin: &belfry_tests::Api,
    policy: &Policy,
) -> (Driver, Client) {
    set_policy(admin, policy).await;
    let driver = Driver::start_with(
        &[
            ("BELFRY_PASSWORD", OPERATOR.1),
            ("BELFRY_LOG", "info,belfry_os::player=debug"),
        ],
        &["--instance", t.url(), "--login", OPERATOR.0],
    );
    let c = driver.app().await;
    until_connected(&c).await;
    let size = c.get_window_size().await.unwrap();
    click(&c, "[data-testid=open-settings]").await;
    present(&c, ".settings__tab[data-tab=types]").await;
    // Settings keeps the size the user gave the window (it used to widen
    // it to 760 px and leave it so).
    assert_eq!(
        c.get_window_size().await.unwrap(),
        size,
        "Settings resized the window"
    );
    (driver, c)
}

/// Whether the type table fits its card without scrolling sideways.
async fn types_table_fits(c: &Client) -> bool {
    let fits = c
        .execute(
            "const w = document.querySelector('.center__table-wrap'); \
             return w !== null && w.scrollWidth <= w.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    fits.as_bool() == Some(true)
}

#[tokio::test]
async fn the_notification_center_edits_sync_with_the_server_and_follow_the_admin() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let operator = t.operator().await;
    let mut policy = Policy {
        extended_settings: true,
        ..Policy::default()
    };
    let (driver, c) = settings_under_policy(&t, &admin, &policy).await;

    // Channels: sound on.
    click(&c, ".settings__tab[data-tab=channels]").await;
    present(&c, "input[name=channel-sound]").await;
    present(&c, "input[name=volume]").await;
    press(&c, "input[name=channel-sound]").await;
    until(
        "sound on at the server",
        async || {
            let doc: SettingsDocument = operator.get("/api/v1/settings").await;
            doc.preferences.channels.sound.enabled
        },
        |on| *on,
    )
    .await;

    // Types: no banner for new chats; SLA breaches ring with bells.
    click(&c, ".settings__tab[data-tab=types]").await;
    present(&c, "input[name=type-chat_created-banner]").await;
    // At the window's default 420 px, every switch and melody shows.
    screenshot(&c, "settings-types-420.png").await;
    assert!(
        types_table_fits(&c).await,
        "the type table scrolls sideways at the default width"
    );
    press(&c, "input[name=type-chat_created-banner]").await;
    until(
        "chat_created without banner at the server",
        async || server_type(&operator, "chat_created").await.channels,
        |ch| !ch.iter().any(|c| c == "banner"),
    )
    .await;
    if !checkbox(&c, "type-sla_expired-sound").await.0 {
        press(&c, "input[name=type-sla_expired-sound]").await;
    }
    choose(&c, "melody-sla_expired", "bells").await;
    let sla = until(
        "sla_expired rings bells at the server",
        async || server_type(&operator, "sla_expired").await,
        |p| p.melody == "bells" && p.channels.iter().any(|c| c == "sound"),
    )
    .await;
    assert!(sla.channels.iter().any(|c| c == "banner"));

    // The bell is the type: off with it, on again with a channel (the
    // core's bell rule, applied to the switch the window sends).
    press(&c, "input[name=type-comment_created-bell]").await;
    until(
        "comment_created off at the server",
        async || server_type(&operator, "comment_created").await.channels,
        Vec::is_empty,
    )
    .await;
    until(
        "the row's switches all off",
        async || checkbox(&c, "type-comment_created-banner").await.0,
        |on| !on,
    )
    .await;
    press(&c, "input[name=type-comment_created-sound]").await;
    until(
        "comment_created on again with the bell and sound",
        async || server_type(&operator, "comment_created").await.channels,
        |ch| ch == &["bell", "sound"],
    )
    .await;
    assert!(checkbox(&c, "type-comment_created-bell").await.0);

    // The next new chat makes no toast; the next breach rings bells.
    admin
        .emit("chat_created", "Quiet chat 7f3", "x", "/chats/1")
        .await;
    admin
        .emit("sla_expired", "Loud breach 7f3", "x", "/tickets/1")
        .await;
    until(
        "the breach's toast",
        async || dunst_history(),
        |h| h.contains("Loud breach 7f3"),
    )
    .await;
    assert!(!dunst_history().contains("Quiet chat 7f3"));
    until(
        "bells played for the breach",
        async || driver.log(),
        |log| {
            log.lines().any(|l| {
                l.contains("playing") && l.contains("\"bells\"") && l.contains("sla_expired")
            })
        },
    )
    .await;

    // Send test: the instance's test notification comes back through the
    // stream, as a toast for the banner and a melody for the sound.
    click(&c, ".settings__tab[data-tab=channels]").await;
    click(&c, "button[data-channel=banner]").await;
    until(
        "the banner's test toast",
        async || dunst_history(),
        |h| h.contains("A test notification for the banner channel"),
    )
    .await;
    click(&c, "button[data-channel=sound]").await;
    until(
        "the sound's test melody",
        async || driver.log(),
        |log| {
            log.lines()
                .any(|l| l.contains("playing") && l.contains("test_notification"))
        },
    )
    .await;
    click(&c, ".settings__tab[data-tab=types]").await;

    // The admin makes SLA breaches mandatory: the open window locks the row
    // and says so; the locked control changes nothing.
    policy.mandatory_types = vec!["sla_expired".into()];
    set_policy(&admin, &policy).await;
    // The issue says "within a second": timed from the admin's answer; the
    // poll's own wait stays generous so a miss reports the time, not a timeout.
    let asked = Instant::now();
    until(
        "the row locks",
        async || checkbox(&c, "type-sla_expired-banner").await,
        |(_, disabled)| *disabled,
    )
    .await;
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the row locked {took:?} after the admin's change; the issue asks for within a second"
    );
    let note = texts(&c, "[data-testid=center-sync]").await;
    assert!(note[0].contains("mandatory"), "{note:?}");
    let before = server_type(&operator, "sla_expired").await;
    press(&c, "input[name=type-sla_expired-banner]").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(checkbox(&c, "type-sla_expired-banner").await.0);
    assert_eq!(server_type(&operator, "sla_expired").await, before);

    // Extended settings off: CSAT rows are view-only; on: editable.
    policy.extended_settings = false;
    set_policy(&admin, &policy).await;
    until(
        "CSAT view-only",
        async || checkbox(&c, "type-csat_negative-banner").await,
        |(_, disabled)| *disabled,
    )
    .await;
    policy.extended_settings = true;
    set_policy(&admin, &policy).await;
    until(
        "CSAT editable",
        async || checkbox(&c, "type-csat_negative-banner").await,
        |(_, disabled)| !*disabled,
    )
    .await;

    // An edit while the instance is down is kept, marked, and synced later.
    let stopped = t.pause().await;
    until(
        "reconnecting",
        async || status_line(&c).await,
        |s| s.starts_with("Reconnecting in") || s.starts_with("Offline"),
    )
    .await;
    press(&c, "input[name=type-ticket_created-banner]").await;
    until(
        "marked as waiting",
        async || texts(&c, "[data-testid=center-sync]").await,
        |t| t.first().is_some_and(|s| s.contains("will sync")),
    )
    .await;
    let t = stopped.resume().await;
    let operator = t.operator().await;
    let admin = t.admin().await;
    until(
        "the edit reached the server",
        async || server_type(&operator, "ticket_created").await.channels,
        |ch| !ch.iter().any(|c| c == "banner"),
    )
    .await;
    until(
        "no longer waiting",
        async || texts(&c, "[data-testid=center-sync]").await,
        |t| t.first().is_some_and(|s| !s.contains("will sync")),
    )
    .await;
    scroll_to_top(&c).await;
    screenshot(&c, "settings.png").await;
    accessible(&c, "Settings, notification types").await;
    // Wide, as a user may keep it, for the docs.
    let (w, h) = c.get_window_size().await.unwrap();
    c.set_window_size(760, 640).await.unwrap();
    screenshot(&c, "settings-wide.png").await;
    c.set_window_size(u32::try_from(w).unwrap(), u32::try_from(h).unwrap())
        .await
        .unwrap();

    // The other tabs, for the docs.
    for (tab, name) in [
        ("channels", "settings-channels.png"),
        ("reminders", "settings-reminders.png"),
        ("general", "settings-general.png"),
    ] {
        click(&c, &format!(".settings__tab[data-tab={tab}]")).await;
        scroll_to_top(&c).await;
        screenshot(&c, name).await;
        accessible(&c, &format!("Settings, {tab}")).await;
    }
    // General and Channels in the dark theme too, for the docs.
    for (tab, name) in [
        ("channels", "settings-channels-dark.png"),
        ("general", "settings-general-dark.png"),
    ] {
        click(&c, &format!(".settings__tab[data-tab={tab}]")).await;
        scroll_to_top(&c).await;
        show_theme(&c, "dark").await;
        screenshot(&c, name).await;
        show_theme(&c, "light").await;
    }

    // Pause from General: the core holds toasts back and the tab says until
    // when (both from the core's own state); Resume ends it.
    press(&c, "[data-pause=half_hour]").await;
    until(
        "paused",
        async || texts(&c, ".settings__pause-state").await,
        |t| t.first().is_some_and(|s| s.starts_with("Paused until")),
    )
    .await;
    let held = admin
        .emit("chat_reassign", "Held while paused 7f3", "x", "/chats/2")
        .await;
    until(
        "the desktop has it",
        async || {
            let d: serde_json::Value = admin
                .get(&format!(
                    "/api/v1/admin/operators/{}/notifications/{}",
                    OPERATOR.0, held.id
                ))
                .await;
            d["delivered_at"].is_string()
        },
        |got| *got,
    )
    .await;
    press(&c, "[data-pause=resume]").await;
    until(
        "resumed",
        async || texts(&c, ".settings__pause-state").await,
        |t| {
            t.first()
                .is_some_and(|s| s.starts_with("Toasts and melodies are on"))
        },
    )
    .await;
    assert!(
        !dunst_history().contains("Held while paused 7f3"),
        "no toast while paused"
    );

    // The instance turns the Notification Center off: the simplified
    // toggles replace the type table in the open window.
    policy.notification_center = false;
    set_policy(&admin, &policy).await;
    until(
        "the simplified tab",
        async || texts(&c, ".settings__tab[data-tab=channels]").await,
        |t| t.first().is_some_and(|s| s == "Notifications"),
    )
    .await;
    let hidden = c
        .execute(
            "return document.querySelector('.settings__tab[data-tab=types]').hidden",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(hidden, serde_json::json!(true), "no type table");
    click(&c, ".settings__tab[data-tab=channels]").await;
    present(&c, "input[name=simple-new_dialogue_popup]").await;
    scroll_to_top(&c).await;
    screenshot(&c, "settings-simplified.png").await;
    accessible(&c, "Settings, simplified").await;
    c.close().await.unwrap();
}

async fn scroll_to_top(c: &Client) {
    c.execute(
        "document.querySelector('.app__settings-view').scrollTop = 0",
        vec![],
    )
    .await
    .unwrap();
}

/// The organization's enforced address and language: the sign-in form
/// shows the address locked, the window is in the organization's language
/// with its language selects locked, and the user's own settings file
/// keeps the user's own address (the organization's is never written
/// into it).
#[tokio::test]
async fn an_enforced_address_and_language_are_locked_in_the_window_and_beat_the_users_config() {
    let t = TestInstance::start().await;
    let url = t.url().to_owned();
    let policy = tempfile::tempdir().unwrap();
    let managed = policy.path().join("managed.toml");
    std::fs::write(
        &managed,
        format!("[enforced]\ninstance = \"{url}\"\nlanguage = \"uk\"\n"),
    )
    .unwrap();
    let driver = Driver::start_with(&[("BELFRY_MANAGED_CONFIG", managed.to_str().unwrap())], &[]);
    // The operator's own settings name another instance.
    let config = driver.home.path().join("config/belfry/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "instance = \"https://other.example.com/\"\nlogin = \"olga\"\n",
    )
    .unwrap();
    let c = driver.app().await;
    until_sign_in_form(&c).await;
    until(
        "the sign-in form in Ukrainian",
        async || texts(&c, ".signin__title").await,
        |t| t.first().is_some_and(|s| s == "Вхід до служби підтримки"),
    )
    .await;
    let address = async || {
        c.execute(
            "const a = document.querySelector('form.signin input[name=address]'); \
             return [a.value, a.readOnly];",
            vec![],
        )
        .await
        .unwrap()
    };
    assert_eq!(address().await, serde_json::json!([url, true]));
    // Typing into it changes nothing.
    c.find(Locator::Css("form.signin input[name=address]"))
        .await
        .unwrap()
        .send_keys("https://evil.example.com")
        .await
        .unwrap();
    assert_eq!(address().await, serde_json::json!([url, true]));
    fill(&c, "password", OPERATOR.1).await;
    click(&c, "form.signin .signin__submit").await;
    until(
        "connected, said in Ukrainian",
        async || status_line(&c).await,
        |s| s == "Підключено",
    )
    .await;
    // The inbox in Ukrainian; the language is chosen in Settings only,
    // locked there with the reason.
    let select = async |css: &str| {
        c.execute(
            &format!(
                "const s = document.querySelector('{css}'); \
                 return [s.value, s.disabled, s.title, document.documentElement.lang];"
            ),
            vec![],
        )
        .await
        .unwrap()
    };
    let managed_note = "Мову цього вікна встановлює ваша організація.";
    assert_eq!(
        c.execute("return document.documentElement.lang", vec![])
            .await
            .unwrap(),
        serde_json::json!("uk")
    );
    assert!(
        c.find_all(Locator::Css(".inbox select"))
            .await
            .unwrap()
            .is_empty(),
        "no language picker in the inbox"
    );
    assert_eq!(texts(&c, ".inbox__title-text").await, ["Сповіщення"]);
    screenshot(&c, "inbox-uk.png").await;
    accessible(&c, "the empty inbox in Ukrainian").await;
    click(&c, "[data-testid=open-settings]").await;
    let note = until(
        "the locked language in Settings",
        async || texts(&c, ".settings__language-note").await,
        |t| t.first().is_some_and(|s| !s.is_empty()),
    )
    .await;
    assert_eq!(note, [managed_note]);
    screenshot(&c, "settings-uk.png").await;
    accessible(&c, "Settings in Ukrainian").await;
    let settings = select("select[name=language]").await;
    assert_eq!(
        (&settings[0], &settings[1]),
        (&serde_json::json!("uk"), &serde_json::json!(true)),
        "{settings}"
    );
    // The user's file keeps the user's own address and the login; the
    // organization's address is not written into it.
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(
        saved.contains("other.example.com")
            && saved.contains("login = \"olga\"")
            && !saved.contains(url.trim_end_matches('/')),
        "{saved}"
    );
    c.close().await.unwrap();
}

/// Links open only on the instance the app signed in to. Here every link
/// the instance sends points elsewhere (the app signs in at `localhost`,
/// the instance writes its links with `127.0.0.1`: another origin, as a
/// compromised or misconfigured instance would send): Open in the window
/// says why it refuses, in the page, and the browser is never started.
#[tokio::test]
async fn a_link_off_the_instance_opens_nothing_and_says_why() {
    let t = TestInstance::start().await;
    let address = format!("http://localhost:{}/", t.instance.addr.port());
    let dir = tempfile::tempdir().unwrap();
    let (browser, opened) = recording_browser(dir.path());
    let driver = Driver::start_with(
        &[
            ("BELFRY_PASSWORD", OPERATOR.1),
            ("BROWSER", browser.to_str().unwrap()),
        ],
        &["--instance", &address, "--login", OPERATOR.0],
    );
    let c = driver.app().await;
    until_connected(&c).await;
    // A link on an origin the instance does not announce (as one of a
    // helpdesk the admin has since removed would be): stored directly, as
    // the instance's own API makes no such link. The instance's own
    // `public_url` is an origin it announces (protocol 1.1), so the app
    // signed in as `localhost` opens links on 127.0.0.1 now.
    let me: belfry_proto::api::Operator = t.operator().await.get("/api/v1/me").await;
    let foreign = "https://elsewhere.example".to_owned();
    let link = format!("{foreign}/tickets/1");
    t.instance
        .state
        .db(move |s| {
            s.emit(
                me.id,
                vec![belfry_instance::store::NewNotification {
                    type_id: "ticket_created".into(),
                    category: belfry_proto::catalogue::Category::Events,
                    title: "Elsewhere".into(),
                    body: "its link is not ours".into(),
                    link: Some(link),
                    data: Default::default(),
                }],
            )
        })
        .await
        .unwrap();
    until(
        "the row",
        async || texts(&c, ".item__title").await,
        |t| t.len() == 1,
    )
    .await;
    click(&c, ".item__open").await;
    let error = until(
        "the refusal",
        async || texts(&c, ".inbox__error").await,
        |e| e.first().is_some_and(|e| !e.is_empty()),
    )
    .await;
    assert!(
        error[0].contains(&format!(
            "This link goes to {foreign}, not to your helpdesk"
        )),
        "{error:?}"
    );
    // Give a browser that was started the time to say so.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !opened.exists(),
        "the browser was asked to open {:?}",
        std::fs::read_to_string(&opened)
    );
    c.close().await.unwrap();
}

/// A broken or compromised instance (here: frames written into the stream
/// by a proxy in front of the real one) sends notifications whose links are
/// `javascript:` and `data:` URLs under titles that are markup: the rows
/// show the titles as text, and Open says the link is never opened and
/// starts nothing.
#[tokio::test]
async fn script_and_data_links_from_a_hostile_instance_open_nothing() {
    use belfry_tests::proxy::{Frame, Proxy};
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let operator = t.operator().await;
    let proxy = Proxy::start(t.instance.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let (browser, opened) = recording_browser(dir.path());
    let driver = Driver::start_with(
        &[
            ("BELFRY_PASSWORD", OPERATOR.1),
            ("BROWSER", browser.to_str().unwrap()),
        ],
        &["--instance", &proxy.url(), "--login", OPERATOR.0],
    );
    let c = driver.app().await;
    until_connected(&c).await;
    admin
        .emit("ticket_created", "A real one", "x", "/tickets/1")
        .await;
    until(
        "the real row",
        async || texts(&c, ".item__title").await,
        |t| t.len() == 1,
    )
    .await;
    // The next frames as the instance would number them, from a real one.
    let page: serde_json::Value = operator.get("/api/v1/inbox").await;
    let real = page["items"][0].clone();
    let seq = real["seq"].as_u64().unwrap();
    for (n, (title, link, scheme)) in [
        (
            "<img src=x onerror=alert(1)>Pay now",
            "javascript:alert(document.cookie)",
            "javascript",
        ),
        (
            "<script>alert(2)</script>Invoice",
            "data:text/html,<script>alert(3)</script>",
            "data",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let seq = seq + 1 + n as u64;
        let mut note = real.clone();
        note["id"] = serde_json::json!(format!("hostile-link-{n}"));
        note["seq"] = serde_json::json!(seq);
        note["title"] = serde_json::json!(title);
        note["link"] = serde_json::json!(link);
        proxy.inject(&[Frame::Text(
            serde_json::json!({"type": "notification", "seq": seq, "notification": note})
                .to_string(),
        )]);
        let titles = until(
            "the hostile row",
            async || texts(&c, ".item__title").await,
            |t| t.len() == 2 + n,
        )
        .await;
        assert_eq!(titles[0], title, "shown as the text it is");
        // The newest row's Open.
        click(&c, ".item__open").await;
        let error = until(
            "the refusal",
            async || texts(&c, ".inbox__error").await,
            |e| e.first().is_some_and(|e| e.contains(scheme)),
        )
        .await;
        assert!(
            error[0] == format!("Belfry never opens {scheme}: links."),
            "{error:?}"
        );
    }
    // Give a browser that was started the time to say so.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !opened.exists(),
        "the browser was asked to open {:?}",
        std::fs::read_to_string(&opened)
    );
    let elements = c
        .execute(
            "return document.querySelectorAll('.item img, .item script').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(elements, serde_json::json!(0), "the titles made no element");
    c.close().await.unwrap();
}

/// The user's own sound file through the real window and shell: the page
/// reads the file the user picked, the shell's `import_sound` takes it in,
/// and the next event of its type plays it instead of the melody; "remove"
/// brings the melody back.
#[tokio::test]
async fn an_own_sound_file_chosen_in_the_window_plays_for_its_type() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let operator = t.operator().await;
    let policy = Policy {
        extended_settings: true,
        ..Policy::default()
    };
    let (driver, c) = settings_under_policy(&t, &admin, &policy).await;
    click(&c, ".settings__tab[data-tab=channels]").await;
    present(&c, "input[name=channel-sound]").await;
    if !checkbox(&c, "channel-sound").await.0 {
        press(&c, "input[name=channel-sound]").await;
    }
    click(&c, ".settings__tab[data-tab=types]").await;
    present(&c, "input[name=own-sla_expired]").await;
    if !checkbox(&c, "type-sla_expired-sound").await.0 {
        press(&c, "input[name=type-sla_expired-sound]").await;
    }
    until(
        "sound on for sla_expired at the server",
        async || {
            let doc: SettingsDocument = operator.get("/api/v1/settings").await;
            let ty = server_type(&operator, "sla_expired").await;
            doc.preferences.channels.sound.enabled && ty.channels.iter().any(|c| c == "sound")
        },
        |on| *on,
    )
    .await;

    // A file that is not sound: refused in a sentence that names it, next
    // to the type's picker (the file only, never the decoder's words).
    let picked = c
        .execute(
            "const input = document.querySelector('input[name=\"own-sla_expired\"]'); \
             if (!input) return false; \
             const file = new File(['not a sound'], 'notes.txt', {type: 'text/plain'}); \
             const dt = new DataTransfer(); dt.items.add(file); input.files = dt.files; \
             input.dispatchEvent(new Event('change')); return true;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(picked, serde_json::json!(true));
    let refusal = "tr[data-melody-of=sla_expired] .center__refused[role=alert]";
    until(
        "the refusal next to the picker",
        async || texts(&c, refusal).await,
        |t| {
            t.first().is_some_and(|t| {
                t == "The file notes.txt is not a sound file Belfry can play. \
                      Choose a .wav, .ogg, .mp3 or .flac file."
            })
        },
    )
    .await;
    c.execute(
        "document.querySelector(arguments[0])?.scrollIntoView({block: 'center'}); \
         const wrap = document.querySelector('.center__table-wrap'); if (wrap) wrap.scrollLeft = 0;",
        vec![refusal.into()],
    )
    .await
    .unwrap();
    screenshot(&c, "settings-sound-refused.png").await;
    accessible(&c, "a refused sound file").await;

    // What the system's file dialog hands the page.
    let picked = c
        .execute(
            "const input = document.querySelector('input[name=\"own-sla_expired\"]'); \
             if (!input) return false; \
             const file = new File([new Uint8Array(arguments[0])], 'Мій дзвін.wav', {type: 'audio/wav'}); \
             const dt = new DataTransfer(); dt.items.add(file); input.files = dt.files; \
             input.dispatchEvent(new Event('change')); return true;",
            vec![serde_json::json!(belfry_tests::sound::wav(
                16_000,
                1,
                &belfry_tests::sound::beep(16_000, 1, 0.3),
            ))],
        )
        .await
        .unwrap();
    assert_eq!(picked, serde_json::json!(true));
    until(
        "the file's name in the row",
        async || texts(&c, "tr[data-melody-of=sla_expired] .center__own-name").await,
        |t| t.first().is_some_and(|t| t.contains("Мій дзвін.wav")),
    )
    .await;
    // The refusal went with the file it was about.
    assert!(texts(&c, refusal).await.is_empty());

    admin
        .emit("sla_expired", "Own sound breach", "x", "/tickets/1")
        .await;
    until(
        "the own file played for the breach",
        async || driver.log(),
        |log| {
            log.lines()
                .any(|l| l.contains("playing") && l.contains("Custom(\"sla_expired\")"))
        },
    )
    .await;

    // "Remove": the melody picker is back and the melody plays again.
    press(&c, "button[name=own-remove-sla_expired]").await;
    present(&c, "select[name=melody-sla_expired]").await;
    // The router keeps the type's melody quiet this long after it sounded
    // (the own file played under it).
    tokio::time::sleep(belfry_core::router::SAME_MELODY_GAP + Duration::from_millis(500)).await;
    let melodies = |log: String| {
        log.lines()
            .filter(|l| l.contains("playing") && l.contains("Melody(") && l.contains("sla_expired"))
            .count()
    };
    let melodies_before = melodies(driver.log());
    admin
        .emit("sla_expired", "Melody breach", "x", "/tickets/1")
        .await;
    until(
        "the melody played again",
        async || melodies(driver.log()),
        |n| *n > melodies_before,
    )
    .await;
    c.close().await.unwrap();
}
