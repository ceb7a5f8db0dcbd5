//! No source secret reaches the instance's log: every source change and
//! every webhook (taken or refused) is logged, and none of those lines may
//! carry the secret. A test binary of its own, because it captures the log
//! with the process's one global subscriber (the other gateway tests start
//! desktops that install theirs).

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_instance::connectors::sources::SourceSecret;
use belfry_tests::TestInstance;
use belfry_tests::hooks::{add_source, dotted_signature, now_s, post, settled};
use reqwest::Method;
use serde_json::json;

/// Everything the instances in this test binary log (a global subscriber:
/// a scoped one misses events when tests on other threads cache the
/// callsites' interest first).
fn captured_log() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOG: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || Capture(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
}

#[tokio::test]
async fn the_secret_reaches_no_log() {
    // The instance logs every source change and every webhook, refused or
    // taken; none of those lines may carry the secret.
    let log = captured_log();
    let t = TestInstance::start().await;
    let admin = t.admin().await;
    let created = add_source(&admin, "gen", "generic", "https://x.example", &[]).await;
    let rotated: SourceSecret = admin
        .send(Method::POST, "/api/v1/admin/sources/gen/secret", &json!({}))
        .await;
    let body = br#"{"type":"ticket_created","operator":"olga"}"#;
    let at = now_s();
    for secret in [&created.secret, &rotated.secret] {
        post(
            &created.source.ingest_url,
            &[
                ("x-belfry-timestamp", at.clone()),
                ("x-belfry-signature", dotted_signature(secret, &at, body)),
            ],
            body,
        )
        .await;
    }
    settled(&admin, "gen").await;
    let logged = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("source added"),
        "the capture works: {logged}"
    );
    assert!(logged.contains("webhook refused") && logged.contains("webhook taken"));
    assert!(!logged.contains(&created.secret) && !logged.contains(&rotated.secret));
}

#[derive(Clone)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
