//! The reference instance over REST on loopback: auth, catalogue, settings
//! rules, inbox, restart, bad input.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_instance::Config;
use belfry_proto::api::{EmitEvent, OperatorStatus, ServerInfo};
use belfry_proto::catalogue::{Catalogue, Category, Group};
use belfry_proto::inbox::{InboxPage, MarkAllRead, MarkRead, ReadResult, UnreadCount};
use belfry_proto::settings::{Policy, Reason, SettingsDocument, SettingsWrite};
use belfry_tests::{ADMIN, Api, OPERATOR, TestInstance};
use reqwest::{Method, StatusCode};
use serde_json::json;

const SEED_GROUPS: [(Group, &[&str]); 5] = [
    (
        Group::Creation,
        &[
            "ticket_created",
            "chat_created",
            "comment_created",
            "ticket_message",
        ],
    ),
    (
        Group::Changes,
        &[
            "ticket_reassign",
            "chat_reassign",
            "send_transfer_chat",
            "ticket_closed",
            "ticket_reopened",
            "chat_closed",
            "ticket_status_name_changed",
            "watcher_added",
            "subject_change",
        ],
    ),
    (Group::Csat, &["csat_received", "csat_negative"]),
    (Group::Sla, &["sla_expired", "sla_time_in_status_exceeded"]),
    (
        Group::Normatives,
        &["normative_response_warning", "normative_response_overlimit"],
    ),
];

