//! The `belfry` binary in headless mode, as a user runs it: signs in from
//! the terminal, raises real toasts through the rig's notification daemon,
//! acknowledges delivery, and exits cleanly on SIGTERM.

// Linux's desktop through the rig (docs/platforms.md says what the Windows
// pass covers instead).
#![cfg(target_os = "linux")]
// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_tests::disk::SmallDisk;
use belfry_tests::{OPERATOR, TestInstance, eventually, files_under, recording_browser};
use reqwest::Method;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn belfry_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_belfry"))
}

struct App {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    home: Arc<tempfile::TempDir>,
}

impl App {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_in(Arc::new(tempfile::tempdir().unwrap()), args, env)
    }

    /// Starts with the config and data directories of `home` (kept across runs).
    fn start_in(home: Arc<tempfile::TempDir>, args: &[&str], env: &[(&str, &str)]) -> Self {
        assert!(
            std::env::var_os("BELFRY_RIG").is_some(),
            "needs the rig: run with `cargo xtask test`"
        );
        let mut cmd = Command::new(belfry_binary());
        cmd.arg("--headless")
            .arg("--verbose")
            .args(args)
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("BELFRY_LOG", "info,belfry_core=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, log, home }
    }

    /// The local store file the app created.
    fn store_file(&self) -> Option<PathBuf> {
        let dir = self.home.path().join("data").join("belfry");
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name().is_some_and(|n| {
                    n.to_string_lossy().starts_with("inbox-")
                        && n.to_string_lossy().ends_with(".db")
                })
            })
    }

    fn kill_hard(mut self) -> Arc<tempfile::TempDir> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        Arc::clone(&self.home)
    }

    fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    /// Waits up to 20 s for `cond`; fails with the app's log.
    async fn until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let start = std::time::Instant::now();
        while !cond() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}; the app's log:\n{}",
                self.dump()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    fn dump(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    async fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "did not stop on SIGTERM:\n{}",
                self.dump()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(status.success(), "exit {status}:\n{}", self.dump());
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // A failed test must not leave the app running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dunst_history() -> String {
    let _ = Command::new("dunstctl").arg("close-all").status();
    let out = Command::new("dunstctl").arg("history").output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn headless_signs_in_toasts_acknowledges_and_stops_on_sigterm() {
    let t = TestInstance::start().await;
    let app = App::start(
        &["--instance", t.url(), "--login", OPERATOR.0],
        &[("BELFRY_PASSWORD", OPERATOR.1)],
    );
    eventually("connected", Duration::from_secs(20), || {
        app.logged("Connected")
    })
    .await;
    assert!(
        !app.logged(OPERATOR.1),
        "the password never reaches the log"
    );
    // `belfry --headless` handed over to belfry-headless: the process maps
    // none of the GUI's libraries.
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", app.child.id())).unwrap();
    assert!(maps.contains("/belfry-headless"), "{maps}");
    for gui in ["libgtk-3", "libwebkit2gtk", "libjavascriptcoregtk"] {
        assert!(!maps.contains(gui), "{gui} is mapped:\n{maps}");
    }

    let admin = t.admin().await;
    let n = admin
        .emit(
            "sla_expired",
            "Headless SLA check",
            "Ticket #42 breached",
            "/tickets/42",
        )
        .await;
    eventually(
        "the toast reached the daemon",
        Duration::from_secs(10),
        || dunst_history().contains("Headless SLA check"),
    )
    .await;
    let path = format!(
        "/api/v1/admin/operators/{}/notifications/{}",
        OPERATOR.0, n.id
    );
    let mut delivered = false;
    for _ in 0..100 {
        let d: serde_json::Value = admin.get(&path).await;
        if d["delivered_at"].is_string() {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(delivered, "the desktop acknowledged the notification");
    app.stop().await;
}

/// `belfry-headless` carries no demo instance (it is `belfry`'s): asked
/// for one, it says where the demo is instead of failing somewhere deeper.
#[test]
fn the_small_binary_sends_the_demo_to_belfry() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(belfry_tests::small_binary(env!("CARGO_BIN_EXE_belfry")))
        .arg("--demo")
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("run `belfry --headless --demo`"), "{said}");
}

#[tokio::test]
async fn headless_demo_runs_its_own_instance() {
    let app = App::start(&["--demo", "--demo-every-ms", "200"], &[]);
    eventually("demo events arrive", Duration::from_secs(30), || {
        app.logged("notification")
    })
    .await;
    eventually(
        "demo toasts reach the daemon",
        Duration::from_secs(10),
        || dunst_history().contains("\"Belfry\""),
    )
    .await;
    let home = Arc::clone(&app.home);
    app.stop().await;
    // No token in the config, data (store, demo instance, logs) or cache.
    let files = files_under(home.path());
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("config.toml") || f.extension().is_some_and(|e| e == "db"))
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"blf_"),
            "a token in {}",
            file.display()
        );
    }
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error() {
    let t = TestInstance::start().await;
    let mut app = App::start(
        &["--instance", t.url(), "--login", OPERATOR.0],
        &[("BELFRY_PASSWORD", "wrong-password")],
    );
    let status = tokio::task::spawn_blocking(move || {
        let s = app.child.wait().unwrap();
        (s, app)
    })
    .await
    .unwrap();
    assert!(!status.0.success());
    eventually("the reason", Duration::from_secs(5), || {
        status.1.logged("wrong login or password")
    })
    .await;
}

