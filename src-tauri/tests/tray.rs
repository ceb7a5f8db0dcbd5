//! The tray app's menu, driven as a panel drives it: the rig runs a
//! StatusNotifierWatcher, Belfry registers its item with it, and the test
//! reads the item's menu over D-Bus (com.canonical.dbusmenu) and clicks
//! entries by their labels, the way a desktop panel does.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_tests::{OPERATOR, TestInstance};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zbus::{ObjectPath, OwnedVariant as OwnedValue, Structure, Variant as Value};

/// The tray app, window closed (as when it starts at login).
struct TrayApp {
    child: Child,
    _home: tempfile::TempDir,
}

impl TrayApp {
    fn start(instance: &str) -> Self {
        assert!(
            std::env::var_os("BELFRY_RIG").is_some(),
            "needs the rig: run with `cargo xtask test`"
        );
        let home = tempfile::tempdir().unwrap();
        let child = Command::new(PathBuf::from(env!("CARGO_BIN_EXE_belfry")))
            .args([
                "--autostarted",
                "--instance",
                instance,
                "--login",
                OPERATOR.0,
            ])
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("BELFRY_PASSWORD", OPERATOR.1)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, _home: home }
    }
}

impl Drop for TrayApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A menu entry: its dbusmenu id and label (GTK's `_` mnemonics removed).
#[derive(Debug, Clone)]
struct Entry {
    id: i32,
    label: String,
    toggled: bool,
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
            ("label", Value::Str(l)) => label = l.as_str().replace('_', ""),
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
    if xml.contains("interface name=\"org.kde.StatusNotifierItem\"") {
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
            if let Some(item) = items.last() {
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

    async fn click(&self, e: &Entry) {
        let stamp = 0u32;
        self.conn
            .call_method(
                Some(self.bus.as_str()),
                self.path.as_str(),
                Some("com.canonical.dbusmenu"),
                "Event",
                &(e.id, "clicked", Value::from(0i32), stamp),
            )
            .await
            .unwrap();
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
    let ready = menu.until("Ready", |e| e.label == "Ready").await;
    assert!(ready.toggled, "the current status is checked");

    // The operator picks "Not ready" in the tray: the instance has it and
    // the menu says so.
    let not_ready = menu.until("Not ready", |e| e.label == "Not ready").await;
    menu.click(&not_ready).await;
    operator.until_availability("not_ready").await;
    menu.until("the new status", |e| {
        e.label.starts_with("Status: Not ready since")
    })
    .await;

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
