//! `belfry-instance source …`, the real command line, on the database of a
//! running instance: a source added at the shell takes webhooks signed with
//! the secret the command printed, and the deliveries command lists them.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_instance::connectors::cli::run_from;
use belfry_instance::{Config, Instance};
use belfry_tests::hooks::{now_s, post, zendesk_signature};
use reqwest::StatusCode;
use std::io::Cursor;

/// Runs `source ARGS` with `stdin`; returns what it printed, or the error.
fn source(db: &std::path::Path, args: &[&str], stdin: &str) -> Result<String, String> {
    let db = db.to_str().unwrap();
    let mut argv = vec!["--db", db, "--public-url", "https://belfry.acme.example/"];
    argv.extend_from_slice(args);
    let mut out = Vec::new();
    run_from(&argv, &mut out, &mut Cursor::new(stdin.as_bytes().to_vec()))
        .map(|()| String::from_utf8(out).unwrap())
        .map_err(|e| format!("{e:#}"))
}

fn printed<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label} in {out}"))
}

#[tokio::test]
async fn the_source_command_line_adds_lists_rotates_and_removes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("instance.db");
    let instance = Instance::start(Config {
        db: Some(db.clone()),
        ..Config::default()
    })
    .await
    .unwrap();
    belfry_instance::api::admin::create(
        &instance.state,
        belfry_proto::api::CreateOperator {
            login: "olga".into(),
            password: "olga-password".into(),
            name: None,
            role: None,
        },
    )
    .await
    .unwrap();

    let added = source(
        &db,
        &[
            "add",
            "zd",
            "--kind",
            "zendesk",
            "--base-url",
            "https://acme.zendesk.com/",
            "--user",
            "1001=olga",
        ],
        "",
    )
    .unwrap();
    assert_eq!(
        printed(&added, "webhook URL:"),
        "https://belfry.acme.example/api/v1/hooks/zd"
    );
    let secret = printed(&added, "secret:").to_owned();
    assert!(secret.starts_with("whs_"));

    // Shown once: the list has the source, its map, and not the secret.
    let listed = source(&db, &["list"], "").unwrap();
    assert!(
        listed.contains("zd\tzendesk\thttps://acme.zendesk.com\t"),
        "{listed}"
    );
    assert!(listed.contains("1001 -> olga"));
    assert!(!listed.contains(&secret));

    // The running instance takes a webhook signed with it (same database).
    let body = br#"{"type":"zen:event-type:ticket.created","id":"e1","detail":{"id":"7","assignee_id":"1001","subject":"Hi"}}"#;
    let at = now_s();
    let url = format!("{}/api/v1/hooks/zd", instance.url);
    let sign = |secret: &str| {
        vec![
            (
                "x-zendesk-webhook-signature",
                zendesk_signature(secret, &at, body),
            ),
            ("x-zendesk-webhook-signature-timestamp", at.clone()),
        ]
    };
    assert_eq!(
        post(&url, &sign(&secret), body).await.status,
        StatusCode::ACCEPTED
    );

    // The helpdesk's own secret, from standard input, on rotation.
    let theirs = "aGVscGRlc2stbWFkZS1zZWNyZXQtMTIz";
    let rotated = source(
        &db,
        &["rotate-secret", "zd", "--secret-stdin"],
        &format!("{theirs}\n"),
    )
    .unwrap();
    assert_eq!(printed(&rotated, "secret:"), theirs);
    assert_eq!(
        post(&url, &sign(&secret), body).await.status,
        StatusCode::UNAUTHORIZED
    );
    let retried = post(&url, &sign(theirs), body).await;
    assert_eq!(
        retried.status,
        StatusCode::OK,
        "the same event id: a duplicate"
    );

    // The deliveries, newest first, as the admin reads them.
    let start = std::time::Instant::now();
    let deliveries = loop {
        let d = source(&db, &["deliveries", "zd"], "").unwrap();
        if d.contains("ticket_created to olga")
            || start.elapsed() > std::time::Duration::from_secs(10)
        {
            break d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let lines: Vec<&str> = deliveries.lines().collect();
    assert_eq!(lines.len(), 3, "{deliveries}");
    assert!(lines[0].contains("\tduplicate\t"), "{deliveries}");
    assert!(
        lines[1].contains("\trefused\t") && lines[1].contains("does not match"),
        "{deliveries}"
    );
    assert!(
        lines[2].contains("\taccepted\tticket.created\t")
            && lines[2].contains("ticket_created to olga"),
        "{deliveries}"
    );

    // Mistakes are named.
    let bad = source(
        &db,
        &[
            "add",
            "x",
            "--kind",
            "freshdesk",
            "--base-url",
            "https://x.example",
        ],
        "",
    )
    .unwrap_err();
    assert!(
        bad.contains("zendesk") && bad.contains("django-helpdesk"),
        "{bad}"
    );
    let short = source(&db, &["rotate-secret", "zd", "--secret-stdin"], "short\n").unwrap_err();
    assert!(short.contains("16-512"), "{short}");
    let again = source(
        &db,
        &[
            "add",
            "zd",
            "--kind",
            "generic",
            "--base-url",
            "https://x.example",
        ],
        "",
    )
    .unwrap_err();
    assert!(again.contains("already exists"), "{again}");

    let users = source(
        &db,
        &["users", "zd", "--user", "olga@acme.example=olga"],
        "",
    )
    .unwrap();
    assert!(users.contains("1 mapped users"), "{users}");
    let removed = source(&db, &["remove", "zd"], "").unwrap();
    assert!(removed.contains("removed zd"));
    assert_eq!(
        post(&url, &sign(theirs), body).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        source(&db, &["deliveries", "zd"], "")
            .unwrap_err()
            .contains("no source named zd")
    );
    instance.stop().await.unwrap();
}
