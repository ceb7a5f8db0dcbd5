//! The gateway over loopback: sources added over the admin API, webhooks
//! written from each helpdesk's public documentation (each test names the
//! section) and signed by its scheme, the notifications they become in the
//! operators' inboxes, and every refusal an admin would see in the
//! deliveries list.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_instance::connectors::deliveries::{DeliveryView, Outcome};
use belfry_instance::connectors::sources::{SourceSecret, SourceView};
use belfry_proto::inbox::{InboxPage, Notification};
use belfry_tests::hooks::{
    add_source, dotted_signature, hub_signature, now_s, post, settled, zendesk_signature,
};
use belfry_tests::{Api, OPERATOR, TestInstance};
use reqwest::{Method, StatusCode};
use serde_json::json;

const IVAN: (&str, &str) = ("ivan", "ivan-password");

/// An instance with olga and ivan, and the admin's and both operators' clients.
async fn rig() -> (TestInstance, Api, Api, Api) {
    let t = TestInstance::start().await;
    t.create_account(IVAN.0, IVAN.1, false).await;
    let admin = t.admin().await;
    let olga = t.operator().await;
    let ivan = Api::login(t.url(), IVAN.0, IVAN.1).await;
    (t, admin, olga, ivan)
}

async fn inbox(api: &Api) -> Vec<Notification> {
    let page: InboxPage = api.get("/api/v1/inbox?limit=100").await;
    page.items
}

fn types(items: &[Notification]) -> Vec<&str> {
    items.iter().map(|n| n.type_id.as_str()).collect()
}

fn outcomes(list: &[DeliveryView]) -> Vec<Outcome> {
    list.iter().map(|d| d.outcome).collect()
}

// ---- sources ----

