//! A real django-helpdesk (from PyPI, in a throwaway Django project on
//! SQLite: tests/django_helpdesk/) feeding a real instance: a ticket opened,
//! a follow-up added and the ticket reassigned through django-helpdesk's
//! own code send its webhooks to the instance, and they reach the
//! operator's running Belfry: a toast on the rig's dunst, and inbox rows
//! whose links open that ticket on the helpdesk's server. The helpdesk's
//! web server is started and stopped by the test.
//!
//! `cargo xtask test` installs django-helpdesk into a venv under the target
//! directory, passes its Python in BELFRY_DJANGO_HELPDESK_PYTHON, and runs
//! the test in the rig, one at a time with the other tests of its dunst.

// The rig's dunst and a Linux venv: Linux only (the gateway's own tests,
// connectors*.rs, run in the Windows pass too).
#![cfg(target_os = "linux")]
// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_core::event::ConnState;
use belfry_core::router::ToastBody;
use belfry_core::sinks::{Record, Recorder, Sinks};
use belfry_instance::connectors::deliveries::Outcome;
use belfry_proto::inbox::{InboxPage, Notification};
use belfry_tests::hooks::{add_source, settled};
use belfry_tests::{Api, Desk, OPERATOR, TestInstance, eventually, quick_config};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("django_helpdesk")
}

fn dunstctl(args: &[&str]) -> String {
    let out = std::process::Command::new("dunstctl")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn python() -> PathBuf {
    match std::env::var_os("BELFRY_DJANGO_HELPDESK_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "BELFRY_DJANGO_HELPDESK_PYTHON is not set: run the suite with `cargo xtask test`, which installs django-helpdesk"
        ),
    }
}

/// The helpdesk's Python in the project, with its database and webhooks.
fn django(db: &Path, webhook: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.current_dir(project())
        .env("BELFRY_DJANGO_DB", db)
        .env("HELPDESK_NEW_TICKET_WEBHOOK_URLS", webhook)
        .env("HELPDESK_FOLLOWUP_WEBHOOK_URLS", webhook)
        .kill_on_drop(true);
    cmd
}