/// Every notification on the server, oldest first, and the ids it has as read.
async fn server_inbox(op: &belfry_tests::Api) -> (Vec<(u64, String)>, HashSet<String>) {
    let mut all = Vec::new();
    let mut read = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/inbox?limit=500".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: belfry_proto::inbox::InboxPage = op.get(&path).await;
        for n in page.items {
            if n.read_at.is_some() {
                read.insert(n.id.clone());
            }
            all.push((n.seq, n.id));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    all.reverse();
    (all, read)
}

/// The ids a local store has as read.
fn read_here(store: &belfry_core::store::Store) -> HashSet<String> {
    store
        .all_ids()
        .unwrap()
        .into_iter()
        .map(|(_, id)| id)
        .filter(|id| store.is_read(id).unwrap())
        .collect()
}

/// SIGKILLed 22 times while it catches up on what arrived while it was
/// down, stores a live burst and sends the operator's reads from its outbox:
/// after the last restart nothing is lost, nothing doubled, and every read
/// made in the app reached the server.
#[tokio::test]
async fn killed_22_times_during_catch_up_and_sync_nothing_is_lost_doubled_or_unsent() {
    const KILLS: usize = 22;
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let operator = t.operator().await;
    let args = ["--instance", t.url(), "--login", OPERATOR.0];
    let env = [("BELFRY_PASSWORD", OPERATOR.1)];
    let mut home = Arc::new(tempfile::tempdir().unwrap());
    fastrand::seed(11);
    let app = App::start_in(Arc::clone(&home), &args, &env);
    eventually("connected", Duration::from_secs(20), || {
        app.logged("Connected")
    })
    .await;
    let store_path = app.store_file().expect("the app made its store");
    app.stop().await;
    let mut emitted = 0;
    let mut marked: HashSet<String> = HashSet::new();
    for _ in 0..KILLS {
        // While the app is down: the helpdesk goes on (a catch-up for the
        // next start), and reads the operator made just before the kill
        // wait in the outbox, written as the app writes them.
        emitted += admin
            .emit_many(OPERATOR.0, "ticket_message", 400)
            .await
            .len();
        {
            let store = belfry_core::store::Store::open(&store_path).unwrap();
            let ids: Vec<String> = store
                .all_ids()
                .unwrap()
                .into_iter()
                .map(|(_, id)| id)
                .filter(|id| !store.is_read(id).unwrap())
                .collect();
            let pick: Vec<String> = (0..ids.len().min(25))
                .map(|_| ids[fastrand::usize(..ids.len())].clone())
                .collect();
            marked.extend(store.mark_read(&pick).unwrap());
        }
        let app = App::start_in(Arc::clone(&home), &args, &env);
        if fastrand::bool() {
            // And a live burst on top of the catch-up.
            emitted += admin
                .emit_many(OPERATOR.0, "ticket_message", 200)
                .await
                .len();
        }
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..700))).await;
        home = app.kill_hard();
    }
    let app = App::start_in(Arc::clone(&home), &args, &env);
    eventually("connected after the kills", Duration::from_secs(20), || {
        app.logged("Connected")
    })
    .await;
    eventually(
        "everything stored and the outbox sent",
        Duration::from_secs(60),
        || {
            belfry_core::store::Store::open(&store_path).is_ok_and(|s| {
                s.all_ids().unwrap().len() >= emitted && s.outbox().unwrap().is_empty()
            })
        },
    )
    .await;
    app.stop().await;
    let store = belfry_core::store::Store::open(&store_path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let (want, read_there) = server_inbox(&operator).await;
    assert_eq!(want.len(), emitted);
    assert_eq!(
        store.all_ids().unwrap(),
        want,
        "nothing lost, nothing doubled, in order"
    );
    let unsent: Vec<&String> = marked
        .iter()
        .filter(|id| !read_there.contains(*id))
        .collect();
    assert!(unsent.is_empty(), "reads lost from the outbox: {unsent:?}");
    assert_eq!(read_here(&store), read_there, "read states agree");
}