#[tokio::test]
async fn login_catalogue_and_defaults() {
    let t = TestInstance::start().await;
    let info: ServerInfo = reqwest::get(format!("{}/api/v1/info", t.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info.protocol_versions, vec![1]);
    assert_eq!(info.public_url, t.url());

    let api = t.operator().await;
    let cat: Catalogue = api.get("/api/v1/catalogue").await;
    let mut seed_ids = 0;
    for (group, ids) in SEED_GROUPS {
        let listed: Vec<&str> = cat
            .types
            .iter()
            .filter(|t| t.group == group && t.listed)
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(listed, ids, "group {group:?}");
        seed_ids += ids.len();
    }
    assert_eq!(seed_ids, 19);
    let mention = cat
        .types
        .iter()
        .find(|t| t.id == "operator_mentioned")
        .unwrap();
    assert!(!mention.listed);
    let system: Vec<&str> = cat
        .types
        .iter()
        .filter(|t| t.category == Category::System)
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(
        system,
        [
            "channel_disconnected",
            "source_disconnected",
            "channel_payment_needed",
            "message_delivery_failed"
        ]
    );
    assert!(
        cat.types
            .iter()
            .filter(|t| t.extended)
            .all(|t| matches!(t.group, Group::Csat | Group::Sla | Group::Normatives))
    );
    let bell = cat.channels.iter().find(|c| c.id == "bell").unwrap();
    assert!(bell.mandatory);
    let telegram = cat.channels.iter().find(|c| c.id == "telegram").unwrap();
    assert!(!telegram.enabled && !telegram.linked);
    assert!(cat.melodies.len() >= 8);

    let doc: SettingsDocument = api.get("/api/v1/settings").await;
    assert!(doc.preferences.receive);
    assert!(doc.preferences.channels.bell.enabled && doc.preferences.channels.banner.enabled);
    assert!(!doc.preferences.channels.sound.enabled);
    for (_, ids) in SEED_GROUPS {
        for id in ids {
            assert_eq!(
                doc.preferences.types[*id].channels,
                ["bell", "banner"],
                "{id}"
            );
        }
    }
}

#[tokio::test]
async fn wrong_password_wrong_token_and_logout() {
    let t = TestInstance::start().await;
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}/api/v1/auth/login", t.url()))
        .json(&json!({"login": OPERATOR.0, "password": "not-the-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_credentials");

    let forged = Api {
        token: "blf_forged".into(),
        ..t.operator().await
    };
    let a = forged
        .call(Method::GET, "/api/v1/settings", None::<&()>)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );

    let api = t.operator().await;
    let a = api
        .call(Method::GET, "/api/v1/admin/policy", None::<&()>)
        .await;
    assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let a = api
        .call(Method::POST, "/api/v1/auth/logout", None::<&()>)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = api.call(Method::GET, "/api/v1/me", None::<&()>).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
}

#[tokio::test]
async fn expired_token_is_refused() {
    let t = TestInstance::start_with(Config {
        token_ttl: std::time::Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let api = t.operator().await;
    let a = api.call(Method::GET, "/api/v1/me", None::<&()>).await;
    assert_eq!(a.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let a = api.call(Method::GET, "/api/v1/me", None::<&()>).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
}

#[tokio::test]
async fn stale_settings_write_returns_current_document() {
    let t = TestInstance::start().await;
    let api = t.operator().await;
    let doc: SettingsDocument = api.get("/api/v1/settings").await;
    let mut prefs = doc.preferences.clone();
    prefs.channels.banner.duration_s = 12;
    let saved: SettingsDocument = api
        .send(
            Method::PUT,
            "/api/v1/settings",
            &SettingsWrite {
                base_version: doc.version,
                preferences: prefs,
            },
        )
        .await;
    assert_eq!(saved.version, doc.version + 1);
    assert_eq!(saved.preferences.channels.banner.duration_s, 12);

    // A second edit from the old version loses to the first and learns it.
    let mut other = doc.preferences.clone();
    other.channels.sound.enabled = true;
    let a = api
        .call(
            Method::PUT,
            "/api/v1/settings",
            Some(&SettingsWrite {
                base_version: doc.version,
                preferences: other,
            }),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "stale_version")
    );
    let current: SettingsDocument = serde_json::from_value(a.body["current"].clone()).unwrap();
    assert_eq!(current, saved);
}

fn reasons(a: &belfry_tests::Answer) -> Vec<(String, Reason)> {
    a.body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                serde_json::from_value(f["reason"].clone()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn policy_refusals_say_why_per_field() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let policy = Policy {
        mandatory_channels: vec!["sound".into()],
        mandatory_types: vec!["chat_created".into()],
        ..Policy::default()
    };
    let _: Policy = admin
        .send(Method::PUT, "/api/v1/admin/policy", &policy)
        .await;

    let api = t.operator().await;
    let doc: SettingsDocument = api.get("/api/v1/settings").await;
    assert!(
        doc.preferences.channels.sound.enabled,
        "a new mandatory channel is switched on"
    );

    let mut prefs = doc.preferences.clone();
    prefs.channels.sound.enabled = false;
    prefs.channels.bell.enabled = false;
    prefs
        .types
        .get_mut("chat_created")
        .unwrap()
        .channels
        .clear();
    prefs.types.get_mut("ticket_created").unwrap().channels = vec!["banner".into()];
    let a = api
        .call(
            Method::PUT,
            "/api/v1/settings",
            Some(&SettingsWrite {
                base_version: doc.version,
                preferences: prefs,
            }),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "policy_violation")
    );
    let got = reasons(&a);
    for want in [
        (
            "preferences.channels.sound.enabled",
            Reason::MandatoryChannel,
        ),
        ("preferences.channels.bell.enabled", Reason::BellLocked),
        (
            "preferences.types.chat_created.channels",
            Reason::MandatoryType,
        ),
        (
            "preferences.types.ticket_created.channels",
            Reason::BellLocked,
        ),
    ] {
        assert!(
            got.contains(&(want.0.to_owned(), want.1)),
            "{want:?} missing from {got:?}"
        );
    }
    assert_eq!(
        a.body["current"]["version"], doc.version,
        "the current document comes back"
    );

    // Extended types are view-only until the admin turns extended settings on.
    let mut prefs = doc.preferences.clone();
    prefs
        .types
        .get_mut("sla_expired")
        .unwrap()
        .channels
        .push("sound".into());
    let write = SettingsWrite {
        base_version: doc.version,
        preferences: prefs.clone(),
    };
    let a = api
        .call(Method::PUT, "/api/v1/settings", Some(&write))
        .await;
    assert_eq!(
        reasons(&a),
        vec![("preferences.types.sla_expired".to_owned(), Reason::ViewOnly)]
    );

    let _: Policy = admin
        .send(
            Method::PUT,
            "/api/v1/admin/policy",
            &Policy {
                extended_settings: true,
                ..policy
            },
        )
        .await;
    let doc: SettingsDocument = api.get("/api/v1/settings").await;
    let saved: SettingsDocument = api
        .send(
            Method::PUT,
            "/api/v1/settings",
            &SettingsWrite {
                base_version: doc.version,
                preferences: prefs,
            },
        )
        .await;
    assert_eq!(
        saved.preferences.types["sla_expired"].channels,
        ["bell", "banner", "sound"]
    );
}

#[tokio::test]
async fn inbox_pages_filters_and_reads() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let ids = admin.emit_many(OPERATOR.0, "ticket_created", 120).await;
    let _: serde_json::Value = admin
        .send(
            Method::POST,
            "/api/v1/admin/events",
            &EmitEvent {
                operator: OPERATOR.0.into(),
                type_id: "channel_disconnected".into(),
                title: None,
                body: Some("Telegram bot token expired".into()),
                path: None,
                data: Default::default(),
            },
        )
        .await;
    let api = t.operator().await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/inbox?limit=50&category=events&cursor={c}"),
            None => "/api/v1/inbox?limit=50&category=events".to_owned(),
        };
        let page: InboxPage = api.get(&path).await;
        seen.extend(page.items.iter().map(|n| n.id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let found: InboxPage = api.get("/api/v1/inbox?q=token%20expired").await;
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].category, Category::System);

    let r: ReadResult = api
        .send(
            Method::POST,
            "/api/v1/inbox/read",
            &MarkRead {
                ids: ids[..10].to_vec(),
            },
        )
        .await;
    assert_eq!(r.marked.len(), 10);
    assert_eq!(r.unread, 111);
    let again: ReadResult = api
        .send(
            Method::POST,
            "/api/v1/inbox/read",
            &MarkRead {
                ids: ids[..10].to_vec(),
            },
        )
        .await;
    assert!(
        again.marked.is_empty() && again.seq.is_none(),
        "reading twice changes nothing"
    );
    let unread: InboxPage = api.get("/api/v1/inbox?unread=true&limit=500").await;
    assert_eq!(unread.items.len(), 111);
    let upto = unread.items.iter().find(|n| n.id == ids[59]).unwrap().seq;
    let _: ReadResult = api
        .send(
            Method::POST,
            "/api/v1/inbox/read-all",
            &MarkAllRead {
                up_to_seq: Some(upto),
            },
        )
        .await;
    let count: UnreadCount = api.get("/api/v1/inbox/unread-count").await;
    assert_eq!((count.unread, count.events, count.system), (61, 60, 1));
}

#[tokio::test]
async fn restart_on_the_same_database_keeps_everything() {
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let ids = admin.emit_many(OPERATOR.0, "chat_created", 30).await;
    let api = t.operator().await;
    let _: ReadResult = api
        .send(
            Method::POST,
            "/api/v1/inbox/read",
            &MarkRead {
                ids: ids[..5].to_vec(),
            },
        )
        .await;
    let doc: SettingsDocument = api.get("/api/v1/settings").await;
    let mut prefs = doc.preferences.clone();
    prefs.types.get_mut("chat_created").unwrap().melody = "harp".into();
    let saved: SettingsDocument = api
        .send(
            Method::PUT,
            "/api/v1/settings",
            &SettingsWrite {
                base_version: doc.version,
                preferences: prefs,
            },
        )
        .await;
    let _: OperatorStatus = api
        .send(
            Method::PUT,
            "/api/v1/status",
            &json!({"status": "not_ready"}),
        )
        .await;
    let before: InboxPage = api.get("/api/v1/inbox?limit=500").await;

    let t = t.restart().await;
    let api = Api {
        base: t.url().to_owned(),
        ..api
    };
    let after: InboxPage = api.get("/api/v1/inbox?limit=500").await;
    assert_eq!(after.items, before.items, "inbox and read state survive");
    assert_eq!(after.server_seq, before.server_seq);
    let doc: SettingsDocument = api.get("/api/v1/settings").await;
    assert_eq!(doc, saved);
    let status: OperatorStatus = api.get("/api/v1/status").await;
    assert_eq!(status.status, belfry_proto::api::Availability::NotReady);
    let admin = Api::login(t.url(), ADMIN.0, ADMIN.1).await;
    let _ = admin.emit_many(OPERATOR.0, "chat_created", 1).await;
    let newest: InboxPage = api.get("/api/v1/inbox?limit=1").await;
    assert_eq!(
        newest.items[0].seq,
        before.server_seq + 1,
        "sequence numbers continue"
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_the_server_keeps_serving() {
    let t = TestInstance::start_with(Config {
        max_body_bytes: 64 * 1024,
        ..Config::default()
    })
    .await;
    let api = t.operator().await;
    let url = |p: &str| format!("{}{p}", t.url());
    let http = &api.http;

    let res = http
        .put(url("/api/v1/settings"))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");

    let a = api
        .call(
            Method::PUT,
            "/api/v1/settings",
            Some(&json!({"base_version": "seven"})),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let big = json!({"ids": vec!["x".repeat(100); 1000]});
    let a = api
        .call(Method::POST, "/api/v1/inbox/read", Some(&big))
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    let a = api
        .call(Method::GET, "/api/v1/inbox?limit=-3", None::<&()>)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let a = api
        .call(Method::GET, "/api/v1/inbox?cursor=abc", None::<&()>)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let a = api.call(Method::GET, "/api/v1/nope", None::<&()>).await;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"));

    let admin = t.admin().await;
    let a = admin
        .call(
            Method::POST,
            "/api/v1/admin/events",
            Some(&json!({"operator": OPERATOR.0, "type": "no_such_type"})),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let a = admin
        .call(Method::POST, "/api/v1/admin/events", Some(&json!({"operator": OPERATOR.0, "type": "ticket_created", "path": "https://evil.example/x"})))
        .await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "links off the instance's origin are refused"
    );
    // The ids the instance puts into links are identifiers; anything else
    // is refused, naming the field (it would link to something other than
    // the ticket or chat, still on the instance's origin).
    let emit = |data: serde_json::Value| json!({"operator": OPERATOR.0, "type": "ticket_created", "data": data});
    for bad in [
        json!({"ticket_id": "../../etc"}),
        json!({"ticket_id": "1/../../admin"}),
        json!({"ticket_id": "42?next=https://evil.example"}),
        json!({"ticket_id": ""}),
        json!({"ticket_id": ".."}),
        json!({"ticket_id": "7\u{202E}"}),
        json!({"ticket_id": {"id": 7}}),
    ] {
        let a = admin
            .call(
                Method::POST,
                "/api/v1/admin/events",
                Some(&emit(bad.clone())),
            )
            .await;
        assert_eq!(
            reasons(&a),
            vec![("data.ticket_id".to_owned(), Reason::NotAnIdentifier)],
            "{bad}"
        );
    }
    let a = admin
        .call(
            Method::POST,
            "/api/v1/admin/events",
            Some(&emit(json!({"chat_id": "9#frag"}))),
        )
        .await;
    assert_eq!(
        reasons(&a),
        vec![("data.chat_id".to_owned(), Reason::NotAnIdentifier)]
    );
    for dots in ["/tickets/1/../../admin", "/tickets/%2E%2E/admin", "/./x"] {
        let a = admin
            .call(
                Method::POST,
                "/api/v1/admin/events",
                Some(&json!({"operator": OPERATOR.0, "type": "ticket_created", "path": dots})),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{dots}");
    }
    // An id in another script is one: percent-encoded in the link.
    let n: belfry_proto::inbox::Notification = admin
        .send(
            Method::POST,
            "/api/v1/admin/events",
            &emit(json!({"ticket_id": "ТК-7"})),
        )
        .await;
    assert_eq!(
        n.link.as_deref(),
        Some(format!("{}/tickets/%D0%A2%D0%9A-7", t.url()).as_str())
    );
    let a = admin
        .call(
            Method::PUT,
            "/api/v1/admin/policy",
            Some(&json!({"mandatory_types": ["bogus"]})),
        )
        .await;
    assert_eq!(
        reasons(&a),
        vec![("mandatory_types.0".to_owned(), Reason::UnknownType)]
    );

    // After all that, the server still serves, and only the one event it
    // accepted (the ticket id in another script) reached the inbox.
    let count: UnreadCount = api.get("/api/v1/inbox/unread-count").await;
    assert_eq!(count.unread, 1);
}

#[tokio::test]
async fn test_notification_arrives_in_the_inbox() {
    let t = TestInstance::start().await;
    let api = t.operator().await;
    let n: belfry_proto::inbox::Notification = api
        .send(
            Method::POST,
            "/api/v1/test-notification",
            &json!({"channel": "banner"}),
        )
        .await;
    assert_eq!(n.type_id, "test_notification");
    assert_eq!(n.data["channel"], "banner");
    let page: InboxPage = api.get("/api/v1/inbox").await;
    assert_eq!(page.items[0].id, n.id);
    let a = api
        .call(
            Method::POST,
            "/api/v1/test-notification",
            Some(&json!({"channel": "telegram"})),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "a bot channel the admin has not enabled"
    );
}

#[tokio::test]
async fn an_update_feed_is_served_from_its_directory_and_nothing_outside_it() {
    let feed = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(feed.path().join("stable")).unwrap();
    std::fs::write(
        feed.path().join("stable/latest.json"),
        r#"{"version":"9.9.9"}"#,
    )
    .unwrap();
    std::fs::write(feed.path().join("Belfry_9.9.9.AppImage"), b"\x7fELF new").unwrap();
    let secret = feed.path().parent().unwrap().join("outside-the-feed.txt");
    std::fs::write(&secret, "not for the web").unwrap();
    let t = TestInstance::start_with(Config {
        updates_dir: Some(feed.path().to_owned()),
        ..Config::default()
    })
    .await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", t.url())).send();

    let latest = get("/updates/stable/latest.json").await.unwrap();
    assert_eq!(latest.status(), StatusCode::OK);
    assert_eq!(latest.headers()["content-type"], "application/json");
    assert_eq!(latest.text().await.unwrap(), r#"{"version":"9.9.9"}"#);
    let artifact = get("/updates/Belfry_9.9.9.AppImage").await.unwrap();
    assert_eq!(artifact.status(), StatusCode::OK);
    assert_eq!(&artifact.bytes().await.unwrap()[..], b"\x7fELF new");

    for escape in [
        "/updates/../outside-the-feed.txt",
        "/updates/%2e%2e/outside-the-feed.txt",
        "/updates/..%2foutside-the-feed.txt",
        "/updates/beta/latest.json",
        "/updates/",
    ] {
        let r = get(escape).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{escape}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("not for the web"), "{escape}: {body}");
    }

    // Without a directory there is no /updates/ at all.
    let plain = TestInstance::start().await;
    let r = http
        .get(format!("{}/updates/stable/latest.json", plain.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// The balancer's probe answers without a sign-in, names the engine and
/// counts the node's streams against its cap.
#[tokio::test]
async fn health_answers_without_sign_in_and_counts_streams() {
    let t = TestInstance::start_with(Config {
        max_streams: Some(100),
        ..Default::default()
    })
    .await;
    let get = || async {
        let res = reqwest::get(format!("{}/api/v1/health", t.url()))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<serde_json::Value>().await.unwrap()
    };
    let h = get().await;
    assert_eq!(h["status"], "ok");
    let engine = if belfry_tests::pg::wanted() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(h["database"], engine);
    assert_eq!(h["streams"], 0);
    assert_eq!(h["max_streams"], 100);
    let api = t.operator().await;
    let (_s, _) = belfry_tests::Stream::connect(t.url(), &api.token, None).await;
    assert_eq!(get().await["streams"], 1);
}