#[tokio::test]
async fn sources_are_managed_by_admins_and_the_secret_is_shown_once() {
    let (t, admin, olga, _) = rig().await;
    let created = add_source(
        &admin,
        "desk",
        "zendesk",
        "https://acme.zendesk.com/",
        &[("1001", "olga")],
    )
    .await;
    assert!(created.secret.len() >= 32, "a long random secret");
    assert_eq!(created.source.info.base_url, "https://acme.zendesk.com");
    assert_eq!(
        created.source.ingest_url,
        format!("{}/api/v1/hooks/desk", t.url())
    );
    // Never again: not in the list.
    let listed = admin
        .call(Method::GET, "/api/v1/admin/sources", None::<&()>)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.body.to_string().contains(&created.secret));
    let views: Vec<SourceView> = listed.json();
    assert_eq!(views.len(), 1);
    assert_eq!(
        views[0].info.users.get("1001").map(String::as_str),
        Some("olga")
    );

    // Operators cannot see or add sources.
    let denied = olga
        .call(Method::GET, "/api/v1/admin/sources", None::<&()>)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // Bad definitions.
    for (body, why) in [
        (
            json!({"name": "desk", "kind": "zendesk", "base_url": "https://x.example"}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"name": "a b", "kind": "zendesk", "base_url": "https://x.example"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "kind": "zendesk", "base_url": "javascript:alert(1)"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "kind": "freshdesk", "base_url": "https://x.example"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "kind": "generic", "base_url": "https://x.example", "users": {"1": "not a login"}}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let a = admin
            .call(Method::POST, "/api/v1/admin/sources", Some(&body))
            .await;
        assert_eq!(a.status, why, "{body}: {}", a.body);
    }

    // Rotation: a new secret, shown once; the old one stops at once.
    let rotated: SourceSecret = admin
        .send(
            Method::POST,
            "/api/v1/admin/sources/desk/secret",
            &json!({}),
        )
        .await;
    assert_ne!(rotated.secret, created.secret);
    let body =
        br#"{"type":"zen:event-type:ticket.created","detail":{"id":"1","assignee_id":"1001"}}"#;
    let at = now_s();
    let old = post(
        &created.source.ingest_url,
        &[
            (
                "x-zendesk-webhook-signature",
                zendesk_signature(&created.secret, &at, body),
            ),
            ("x-zendesk-webhook-signature-timestamp", at.clone()),
        ],
        body,
    )
    .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{}", old.body);
    let new = post(
        &created.source.ingest_url,
        &[
            (
                "x-zendesk-webhook-signature",
                zendesk_signature(&rotated.secret, &at, body),
            ),
            ("x-zendesk-webhook-signature-timestamp", at),
        ],
        body,
    )
    .await;
    assert_eq!(new.status, StatusCode::ACCEPTED, "{}", new.body);

    // The user map is replaced whole.
    let view: SourceView = admin
        .send(
            Method::PUT,
            "/api/v1/admin/sources/desk/users",
            &json!({"users": {"2002": "ivan"}}),
        )
        .await;
    assert_eq!(view.info.users.len(), 1);

    // Removal: the endpoint is gone with it.
    let gone = admin
        .call(Method::DELETE, "/api/v1/admin/sources/desk", None::<&()>)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let after = post(&created.source.ingest_url, &[], b"{}").await;
    assert_eq!(after.status, StatusCode::NOT_FOUND);
    assert_eq!(after.code(), "not_found");
    let again = admin
        .call(Method::DELETE, "/api/v1/admin/sources/desk", None::<&()>)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_helpdesk_that_makes_its_own_secret_gives_it_to_the_source() {
    // Zendesk ("Verifying webhook authenticity": the signing secret is
    // revealed in Admin Center > Webhooks) and Chatwoot make the secret;
    // the admin pastes it into the source, at creation or rotation.
    let (_t, admin, olga, _) = rig().await;
    let theirs = "dGhlIHplbmRlc2sgc2lnbmluZyBzZWNyZXQ";
    let created: SourceSecret = admin
        .send(
            Method::POST,
            "/api/v1/admin/sources",
            &json!({"name": "zd", "kind": "zendesk", "base_url": "https://acme.zendesk.com",
                    "users": {"1001": "olga"}, "secret": theirs}),
        )
        .await;
    assert_eq!(created.secret, theirs);
    let body = zendesk_event("ticket.created", json!({}), "evt-1");
    let at = now_s();
    let url = &created.source.ingest_url;
    let a = post(url, &zendesk_headers(theirs, &at, &body, "i1"), &body).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);

    let short = admin
        .call(
            Method::POST,
            "/api/v1/admin/sources/zd/secret",
            Some(&json!({"secret": "short"})),
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let next = "bmV4dCB6ZW5kZXNrIHNpZ25pbmcgc2VjcmV0";
    let rotated: SourceSecret = admin
        .send(
            Method::POST,
            "/api/v1/admin/sources/zd/secret",
            &json!({"secret": next}),
        )
        .await;
    assert_eq!(rotated.secret, next);
    let old = post(url, &zendesk_headers(theirs, &at, &body, "i2"), &body).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = post(url, &zendesk_headers(next, &at, &body, "i3"), &body).await;
    assert_eq!(new.status, StatusCode::ACCEPTED);
    settled(&admin, "zd").await;
    assert_eq!(inbox(&olga).await.len(), 2);
}

// ---- Zendesk ----

/// A Zendesk event webhook body, as "Webhooks > Event types > Ticket
/// events" (developer.zendesk.com, zendesk_event_version 2022-11-06) shows
/// it: the ticket in `detail`, the change in `event`.
fn zendesk_event(kind: &str, event: serde_json::Value, id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "account_id": 22129848,
        "detail": {
            "actor_id": "8447388090495",
            "assignee_id": "1001",
            "brand_id": "8447346621310",
            "created_at": "2025-01-08T10:12:07Z",
            "description": "Customer cannot log in",
            "group_id": "8447320466430",
            "id": "5158",
            "is_public": true,
            "priority": "HIGH",
            "requester_id": "9999",
            "status": "OPEN",
            "subject": "Cannot login to mobile app",
            "submitter_id": "9999",
            "tags": ["mobile"],
            "type": "PROBLEM",
            "updated_at": "2025-01-08T14:25:30Z",
            "via": {"channel": "web_service"}
        },
        "event": event,
        "id": id,
        "subject": "zen:ticket:5158",
        "time": "2025-01-08T14:25:30.123456789Z",
        "type": format!("zen:event-type:{kind}"),
        "zendesk_event_version": "2022-11-06"
    }))
    .unwrap()
}

/// Headers as "Verifying webhook authenticity" describes them, plus the
/// invocation id Zendesk sends with each delivery.
fn zendesk_headers(
    secret: &str,
    at: &str,
    body: &[u8],
    invocation: &str,
) -> Vec<(&'static str, String)> {
    vec![
        (
            "x-zendesk-webhook-signature",
            zendesk_signature(secret, at, body),
        ),
        ("x-zendesk-webhook-signature-timestamp", at.to_owned()),
        ("x-zendesk-webhook-invocation-id", invocation.to_owned()),
        ("x-zendesk-webhook-id", "01HW3Z8Q".to_owned()),
    ]
}