/// Runs a `drive.py` step; returns the JSON it prints.
async fn drive(db: &Path, webhook: &str, args: &[&str]) -> serde_json::Value {
    let out = django(db, webhook)
        .arg("drive.py")
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "drive.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

/// A free loopback port for the helpdesk's server.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `manage.py runserver` and waits until it answers.
async fn runserver(db: &Path, port: u16) -> Child {
    let child = django(db, "")
        .args([
            "manage.py",
            "runserver",
            &format!("127.0.0.1:{port}"),
            "--noreload",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let start = std::time::Instant::now();
    while client
        .get(format!("http://127.0.0.1:{port}/helpdesk/login/"))
        .send()
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "runserver never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child
}

async fn inbox(api: &Api) -> Vec<Notification> {
    let page: InboxPage = api.get("/api/v1/inbox?limit=100").await;
    page.items
}

fn toasted(records: &[Record], id: &str) -> bool {
    records.iter().any(
        |r| matches!(r, Record::Shown(_, t) if matches!(&t.body, ToastBody::Item(n) if n.id == id)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_django_helpdesk_reaches_the_operators_desktop() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("helpdesk.sqlite3");
    let migrate = django(&db, "")
        .args(["manage.py", "migrate", "-v0"])
        .output()
        .await
        .unwrap();
    assert!(
        migrate.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let users = drive(&db, "", &["users"]).await;
    let (agent, other) = (users["agent"].to_string(), users["other"].to_string());
    let port = free_port();
    let mut server = runserver(&db, port).await;

    // What the admin does (docs/connectors.md, "django-helpdesk").
    let t = TestInstance::start().await;
    t.create_account("ivan", "ivan-password", false).await;
    let admin = t.admin().await;
    let olga = t.operator().await;
    let ivan = Api::login(t.url(), "ivan", "ivan-password").await;
    let base = format!("http://127.0.0.1:{port}/helpdesk");
    let src = add_source(
        &admin,
        "helpdesk",
        "django-helpdesk",
        &base,
        &[(agent.as_str(), OPERATOR.0), (other.as_str(), "ivan")],
    )
    .await;
    let hook = src.webhook_url.clone();

    let desk = Desk::start(t.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    // Olga's Belfry as it runs on her desk: the core with the real
    // freedesktop toaster, on the rig's dunst.
    assert!(
        std::env::var_os("BELFRY_RIG").is_some(),
        "this test needs the rig's dunst: run it with `cargo xtask test`"
    );
    dunstctl(&["close-all"]);
    dunstctl(&["history-clear"]);
    let toaster = belfry_os::toast::DesktopToaster::connect(
        belfry_os::toast::AppIdentity {
            name: "Belfry".into(),
            icon: "belfry".into(),
            desktop_entry: "belfry".into(),
        },
        Arc::new(|_| {}),
    )
    .await
    .unwrap();
    let on_desk = Desk::start_with(
        t.url(),
        OPERATOR.0,
        OPERATOR.1,
        quick_config(),
        Sinks {
            toaster: Arc::new(toaster),
            player: Arc::new(Recorder::default()),
        },
        None,
    )
    .await
    .unwrap();
    let mut state = on_desk.state();
    tokio::time::timeout(
        Duration::from_secs(20),
        state.wait_for(|s| *s == ConnState::Connected),
    )
    .await
    .unwrap()
    .unwrap();

    // 1. A ticket opened and assigned to agent (olga).
    let ticket = drive(&db, &hook, &["new", "Printer on fire"]).await["ticket"].clone();
    let list = settled(&admin, "helpdesk").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].outcome, Outcome::Accepted, "{:?}", list[0]);
    let created = list[0].notifications[0].clone();
    assert_eq!(created.type_id, "ticket_created");
    eventually("the toast", Duration::from_secs(10), || {
        toasted(&desk.recorder.records(), &created.id)
    })
    .await;
    eventually("the toast on dunst", Duration::from_secs(10), || {
        dunstctl(&["count", "displayed"]) != "0"
    })
    .await;
    dunstctl(&["close-all"]);
    eventually("dunst's history", Duration::from_secs(5), || {
        dunstctl(&["history"]).contains("Printer on fire")
    })
    .await;
    let history: serde_json::Value = serde_json::from_str(&dunstctl(&["history"])).unwrap();
    let toast = &history["data"][0][0];
    assert_eq!(toast["summary"]["data"], "Ticket created", "{toast}");
    assert!(
        toast["body"]["data"]
            .as_str()
            .unwrap()
            .contains("Printer on fire"),
        "{toast}"
    );
    let link = format!("{base}/tickets/{ticket}/");
    let row = &inbox(&olga).await[0];
    assert_eq!(row.link.as_deref(), Some(link.as_str()));
    assert_eq!(row.body, format!("Ticket #{ticket} · “Printer on fire”"));
    // The desktop opens it: the helpdesk's origin is announced.
    let url = desk.engine.open_item(&created.id).await.unwrap();
    assert_eq!(url.as_str(), link);
    // The link is that ticket on the helpdesk's server: the server sends a
    // visitor to sign in and come back to it; signed in, the page is it.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains(&format!("next=/helpdesk/tickets/{ticket}/")),
        "{location}"
    );
    let page = drive(&db, "", &["page", url.path(), "Printer on fire"]).await;
    assert_eq!(page["status"], 200);
    assert_eq!(page["title_found"], true);

    // 2. A follow-up from another agent: a message for the assignee.
    let id = ticket.to_string();
    drive(&db, &hook, &["followup", &id, "Any news on the printer?"]).await;
    settled(&admin, "helpdesk").await;
    let rows = inbox(&olga).await;
    assert_eq!(rows[0].type_id, "ticket_message");
    assert!(
        rows[0].body.ends_with("Any news on the printer?"),
        "{}",
        rows[0].body
    );
    let message_id = rows[0].id.clone();
    eventually("the message's toast", Duration::from_secs(10), || {
        toasted(&desk.recorder.records(), &message_id)
    })
    .await;

    // 3. Reassigned to other (ivan): both hear of it, and only that.
    drive(&db, &hook, &["reassign", &id]).await;
    let list = settled(&admin, "helpdesk").await;
    assert_eq!(
        list[0].event.as_deref(),
        Some(&*format!("ticket {id}: reassigned"))
    );
    let made: Vec<(&str, &str)> = list[0]
        .notifications
        .iter()
        .map(|m| (m.type_id.as_str(), m.operator.as_str()))
        .collect();
    assert_eq!(
        made,
        [("ticket_reassign", "ivan"), ("ticket_reassign", OPERATOR.0)]
    );
    assert_eq!(inbox(&ivan).await.len(), 1);
    assert_eq!(inbox(&olga).await.len(), 3);

    server.kill().await.unwrap();
}
