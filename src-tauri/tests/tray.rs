//! The tray app's menu, driven as a panel drives it: the rig runs a
//! StatusNotifierWatcher, Belfry registers its item with it, and the test
//! reads the item's menu over D-Bus (com.canonical.dbusmenu) and clicks
//! entries by their labels, the way a desktop panel does.

// Linux's desktop through the rig (docs/platforms.md says what the Windows
// pass covers instead).
#![cfg(target_os = "linux")]
// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_tests::disk::SmallDisk;
use belfry_tests::{OPERATOR, TestInstance};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zbus::{ObjectPath, OwnedVariant as OwnedValue, Structure, Variant as Value};

/// The tray app, window closed (as when it starts at login).
struct TrayApp {
    child: Child,
    _home: Option<tempfile::TempDir>,
}

impl TrayApp {
    fn start(instance: &str) -> Self {
        Self::start_with(instance, &[])
    }

    /// Started with extra environment (a managed configuration, say).
    fn start_with(instance: &str, env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let args = [
            "--autostarted",
            "--instance",
            instance,
            "--login",
            OPERATOR.0,
        ];
        Self::spawn(env!("CARGO_BIN_EXE_belfry"), &args, env)
    }

    /// `bin` signed in as the operator, in a home of its own.
    fn spawn(bin: &str, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let home = tempfile::tempdir().unwrap();
        let mut app = Self::spawn_in(home.path(), bin, args, env);
        app._home = Some(home);
        app
    }

    /// `bin` in `home`; the operator's password in its environment unless
    /// `env` removes it (an empty value).
    fn spawn_in(
        home: &std::path::Path,
        bin: &str,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Self {
        assert!(
            std::env::var_os("BELFRY_RIG").is_some(),
            "needs the rig: run with `cargo xtask test`"
        );
        let mut cmd = Command::new(PathBuf::from(bin));
        cmd.args(args)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("BELFRY_PASSWORD", OPERATOR.1)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if env
            .iter()
            .any(|(k, v)| *k == "BELFRY_PASSWORD" && v.is_empty())
        {
            cmd.env_remove("BELFRY_PASSWORD");
        }
        Self {
            child: cmd.spawn().unwrap(),
            _home: None,
        }
    }
}

/// `belfry-headless` signed in from the command line, with its own tray
/// icon (no GTK in the process).
fn headless_tray(instance: &str) -> TrayApp {
    let args = ["--instance", instance, "--login", OPERATOR.0];
    TrayApp::spawn(
        &belfry_tests::small_binary(env!("CARGO_BIN_EXE_belfry")),
        &args,
        &[],
    )
}

impl Drop for TrayApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A menu entry: its dbusmenu id and label as a panel shows it ([`shown`]).
#[derive(Debug, Clone)]
struct Entry {
    id: i32,
    label: String,
    toggled: bool,
}

/// A dbusmenu label as a panel draws it: `__` is a literal underscore, a
/// single `_` marks the next letter as the mnemonic and is not drawn.
fn shown(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
        } else if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
        }
    }
    out
}

fn walk(v: &Value<'_>, out: &mut Vec<Entry>) {
    let Value::Structure(s) = v else {
        if let Value::Variant(inner) = v {
            walk(inner, out);
        }
        return;
    };
    let f = s.fields();
    let (Some(Value::I32(id)), Some(Value::Dict(props)), Some(Value::Array(children))) =
        (f.first(), f.get(1), f.get(2))
    else {
        return;
    };
    let mut label = String::new();
    let mut toggled = false;
    for (k, v) in props.iter() {
        let (Value::Str(k), Value::Variant(v)) = (k, v) else {
            continue;
        };
        match (k.as_str(), &**v) {
            ("label", Value::Str(l)) => label = shown(l.as_str()),
            ("toggle-state", Value::I32(1)) => toggled = true,
            _ => {}
        }
    }
    out.push(Entry {
        id: *id,
        label,
        toggled,
    });
    for c in children.iter() {
        walk(c, out);
    }
}

/// The object under `at` on `bus` that implements StatusNotifierItem.
async fn item_path(conn: &zbus::Connection, bus: &str, at: &str) -> Option<String> {
    let reply = conn
        .call_method(
            Some(bus),
            at,
            Some("org.freedesktop.DBus.Introspectable"),
            "Introspect",
            &(),
        )
        .await
        .ok()?;
    let xml: String = reply.body().deserialize().ok()?;
    // The node's own interfaces come before its children (which some
    // services, zbus among them, describe inline with theirs).
    let own = xml.split("<node name=\"").next().unwrap_or_default();
    if own.contains("interface name=\"org.kde.StatusNotifierItem\"") {
        return Some(at.to_owned());
    }
    for part in xml.split("<node name=\"").skip(1) {
        let Some(name) = part.split('"').next() else {
            continue;
        };
        let child = format!("{}/{name}", at.trim_end_matches('/'));
        if let Some(found) = Box::pin(item_path(conn, bus, &child)).await {
            return Some(found);
        }
    }
    None
}

