//! "Open inbox" from the tray, timed as the operator sees it: from the
//! click on the tray menu's entry to the list painted with its first rows,
//! on the release build with 10,000 notifications stored.
//!
//! - The click is the one a panel sends: `com.canonical.dbusmenu.Event`
//!   on the app's StatusNotifierItem menu, over the rig's session bus.
//! - Painted is what the window says: once the inbox's first rows are in
//!   the list, it waits for the frame that draws them (a
//!   `requestAnimationFrame`, then a task queued from it, which runs after
//!   the paint) and calls the shell's `inbox_painted`, which logs
//!   `inbox painted`; the time is when that line reaches this process. With
//!   `BELFRY_BENCH_OPENS` set the window then closes itself, so the next
//!   click opens a new one (a new webview, as after the user closed it).
//!
//! Two rows, as there are two trays behind the one menu:
//!
//! - the full app with its window closed (the first two minutes after the
//!   user closes it): a new window and webview in the running process;
//! - the small tray (`belfry-headless`, what runs after those two minutes
//!   and at login): the click hands the process over to the full app,
//!   which starts, signs in with the saved token, opens its store and the
//!   window.
//!
//! The floors: a bare Tauri 2 window's first paint (`bare-window
//! first-paint`, hardware acceleration off as Belfry's window has it; its
//! page says it is painted the same way): a new window in a running
//! process, and a process started to its first window painted.

use crate::Row;
use crate::footprint::{App, home};
use belfry_tests::{ADMIN, Api, OPERATOR};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use zbus::{ObjectPath, OwnedVariant as OwnedValue, Structure, Variant as Value};

/// Notifications stored.
const STORED: usize = 10_000;
/// Timed opens per row, after [`WARM_UP`] untimed ones.
const OPENS: usize = 10;
const WARM_UP: usize = 3;
/// The budget, at p99.
const BUDGET_MS: f64 = 300.0;
/// The longest wait for anything here.
const PATIENCE: Duration = Duration::from_secs(60);

pub fn run() -> Vec<Row> {
    if std::env::var_os("BELFRY_RIG").is_none() {
        println!("open: skipped (needs the rig: `cargo xtask bench open` runs it there)");
        return Vec::new();
    }
    let exe = std::env::current_exe().expect("the bench's path");
    let bin: PathBuf = exe.with_file_name("belfry");
    let bare = exe.with_file_name("bare-window");
    for b in [&bin, &bare] {
        if !b.exists() {
            println!(
                "open: skipped ({} is missing: `cargo xtask bench` builds it)",
                b.display()
            );
            return Vec::new();
        }
    }
    let instance = crate::burst::Instance::start();
    let url = instance.url.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let admin = Api::login(&url, ADMIN.0, ADMIN.1).await;
        for _ in 0..STORED / 1000 {
            let _ = admin.emit_many(OPERATOR.0, "ticket_created", 1000).await;
        }
    });

    // One HOME: the first run signs in (the token goes to the rig's
    // keyring, as the small tray needs) and stores the 10,000.
    let h = home();
    {
        let mut app = App::start(&bin, h.path(), &url, &["--headless"]);
        let _ = app.connected();
        until_stored(h.path(), STORED);
    }

    let mut rows = Vec::new();
    let (warm_floor, cold_floor) = bare_window(&bare);
    let bench_env = [("BELFRY_BENCH_OPENS", "1")];

    // The full app, its window closed: the first opening is the start's
    // (the window closes itself once painted); then the clicks.
    let full = {
        let env = [bench_env[0], ("BELFRY_SMALL_TRAY", "off")];
        let mut app = App::start_with(&bin, h.path(), &url, &[], &env);
        let painted = app.lines(&["inbox painted"]);
        until_line(&painted, "inbox painted");
        let pid = app.child.id();
        let samples = runtime.block_on(async {
            let menu = Menu::find_for(pid).await;
            let mut samples = Vec::new();
            for i in 0..WARM_UP + OPENS {
                until_no_window();
                let open = menu.until("Open inbox").await;
                let t = Instant::now();
                menu.click(&open, false).await;
                until_line(&painted, "inbox painted");
                if i >= WARM_UP {
                    samples.push(t.elapsed());
                }
            }
            samples
        });
        drop(app);
        samples
    };
    rows.push(
        Row::timed(
            "tray \"Open inbox\" → first rows painted, full app (window closed)",
            &full,
            &warm_floor,
            BUDGET_MS,
        )
        .at(0.99),
    );

    // The small tray: started at login with the sign-in saved; each click
    // hands over to the full app, which closes its window once painted and
    // hands back after a second with no window.
    let small = {
        let env = [bench_env[0], ("BELFRY_SMALL_TRAY", "1")];
        let mut app = App::start_with(&bin, h.path(), &url, &["--autostarted"], &env);
        let painted = app.lines(&["inbox painted"]);
        let pid = app.child.id();
        let samples = runtime.block_on(async {
            let mut samples = Vec::new();
            for i in 0..WARM_UP + OPENS {
                until_exe(pid, "belfry-headless").await;
                let menu = Menu::find_for(pid).await;
                // Connected, as a tray that has been running a while is.
                menu.until("Connected").await;
                let open = menu.until("Open inbox").await;
                let t = Instant::now();
                menu.click(&open, true).await;
                until_line(&painted, "inbox painted");
                if i >= WARM_UP {
                    samples.push(t.elapsed());
                }
            }
            samples
        });
        drop(app);
        samples
    };
    rows.push(
        Row::timed(
            "tray \"Open inbox\" → first rows painted, small tray (handing over)",
            &small,
            &cold_floor,
            BUDGET_MS,
        )
        .at(0.99),
    );
    for (figure, floor) in [
        (
            "a bare Tauri 2 window, a new one in its process",
            &warm_floor,
        ),
        ("a bare Tauri 2 window, its process started", &cold_floor),
    ] {
        rows.push(Row::timed(
            format!("{figure}: first paint"),
            floor,
            &[],
            f64::NAN,
        ));
    }
    println!(
        "open: {STORED} notifications stored; {OPENS} opens per row after {WARM_UP} untimed; \
         click (dbusmenu Event) to the window's `inbox painted` (a frame after its first rows); \
         floors: `bare-window first-paint` (hardware acceleration off), its page's first frame"
    );
    rows
}