/// The machine sleeps (here: the process is frozen with SIGSTOP while the
/// server's heartbeat gives up on it) and wakes: the app reconnects at
/// once and shows what it missed as one summary, not one toast each.
#[tokio::test]
async fn after_a_freeze_it_reconnects_and_shows_what_it_missed_as_one_summary() {
    let t = TestInstance::start_with(belfry_instance::Config {
        heartbeat: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let admin = t.admin().await;
    let app = App::start(
        &["--instance", t.url(), "--login", OPERATOR.0],
        &[("BELFRY_PASSWORD", OPERATOR.1)],
    );
    eventually("connected", Duration::from_secs(20), || {
        app.logged("Connected")
    })
    .await;
    let connected = app.count("Connected");
    let pid = app.child.id().to_string();
    Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    // Titles of this test's own (the rig's dunst keeps other tests' toasts
    // in its history; its 1.9 has no history-clear).
    let missed = (0..30)
        .map(|i| belfry_proto::api::EmitEvent {
            operator: OPERATOR.0.into(),
            type_id: "ticket_created".into(),
            title: Some(format!("while frozen {i}")),
            body: None,
            path: Some(format!("/tickets/{i}")),
            data: Default::default(),
        })
        .collect();
    assert_eq!(admin.emit_batch(missed).await.len(), 30);
    tokio::time::sleep(Duration::from_secs(4)).await;
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    app.until("connected again", || app.count("Connected") > connected)
        .await;
    app.until("one summary", || {
        dunst_history().contains("30 new while you were away")
    })
    .await;
    let history = dunst_history();
    assert!(
        !history.contains("while frozen"),
        "no toast per missed notification: {history}"
    );
    app.stop().await;
}

#[tokio::test]
async fn with_the_disk_full_it_says_so_keeps_toasting_and_fills_in_what_it_missed() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let operator = t.operator().await;
    // Sound on for SLA breaches (editable with the instance's extended
    // settings on): the melody must ring through a full disk too.
    let _: belfry_proto::settings::Policy = admin
        .send(
            Method::PUT,
            "/api/v1/admin/policy",
            &belfry_proto::settings::Policy {
                extended_settings: true,
                ..belfry_proto::settings::Policy::default()
            },
        )
        .await;
    let doc: belfry_proto::settings::SettingsDocument = operator.get("/api/v1/settings").await;
    let mut prefs = doc.preferences.clone();
    prefs.channels.sound.enabled = true;
    if let Some(sla) = prefs.types.get_mut("sla_expired") {
        sla.channels.push("sound".into());
    }
    let _: belfry_proto::settings::SettingsDocument = operator
        .send(
            Method::PUT,
            "/api/v1/settings",
            &belfry_proto::settings::SettingsWrite {
                base_version: doc.version,
                preferences: prefs,
            },
        )
        .await;
    let home = Arc::new(tempfile::tempdir().unwrap());
    let disk = SmallDisk::mount(&home.path().join("data"), "6m");
    let app = App::start_in(
        Arc::clone(&home),
        &["--instance", t.url(), "--login", OPERATOR.0],
        &[
            ("BELFRY_PASSWORD", OPERATOR.1),
            (
                "BELFRY_LOG",
                "info,belfry_core=debug,belfry_os::player=debug",
            ),
        ],
    );
    eventually("connected", Duration::from_secs(20), || {
        app.logged("Connected")
    })
    .await;
    let _ = admin.emit_many(OPERATOR.0, "ticket_message", 50).await;
    let path = app.store_file().expect("the app made its store");
    let stored = |n: usize| {
        belfry_core::store::Store::open(&path).is_ok_and(|s| s.all_ids().unwrap().len() >= n)
    };
    eventually("the first 50 stored", Duration::from_secs(10), || {
        stored(50)
    })
    .await;

    // The first fifty's toasts go (the operator dismisses them), so what
    // comes next has room on screen rather than joining their summary.
    let _ = dunst_history();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let filler = disk.fill();
    let _ = Command::new("dunstctl").arg("history-clear").status();
    // More than the WAL's spare room: the store has to grow, and cannot.
    let _ = admin.emit_large_thread(OPERATOR.0, 600).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = dunst_history();
    tokio::time::sleep(Duration::from_millis(500)).await;
    admin
        .emit(
            "sla_expired",
            "Breach while the disk is full",
            "x",
            "/tickets/2",
        )
        .await;
    eventually(
        "the app says the disk refused",
        Duration::from_secs(20),
        || app.logged("storing notifications"),
    )
    .await;
    app.until("the toast still shows", || {
        dunst_history().contains("Breach while the disk is full")
    })
    .await;
    app.until("its melody still plays", || {
        app.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("playing") && l.contains("sla_expired"))
    })
    .await;

    // Space again: what the store missed is filled in from the instance.
    std::fs::remove_file(filler).unwrap();
    eventually(
        "everything stored once there is room",
        Duration::from_secs(30),
        || stored(50 + 601),
    )
    .await;
    app.stop().await;
    let store = belfry_core::store::Store::open(&path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let (want, _) = server_inbox(&operator).await;
    assert_eq!(store.all_ids().unwrap(), want);
}

#[tokio::test]
async fn with_a_read_only_data_directory_it_says_so_and_keeps_toasting() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let home = Arc::new(tempfile::tempdir().unwrap());
    let disk = SmallDisk::mount(&home.path().join("data"), "16m");
    let args = ["--instance", t.url(), "--login", OPERATOR.0];
    let env = [("BELFRY_PASSWORD", OPERATOR.1)];
    let app = App::start_in(Arc::clone(&home), &args, &env);
    eventually("connected", Duration::from_secs(20), || {
        app.logged("Connected")
    })
    .await;
    let _ = admin.emit_many(OPERATOR.0, "ticket_message", 30).await;
    let path = app.store_file().expect("the app made its store");
    eventually("30 stored", Duration::from_secs(10), || {
        belfry_core::store::Store::open(&path).is_ok_and(|s| s.all_ids().unwrap().len() == 30)
    })
    .await;
    app.stop().await;

    disk.remount("ro");
    let _ = Command::new("dunstctl").arg("history-clear").status();
    let app = App::start_in(Arc::clone(&home), &args, &env);
    for _ in 0..200 {
        if app.logged("Connected") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(app.logged("Connected"), "not connected:\n{}", app.dump());
    admin
        .emit(
            "sla_expired",
            "Breach on a read-only disk",
            "x",
            "/tickets/3",
        )
        .await;
    eventually("the toast shows", Duration::from_secs(20), || {
        dunst_history().contains("Breach on a read-only disk")
    })
    .await;
    assert!(
        app.logged("local inbox unavailable") || app.logged("storing notifications"),
        "the app says the disk refused:\n{}",
        app.dump()
    );
    app.stop().await;
    disk.remount("rw");
    let store = belfry_core::store::Store::open(&path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(
        store.all_ids().unwrap().len(),
        30,
        "what was stored is intact"
    );
}

fn keyring_entries(user: &str) -> String {
    let out = Command::new("secret-tool")
        .args([
            "search",
            "--all",
            "service",
            belfry_os::secrets::SERVICE,
            "username",
            user,
        ])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn the_sign_in_lives_only_in_the_keyring_and_sign_out_forgets_it() {
    let t = TestInstance::start().await;
    let home = Arc::new(tempfile::tempdir().unwrap());
    let url = t.url().to_owned();
    let args = ["--instance", url.as_str(), "--login", OPERATOR.0];
    // Every level of every crate logs (HTTP, TLS, WebSocket, D-Bus): the
    // token must appear at none of them.
    let app = App::start_in(
        Arc::clone(&home),
        &args,
        &[("BELFRY_PASSWORD", OPERATOR.1), ("BELFRY_LOG", "trace")],
    );
    eventually("connected", Duration::from_secs(20), || {
        app.logged("Connected")
    })
    .await;
    let log = app.dump();
    app.stop().await;

    let user = format!("{}@{}", OPERATOR.0, url);
    let entries = keyring_entries(&user);
    let token = entries
        .lines()
        .find_map(|l| l.strip_prefix("secret = "))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no keyring entry: {entries}"));
    assert!(token.starts_with("blf_"), "{entries}");
    assert!(!log.contains(&token), "the token reached the log");
    for file in files_under(home.path()) {
        let bytes = std::fs::read(&file).unwrap();
        let found = bytes.windows(token.len()).any(|w| w == token.as_bytes());
        assert!(!found, "the token is in {}", file.display());
    }

    // Next start: no password anywhere, the keyring signs in, even with the
    // instance down at start: the app waits offline and connects when it is back.
    let stopped = t.pause().await;
    let app = App::start_in(Arc::clone(&home), &args, &[]);
    eventually("offline, still running", Duration::from_secs(20), || {
        app.logged("Offline")
    })
    .await;
    let t = stopped.resume().await;
    eventually(
        "connected from the keyring",
        Duration::from_secs(20),
        || app.logged("Connected"),
    )
    .await;
    app.stop().await;

    // Sign out: the token is revoked on the instance and forgotten here.
    let mut out = App::start_in(
        Arc::clone(&home),
        &[&args[..], &["--sign-out"]].concat(),
        &[],
    );
    let status = tokio::task::spawn_blocking(move || out.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    assert!(!keyring_entries(&user).contains("secret = "), "forgotten");
    let api = belfry_tests::Api {
        base: t.url().to_owned(),
        token,
        http: reqwest::Client::new(),
    };
    let a = api.call(Method::GET, "/api/v1/me", None::<&()>).await;
    assert_eq!(
        a.status,
        reqwest::StatusCode::UNAUTHORIZED,
        "revoked on the instance"
    );
}

/// Whether the server has the notification as read.
async fn read_on_server(admin: &belfry_tests::Api, id: &str) -> bool {
    let d: serde_json::Value = admin
        .get(&format!(
            "/api/v1/admin/operators/{}/notifications/{id}",
            OPERATOR.0
        ))
        .await;
    d["notification"]["read_at"].is_string()
}

async fn until_read(admin: &belfry_tests::Api, id: &str) {
    for _ in 0..200 {
        if read_on_server(admin, id).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} was never read on the server");
}

fn dunstctl(args: &[&str]) -> String {
    let out = Command::new("dunstctl").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn a_toast_opens_its_item_on_the_instance_and_marks_it_read() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    dunstctl(&["close-all"]);
    let home = Arc::new(tempfile::tempdir().unwrap());
    let (browser, opened) = recording_browser(home.path());
    let app = App::start_in(
        Arc::clone(&home),
        &["--instance", t.url(), "--login", OPERATOR.0],
        &[
            ("BELFRY_PASSWORD", OPERATOR.1),
            ("BROWSER", browser.to_str().unwrap()),
        ],
    );
    eventually("connected", Duration::from_secs(20), || {
        app.logged("Connected")
    })
    .await;

    // A click on the toast: the item opens in the browser and is read.
    let first = admin
        .emit(
            "sla_expired",
            "Open me",
            "from the headless tests",
            "/tickets/7",
        )
        .await;
    eventually("the toast", Duration::from_secs(10), || {
        dunstctl(&["count", "displayed"]) == "1"
    })
    .await;
    dunstctl(&["action", "0"]);
    let want = format!("{}/tickets/7", t.url().trim_end_matches('/'));
    eventually("the browser got the link", Duration::from_secs(10), || {
        std::fs::read_to_string(&opened).is_ok_and(|s| s.lines().any(|l| l == want))
    })
    .await;
    until_read(&admin, &first.id).await;
    // Read, so its toast goes away.
    eventually("the toast closed", Duration::from_secs(10), || {
        dunstctl(&["count", "displayed"]) == "0"
    })
    .await;

    // The Mark read button: read on the server, nothing opened.
    let second = admin
        .emit(
            "sla_expired",
            "Mark me read",
            "from the headless tests",
            "/tickets/8",
        )
        .await;
    eventually("the toast", Duration::from_secs(10), || {
        dunstctl(&["count", "displayed"]) == "1"
    })
    .await;
    let rig_home = PathBuf::from(std::env::var_os("HOME").unwrap());
    std::fs::write(rig_home.join("dmenu-choice"), "Mark read").unwrap();
    dunstctl(&["context"]);
    until_read(&admin, &second.id).await;
    let links = std::fs::read_to_string(&opened).unwrap();
    assert_eq!(links.lines().count(), 1, "Mark read opens nothing: {links}");
    app.stop().await;
}

/// Unpauses dunst even when the test fails.
struct Unpause;
impl Drop for Unpause {
    fn drop(&mut self) {
        dunstctl(&["set-paused", "false"]);
    }
}

#[tokio::test]
async fn a_paused_daemon_holds_toasts_back_and_the_inbox_still_fills() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    dunstctl(&["close-all"]);
    dunstctl(&["history-clear"]);
    let _unpause = Unpause;
    dunstctl(&["set-paused", "true"]);
    let app = App::start(
        &["--instance", t.url(), "--login", OPERATOR.0],
        &[("BELFRY_PASSWORD", OPERATOR.1)],
    );
    eventually("connected", Duration::from_secs(20), || {
        app.logged("Connected")
    })
    .await;
    eventually("quiet, and says why", Duration::from_secs(10), || {
        app.logged("toasts and sounds held back")
    })
    .await;
    assert!(app.logged("DoNotDisturb"), "{}", app.dump());
    let held = admin
        .emit(
            "sla_expired",
            "Held back",
            "from the headless tests",
            "/tickets/9",
        )
        .await;
    eventually("stored in the inbox", Duration::from_secs(10), || {
        app.logged("Held back")
    })
    .await;

    dunstctl(&["set-paused", "false"]);
    eventually("back", Duration::from_secs(10), || {
        app.logged("toasts and sounds are back")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !dunst_history().contains("Held back"),
        "no toast for what arrived while quiet"
    );
    assert!(!read_on_server(&admin, &held.id).await, "still unread");
    admin
        .emit(
            "sla_expired",
            "After the pause",
            "from the headless tests",
            "/tickets/10",
        )
        .await;
    eventually("toasts again", Duration::from_secs(10), || {
        dunst_history().contains("After the pause")
    })
    .await;
    app.stop().await;
}

/// `dunstctl` on another session bus.
fn dunstctl_on(bus: &str, args: &[&str]) -> String {
    let out = Command::new("dunstctl")
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A login race: the notification daemon starts after Belfry. Toasts fail
/// (said once) while there is none, and start by themselves when it comes.
#[tokio::test]
async fn a_notification_daemon_that_starts_late_is_picked_up() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let (app, bus) = app_on_bare_bus(&t);
    app.until("connected", || app.logged("Connected")).await;
    admin
        .emit(
            "sla_expired",
            "Before the daemon",
            "late daemon",
            "/tickets/1",
        )
        .await;
    app.until("no service, said", || app.logged("showing notifications"))
        .await;

    // The daemon comes up on that bus (the rig's config and display).
    let mut dunst = Command::new("dunst")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    eventually("the late daemon is up", Duration::from_secs(10), || {
        dunstctl_on(&bus.address, &["is-paused"]).trim() == "false"
    })
    .await;
    // Events keep coming; within Belfry's retry interval one is toasted.
    let deadline =
        std::time::Instant::now() + belfry_os::toast::RECONNECT_EVERY + Duration::from_secs(15);
    let mut shown = None;
    for i in 0.. {
        let title = format!("After the daemon {i}");
        admin
            .emit("sla_expired", &title, "late daemon", "/tickets/2")
            .await;
        let history = async {
            loop {
                if dunstctl_on(&bus.address, &["history"]).contains("After the daemon") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(2), history)
            .await
            .is_ok()
        {
            shown = Some(i);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no toast on the late daemon:\n{}",
            app.dump()
        );
    }
    let _ = dunst.kill();
    let _ = dunst.wait();
    assert!(shown.is_some());
    assert!(
        app.logged("toasts are back") && app.logged("showing notifications works again"),
        "it says toasts are back:\n{}",
        app.dump()
    );
    assert!(
        !dunstctl_on(&bus.address, &["history"]).contains("Before the daemon"),
        "no toast shown late for what came before"
    );
    app.stop().await;
}

/// dunst on `bus` with the rig's configuration and an idle threshold, so
/// it keeps every toast (nobody is at the rig's keyboard), with `home` as
/// its HOME so what its recorder writes is the test's; up and answering.
async fn away_dunst(home: &std::path::Path, bus: &str) -> Child {
    let config = home.join("away-dunstrc");
    std::fs::write(
        &config,
        belfry_tests::away_dunstrc().expect("the rig's dunstrc"),
    )
    .unwrap();
    let dunst = Command::new("dunst")
        .arg("-config")
        .arg(&config)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env("HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    eventually("dunst on the test's bus", Duration::from_secs(10), || {
        dunstctl_on(bus, &["is-paused"]).trim() == "false"
    })
    .await;
    dunst
}

/// Toasts dunst on `bus` has on screen.
fn displayed_on(bus: &str) -> u32 {
    dunstctl_on(bus, &["count", "displayed"])
        .trim()
        .parse()
        .unwrap_or(u32::MAX)
}

/// A desk left alone on a dunst that keeps every toast: five events (the
/// maximum and a summary on screen), then, past the toasts' time, three
/// more. Returns how many toasts are on screen after.
async fn left_alone(admin: &belfry_tests::Api, bus: &str, title: &str, body: &str) -> u32 {
    let banner = belfry_proto::settings::BannerPrefs::default();
    for i in 0..5 {
        admin
            .emit("sla_expired", &format!("{title} {i}"), body, "/tickets/1")
            .await;
    }
    eventually(
        "the maximum and a summary on screen",
        Duration::from_secs(10),
        || displayed_on(bus) == banner.max_simultaneous + 1,
    )
    .await;
    // Past the toasts' time the daemon still shows them, so new events
    // should go into the summary instead of onto a pile.
    tokio::time::sleep(Duration::from_secs(u64::from(banner.duration_s) + 1)).await;
    for i in 5..8 {
        admin
            .emit("sla_expired", &format!("{title} {i}"), body, "/tickets/1")
            .await;
    }
    // They reach the app within milliseconds; give the daemon time to draw.
    tokio::time::sleep(Duration::from_secs(3)).await;
    displayed_on(bus)
}

/// An operator away from the desk, on a notification daemon that keeps
/// every toast until it is dismissed (dunst, mako: no list to move an
/// expired toast to; dunst's `idle_threshold` keeps them while nobody is
/// at the keyboard, and nobody is at the rig's). The screen collects at
/// most `max_simultaneous` toasts and one summary that counts the rest,
/// also after the toasts' time is up, and a place frees when the daemon
/// closes its toast.
#[tokio::test]
async fn a_daemon_that_keeps_every_toast_collects_the_maximum_and_one_summary() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let home = Arc::new(tempfile::tempdir().unwrap());
    let bus = BareBus::start(home.path());
    let mut dunst = away_dunst(home.path(), &bus.address).await;
    let app = app_on(Arc::clone(&home), &t, &bus);
    app.until("connected", || app.logged("Connected")).await;
    let seen = || std::fs::read_to_string(home.path().join("dunst-seen")).unwrap_or_default();
    let max = belfry_proto::settings::BannerPrefs::default().max_simultaneous;
    assert_eq!(
        left_alone(&admin, &bus.address, "Away", "kept").await,
        max + 1,
        "toasts on screen after the time was up (seen: {})\n{}",
        seen(),
        app.dump()
    );
    assert!(
        !seen().contains("Away 5"),
        "a toast of its own past the maximum:\n{}",
        seen()
    );

    // The daemon restarts (its configuration reloaded): the toasts it kept
    // went with it, and places free for the next events.
    let _ = dunst.kill();
    let _ = dunst.wait();
    let mut dunst = away_dunst(home.path(), &bus.address).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for i in 0.. {
        admin
            .emit(
                "sla_expired",
                &format!("Restarted {i}"),
                "kept",
                "/tickets/1",
            )
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if seen().contains("Restarted") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no toast of its own after the daemon restarted (seen: {})\n{}",
            seen(),
            app.dump()
        );
    }

    // Back at the desk: the operator dismisses them; the next event has a
    // toast of its own again.
    dunstctl_on(&bus.address, &["close-all"]);
    eventually("the screen cleared", Duration::from_secs(5), || {
        displayed_on(&bus.address) == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    admin
        .emit("sla_expired", "Back at the desk", "kept", "/tickets/1")
        .await;
    eventually("its own toast", Duration::from_secs(10), || {
        seen().contains("Back at the desk")
    })
    .await;
    let _ = dunst.kill();
    let _ = dunst.wait();
    app.stop().await;
}

/// A notification service that renders no markup and keeps its own list
/// of toasts (as some do), hosted by the test on the test's bus: it
/// records what it is sent. A stand-in because the services that keep a
/// list (`persistence`: GNOME Shell's, KDE's) do not run in the rig, and
/// dunst never says it; the daemon it hands over to is the real dunst.
struct PlainService {
    got: Arc<Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl PlainService {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut got = self.got.lock().unwrap();
        got.push((summary, body));
        u32::try_from(got.len()).unwrap()
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "persistence".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "plain".into(),
            "belfry tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// The notification service changes hands while Belfry runs (a user
/// switching from a plain daemon to dunst): the next toasts are in the new
/// one's terms. Its markup is escaped (text sent raw to a plain daemon
/// would be read as markup by dunst, and a body's `<b>` or `<a href>`
/// would change what the operator sees), and as dunst keeps every toast
/// while nobody is at the keyboard, the screen holds the maximum and one
/// summary there even after the toasts' time is up.
#[tokio::test]
async fn a_service_of_another_kind_taking_over_gets_toasts_in_its_own_terms() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let home = Arc::new(tempfile::tempdir().unwrap());
    let bus = BareBus::start(home.path());
    let got = Arc::new(Mutex::new(Vec::new()));
    let plain = zbus::connection::Builder::address(bus.address.as_str())
        .name("org.freedesktop.Notifications")
        .serve_at(
            "/org/freedesktop/Notifications",
            PlainService {
                got: Arc::clone(&got),
            },
        )
        .build()
        .await
        .unwrap();
    let app = app_on(Arc::clone(&home), &t, &bus);
    app.until("connected", || app.logged("Connected")).await;
    let typed = "a <i>b</i> & <a href=\"https://evil.example\">c</a>";
    admin
        .emit("sla_expired", "On the plain one", typed, "/tickets/1")
        .await;
    eventually("the plain service's toast", Duration::from_secs(10), || {
        !got.lock().unwrap().is_empty()
    })
    .await;
    // As typed, but for the invisible joiner that keeps the address from
    // becoming a link (`belfry_os::toast::unlinked`).
    let shown = belfry_os::toast::unlinked(typed);
    assert_eq!(
        got.lock().unwrap()[0],
        ("On the plain one".to_owned(), shown.clone()),
        "a plain-text service gets the text as typed"
    );

    // dunst takes the name (the rig's config with an idle threshold).
    drop(plain);
    let mut dunst = away_dunst(home.path(), &bus.address).await;
    // Time for the app to hear the bus's word that the name changed hands;
    // `show` asks again if its first toast races it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let max = belfry_proto::settings::BannerPrefs::default().max_simultaneous;
    assert_eq!(
        left_alone(&admin, &bus.address, "On dunst", typed).await,
        max + 1,
        "dunst keeps its toasts: at most the maximum and a summary\n{}",
        app.dump()
    );
    assert_eq!(got.lock().unwrap().len(), 1, "nothing more to the one gone");
    // What dunst was sent, from its history once the toasts are closed.
    dunstctl_on(&bus.address, &["close-all"]);
    let escaped = belfry_os::toast::escape_markup(&shown);
    eventually("dunst's history", Duration::from_secs(5), || {
        dunstctl_on(&bus.address, &["history"]).contains("On dunst 0")
    })
    .await;
    let history: serde_json::Value =
        serde_json::from_str(&dunstctl_on(&bus.address, &["history"])).unwrap();
    let first = history["data"][0]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["summary"]["data"] == "On dunst 0")
        .unwrap();
    assert_eq!(
        first["body"]["data"], escaped,
        "dunst renders markup: the body is escaped for it"
    );
    let _ = dunst.kill();
    let _ = dunst.wait();
    app.stop().await;
}

/// Belfry signed in to `t` on a session bus of its own (see [`BareBus`]).
fn app_on_bare_bus(t: &TestInstance) -> (App, BareBus) {
    let home = Arc::new(tempfile::tempdir().unwrap());
    let bus = BareBus::start(home.path());
    (app_on(home, t, &bus), bus)
}

/// Belfry signed in to `t` in `home`, on `bus`.
fn app_on(home: Arc<tempfile::TempDir>, t: &TestInstance, bus: &BareBus) -> App {
    App::start_in(
        home,
        &["--instance", t.url(), "--login", OPERATOR.0],
        &[
            ("BELFRY_PASSWORD", OPERATOR.1),
            ("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str()),
        ],
    )
}

/// A session bus of its own, with no keyring and no notification service.
struct BareBus {
    child: Child,
    address: String,
}

impl BareBus {
    fn start(dir: &std::path::Path) -> Self {
        // No service directories: nothing can be activated on it.
        let config = dir.join("bare-bus.conf");
        std::fs::write(
            &config,
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
             <busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen>\
             <auth>EXTERNAL</auth><policy context=\"default\">\
             <allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>\
             <allow own=\"*\"/></policy></busconfig>\n",
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut address = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        Self {
            child,
            address: address.trim().to_owned(),
        }
    }
}

impl Drop for BareBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn with_no_keyring_and_no_notification_service_it_signs_in_for_this_run_and_goes_on() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let (app, _bus) = app_on_bare_bus(&t);
    eventually("connected", Duration::from_secs(30), || {
        app.logged("Connected")
    })
    .await;
    assert!(
        app.logged("signing in for this run only") && app.logged("no system keyring is running"),
        "a clear message and the way forward:\n{}",
        app.dump()
    );
    for i in 0..3 {
        admin
            .emit(
                "sla_expired",
                &format!("No daemon {i}"),
                "from the headless tests",
                "/tickets/1",
            )
            .await;
    }
    eventually("all three in the inbox", Duration::from_secs(10), || {
        (0..3).all(|i| app.logged(&format!("No daemon {i}")))
    })
    .await;
    let log = app.dump();
    let reports = log
        .lines()
        .filter(|l| l.contains("showing notifications"))
        .count();
    assert_eq!(reports, 1, "the missing service is reported once:\n{log}");
    let home = Arc::clone(&app.home);
    app.stop().await;

    // No plaintext fallback: the token is nowhere on disk.
    for file in files_under(home.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(!text.contains("blf_"), "a token in {}", file.display());
    }
}

#[tokio::test]
async fn start_at_login_writes_and_removes_the_autostart_entry() {
    let home = Arc::new(tempfile::tempdir().unwrap());
    let home_dir = home.path().to_str().unwrap().to_owned();
    let run = |on: &'static str| {
        let mut app = App::start_in(
            Arc::clone(&home),
            &["--start-at-login", on],
            &[("HOME", home_dir.as_str())],
        );
        let status = app.child.wait().unwrap();
        assert!(status.success(), "{}", app.dump());
        app
    };
    let entry = home.path().join(".config/autostart/belfry.desktop");

    let app = run("on");
    assert!(app.logged("will start at login"), "{}", app.dump());
    let desktop = std::fs::read_to_string(&entry).unwrap();
    let exec = desktop
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .unwrap_or_else(|| panic!("no Exec line: {desktop}"));
    let mut words = exec.split_whitespace();
    assert_eq!(
        PathBuf::from(words.next().unwrap()),
        belfry_binary(),
        "{desktop}"
    );
    assert_eq!(words.collect::<Vec<_>>(), ["--headless", "--autostarted"]);
    let config = std::fs::read_to_string(home.path().join("config/belfry/config.toml"))
        .unwrap_or_else(|e| panic!("{e}: {:?}", files_under(home.path())));
    assert!(config.contains("autostart = true"), "{config}");

    run("off");
    assert!(!entry.exists(), "the entry is gone");
    let config = std::fs::read_to_string(home.path().join("config/belfry/config.toml")).unwrap();
    assert!(config.contains("autostart = false"), "{config}");
}

/// The tray app with no display: one line that says what to do and exit
/// 1, not GTK's panic; and `--start-at-login on|off` needs no display at
/// all (it writes the entry for the tray app, named for people) and exits.
#[tokio::test]
async fn without_a_display_the_app_says_so_and_start_at_login_still_works() {
    assert!(
        std::env::var_os("BELFRY_RIG").is_some(),
        "needs the rig: run with `cargo xtask test`"
    );
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(belfry_binary())
            .args(args)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert_eq!(said.trim().lines().count(), 1, "one line: {said}");
    assert!(said.contains("no display"), "{said}");
    assert!(said.contains("--headless"), "it says what to do: {said}");
    assert!(!said.contains("panicked"), "{said}");

    let entry = home.path().join(".config/autostart/belfry.desktop");
    let out = run(&["--start-at-login", "on"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let desktop = std::fs::read_to_string(&entry).unwrap();
    let exec = desktop
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .unwrap_or_else(|| panic!("no Exec line: {desktop}"));
    assert_eq!(
        exec.split_whitespace().skip(1).collect::<Vec<_>>(),
        ["--autostarted"],
        "the tray app, not headless: {desktop}"
    );
    assert!(desktop.contains("\nName=Belfry\n"), "{desktop}");
    assert!(
        desktop.contains("\nComment=Helpdesk notifications in the tray\n"),
        "{desktop}"
    );
    let out = run(&["--start-at-login", "off"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!entry.exists(), "the entry is gone");
    // `--help` and the parser agree on the words.
    let help = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    assert!(help.contains("--start-at-login <on|off>"), "{help}");
}

/// The organization's start at login holds in headless too: a default
/// makes the login entry on a first run, an enforced "off" removes it, and
/// the command line cannot change an enforced value.
#[tokio::test]
async fn the_organizations_start_at_login_applies_headless_and_cannot_be_overridden() {
    let t = TestInstance::start().await;
    let home = Arc::new(tempfile::tempdir().unwrap());
    let home_dir = home.path().to_str().unwrap().to_owned();
    let policy = tempfile::tempdir().unwrap();
    let managed = policy.path().join("managed.toml");
    let managed_env = managed.to_str().unwrap().to_owned();
    let entry = home.path().join(".config/autostart/belfry.desktop");
    let config = home.path().join("config/belfry/config.toml");

    // A default, on a first run with no settings: the entry is made.
    std::fs::write(&managed, "[defaults]\nautostart = true\n").unwrap();
    assert!(!config.exists() && !entry.exists());
    let app = App::start_in(
        Arc::clone(&home),
        &["--instance", t.url(), "--login", OPERATOR.0],
        &[
            ("HOME", home_dir.as_str()),
            ("BELFRY_MANAGED_CONFIG", managed_env.as_str()),
            ("BELFRY_PASSWORD", OPERATOR.1),
        ],
    );
    app.until("connected", || app.logged("Connected")).await;
    app.stop().await;
    let desktop = std::fs::read_to_string(&entry)
        .unwrap_or_else(|e| panic!("{e}: {:?}", files_under(home.path())));
    assert!(
        desktop.contains("--headless --autostarted"),
        "the entry starts headless, as this run was:\n{desktop}"
    );

    // The operator turns it off: a default does not come back.
    let run = |args: &[&str]| {
        let mut app = App::start_in(
            Arc::clone(&home),
            args,
            &[
                ("HOME", home_dir.as_str()),
                ("BELFRY_MANAGED_CONFIG", managed_env.as_str()),
            ],
        );
        let status = app.child.wait().unwrap();
        (status, app)
    };
    let (status, app) = run(&["--start-at-login", "off"]);
    assert!(status.success(), "{}", app.dump());
    assert!(!entry.exists());
    let (status, app) = run(&["--start-at-login", "on"]);
    assert!(status.success(), "{}", app.dump());
    assert!(entry.exists());

    // Enforced off: any run removes the entry, and the command line is refused.
    std::fs::write(&managed, "[enforced]\nautostart = false\n").unwrap();
    let (status, app) = run(&["--start-at-login", "on"]);
    assert!(!status.success(), "refused:\n{}", app.dump());
    // Standard error is read on its own thread: wait for the message.
    app.until("a clear message", || {
        app.logged("your organization manages start at login (it is off)")
    })
    .await;
    assert!(!entry.exists(), "the organization's off holds");
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(
        saved.contains("autostart = true"),
        "the operator's own choice is kept for when the lock is lifted:\n{saved}"
    );
}

#[tokio::test]
async fn a_long_not_ready_brings_the_status_reminder_and_set_ready_ends_it() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let operator = t.operator().await;
    dunstctl(&["close-all"]);
    dunstctl(&["history-clear"]);
    // The operator asked to be reminded after 15 minutes of "not ready"…
    let mut doc: serde_json::Value = operator.get("/api/v1/settings").await;
    doc["preferences"]["reminders"]["status"] =
        serde_json::json!({ "enabled": true, "after_minutes": 15 });
    let _: serde_json::Value = operator
        .send(
            Method::PUT,
            "/api/v1/settings",
            &serde_json::json!({
                "base_version": doc["version"],
                "preferences": doc["preferences"],
            }),
        )
        .await;
    // …and the operator panel says they have been for 20.
    let since = chrono::Utc::now() - chrono::Duration::minutes(20);
    let _: serde_json::Value = admin
        .send(
            Method::PUT,
            &format!("/api/v1/admin/operators/{}/status", OPERATOR.0),
            &serde_json::json!({ "status": "not_ready", "since": since }),
        )
        .await;

    let app = App::start(
        &["--instance", t.url(), "--login", OPERATOR.0],
        &[("BELFRY_PASSWORD", OPERATOR.1)],
    );
    eventually("the reminder toast", Duration::from_secs(20), || {
        dunstctl(&["count", "displayed"]) == "1"
    })
    .await;
    assert!(app.logged("status reminder"), "{}", app.dump());
    // Its one button sets the status on the instance, and the toast goes.
    let rig_home = PathBuf::from(std::env::var_os("HOME").unwrap());
    std::fs::write(rig_home.join("dmenu-choice"), "Set ready").unwrap();
    dunstctl(&["context"]);
    operator.until_availability("ready").await;
    eventually("the reminder closed", Duration::from_secs(10), || {
        dunstctl(&["count", "displayed"]) == "0"
    })
    .await;
    let history = dunst_history();
    assert!(
        history.contains("Still not ready?") && history.contains("for 20 minutes"),
        "{history}"
    );

    // Not ready again, from the web: a fresh stretch, so no reminder now.
    let _: serde_json::Value = operator
        .send(
            Method::PUT,
            "/api/v1/status",
            &serde_json::json!({ "status": "not_ready" }),
        )
        .await;
    eventually("the app saw it", Duration::from_secs(10), || {
        app.logged("NotReady")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dunstctl(&["count", "displayed"]), "0", "{}", app.dump());
    app.stop().await;
}
