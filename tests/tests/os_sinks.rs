//! The real OS sinks in the test rig: toasts to the dunst notification
//! daemon on the rig's private session bus, melodies to ALSA's null device.
//! Run through `cargo xtask test`, which provides both.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_core::router::{Toast, ToastBody, ToastKey, Urgency};
use belfry_core::sinks::{Player, Sound, Toaster};
use belfry_os::player::MelodyPlayer;
use belfry_os::toast::DesktopToaster;
use belfry_proto::catalogue::Category;
use belfry_proto::inbox::Notification;
use std::process::Command;
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

fn melody(id: &str) -> Sound {
    Sound {
        melody: id.into(),
        type_id: None,
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
    let t = DesktopToaster::connect("Belfry", None).unwrap();
    t.show(&toast("1", "Ticket created", "first")).unwrap();
    displayed(1).await;
    t.show(&toast("1", "Message in ticket", "second")).unwrap();
    t.show(&toast("2", "Ticket created", "other")).unwrap();
    displayed(2).await;
    t.close(&ToastKey::Ticket("1".into())).unwrap();
    displayed(1).await;
    dunstctl(&["close-all"]);
}

#[tokio::test]
async fn hostile_text_is_shown_as_typed() {
    in_rig();
    dunstctl(&["close-all"]);
    dunstctl(&["history-clear"]);
    let t = DesktopToaster::connect("Belfry", None).unwrap();
    t.show(&toast(
        "x",
        "<b>Boss</b>",
        "<i>hi</i> & <a href=\"javascript:alert(1)\">click</a>",
    ))
    .unwrap();
    displayed(1).await;
    dunstctl(&["close-all"]);
    belfry_tests::eventually("history", Duration::from_secs(5), || {
        dunstctl(&["history"]).contains("Boss")
    })
    .await;
    let history: serde_json::Value = serde_json::from_str(&dunstctl(&["history"])).unwrap();
    let entry = &history["data"][0][0];
    assert_eq!(entry["summary"]["data"], "<b>Boss</b>");
    let body = entry["body"]["data"].as_str().unwrap();
    assert!(
        body.contains("&lt;i&gt;hi&lt;/i&gt;") || body.contains("<i>hi</i>"),
        "{body}"
    );
    assert!(
        !body.contains("<a href"),
        "markup was escaped for a markup-rendering daemon: {body}"
    );
    assert_eq!(entry["appname"]["data"], "Belfry");
}

#[tokio::test]
async fn melodies_play_through_the_audio_output() {
    in_rig();
    let p = MelodyPlayer::start(0.5).unwrap();
    p.play(&melody("chime")).unwrap();
    belfry_tests::eventually("melody started", Duration::from_secs(5), || {
        p.last_started.lock().unwrap().is_some()
    })
    .await;
    // The device opened: no fault is reported on the next melody.
    assert!(p.play(&melody("alert")).is_ok());
}