#[tokio::test]
async fn zendesk_ticket_events_reach_the_right_operators() {
    let (_t, admin, olga, ivan) = rig().await;
    let src = add_source(
        &admin,
        "zendesk",
        "zendesk",
        "https://acme.zendesk.com",
        &[("1001", "olga"), ("2002", "ivan")],
    )
    .await;
    let url = &src.source.ingest_url;
    let send = |kind: &'static str, event: serde_json::Value, n: u32| {
        let body = zendesk_event(kind, event, &format!("evt-{n}"));
        let at = chrono::Utc::now().to_rfc3339();
        let headers = zendesk_headers(&src.secret, &at, &body, &format!("inv-{n}"));
        async move { post(url, &headers, &body).await }
    };
    let a = send("ticket.created", json!({}), 1).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_eq!(a.body["status"], "accepted");
    send(
        "ticket.comment_added",
        json!({"comment": {"id": "77", "body": "<p>Still broken</p>", "is_public": true,
                           "author": {"id": "9999", "is_staff": false, "name": "Marcus Lee"}}}),
        2,
    )
    .await;
    send(
        "ticket.comment_added",
        json!({"comment": {"id": "78", "body": "internal: check logs", "is_public": false,
                           "author": {"id": "2002", "is_staff": true, "name": "Ivan"}}}),
        3,
    )
    .await;
    send(
        "ticket.agent_assignment_changed",
        json!({"current": "2002", "previous": "1001"}),
        4,
    )
    .await;
    send(
        "ticket.status_changed",
        json!({"current": "SOLVED", "previous": "OPEN"}),
        5,
    )
    .await;
    send(
        "ticket.subject_changed",
        json!({"current": "Login", "previous": "x"}),
        6,
    )
    .await;
    send(
        "ticket.followers_changed",
        json!({"current": ["2002", "1001"], "previous": ["2002"]}),
        7,
    )
    .await;
    send(
        "ticket.priority_changed",
        json!({"current": "LOW", "previous": "HIGH"}),
        8,
    )
    .await;

    let list = settled(&admin, "zendesk").await;
    assert_eq!(list.len(), 8);
    let olga_items = inbox(&olga).await;
    // Newest first. The detail's assignee is olga (1001) in every body.
    assert_eq!(
        types(&olga_items),
        [
            "watcher_added",
            "subject_change",
            "ticket_closed",
            "ticket_reassign",
            "comment_created",
            "ticket_message",
            "ticket_created"
        ]
    );
    let created = olga_items.last().unwrap();
    assert_eq!(
        created.link.as_deref(),
        Some("https://acme.zendesk.com/agent/tickets/5158")
    );
    assert_eq!(created.body, "Ticket #5158 · “Cannot login to mobile app”");
    assert!(
        olga_items[5].body.ends_with("Still broken"),
        "{}",
        olga_items[5].body
    );
    // Reassignment: the new assignee (ivan) and the previous one (olga).
    assert_eq!(types(&inbox(&ivan).await), ["ticket_reassign"]);
    // An event with no type: kept as ignored, with why.
    let priority = &list[0];
    assert_eq!(priority.outcome, Outcome::Ignored);
    assert!(
        priority
            .reason
            .as_deref()
            .unwrap()
            .contains("ticket.priority_changed"),
        "{priority:?}"
    );
    // The deliveries list names the notifications each became.
    let first = list.last().unwrap();
    assert_eq!(first.outcome, Outcome::Accepted);
    assert_eq!(first.event.as_deref(), Some("ticket.created"));
    assert_eq!(first.delivery_id.as_deref(), Some("inv-1"));
    assert_eq!(first.notifications.len(), 1);
    assert_eq!(first.notifications[0].id, created.id);
    assert_eq!(first.notifications[0].operator, OPERATOR.0);
}

#[tokio::test]
async fn zendesk_refusals_store_nothing_and_say_why() {
    let (_t, admin, olga, _) = rig().await;
    let src = add_source(
        &admin,
        "zd",
        "zendesk",
        "https://acme.zendesk.com",
        &[("1001", "olga")],
    )
    .await;
    let url = &src.source.ingest_url;
    let body = zendesk_event("ticket.created", json!({}), "evt-1");
    let now = chrono::Utc::now().to_rfc3339();

    // Signed with another secret.
    let wrong = post(
        url,
        &zendesk_headers("not-the-secret", &now, &body, "i1"),
        &body,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "unauthorized");
    assert!(
        wrong.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );

    // Correctly signed, six minutes ago: a replay.
    let old = (chrono::Utc::now() - chrono::Duration::minutes(6)).to_rfc3339();
    let stale = post(url, &zendesk_headers(&src.secret, &old, &body, "i2"), &body).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert!(
        stale.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("old"),
        "{}",
        stale.body
    );

    // No signature at all.
    let bare = post(url, &[], &body).await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED);
    assert!(
        bare.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing")
    );

    // Signed, but not JSON.
    let junk = b"{\"type\": ";
    let malformed = post(url, &zendesk_headers(&src.secret, &now, junk, "i3"), junk).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(
        malformed.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );

    // Signed, but a form where JSON is expected.
    let form = b"ticket=5158&status=open";
    let mut headers = zendesk_headers(&src.secret, &now, form, "i4");
    headers.push(("content-type", "application/x-www-form-urlencoded".into()));
    let formed = post(url, &headers, form).await;
    assert_eq!(formed.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        formed.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );

    // Over the body limit (1 MiB by default).
    let big = vec![b' '; 1024 * 1024 + 1];
    let large = post(url, &zendesk_headers(&src.secret, &now, &big, "i5"), &big).await;
    assert_eq!(large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(large.code(), "payload_too_large");

    // Nothing reached olga; each refusal is listed with its reason.
    let list = settled(&admin, "zd").await;
    assert!(inbox(&olga).await.is_empty());
    assert_eq!(outcomes(&list), [Outcome::Refused; 6]);
    assert!(
        list.iter()
            .all(|d| d.reason.is_some() && d.notifications.is_empty())
    );

    // The real one, twice (Zendesk retries with the same invocation id).
    let first = post(url, &zendesk_headers(&src.secret, &now, &body, "i9"), &body).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let again = post(url, &zendesk_headers(&src.secret, &now, &body, "i9"), &body).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "a 2xx, so the sender stops retrying"
    );
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(again.body["delivery"], first.body["delivery"]);
    let list = settled(&admin, "zd").await;
    assert_eq!(list[0].outcome, Outcome::Duplicate);
    assert_eq!(list[1].outcome, Outcome::Accepted);
    assert_eq!(inbox(&olga).await.len(), 1, "one notification, not two");
}

