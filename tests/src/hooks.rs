//! Helpers for the gateway tests: add a source over the admin API, sign a
//! webhook as each helpdesk documents it (written from their docs, not with
//! the instance's verifier), post it, and wait until the instance has
//! mapped every delivery it accepted.

use crate::{Answer, Api, PATIENCE};
use base64::Engine;
use belfry_instance::connectors::deliveries::{DeliveryView, Outcome};
use belfry_instance::connectors::sources::SourceSecret;
use hmac::{Hmac, Mac};
use reqwest::Method;
use std::time::Duration;

/// Adds a source; returns what the instance shows once (secret included).
pub async fn add_source(
    admin: &Api,
    name: &str,
    kind: &str,
    base_url: &str,
    users: &[(&str, &str)],
) -> SourceSecret {
    let users: serde_json::Map<String, serde_json::Value> = users
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned())))
        .collect();
    admin
        .send(
            Method::POST,
            "/api/v1/admin/sources",
            &serde_json::json!({"name": name, "kind": kind, "base_url": base_url, "users": users}),
        )
        .await
}

/// base64(HMAC-SHA256(secret, timestamp + body)): Zendesk, "Verifying
/// webhook authenticity".
pub fn zendesk_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `sha256=` hex HMAC-SHA256(secret, "{timestamp}.{body}"): Chatwoot's
/// webhook signature, and the generic kind's.
pub fn dotted_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `sha1=` hex HMAC-SHA1(secret, body): Zammad's X-Hub-Signature.
pub fn hub_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts `body` to `url` with `headers` (JSON content type unless one is given).
pub async fn post(url: &str, headers: &[(&str, String)], body: &[u8]) -> Answer {
    let client = reqwest::Client::new();
    let mut req = client.post(url).body(body.to_vec());
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Answer { status, body }
}

/// The source's deliveries once none waits to be mapped, newest first.
pub async fn settled(admin: &Api, source: &str) -> Vec<DeliveryView> {
    let start = std::time::Instant::now();
    loop {
        let list: Vec<DeliveryView> = admin
            .get(&format!(
                "/api/v1/admin/sources/{source}/deliveries?limit=200"
            ))
            .await;
        let waiting = list
            .iter()
            .any(|d| d.outcome == Outcome::Accepted && d.processed_at.is_none());
        if !waiting {
            return list;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "deliveries still waiting: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Unix seconds now, as the signed timestamp headers carry it.
pub fn now_s() -> String {
    chrono::Utc::now().timestamp().to_string()
}
