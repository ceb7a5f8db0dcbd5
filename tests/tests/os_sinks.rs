//! The real OS toasts in the test rig: the dunst notification daemon on
//! the rig's private session bus, and the desktop's do-not-disturb.
//! Run through `cargo xtask test`, which provides both.

// The freedesktop notification service on D-Bus (dunst in the rig):
// Windows's toasts are WinRT's, which Wine does not implement
// (docs/platforms.md).
#![cfg(target_os = "linux")]
// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_core::router::{Toast, ToastBody, ToastKey, Urgency};
use belfry_core::sinks::{ToastEvent, Toaster};
use belfry_os::quiet::DoNotDisturb;
use belfry_os::toast::{AppIdentity, DesktopToaster};
use belfry_proto::catalogue::Category;
use belfry_proto::inbox::Notification;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn in_rig() {
    assert!(
        std::env::var_os("BELFRY_RIG").is_some(),
        "this test needs the rig's notification daemon and audio: run it with `cargo xtask test`"
    );
}

fn dunstctl(args: &[&str]) -> String {
    let out = Command::new("dunstctl").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn app() -> AppIdentity {
    AppIdentity {
        name: "Belfry".into(),
        icon: "/opt/belfry/belfry.png".into(),
        desktop_entry: "belfry".into(),
    }
}

/// A toaster whose toast events land in a list.
async fn toaster() -> (DesktopToaster, Arc<Mutex<Vec<ToastEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let t = DesktopToaster::connect(app(), Arc::new(move |e| sink.lock().unwrap().push(e)))
        .await
        .unwrap();
    (t, events)
}

async fn event(events: &Mutex<Vec<ToastEvent>>, want: &ToastEvent) {
    belfry_tests::eventually(&format!("{want:?}"), Duration::from_secs(5), || {
        events.lock().unwrap().contains(want)
    })
    .await;
}

/// Plays the user picking `choice` from the toast's action menu: dunst
/// lists the actions through the rig's picker, which records the menu and
/// answers with the matching line. Returns the menu dunst offered.
async fn pick_action(choice: &str) -> String {
    let home = std::path::PathBuf::from(std::env::var_os("HOME").unwrap());
    let _ = std::fs::remove_file(home.join("dmenu-menu"));
    std::fs::write(home.join("dmenu-choice"), choice).unwrap();
    dunstctl(&["context"]);
    let menu = home.join("dmenu-menu");
    belfry_tests::eventually("dunst's action menu", Duration::from_secs(5), || {
        menu.exists()
    })
    .await;
    std::fs::read_to_string(menu).unwrap()
}

fn toast(key: &str, title: &str, body: &str) -> Toast {
    Toast {
        key: ToastKey::Ticket(key.into()),
        body: ToastBody::Item(Box::new(Notification {
            id: format!("n-{key}"),
            seq: 1,
            type_id: "ticket_created".into(),
            category: Category::Events,
            title: title.into(),
            body: body.into(),
            link: None,
            created_at: chrono::Utc::now(),
            read_at: None,
            data: Default::default(),
        })),
        urgency: Urgency::Normal,
        timeout: Duration::from_secs(30),
        repeat: 0,
    }
}

async fn displayed(n: usize) {
    belfry_tests::eventually(
        &format!("{n} toasts on screen"),
        Duration::from_secs(5),
        || dunstctl(&["count", "displayed"]) == n.to_string(),
    )
    .await;
}

#[tokio::test]
async fn toasts_reach_the_daemon_replace_per_item_and_close() {
    in_rig();
    dunstctl(&["close-all"]);
    let (t, _) = toaster().await;
    t.show(&toast("1", "Ticket created", "first"))
        .await
        .unwrap();
    displayed(1).await;
    t.show(&toast("1", "Message in ticket", "second"))
        .await
        .unwrap();
    t.show(&toast("2", "Ticket created", "other"))
        .await
        .unwrap();
    displayed(2).await;
    t.close(&ToastKey::Ticket("1".into())).await.unwrap();
    displayed(1).await;
    dunstctl(&["close-all"]);
}

#[tokio::test]
async fn hostile_text_is_shown_as_typed() {
    in_rig();
    dunstctl(&["close-all"]);
    dunstctl(&["history-clear"]);
    let (t, _) = toaster().await;
    // Markup, a link, a bidi override that would flip "exe.pdf" into
    // "fdp.exe" and a zero-width space: the daemon gets the text as typed,
    // without the characters that would make it lie.
    t.show(&toast(
        "x",
        "<b>Boss</b>\u{202E}fdp.exe\u{200B}",
        "<i>hi</i> & <a href=\"javascript:alert(1)\">click</a> \u{2067}data:text/html,x\u{2069}",
    ))
    .await
    .unwrap();
    displayed(1).await;
    dunstctl(&["close-all"]);
    belfry_tests::eventually("history", Duration::from_secs(5), || {
        dunstctl(&["history"]).contains("Boss")
    })
    .await;
    let history: serde_json::Value = serde_json::from_str(&dunstctl(&["history"])).unwrap();
    let entry = &history["data"][0][0];
    // dunst renders markup in titles too: the title went escaped.
    assert_eq!(entry["summary"]["data"], "&lt;b&gt;Boss&lt;/b&gt;fdp.exe");
    let body = entry["body"]["data"].as_str().unwrap();
    assert!(
        body.contains("&lt;i&gt;hi&lt;/i&gt;") || body.contains("<i>hi</i>"),
        "{body}"
    );
    assert!(
        !body.contains("<a href"),
        "markup was escaped for a markup-rendering daemon: {body}"
    );
    // As typed, with an invisible word joiner that keeps the scheme from
    // being taken for a link.
    assert!(body.ends_with(" data\u{2060}:text/html,x"), "{body}");
    assert!(
        !body.contains(['\u{2067}', '\u{2069}', '\u{202E}', '\u{200B}']),
        "{body}"
    );
    assert_eq!(entry["appname"]["data"], "Belfry");
}

/// dunst finds URLs in a toast's text (and in its markup's links) and
/// offers them in its context menu: a toast made of hostile text offers
/// none, so no Belfry toast leads off the instance.
#[tokio::test]
async fn no_toast_offers_a_link_of_its_text() {
    in_rig();
    dunstctl(&["close-all"]);
    let (t, _) = toaster().await;
    t.show(&toast(
        "y",
        "<a href=\"https://evil.example/title\">Reply</a> www.evil.example",
        "Pay at https://evil.example/pay or HTTP://evil.example/b, \
         <a href=\"javascript:alert(1)\">this</a>, file:///etc/passwd, \
         mailto:thief@evil.example, ftp://evil.example/x",
    ))
    .await
    .unwrap();
    displayed(1).await;
    // Nothing in the menu matches this: it is read and nothing is picked.
    let menu = pick_action("(nothing to pick)").await;
    // dunst's menu: `#label (summary) [id,action]` per action, and
    // `[summary] address` per link it found. Only the toast's own actions:
    for line in menu.lines().filter(|l| !l.trim().is_empty()) {
        assert!(line.starts_with('#'), "dunst offers a link: {line}\n{menu}");
    }
    for address in [
        "https://",
        "http://",
        "ftp://",
        "file://",
        "mailto:",
        "javascript:",
    ] {
        assert!(!menu.contains(address), "{address} in {menu}");
    }
    assert!(
        menu.contains("#Open"),
        "the toast's own actions stay: {menu}"
    );
    dunstctl(&["close-all"]);
}

#[tokio::test]
async fn a_toast_carries_the_app_icon_urgency_and_answers_open_mark_read_and_dismiss() {
    in_rig();
    dunstctl(&["close-all"]);
    dunstctl(&["history-clear"]);
    let (t, events) = toaster().await;
    assert!(t.has_actions(), "dunst shows actions");
    // An ordinary event, for the urgency it carries.
    t.show(&toast("8", "Ticket created", "Ticket 8"))
        .await
        .unwrap();
    displayed(1).await;
    dunstctl(&["close-all"]);
    displayed(0).await;
    let mut sla = toast("9", "SLA breached", "Ticket 9 is overdue");
    sla.urgency = Urgency::Critical;
    t.show(&sla).await.unwrap();
    displayed(1).await;

    // The Mark read button, from the menu dunst itself builds from the toast.
    let menu = pick_action("Mark read").await;
    assert!(
        menu.contains("Open") && menu.contains("Mark read"),
        "{menu}"
    );
    let key = ToastKey::Ticket("9".into());
    event(&events, &ToastEvent::MarkRead(key.clone(), "n-9".into())).await;

    // A click on the toast (dunst's default action) opens the item.
    t.show(&sla).await.unwrap();
    displayed(1).await;
    dunstctl(&["action", "0"]);
    event(&events, &ToastEvent::Open(key.clone(), Some("n-9".into()))).await;

    // Dismissed by the user: reported, so repeats stop for it.
    t.show(&sla).await.unwrap();
    displayed(1).await;
    dunstctl(&["close"]);
    event(&events, &ToastEvent::Closed(key.clone())).await;

    // Closed by the app (read elsewhere): not reported back as a dismissal.
    events.lock().unwrap().clear();
    t.show(&sla).await.unwrap();
    displayed(1).await;
    t.close(&key).await.unwrap();
    displayed(0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        events.lock().unwrap().is_empty(),
        "{:?}",
        events.lock().unwrap()
    );

    let history: serde_json::Value = serde_json::from_str(&dunstctl(&["history"])).unwrap();
    let entry = &history["data"][0][0];
    assert_eq!(entry["appname"]["data"], "Belfry");
    assert_eq!(entry["icon_path"]["data"], "/opt/belfry/belfry.png");
    assert_eq!(entry["summary"]["data"], "SLA breached");
    assert_eq!(entry["default_action_name"]["data"], "default");
    // Urgency, as dunst's rule script saw it (its history does not keep it).
    let seen = std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join("dunst-seen");
    let seen = std::fs::read_to_string(seen).unwrap();
    assert!(
        seen.lines()
            .any(|l| l == "Belfry|SLA breached|/opt/belfry/belfry.png|CRITICAL"),
        "{seen}"
    );
    assert!(
        seen.lines()
            .any(|l| l.starts_with("Belfry|Ticket created|") && l.ends_with("|NORMAL")),
        "{seen}"
    );
}

#[tokio::test]
async fn the_daemon_paused_and_gnome_do_not_disturb_are_read() {
    in_rig();
    let dnd = DoNotDisturb::for_desktop("GNOME");
    let gsettings = |v: &str| {
        let ok = Command::new("gsettings")
            .args(["set", "org.gnome.desktop.notifications", "show-banners", v])
            .status()
            .unwrap()
            .success();
        assert!(ok, "gsettings set show-banners {v}");
    };
    assert_eq!(dnd.read(), None);
    dunstctl(&["set-paused", "true"]);
    let paused = dnd.read();
    dunstctl(&["set-paused", "false"]);
    assert_eq!(paused.as_deref(), Some("dunst is paused"));
    gsettings("false");
    let gnome = dnd.read();
    gsettings("true");
    assert_eq!(gnome.as_deref(), Some("GNOME's Do Not Disturb is on"));
    assert_eq!(dnd.read(), None);
    // Outside GNOME its setting is not consulted.
    gsettings("false");
    let elsewhere = DoNotDisturb::for_desktop("XFCE").read();
    gsettings("true");
    assert_eq!(elsewhere, None);
}