#[tokio::test]
async fn a_trigger_webhook_body_is_read_as_belfry_json() {
    // Zendesk "Creating webhooks to interact with third-party systems":
    // a trigger's "Notify active webhook" action posts the JSON body the
    // admin writes, with placeholders; here it is written in Belfry's shape.
    let (_t, admin, olga, _) = rig().await;
    let src = add_source(&admin, "zt", "zendesk", "https://acme.zendesk.com", &[]).await;
    let body = serde_json::to_vec(&json!({
        "type": "sla_expired",
        "email": "olga@acme.example",
        "title": "SLA breached on #5158",
        "url": "https://acme.zendesk.com/agent/tickets/5158",
        "data": {"ticket_id": "5158"}
    }))
    .unwrap();
    // No map entry: olga's email is the default rule.
    let set = admin
        .call(
            Method::PUT,
            "/api/v1/admin/operators/olga/email",
            Some(&json!({"email": "Olga@Acme.example"})),
        )
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT);
    let at = now_s();
    let a = post(
        &src.source.ingest_url,
        &zendesk_headers(&src.secret, &at, &body, "t1"),
        &body,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    settled(&admin, "zt").await;
    let items = inbox(&olga).await;
    assert_eq!(types(&items), ["sla_expired"]);
    assert_eq!(items[0].title, "SLA breached on #5158");
    assert_eq!(items[0].category.as_str(), "events");
}

// ---- Chatwoot ----