/// Belfry's menu on the session bus.
struct Menu {
    conn: zbus::Connection,
    bus: String,
    path: String,
}

impl Menu {
    /// Waits for the item to register, then finds its menu.
    async fn find() -> Self {
        Self::find_for(None).await
    }

    /// The menu of the item process `pid` registered (an earlier app's
    /// item may still be listed while the watcher forgets it).
    async fn find_for(pid: Option<u32>) -> Self {
        let conn = zbus::Connection::session().await.unwrap();
        let start = Instant::now();
        loop {
            let reply = conn
                .call_method(
                    Some("org.kde.StatusNotifierWatcher"),
                    "/StatusNotifierWatcher",
                    Some("org.freedesktop.DBus.Properties"),
                    "Get",
                    &(
                        "org.kde.StatusNotifierWatcher",
                        "RegisteredStatusNotifierItems",
                    ),
                )
                .await
                .unwrap();
            let items: OwnedValue = reply.body().deserialize().unwrap();
            let items: Vec<String> = items.try_into().unwrap_or_default();
            let mut mine = None;
            for item in items.iter().rev() {
                let Some(pid) = pid else {
                    mine = Some(item);
                    break;
                };
                let bus = item.split('/').next().unwrap_or(item);
                let owner = conn
                    .call_method(
                        Some("org.freedesktop.DBus"),
                        "/org/freedesktop/DBus",
                        Some("org.freedesktop.DBus"),
                        "GetConnectionUnixProcessID",
                        &(bus,),
                    )
                    .await;
                if let Ok(reply) = owner
                    && reply.body().deserialize::<u32>().ok() == Some(pid)
                {
                    mine = Some(item);
                    break;
                }
            }
            if let Some(item) = mine {
                // Either "bus/path" or the bare bus name, as this watcher
                // lists it: then the item's path is found by introspection.
                let (bus, path) = match item.find('/') {
                    Some(i) => (item[..i].to_owned(), item[i..].to_owned()),
                    None => {
                        let path = item_path(&conn, item, "/").await.expect("an item path");
                        (item.clone(), path)
                    }
                };
                let menu = conn
                    .call_method(
                        Some(bus.as_str()),
                        path.as_str(),
                        Some("org.freedesktop.DBus.Properties"),
                        "Get",
                        &("org.kde.StatusNotifierItem", "Menu"),
                    )
                    .await
                    .unwrap();
                let menu: OwnedValue = menu.body().deserialize().unwrap();
                let menu: ObjectPath<'_> = menu.try_into().unwrap();
                return Self {
                    conn,
                    bus,
                    path: menu.to_string(),
                };
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the tray item never registered"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A property of the headless tray's item (at the path it serves it).
    async fn item_property(&self, name: &str) -> OwnedValue {
        let reply = self
            .conn
            .call_method(
                Some(self.bus.as_str()),
                "/StatusNotifierItem",
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &("org.kde.StatusNotifierItem", name),
            )
            .await
            .unwrap();
        reply.body().deserialize().unwrap()
    }

    /// Waits until the item's icon is `name`; returns the PNG it names.
    async fn until_icon(&self, name: &str) -> PathBuf {
        let start = Instant::now();
        loop {
            let icon: String = self.item_property("IconName").await.try_into().unwrap();
            if icon == name {
                let dir: String = self
                    .item_property("IconThemePath")
                    .await
                    .try_into()
                    .unwrap();
                return PathBuf::from(dir).join(format!("{icon}.png"));
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "the icon stayed {icon}, not {name}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn entries(&self) -> Vec<Entry> {
        let reply = self
            .conn
            .call_method(
                Some(self.bus.as_str()),
                self.path.as_str(),
                Some("com.canonical.dbusmenu"),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await
            .unwrap();
        let body = reply.body();
        let body: Structure<'_> = body.deserialize().unwrap();
        let mut out = Vec::new();
        if let Some(layout) = body.fields().get(1) {
            walk(layout, &mut out);
        }
        out
    }

    /// Waits until an entry whose label satisfies `cond` is there.
    async fn until(&self, what: &str, cond: impl Fn(&Entry) -> bool) -> Entry {
        let start = Instant::now();
        loop {
            let entries = self.entries().await;
            if let Some(e) = entries.iter().find(|e| cond(e)) {
                return e.clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "no {what} in the menu: {entries:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Clicks the entry; if the menu was rebuilt since it was read (its
    /// ids are then new), clicks the entry with the same label in the new
    /// one, as a user would.
    async fn click(&self, e: &Entry) {
        self.click_then(e, false).await;
    }

    /// Clicks an entry that hands the process over to another binary: the
    /// exec may come before the item's reply to the click is out, which is
    /// then a click delivered. A menu rebuilt since it was read is handled
    /// as [`Menu::click`] does.
    async fn click_to_hand_over(&self, e: &Entry) {
        self.click_then(e, true).await;
    }

    /// [`Menu::click`], taking no reply as delivered when `hands_over`.
    async fn click_then(&self, e: &Entry, hands_over: bool) {
        let mut id = e.id;
        for _ in 0..10 {
            let sent = self
                .conn
                .call_method(
                    Some(self.bus.as_str()),
                    self.path.as_str(),
                    Some("com.canonical.dbusmenu"),
                    "Event",
                    &(id, "clicked", Value::from(0i32), 0u32),
                )
                .await;
            match sent {
                Ok(_) => return,
                Err(err)
                    if hands_over
                        && err
                            .to_string()
                            .contains("org.freedesktop.DBus.Error.NoReply") =>
                {
                    return;
                }
                Err(err) if err.to_string().contains("does not refer to a menu item") => {
                    id = self.until(&e.label, |x| x.label == e.label).await.id;
                }
                Err(err) => panic!("clicking {:?}: {err}", e.label),
            }
        }
        panic!("{:?} kept moving under the click", e.label);
    }
}

#[tokio::test]
async fn the_menu_shows_the_operators_status_changes_it_and_pauses() {
    let t = TestInstance::start().await;
    let operator = t.operator().await;
    let _app = TrayApp::start(t.url());
    let menu = Menu::find().await;
    menu.until("Connected", |e| e.label.starts_with("Connected"))
        .await;
    menu.until("the status", |e| e.label.starts_with("Status: Ready"))
        .await;
    // The operator picks "Not ready" in the tray: the instance has it and
    // the menu says so.
    picks_not_ready(&operator, &menu).await;

    // Changed on the web: the tray follows.
    let _: serde_json::Value = operator
        .send(
            reqwest::Method::PUT,
            "/api/v1/status",
            &serde_json::json!({ "status": "away" }),
        )
        .await;
    menu.until("away", |e| e.label.starts_with("Status: Away"))
        .await;

    // Pause from the tray: the state line says until when; Resume ends it.
    let half_hour = menu
        .until("For 30 minutes", |e| e.label == "For 30 minutes")
        .await;
    menu.click(&half_hour).await;
    menu.until("paused", |e| e.label.contains("paused until"))
        .await;
    let resume = menu.until("Resume", |e| e.label == "Resume").await;
    menu.click(&resume).await;
    menu.until("resumed", |e| e.label == "Connected").await;
}

/// Ready is checked; the operator picks "Not ready": the instance has it
/// and the menu says since when.
async fn picks_not_ready(operator: &belfry_tests::Api, menu: &Menu) {
    let ready = menu.until("Ready", |e| e.label == "Ready").await;
    assert!(ready.toggled, "the current status is checked");
    let not_ready = menu.until("Not ready", |e| e.label == "Not ready").await;
    menu.click(&not_ready).await;
    operator.until_availability("not_ready").await;
    menu.until("the new status", |e| {
        e.label.starts_with("Status: Not ready since")
    })
    .await;
}

/// Emits a chat whose title is markup, a bidi override, a zero-width
/// space and the toolkits' mnemonic markers (`&`, `_`); returns its entry
/// once the menu lists it.
async fn hostile_item(admin: &belfry_tests::Api, menu: &Menu) -> Entry {
    admin
        .emit(
            "chat_created",
            "<b>Boss</b>\u{202E}fdp.exe\u{200B} <img src=x onerror=alert(1)> Q&A_1",
            "<script>alert(1)</script>",
            "/chats/9",
        )
        .await;
    menu.until("the hostile item", |e| e.label.contains("Boss"))
        .await
}

/// The headless mode's own tray: the panel gets the same menu without GTK
/// in the process. The glyph follows the state, the operator changes the
/// status and pauses from it, an unread notification is listed as plain
/// text, and Quit ends the process.
#[tokio::test]
async fn the_headless_tray_shows_the_state_changes_it_pauses_and_quits() {
    let t = TestInstance::start().await;
    let operator = t.operator().await;
    let admin = t.admin().await;
    let mut app = headless_tray(t.url());
    let menu = Menu::find_for(Some(app.child.id())).await;
    menu.until("Connected", |e| e.label == "Connected").await;
    let glyph = menu.until_icon("belfry-idle").await;
    assert!(
        std::fs::read(&glyph).unwrap().starts_with(b"\x89PNG"),
        "the glyph the panel loads: {}",
        glyph.display()
    );

    picks_not_ready(&operator, &menu).await;

    let entry = hostile_item(&admin, &menu).await;
    assert_eq!(
        entry.label,
        "<b>Boss</b>fdp.exe <img src=x onerror=alert(1)> Q&A_1"
    );
    menu.until_icon("belfry-unread").await;

    let half_hour = menu
        .until("For 30 minutes", |e| e.label == "For 30 minutes")
        .await;
    menu.click(&half_hour).await;
    menu.until("paused", |e| {
        e.label.starts_with("Connected · paused until")
    })
    .await;
    menu.until_icon("belfry-paused").await;
    let resume = menu.until("Resume", |e| e.label == "Resume").await;
    menu.click(&resume).await;
    menu.until("resumed", |e| e.label == "Connected").await;

    let quit = menu.until("Quit", |e| e.label == "Quit Belfry").await;
    menu.click(&quit).await;
    let start = Instant::now();
    loop {
        if let Some(status) = app.child.try_wait().unwrap() {
            assert!(status.success(), "quit: {status}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "Quit did not quit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// "Open inbox" in the headless tray hands the process over to the full
/// app: the same process is then `belfry`, signed in with the saved token
/// (no password this time), with the desktop shell's tray.
#[tokio::test]
async fn open_inbox_in_the_headless_tray_hands_over_to_the_full_app() {
    let t = TestInstance::start().await;
    let app = headless_tray(t.url());
    let pid = app.child.id();
    let menu = Menu::find_for(Some(pid)).await;
    menu.until("Connected", |e| e.label == "Connected").await;
    let open = menu.until("Open inbox", |e| e.label == "Open inbox").await;
    menu.click(&open).await;
    until_exe(pid, "belfry").await;
    // The full app's own tray, from the same process, connected again.
    let full = Menu::find_for(Some(pid)).await;
    full.until("Connected", |e| e.label.starts_with("Connected"))
        .await;
    full.until("Settings", |e| e.label == "Settings…").await;
}

/// Waits until process `pid` runs the binary `name` (it replaced itself).
async fn until_exe(pid: u32, name: &str) {
    let start = Instant::now();
    loop {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        if exe.file_name().is_some_and(|n| n == name) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "still {}, not {name}",
            exe.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A first run of the small binary in `home`: signs in with the password
/// and keeps the token in the keyring.
async fn sign_in_once(home: &std::path::Path, instance: &str) {
    let args = ["--instance", instance, "--login", OPERATOR.0];
    let first = TrayApp::spawn_in(
        home,
        &belfry_tests::small_binary(env!("CARGO_BIN_EXE_belfry")),
        &args,
        &[],
    );
    let menu = Menu::find_for(Some(first.child.id())).await;
    menu.until("Connected", |e| e.label == "Connected").await;
}

/// `belfry --autostarted` in `home`, as the login entry starts it: no
/// password in its environment.
fn at_login(home: &std::path::Path) -> TrayApp {
    let no_password = [("BELFRY_PASSWORD", std::ffi::OsStr::new(""))];
    TrayApp::spawn_in(
        home,
        env!("CARGO_BIN_EXE_belfry"),
        &["--autostarted"],
        &no_password,
    )
}

/// Started at login with a sign-in saved, Belfry's tray is the small
/// binary's: the same process becomes `belfry-headless`, signs in with the
/// saved token (no password in its environment) and shows its own menu.
#[tokio::test]
async fn at_login_with_a_saved_sign_in_the_tray_is_the_small_binary() {
    let t = TestInstance::start().await;
    let home = tempfile::tempdir().unwrap();
    sign_in_once(home.path(), t.url()).await;
    let app = at_login(home.path());
    let pid = app.child.id();
    let menu = Menu::find_for(Some(pid)).await;
    menu.until("Connected", |e| e.label == "Connected").await;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(
        exe.file_name().and_then(|n| n.to_str()),
        Some("belfry-headless"),
        "{}",
        exe.display()
    );
    let entries = menu.entries().await;
    assert!(
        entries.iter().any(|e| e.label == "Open inbox")
            && !entries.iter().any(|e| e.label == "Settings…"),
        "the small tray's menu: {entries:?}"
    );
}

/// With no window for a while (here 2 s instead of 2 minutes), the full
/// app hands over to the small tray once a sign-in is saved: the same
/// process becomes `belfry-headless`, connected, with its own menu.
#[tokio::test]
async fn with_no_window_for_a_while_the_full_app_becomes_the_small_tray() {
    let t = TestInstance::start().await;
    let app = TrayApp::start_with(t.url(), &[("BELFRY_SMALL_TRAY", std::ffi::OsStr::new("2"))]);
    let pid = app.child.id();
    let full = Menu::find_for(Some(pid)).await;
    full.until("Settings", |e| e.label == "Settings…").await;
    until_exe(pid, "belfry-headless").await;
    let small = Menu::find_for(Some(pid)).await;
    small.until("Connected", |e| e.label == "Connected").await;
    small.until("Open inbox", |e| e.label == "Open inbox").await;
}

/// The demo's instance lives in the full app's process: with no window for
/// a while it stays whole, even where a real sign-in is saved.
#[tokio::test]
async fn the_demo_never_becomes_the_small_tray() {
    let t = TestInstance::start().await;
    let home = tempfile::tempdir().unwrap();
    sign_in_once(home.path(), t.url()).await;
    let mut demo = TrayApp::spawn_in(
        home.path(),
        env!("CARGO_BIN_EXE_belfry"),
        &["--demo", "--autostarted"],
        &[("BELFRY_SMALL_TRAY", std::ffi::OsStr::new("1"))],
    );
    let pid = demo.child.id();
    let menu = Menu::find_for(Some(pid)).await;
    menu.until("Settings", |e| e.label == "Settings…").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(demo.child.try_wait().unwrap().is_none(), "the demo ended");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe.file_name().and_then(|n| n.to_str()), Some("belfry"));
}

/// Belfry launched again (from the app menu, say) while the small tray
/// runs: the small tray is the session's one Belfry, so the new launch
/// exits and the small tray hands over to the full app, which opens the
/// inbox.
#[tokio::test]
async fn launched_again_while_the_small_tray_runs_the_inbox_opens() {
    let t = TestInstance::start().await;
    let home = tempfile::tempdir().unwrap();
    sign_in_once(home.path(), t.url()).await;
    let small = at_login(home.path());
    let pid = small.child.id();
    let menu = Menu::find_for(Some(pid)).await;
    menu.until("Connected", |e| e.label == "Connected").await;

    let mut again = TrayApp::spawn_in(home.path(), env!("CARGO_BIN_EXE_belfry"), &[], &[]);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = again.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the second launch did not hand over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    until_exe(pid, "belfry").await;
    let full = Menu::find_for(Some(pid)).await;
    full.until("Settings", |e| e.label == "Settings…").await;
}

/// Revokes the token the first run kept, as signing out elsewhere does.
async fn revoke_saved_token(instance: &str) {
    let base = belfry_core::net::instance_url(instance, true).unwrap();
    let token = belfry_os::secrets::load(base.as_str(), OPERATOR.0)
        .unwrap()
        .expect("the first run kept its token");
    let tls = belfry_core::net::tls_config(None).unwrap();
    belfry_core::net::Api::new(base, token, &tls)
        .unwrap()
        .logout()
        .await
        .unwrap();
}

/// The saved sign-in was revoked elsewhere: the small tray cannot sign in
/// without a form, so it hands over to the full app, whose tray (and
/// window) asks to sign in, instead of exiting with nothing on screen.
#[tokio::test]
async fn a_small_tray_whose_sign_in_was_revoked_hands_over_to_the_sign_in_form() {
    let t = TestInstance::start().await;
    let home = tempfile::tempdir().unwrap();
    sign_in_once(home.path(), t.url()).await;
    revoke_saved_token(t.url()).await;

    let app = at_login(home.path());
    let pid = app.child.id();
    let menu = Menu::find_for(Some(pid)).await;
    menu.until("Sign in", |e| e.label == "Sign in…").await;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe.file_name().and_then(|n| n.to_str()), Some("belfry"));
}

/// Signed out elsewhere while the small tray runs: the same, the full
/// app's sign-in form.
#[tokio::test]
async fn signed_out_elsewhere_the_small_tray_hands_over_to_the_sign_in_form() {
    let t = TestInstance::start().await;
    let home = tempfile::tempdir().unwrap();
    sign_in_once(home.path(), t.url()).await;
    let app = at_login(home.path());
    let pid = app.child.id();
    let small = Menu::find_for(Some(pid)).await;
    small.until("Connected", |e| e.label == "Connected").await;
    small.until("Open inbox", |e| e.label == "Open inbox").await;

    revoke_saved_token(t.url()).await;
    until_exe(pid, "belfry").await;
    let full = Menu::find_for(Some(pid)).await;
    full.until("Sign in", |e| e.label == "Sign in…").await;
}

/// Launched while the Belfry before it is still quitting (it owns the
/// single-instance name but answers nothing), Belfry waits for the name
/// and starts, instead of handing over to an app that is gone and exiting.
#[tokio::test]
async fn a_launch_while_the_last_app_quits_waits_for_it_and_starts() {
    let t = TestInstance::start().await;
    // A stand-in for the quitting app: the name, and nothing served.
    let quitting = zbus::connection::Builder::session()
        .name("app.belfry.desktop.SingleInstance")
        .build()
        .await
        .unwrap();
    let mut app = TrayApp::start(t.url());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        app.child.try_wait().unwrap().is_none(),
        "the new launch exited while the old app held the name"
    );
    drop(quitting);
    let menu = Menu::find_for(Some(app.child.id())).await;
    menu.until("Connected", |e| e.label.starts_with("Connected"))
        .await;
}

/// Updates signed the way the release workflow signs them
/// (`tauri signer sign`: minisign, the version in the trusted comment), in
/// a feed the instance serves over TLS with its own CA.
struct Feed {
    dir: tempfile::TempDir,
    key: minisign::KeyPair,
    tls: belfry_tests::tls::TlsFront,
}

const NEW_VERSION: &str = "99.0.0";
const INSTALLED: &[u8] = b"\x7fELF Belfry 0.1.0, as installed";
const NEW_BUILD: &[u8] = b"\x7fELF Belfry 99.0.0, the update";

fn b64(s: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A minisign signature of `bytes` for `version`, as Tauri stores it.
fn signature(key: &minisign::KeyPair, bytes: &[u8], version: &str) -> String {
    let trusted = format!("timestamp:1764633600\tfile:Belfry.AppImage\tversion:{version}");
    let sig = minisign::sign(
        Some(&key.pk),
        &key.sk,
        std::io::Cursor::new(bytes),
        Some(&trusted),
        Some("signature from tauri secret key"),
    )
    .unwrap();
    b64(sig.to_string())
}

impl Feed {
    /// An instance serving an empty feed from a folder of its own (its
    /// `--updates-dir`), behind TLS with its own CA, and a new update key.
    async fn start() -> (TestInstance, Self) {
        let dir = tempfile::tempdir().unwrap();
        let t = TestInstance::start_with(belfry_instance::Config {
            updates_dir: Some(dir.path().to_owned()),
            ..belfry_instance::Config::default()
        })
        .await;
        let feed = Feed {
            tls: belfry_tests::tls::TlsFront::start(t.instance.addr).await,
            dir,
            key: minisign::KeyPair::generate_unencrypted_keypair().unwrap(),
        };
        (t, feed)
    }

    /// Publishes `artifact` as version 99.0.0 with `signature`.
    fn publish(&self, artifact: &[u8], signature: &str) {
        self.publish_as(NEW_VERSION, artifact, signature);
    }

    /// Publishes `artifact` as `version` with `signature`.
    fn publish_as(&self, version: &str, artifact: &[u8], signature: &str) {
        let stable = self.dir.path().join("stable");
        std::fs::create_dir_all(&stable).unwrap();
        std::fs::write(
            self.dir.path().join("Belfry_99.0.0_amd64.AppImage"),
            artifact,
        )
        .unwrap();
        let latest = serde_json::json!({
            "version": version,
            "notes": "Faster toasts.",
            "pub_date": "2026-12-01T09:00:00Z",
            "platforms": {
                "linux-x86_64": {
                    "signature": signature,
                    "url": format!("{}/updates/Belfry_99.0.0_amd64.AppImage", self.tls.url()),
                }
            }
        });
        std::fs::write(stable.join("latest.json"), latest.to_string()).unwrap();
    }

    /// The organization's configuration naming this feed and its key.
    fn managed(&self, at: &std::path::Path) -> PathBuf {
        let pubkey = b64(self.key.pk.to_box().unwrap().to_string());
        let file = at.join("managed.toml");
        std::fs::write(
            &file,
            format!(
                "[enforced]\nupdate_feed = \"{}/updates/{{{{channel}}}}/latest.json\"\nupdate_pubkey = \"{pubkey}\"\nextra_ca = {:?}\n",
                self.tls.url(),
                self.tls.ca_file,
            ),
        )
        .unwrap();
        file
    }
}

/// Runs the tray app as if it were the AppImage at `appimage`, offered
/// the published update; clicks Install and returns the menu entry that
/// says how it ended.
async fn offer_and_install(t: &TestInstance, feed: &Feed, appimage: &std::path::Path) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let managed = feed.managed(scratch.path());
    let app = TrayApp::start_with(
        t.url(),
        &[
            ("BELFRY_MANAGED_CONFIG", managed.as_os_str()),
            // What an AppImage's runtime sets: the file the updater replaces.
            ("APPIMAGE", appimage.as_os_str()),
            // Each run finds the last one's token: the full tray, whose
            // update entries are the subject here, not the small one.
            ("BELFRY_SMALL_TRAY", std::ffi::OsStr::new("off")),
        ],
    );
    let menu = Menu::find_for(Some(app.child.id())).await;
    let offer = menu
        .until("the update offer", |e| e.label == "Install update 99.0.0…")
        .await;
    menu.click(&offer).await;
    let outcome = menu
        .until("the update's outcome", |e| {
            e.label.starts_with("Restart to finish") || e.label.contains("refused")
        })
        .await;
    outcome.label
}

#[tokio::test]
async fn an_update_installs_only_when_its_signature_verifies() {
    let (t, feed) = Feed::start().await;
    let installed = tempfile::tempdir().unwrap();
    let appimage = installed.path().join("Belfry.AppImage");
    let reset = || {
        std::fs::write(&appimage, INSTALLED).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&appimage, std::fs::Permissions::from_mode(0o755)).unwrap();
    };

    // Bytes altered after signing: refused, the installed app untouched.
    reset();
    let mut tampered = NEW_BUILD.to_vec();
    tampered[10] ^= 1;
    feed.publish(&tampered, &signature(&feed.key, NEW_BUILD, NEW_VERSION));
    let outcome = offer_and_install(&t, &feed, &appimage).await;
    assert_eq!(
        outcome,
        "Update 99.0.0 refused: its signature does not verify"
    );
    assert_eq!(std::fs::read(&appimage).unwrap(), INSTALLED);

    // Signed, but by another key.
    let stranger = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    feed.publish(NEW_BUILD, &signature(&stranger, NEW_BUILD, NEW_VERSION));
    let outcome = offer_and_install(&t, &feed, &appimage).await;
    assert!(outcome.contains("refused"), "{outcome}");
    assert_eq!(std::fs::read(&appimage).unwrap(), INSTALLED);

    // The right key's signature of another release, announced as 99.0.0
    // (a feed replaying an old build under a new number).
    feed.publish(NEW_BUILD, &signature(&feed.key, NEW_BUILD, "98.0.0"));
    let outcome = offer_and_install(&t, &feed, &appimage).await;
    assert!(outcome.contains("refused"), "{outcome}");
    assert_eq!(std::fs::read(&appimage).unwrap(), INSTALLED);

    // Signed by the key for this version: installed over the AppImage.
    feed.publish(NEW_BUILD, &signature(&feed.key, NEW_BUILD, NEW_VERSION));
    let outcome = offer_and_install(&t, &feed, &appimage).await;
    assert_eq!(outcome, "Restart to finish updating to 99.0.0");
    assert_eq!(std::fs::read(&appimage).unwrap(), NEW_BUILD);
}

/// Whether a log file of the app in `home` has a line with `needle`.
fn logged(home: &std::path::Path, needle: &str) -> bool {
    belfry_tests::files_under(home).iter().any(|path| {
        path.extension().is_some_and(|x| x == "log")
            && std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
    })
}

/// Waits until the app in `home` logs `needle`.
async fn until_logged(home: &std::path::Path, needle: &str) {
    belfry_tests::eventually(
        &format!("the log to say {needle:?}"),
        Duration::from_secs(30),
        || logged(home, needle),
    )
    .await;
}

/// The small tray asks the update feed too (it never downloads): with the
/// feed at this version its menu offers nothing; with a newer one it shows
/// "Update to 99.0.0…", whose click hands the process over to the full
/// app, which finds the update in its check at start and installs it
/// without a second click (only once it verifies, as above).
#[tokio::test]
async fn the_small_tray_offers_a_newer_version_and_hands_over_to_install_it() {
    let (t, feed) = Feed::start().await;
    let scratch = tempfile::tempdir().unwrap();
    let managed = feed.managed(scratch.path());
    let appimage = scratch.path().join("Belfry.AppImage");
    std::fs::write(&appimage, INSTALLED).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&appimage, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let env = [
        ("BELFRY_MANAGED_CONFIG", managed.as_os_str()),
        // What an AppImage's runtime sets: the file the updater replaces.
        ("APPIMAGE", appimage.as_os_str()),
    ];
    let args = ["--instance", t.url(), "--login", OPERATOR.0];
    let small_tray = || {
        TrayApp::spawn(
            &belfry_tests::small_binary(env!("CARGO_BIN_EXE_belfry")),
            &args,
            &env,
        )
    };

    // The feed at this very version: nothing to offer.
    let current = env!("CARGO_PKG_VERSION");
    feed.publish_as(
        current,
        NEW_BUILD,
        &signature(&feed.key, NEW_BUILD, current),
    );
    let app = small_tray();
    let home = app._home.as_ref().unwrap().path().to_owned();
    let menu = Menu::find_for(Some(app.child.id())).await;
    menu.until("Connected", |e| e.label == "Connected").await;
    until_logged(&home, "Belfry is up to date").await;
    let entries = menu.entries().await;
    assert!(
        !entries.iter().any(|e| e.label.starts_with("Update to")),
        "an update offered at the same version: {entries:?}"
    );
    drop(app);

    // A newer one: offered above Quit; the click hands over.
    feed.publish(NEW_BUILD, &signature(&feed.key, NEW_BUILD, NEW_VERSION));
    let app = small_tray();
    let pid = app.child.id();
    let menu = Menu::find_for(Some(pid)).await;
    let offer = menu
        .until("the update notice", |e| e.label == "Update to 99.0.0…")
        .await;
    let entries = menu.entries().await;
    let at = |label: &str| entries.iter().position(|e| e.label == label);
    assert_eq!(
        at("Update to 99.0.0…").map(|i| i + 1),
        at("Quit Belfry"),
        "the notice sits right above Quit: {entries:?}"
    );
    menu.click_to_hand_over(&offer).await;
    until_exe(pid, "belfry").await;
    let full = Menu::find_for(Some(pid)).await;
    let outcome = full
        .until("the update installed", |e| {
            e.label.starts_with("Restart to finish") || e.label.starts_with("Update 99.0.0")
        })
        .await;
    assert_eq!(outcome.label, "Restart to finish updating to 99.0.0");
    assert_eq!(std::fs::read(&appimage).unwrap(), NEW_BUILD);
}

/// A hostile title in the menu's list of unread items: shown as the text
/// it is (a menu label renders no markup), without the bidi override and
/// zero-width characters that would make it lie about what it says.
#[tokio::test]
async fn a_hostile_title_is_listed_as_plain_text() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let _app = TrayApp::start(t.url());
    let menu = Menu::find().await;
    menu.until("Connected", |e| e.label.starts_with("Connected"))
        .await;
    let entry = hostile_item(&admin, &menu).await;
    assert_eq!(
        entry.label,
        "<b>Boss</b>fdp.exe <img src=x onerror=alert(1)> Q&A_1"
    );
    assert!(
        !entry.label.contains(['\u{202E}', '\u{200B}']),
        "{:?}",
        entry.label
    );
}

/// The disk fills while the tray runs: the menu's first line says the
/// notifications cannot be stored (the app goes on delivering them), and
/// once there is room again, and what was missed is filled in, it says
/// Connected and nothing more.
#[tokio::test]
async fn a_full_disk_is_said_in_the_menu_until_there_is_room_again() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let data = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(&data.path().join("data"), "16m");
    let _app = TrayApp::start_with(
        t.url(),
        &[("XDG_DATA_HOME", data.path().join("data").as_os_str())],
    );
    let menu = Menu::find().await;
    menu.until("Connected", |e| e.label == "Connected").await;
    let _ = admin.emit_many(OPERATOR.0, "ticket_message", 20).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let filler = disk.fill();
    // More than the WAL's spare room: the store has to grow, and cannot.
    let _ = admin.emit_large_thread(OPERATOR.0, 600).await;
    let line = menu
        .until("the full disk", |e| {
            e.label.starts_with("Connected · storing notifications")
        })
        .await;
    assert!(
        line.label
            .starts_with("Connected · storing notifications: "),
        "says why: {:?}",
        line.label
    );

    std::fs::remove_file(filler).unwrap();
    // Refilled within the core's 5 s retry; the menu follows.
    menu.until("Connected and nothing wrong", |e| e.label == "Connected")
        .await;
}

/// An own sound an older Belfry kept as FLAC is rewritten as WAV when the
/// full app starts (the small tray, which idles all day, has no FLAC
/// decoder to play it), and the device settings then name the WAV.
#[tokio::test]
async fn an_own_sound_kept_in_its_old_format_is_rewritten_as_wav_at_start() {
    let t = TestInstance::start().await;
    let home = tempfile::tempdir().unwrap();
    let sounds = home.path().join("data/belfry/sounds");
    std::fs::create_dir_all(&sounds).unwrap();
    let old = sounds.join("sla_expired.flac");
    let samples = belfry_tests::sound::beep(8_000, 1, 0.25);
    std::fs::write(&old, belfry_tests::sound::flac(8_000, 1, &samples)).unwrap();
    let config = home.path().join("config/belfry/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!(
            "[sound.custom]\nsla_expired = {:?}\n",
            old.to_str().unwrap()
        ),
    )
    .unwrap();

    let args = [
        "--autostarted",
        "--instance",
        t.url(),
        "--login",
        OPERATOR.0,
    ];
    let env = [("BELFRY_SMALL_TRAY", std::ffi::OsStr::new("off"))];
    let _app = TrayApp::spawn_in(home.path(), env!("CARGO_BIN_EXE_belfry"), &args, &env);
    let wav = sounds.join("sla_expired.wav");
    belfry_tests::eventually(
        "the settings to name the WAV",
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(&config)
                .is_ok_and(|c| c.contains(wav.to_str().unwrap()) && !c.contains(".flac"))
        },
    )
    .await;
    let clip = belfry_os::sounds::load(&wav).unwrap();
    assert_eq!(clip.samples().len(), samples.len(), "the whole sound");
}