/// The floors: the bare window's first paint in a running process (new
/// windows) and from its process's start; [`OPENS`] of each after the
/// warm-up.
fn bare_window(bin: &Path) -> (Vec<Duration>, Vec<Duration>) {
    let (mut warm, mut cold) = (Vec::new(), Vec::new());
    for i in 0..WARM_UP + OPENS {
        let h = home();
        let t = Instant::now();
        let mut child = Command::new(bin)
            .arg("first-paint")
            .env("HOME", h.path())
            .env("XDG_CONFIG_HOME", h.path().join("config"))
            .env("XDG_DATA_HOME", h.path().join("data"))
            .env("XDG_CACHE_HOME", h.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("bare-window starts");
        let out = BufReader::new(child.stdout.take().expect("its stdout"));
        let mut lines = out.lines().map_while(Result::ok);
        if lines.next().as_deref() == Some("painted") && i >= WARM_UP {
            cold.push(t.elapsed());
        }
        // The first window of each process only (the others are warm).
        if i == WARM_UP {
            for line in lines.by_ref() {
                let Some(ms) = line
                    .strip_prefix("reopened ")
                    .and_then(|v| v.parse::<f64>().ok())
                else {
                    continue;
                };
                warm.push(Duration::from_secs_f64(ms / 1e3));
                if warm.len() == WARM_UP + OPENS {
                    break;
                }
            }
            warm.drain(..WARM_UP.min(warm.len()));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    (warm, cold)
}

/// Waits for the next line of `lines` that holds `what` (earlier ones are
/// dropped).
fn until_line(lines: &Receiver<String>, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains(what) => return,
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => panic!("no {what:?} in the app's log"),
            Err(RecvTimeoutError::Disconnected) => panic!("the app ended before {what:?}"),
        }
    }
}

/// Waits until the store in `home` holds `n` notifications.
fn until_stored(home: &Path, n: usize) {
    let start = Instant::now();
    loop {
        let stored = find_db(home)
            .and_then(|db| {
                rusqlite::Connection::open_with_flags(
                    db,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .ok()
            })
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM notifications", [], |r| {
                    r.get::<_, i64>(0)
                })
                .ok()
            })
            .unwrap_or(0);
        if usize::try_from(stored).unwrap_or(0) >= n {
            return;
        }
        assert!(start.elapsed() < PATIENCE, "{stored} of {n} stored");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The app's store under `home` (`inbox-<hash>.db` wherever the
/// platform's data directory puts it).
fn find_db(dir: &Path) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(db) = find_db(&p) {
                return Some(db);
            }
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("inbox-") && n.ends_with(".db"))
        {
            return Some(p);
        }
    }
    None
}