/// A Chatwoot webhook body: "Webhooks > Webhook events"
/// (chatwoot.com/hc/user-guide/articles/1677693021-how-to-use-webhooks):
/// the conversation with `meta.assignee`, `event` naming what happened.
fn chatwoot_conversation(event: &str, extra: serde_json::Value) -> Vec<u8> {
    let mut v = json!({
        "event": event,
        "id": 42,
        "display_id": 42,
        "account": {"id": 1, "name": "Acme"},
        "inbox_id": 3,
        "status": "open",
        "meta": {
            "sender": {"id": 55, "name": "Marcus Lee", "type": "contact"},
            "assignee": {"id": 7, "name": "Olga", "email": "olga@acme.example", "type": "user"}
        },
        "messages": []
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    serde_json::to_vec(&v).unwrap()
}

fn chatwoot_headers(
    secret: &str,
    at: &str,
    body: &[u8],
    delivery: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("x-chatwoot-signature", dotted_signature(secret, at, body)),
        ("x-chatwoot-timestamp", at.to_owned()),
        ("x-chatwoot-delivery", delivery.to_owned()),
    ]
}

#[tokio::test]
async fn chatwoot_conversations_reach_the_assignee_by_email() {
    let (_t, admin, olga, ivan) = rig().await;
    // Olga is found by her email (no map entry); ivan by the map.
    admin
        .call(
            Method::PUT,
            "/api/v1/admin/operators/olga/email",
            Some(&json!({"email": "olga@acme.example"})),
        )
        .await;
    let src = add_source(
        &admin,
        "cw",
        "chatwoot",
        "https://chat.acme.example",
        &[("8", "ivan")],
    )
    .await;
    let url = &src.source.ingest_url;
    let at = now_s();
    let bodies = [
        chatwoot_conversation("conversation_created", json!({})),
        serde_json::to_vec(&json!({
            "event": "message_created",
            "id": 901,
            "content": "Hello, my order is late",
            "message_type": "incoming",
            "private": false,
            "account": {"id": 1},
            "sender": {"id": 55, "name": "Marcus Lee"},
            "conversation": {"id": 42, "display_id": 42,
                             "meta": {"assignee": {"id": 7, "email": "olga@acme.example"}}}
        }))
        .unwrap(),
        serde_json::to_vec(&json!({
            "event": "message_created",
            "id": 902,
            "content": "On it",
            "message_type": "outgoing",
            "private": false,
            "account": {"id": 1},
            "conversation": {"id": 42, "meta": {"assignee": {"id": 7}}}
        }))
        .unwrap(),
        chatwoot_conversation(
            "conversation_updated",
            json!({"changed_attributes": [{"assignee_id": {"previous_value": 8, "current_value": 7}}]}),
        ),
        chatwoot_conversation("conversation_status_changed", json!({"status": "resolved"})),
        // Private notes: from ivan to the assignee; the assignee's own.
        serde_json::to_vec(&json!({
            "event": "message_created", "id": 903, "content": "Refund approved",
            "message_type": "outgoing", "private": true, "account": {"id": 1},
            "sender": {"id": 8, "name": "Ivan", "type": "user"},
            "conversation": {"id": 42, "meta": {"assignee": {"id": 7, "email": "olga@acme.example"}}}
        }))
        .unwrap(),
        serde_json::to_vec(&json!({
            "event": "message_created", "id": 904, "content": "note to self",
            "message_type": "outgoing", "private": true, "account": {"id": 1},
            "sender": {"id": 7, "email": "OLGA@acme.example", "type": "user"},
            "conversation": {"id": 42, "meta": {"assignee": {"id": 7, "email": "olga@acme.example"}}}
        }))
        .unwrap(),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let a = post(
            url,
            &chatwoot_headers(&src.secret, &at, body, &format!("d{i}")),
            body,
        )
        .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    }
    let list = settled(&admin, "cw").await;
    let items = inbox(&olga).await;
    assert_eq!(
        types(&items),
        [
            "comment_created",
            "chat_closed",
            "chat_reassign",
            "ticket_message",
            "chat_created"
        ]
    );
    assert_eq!(
        items[4].link.as_deref(),
        Some("https://chat.acme.example/app/accounts/1/conversations/42")
    );
    assert_eq!(items[4].body, "Chat #42 · from Marcus Lee");
    assert!(
        list[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("assignee wrote")
    );
    assert_eq!(
        types(&inbox(&ivan).await),
        ["chat_reassign"],
        "the previous assignee"
    );
    // The agent's own reply notifies nobody, and says so.
    let reply = &list[4];
    assert_eq!(reply.outcome, Outcome::Ignored);
    assert!(reply.reason.as_deref().unwrap().contains("outgoing"));

    // Stale, wrong, replayed.
    let body = chatwoot_conversation("conversation_created", json!({}));
    let old = (chrono::Utc::now().timestamp() - 301).to_string();
    let stale = post(
        url,
        &chatwoot_headers(&src.secret, &old, &body, "x1"),
        &body,
    )
    .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    let mut tampered = chatwoot_headers(&src.secret, &at, &body, "x2");
    tampered[0].1 = dotted_signature(&src.secret, &at, b"{}");
    let wrong = post(url, &tampered, &body).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let replay = post(
        url,
        &chatwoot_headers(&src.secret, &at, &bodies[0], "d0"),
        &bodies[0],
    )
    .await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.body["status"], "duplicate");
    settled(&admin, "cw").await;
    assert_eq!(inbox(&olga).await.len(), 5);
}

// ---- Zammad ----

/// Zammad's default payload ("Webhook > Webhook Payload > Default JSON
/// Payload", admin-docs.zammad.org): the ticket with its owner, and the
/// article that fired the trigger.
fn zammad_ticket(
    owner: (u32, &str),
    state: &str,
    title: &str,
    articles: u32,
    article: serde_json::Value,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ticket": {
            "id": 31,
            "number": "31001",
            "title": title,
            "state": state,
            "priority": "2 normal",
            "group": "Users",
            "article_count": articles,
            "owner_id": owner.0,
            "owner": {"id": owner.0, "login": owner.1, "email": owner.1, "firstname": "", "lastname": ""},
            "customer": {"id": 3, "email": "chris@chrispresso.com"}
        },
        "article": article
    }))
    .unwrap()
}

fn zammad_headers(
    secret: &str,
    body: &[u8],
    delivery: &str,
    trigger: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("x-hub-signature", hub_signature(secret, body)),
        ("x-zammad-delivery", delivery.to_owned()),
        ("x-zammad-trigger", trigger.to_owned()),
        ("user-agent", "Zammad User Agent".to_owned()),
    ]
}

#[tokio::test]
async fn zammad_ticket_changes_are_found_by_comparison() {
    let (_t, admin, olga, ivan) = rig().await;
    let src = add_source(
        &admin,
        "zammad",
        "zammad",
        "https://support.acme.example",
        &[("4", "olga"), ("ivan@acme.example", "ivan")],
    )
    .await;
    let url = &src.source.ingest_url;
    let first_article = json!({"id": 104, "body": "My coffee machine leaks", "internal": false,
                               "created_by": {"id": 3, "email": "chris@chrispresso.com"}});
    let steps = [
        zammad_ticket(
            (4, "olga@acme.example"),
            "new",
            "Leaking machine",
            1,
            first_article.clone(),
        ),
        zammad_ticket(
            (4, "olga@acme.example"),
            "open",
            "Leaking machine",
            2,
            json!({"id": 105, "body": "Photo attached", "internal": false,
                   "created_by": {"id": 3, "email": "chris@chrispresso.com"}}),
        ),
        zammad_ticket(
            (5, "ivan@acme.example"),
            "open",
            "Leaking machine",
            2,
            json!({"id": 105}),
        ),
        zammad_ticket(
            (5, "ivan@acme.example"),
            "closed",
            "Leaking machine",
            2,
            json!({"id": 105}),
        ),
    ];
    for (i, body) in steps.iter().enumerate() {
        let a = post(
            url,
            &zammad_headers(&src.secret, body, &format!("z{i}"), "Belfry"),
            body,
        )
        .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    }
    let list = settled(&admin, "zammad").await;
    let olga_items = inbox(&olga).await;
    assert_eq!(
        types(&olga_items),
        [
            "ticket_reassign",
            "ticket_message",
            "ticket_status_name_changed",
            "ticket_created"
        ],
        "new -> open is a status change like any other"
    );
    assert_eq!(
        olga_items[3].link.as_deref(),
        Some("https://support.acme.example/#ticket/zoom/31")
    );
    assert_eq!(
        types(&inbox(&ivan).await),
        ["ticket_closed", "ticket_reassign"]
    );
    assert_eq!(
        list[1].event.as_deref(),
        Some("ticket 31: reassigned"),
        "{:?}",
        list[1]
    );

    // Zammad retries a delivery with the same X-Zammad-Delivery.
    let replay = post(
        url,
        &zammad_headers(&src.secret, &steps[0], "z0", "Belfry"),
        &steps[0],
    )
    .await;
    assert_eq!(replay.status, StatusCode::OK);
    // HMAC-SHA1 with another token.
    let wrong = post(
        url,
        &zammad_headers("other", &steps[0], "z9", "Belfry"),
        &steps[0],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    settled(&admin, "zammad").await;
    assert_eq!(inbox(&olga).await.len(), 4);
}

// ---- ConnectiveOne ----

#[tokio::test]
async fn connectiveone_scenarios_and_panel_events() {
    // Seed 000 ("Notifications entry point"): a scenario's send_request
    // step POSTs JSON with a bearer token; the Center's own type ids need
    // no mapping. The operator panel's event_webhook_url posts event_name
    // with chat_id and operator.id.
    let (_t, admin, olga, _) = rig().await;
    let src = add_source(
        &admin,
        "c1",
        "connectiveone",
        "https://acme.connectiveone.example",
        &[("17", "olga")],
    )
    .await;
    let url = &src.source.ingest_url;
    let bearer = format!("Bearer {}", src.secret);
    let scenario = serde_json::to_vec(&json!({
        "type": "csat_received",
        "operator": "olga",
        "body": "Chat #9120 · rated 4/5",
        "url": "https://acme.connectiveone.example/chats/9120",
        "data": {"chat_id": 9120, "score": 4}
    }))
    .unwrap();
    let panel = |event: &str| {
        serde_json::to_vec(&json!({"event_name": event, "chat_id": 9121, "operator": {"id": 17}}))
            .unwrap()
    };
    for body in [
        scenario.clone(),
        panel("chat_created"),
        panel("operator_connected"),
    ] {
        let a = post(url, &[("authorization", bearer.clone())], &body).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    }
    let wrong = post(url, &[("authorization", "Bearer nope".into())], &scenario).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let list = settled(&admin, "c1").await;
    let items = inbox(&olga).await;
    assert_eq!(types(&items), ["chat_created", "csat_received"]);
    assert_eq!(
        items[1].link.as_deref(),
        Some("https://acme.connectiveone.example/chats/9120")
    );
    assert_eq!(items[1].data.get("score"), Some(&json!(4)));
    assert_eq!(
        outcomes(&list),
        [
            Outcome::Refused,
            Outcome::Ignored,
            Outcome::Accepted,
            Outcome::Accepted
        ]
    );
    assert!(
        list[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("operator_connected")
    );
}

// ---- generic ----

fn generic_headers(
    secret: &str,
    body: &[u8],
    delivery: Option<&str>,
) -> Vec<(&'static str, String)> {
    let at = now_s();
    let mut h = vec![
        ("x-belfry-signature", dotted_signature(secret, &at, body)),
        ("x-belfry-timestamp", at),
    ];
    if let Some(d) = delivery {
        h.push(("x-belfry-delivery", d.to_owned()));
    }
    h
}

#[tokio::test]
async fn generic_unknown_users_types_and_foreign_links_are_kept_with_why() {
    let (t, admin, olga, _) = rig().await;
    let src = add_source(
        &admin,
        "fd",
        "generic",
        "https://acme.freshdesk.example",
        &[("agent-9", "olga")],
    )
    .await;
    let url = &src.source.ingest_url;
    let bodies = [
        // Mapped by the helpdesk's own user id; a link on the helpdesk.
        json!({"type": "ticket_created", "user": "agent-9", "title": "New ticket #12",
               "url": "https://acme.freshdesk.example/a/tickets/12"}),
        // A user the map does not know.
        json!({"type": "ticket_created", "user": "agent-10"}),
        // An operator login that does not exist.
        json!({"type": "ticket_created", "operator": "nobody"}),
        // Not a type.
        json!({"type": "ticket_exploded", "operator": "olga"}),
        // A link elsewhere: the notification comes, without the link.
        json!({"type": "ticket_message", "operator": "olga", "url": "https://evil.example/x"}),
        // A link on the instance itself is allowed too.
        json!({"type": "ticket_message", "operator": "olga", "url": format!("{}/tickets/12", t.url())}),
    ];
    for (i, b) in bodies.iter().enumerate() {
        let body = serde_json::to_vec(b).unwrap();
        let a = post(
            url,
            &generic_headers(&src.secret, &body, Some(&format!("g{i}"))),
            &body,
        )
        .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    }
    let list = settled(&admin, "fd").await;
    assert_eq!(
        outcomes(&list),
        [
            Outcome::Accepted,
            Outcome::Accepted,
            Outcome::Ignored,
            Outcome::Ignored,
            Outcome::Ignored,
            Outcome::Accepted
        ]
    );
    let reason = |i: usize| list[i].reason.clone().unwrap_or_default();
    assert!(
        reason(4).contains("agent-10") && reason(4).contains("not mapped"),
        "{}",
        reason(4)
    );
    assert!(reason(3).contains("nobody"), "{}", reason(3));
    assert!(
        reason(2).contains("not a notification type"),
        "{}",
        reason(2)
    );
    assert!(reason(1).contains("link dropped"), "{}", reason(1));
    let items = inbox(&olga).await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[1].link, None);
    assert_eq!(items[0].link, Some(format!("{}/tickets/12", t.url())));
    assert_eq!(
        items[2].link.as_deref(),
        Some("https://acme.freshdesk.example/a/tickets/12")
    );
    assert_eq!(items[2].title, "New ticket #12");
}

// ---- django-helpdesk ----

/// django-helpdesk's webhook body (docs/webhooks.rst; `TicketSerializer`
/// in helpdesk/serializers.py): the whole ticket, numeric status and
/// assignee, its follow-ups; `followup_id` on the follow-up webhook.
fn django_ticket(
    assigned: u32,
    status: u32,
    title: &str,
    followups: serde_json::Value,
) -> serde_json::Value {
    json!({
        "id": 7,
        "queue": 1,
        "title": title,
        "description": "The printer is on fire",
        "resolution": null,
        "submitter_email": "marcus@example.com",
        "assigned_to": assigned,
        "status": status,
        "on_hold": false,
        "priority": 3,
        "due_date": null,
        "merged_to": null,
        "followup_set": followups
    })
}

#[tokio::test]
async fn django_helpdesk_tickets_are_compared_with_the_last_seen() {
    let (_t, admin, olga, ivan) = rig().await;
    let src = add_source(
        &admin,
        "dh",
        "django-helpdesk",
        "http://127.0.0.1:8000/helpdesk/",
        &[("3", "olga"), ("4", "ivan")],
    )
    .await;
    // The webhook URL the admin pastes carries the secret as Basic auth.
    assert!(src.webhook_url.contains(&src.secret));
    let url = &src.source.ingest_url;
    let basic = |secret: &str| {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("belfry:{secret}"));
        vec![("authorization", format!("Basic {token}"))]
    };
    let opened = json!([{"id": 20, "ticket": 7, "user": 9, "title": "Ticket Opened",
                         "comment": "The printer is on fire", "public": true, "new_status": null}]);
    let new_ticket =
        json!({"ticket": django_ticket(3, 1, "Printer", opened.clone()), "queue_slug": "it"});
    let mut with_reply = opened.as_array().unwrap().clone();
    with_reply.push(json!({"id": 21, "ticket": 7, "user": 9, "title": "Comment",
                           "comment": "Any news?", "public": true, "new_status": null}));
    let reply = json!({"ticket": django_ticket(3, 1, "Printer", json!(with_reply)), "queue_slug": "it", "followup_id": 21});
    // Version 2.6's top-level shape: the ticket's fields beside followup_id.
    let mut reassigned = django_ticket(4, 4, "Printer (fire)", json!(with_reply));
    reassigned["followup_id"] = json!(21);
    for (body, auth) in [
        (&new_ticket, basic(&src.secret)),
        (&reply, basic(&src.secret)),
        (&reassigned, basic(&src.secret)),
    ] {
        let a = post(url, &auth, &serde_json::to_vec(body).unwrap()).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    }
    // The secret in the query works too; a missing or wrong one does not.
    let q = post(
        &format!("{url}?secret={}", src.secret),
        &[],
        &serde_json::to_vec(&reassigned).unwrap(),
    )
    .await;
    assert_eq!(q.status, StatusCode::ACCEPTED, "{}", q.body);
    let none = post(url, &[], &serde_json::to_vec(&reply).unwrap()).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let wrong = post(url, &basic("guess"), &serde_json::to_vec(&reply).unwrap()).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let list = settled(&admin, "dh").await;
    let olga_items = inbox(&olga).await;
    assert_eq!(
        types(&olga_items),
        ["ticket_reassign", "ticket_message", "ticket_created"]
    );
    assert_eq!(
        olga_items[2].link.as_deref(),
        Some("http://127.0.0.1:8000/helpdesk/tickets/7/")
    );
    assert!(olga_items[1].body.ends_with("Any news?"));
    assert_eq!(
        types(&inbox(&ivan).await),
        ["subject_change", "ticket_closed", "ticket_reassign"]
    );
    // The same ticket again: nothing changed, kept as ignored.
    assert_eq!(list[2].outcome, Outcome::Ignored, "{:?}", list[2]);
    assert!(
        list[2]
            .reason
            .as_deref()
            .unwrap()
            .contains("nothing changed")
    );
}