/// Waits until no window is titled Belfry on the display (the last one
/// closed itself), so that the next click opens a new one.
fn until_no_window() {
    let start = Instant::now();
    loop {
        let tree = Command::new("xwininfo")
            .args(["-root", "-tree"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        // `0x1a00003 "Belfry (10000)": ("belfry" "Belfry")`: the name, not
        // the class (GTK's hidden leader window has the class too).
        let named: Vec<&str> = tree
            .lines()
            .filter(|l| {
                l.trim_start()
                    .split_once(' ')
                    .is_some_and(|(_, rest)| rest.starts_with("\"Belfry"))
            })
            .collect();
        if named.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the window stayed open: {named:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until process `pid` runs the binary `name` (it replaced itself).
async fn until_exe(pid: u32, name: &str) {
    let start = Instant::now();
    loop {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if exe.file_name().is_some_and(|n| n == name) {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "still {}, not {name}",
            exe.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A menu entry: its dbusmenu id and label.
#[derive(Debug, Clone)]
struct Entry {
    id: i32,
    label: String,
}

/// Belfry's tray menu on the session bus, as a panel reads it (the tray
/// tests' helper, `src-tauri/tests/tray.rs`, cut to what is clicked here).
struct Menu {
    conn: zbus::Connection,
    bus: String,
    path: String,
}

impl Menu {
    /// The menu of the item process `pid` registered.
    async fn find_for(pid: u32) -> Self {
        let conn = zbus::Connection::session().await.expect("the session bus");
        let start = Instant::now();
        loop {
            if let Some(menu) = Self::registered(&conn, pid).await {
                return menu;
            }
            assert!(start.elapsed() < PATIENCE, "the tray item never registered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn registered(conn: &zbus::Connection, pid: u32) -> Option<Self> {
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
            .ok()?;
        let items: OwnedValue = reply.body().deserialize().ok()?;
        let items: Vec<String> = items.try_into().unwrap_or_default();
        for item in items.iter().rev() {
            let bus = item.split('/').next().unwrap_or(item);
            // An item the process served before it replaced itself may
            // still be listed: its name has no owner any more.
            let owner = conn
                .call_method(
                    Some("org.freedesktop.DBus"),
                    "/org/freedesktop/DBus",
                    Some("org.freedesktop.DBus"),
                    "GetConnectionUnixProcessID",
                    &(bus,),
                )
                .await;
            if owner.ok().and_then(|o| o.body().deserialize::<u32>().ok()) != Some(pid) {
                continue;
            }
            let (bus, path) = match item.find('/') {
                Some(i) => (item[..i].to_owned(), item[i..].to_owned()),
                None => (item.clone(), item_path(conn, item, "/").await?),
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
                .ok()?;
            let menu: OwnedValue = menu.body().deserialize().ok()?;
            let menu: ObjectPath<'_> = menu.try_into().ok()?;
            return Some(Self {
                conn: conn.clone(),
                bus,
                path: menu.to_string(),
            });
        }
        None
    }

    async fn entries(&self) -> Vec<Entry> {
        let Ok(reply) = self
            .conn
            .call_method(
                Some(self.bus.as_str()),
                self.path.as_str(),
                Some("com.canonical.dbusmenu"),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await
        else {
            return Vec::new();
        };
        let body = reply.body();
        let Ok(body) = body.deserialize::<Structure<'_>>() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(layout) = body.fields().get(1) {
            walk(layout, &mut out);
        }
        out
    }

    /// Waits until an entry whose label starts with `label` is there.
    async fn until(&self, label: &str) -> Entry {
        let start = Instant::now();
        loop {
            let entries = self.entries().await;
            if let Some(e) = entries.into_iter().find(|e| e.label.starts_with(label)) {
                return e;
            }
            assert!(start.elapsed() < PATIENCE, "no {label:?} in the menu");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks `e`; when it `hands_over` (execs another binary), no reply
    /// is a click delivered.
    async fn click(&self, e: &Entry, hands_over: bool) {
        let sent = self
            .conn
            .call_method(
                Some(self.bus.as_str()),
                self.path.as_str(),
                Some("com.canonical.dbusmenu"),
                "Event",
                &(e.id, "clicked", Value::from(0i32), 0u32),
            )
            .await;
        match sent {
            Ok(_) => {}
            Err(err) if hands_over && err.to_string().contains("NoReply") => {}
            Err(err) => panic!("clicking {:?}: {err}", e.label),
        }
    }
}

/// The entries of a dbusmenu layout, depth first.
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
    for (k, v) in props.iter() {
        if let (Value::Str(k), Value::Variant(v)) = (k, v)
            && k.as_str() == "label"
            && let Value::Str(l) = &**v
        {
            // `_` marks a mnemonic; `__` is an underscore.
            label = l
                .as_str()
                .replace("__", "\u{0}")
                .replace('_', "")
                .replace('\u{0}', "_");
        }
    }
    out.push(Entry { id: *id, label });
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