// ---- after a stop ----

#[tokio::test]
async fn deliveries_stored_but_not_mapped_are_mapped_at_the_next_start() {
    // The gateway answers 202 once the body is stored and maps it after; an
    // instance stopped in between maps it when it starts again. The stop is
    // made exact here by storing the delivery while the instance is down,
    // as the ingest endpoint does.
    let (t, admin, _, _) = rig().await;
    let src = add_source(&admin, "gen", "generic", "https://x.example", &[]).await;
    drop(admin);
    let stopped = t.pause().await;
    let db = stopped
        .config
        .db
        .as_deref()
        .map(|p| p.to_string_lossy().into_owned());
    // Blocking, as the instance's own store calls are (PostgreSQL's client
    // runs a runtime of its own).
    tokio::task::spawn_blocking(move || {
        let store = belfry_instance::store::Store::open_at(
            db.as_deref(),
            std::sync::Arc::new(belfry_instance::hub::Hub::default()),
            1000,
        )
        .unwrap();
        let source = store.source("gen").unwrap().unwrap();
        let body = br#"{"type": "ticket_created", "operator": "olga", "title": "while down"}"#;
        store
            .store_delivery(source.id, Some("d1"), None, body)
            .unwrap();
    })
    .await
    .unwrap();
    let t = stopped.resume().await;
    let admin = t.admin().await;
    let list = settled(&admin, "gen").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].outcome, Outcome::Accepted);
    assert_eq!(list[0].notifications.len(), 1, "{:?}", list[0]);
    let olga = t.operator().await;
    let items = inbox(&olga).await;
    assert_eq!(items[0].title, "while down");
    // And the secret still verifies after the restart.
    let body = br#"{"type": "ticket_created", "operator": "olga"}"#;
    let at = now_s();
    let a = post(
        &format!("{}/api/v1/hooks/gen", t.url()),
        &[
            ("x-belfry-timestamp", at.clone()),
            (
                "x-belfry-signature",
                dotted_signature(&src.secret, &at, body),
            ),
        ],
        body,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
}

// ---- links to the helpdesk ----

#[tokio::test]
async fn the_client_opens_helpdesk_links_only_while_the_instance_announces_them() {
    use belfry_core::engine::OpenError;
    use belfry_core::links::LinkRefused;
    use belfry_tests::{Desk, eventually, quick_config};
    use std::time::Duration;

    let (t, admin, _, _) = rig().await;
    let info: belfry_proto::api::ServerInfo = admin.get("/api/v1/info").await;
    assert_eq!(
        info.link_origins,
        [t.url().to_owned()],
        "only its own at first"
    );

    let src = add_source(
        &admin,
        "zendesk",
        "zendesk",
        "https://acme.zendesk.com/",
        &[("1001", "olga")],
    )
    .await;
    add_source(
        &admin,
        "again",
        "generic",
        "https://acme.zendesk.com/x",
        &[],
    )
    .await;
    let info: belfry_proto::api::ServerInfo = admin.get("/api/v1/info").await;
    assert_eq!(
        info.link_origins,
        [t.url().to_owned(), "https://acme.zendesk.com".to_owned()],
        "each origin once"
    );

    // Olga's desktop was running before the helpdesk was added.
    let desk = Desk::start(t.url(), OPERATOR.0, OPERATOR.1, quick_config()).await;
    desk.connected().await;
    let body = zendesk_event("ticket.created", json!({}), "evt-1");
    let at = now_s();
    let a = post(
        &src.source.ingest_url,
        &zendesk_headers(&src.secret, &at, &body, "inv-1"),
        &body,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let list = settled(&admin, "zendesk").await;
    let id = list[0].notifications[0].id.clone();
    eventually(
        "the notification on the desktop",
        Duration::from_secs(10),
        || desk.engine.store().get(&id).unwrap().is_some(),
    )
    .await;
    let url = desk.engine.open_item(&id).await.unwrap();
    assert_eq!(url.as_str(), "https://acme.zendesk.com/agent/tickets/5158");

    // The helpdesk removed: its links no longer open, though they were
    // announced when the desktop last asked.
    for name in ["zendesk", "again"] {
        let gone = admin
            .call(
                Method::DELETE,
                &format!("/api/v1/admin/sources/{name}"),
                None::<&()>,
            )
            .await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
    }
    match desk.engine.open_item(&id).await {
        Err(OpenError::Refused(LinkRefused::Origin(o))) => {
            assert_eq!(o, "https://acme.zendesk.com")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
