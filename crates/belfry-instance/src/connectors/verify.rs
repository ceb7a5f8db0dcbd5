//! Each kind's proof that a request came from its helpdesk: HMAC-SHA256
//! over timestamp and body (Zendesk in base64, Chatwoot and generic in
//! hex), HMAC-SHA1 over the body (Zammad), a bearer token (ConnectiveOne),
//! or the secret as a Basic-auth password or `secret` query parameter
//! (django-helpdesk, which cannot sign). Every comparison is constant-time.

use super::Kind;
use axum::http::HeaderMap;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a signed timestamp may be from now, either way.
pub const MAX_SKEW_S: i64 = 5 * 60;

/// Headers of the generic kind (`docs/connectors.md`, "Generic").
pub mod generic_headers {
    /// Unix seconds when the request was signed.
    pub const TIMESTAMP: &str = "x-belfry-timestamp";
    /// `sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
    pub const SIGNATURE: &str = "x-belfry-signature";
    /// Optional id of the delivery, the same on every retry.
    pub const DELIVERY: &str = "x-belfry-delivery";
}

/// Why a request was not taken as coming from its source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// A header the scheme needs is absent.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// The signature or secret is wrong.
    #[error("{0} does not match")]
    Mismatch(&'static str),
    /// The header is there but not in the scheme's form.
    #[error("malformed {0} header")]
    Malformed(&'static str),
    /// Signed too long ago (a replay, or a clock far off).
    #[error("signed timestamp is {0} s old; at most {MAX_SKEW_S} s is accepted")]
    Stale(i64),
    /// Signed in the future beyond the skew.
    #[error("signed timestamp is {0} s in the future")]
    Future(i64),
}

/// What the request said about itself once verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// The sender's id of this delivery, when it gives one (retries repeat it).
    pub delivery_id: Option<String>,
    /// What the sender says happened, outside the body (Zammad's trigger name).
    pub hint: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn required<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Unverified> {
    header(headers, name).ok_or(Unverified::Missing(name))
}

/// Parses a signed timestamp (Unix seconds or RFC 3339) and checks its age.
pub fn check_timestamp(
    raw: &str,
    name: &'static str,
    now: DateTime<Utc>,
) -> Result<(), Unverified> {
    let at = match raw.parse::<i64>() {
        Ok(secs) => DateTime::from_timestamp(secs, 0),
        Err(_) => DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
    }
    .ok_or(Unverified::Malformed(name))?;
    let age = (now - at).num_seconds();
    if age > MAX_SKEW_S {
        return Err(Unverified::Stale(age));
    }
    if -age > MAX_SKEW_S {
        return Err(Unverified::Future(-age));
    }
    Ok(())
}

/// HMAC-SHA256 over `parts`; `None` only if the key were refused, which
/// HMAC never does (it hashes long keys), so a caller treats it as a mismatch.
fn hmac256(secret: &str, parts: &[&[u8]]) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).ok()?;
    for p in parts {
        mac.update(p);
    }
    Some(mac)
}

/// `sha256=<hex>` (or bare hex) checked against HMAC-SHA256 of `parts`.
fn check_hex256(
    secret: &str,
    parts: &[&[u8]],
    given: &str,
    name: &'static str,
) -> Result<(), Unverified> {
    let hex_part = given.strip_prefix("sha256=").unwrap_or(given);
    let tag = hex::decode(hex_part).map_err(|_| Unverified::Malformed(name))?;
    hmac256(secret, parts)
        .ok_or(Unverified::Mismatch(name))?
        .verify_slice(&tag)
        .map_err(|_| Unverified::Mismatch(name))
}

/// The secret from a Basic-auth password or a `secret` query parameter.
fn url_secret(headers: &HeaderMap, query_secret: Option<&str>) -> Option<String> {
    if let Some(auth) = header(headers, "authorization")
        && let Some((scheme, rest)) = auth.split_once(' ')
        && scheme.eq_ignore_ascii_case("basic")
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text.split_once(':').map(|(_, p)| p.to_owned());
    }
    query_secret.map(str::to_owned)
}

fn equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Verifies a request to a source of `kind` with `secret`.
pub fn verify(
    kind: Kind,
    secret: &str,
    headers: &HeaderMap,
    query_secret: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Verified, Unverified> {
    let delivery = |name: &'static str| header(headers, name).map(|s| crate::render::clip(s, 200));
    match kind {
        Kind::Zendesk => {
            const SIG: &str = "x-zendesk-webhook-signature";
            const TS: &str = "x-zendesk-webhook-signature-timestamp";
            let sig = required(headers, SIG)?;
            let at = required(headers, TS)?;
            let tag = base64::engine::general_purpose::STANDARD
                .decode(sig)
                .map_err(|_| Unverified::Malformed(SIG))?;
            hmac256(secret, &[at.as_bytes(), body])
                .ok_or(Unverified::Mismatch(SIG))?
                .verify_slice(&tag)
                .map_err(|_| Unverified::Mismatch(SIG))?;
            check_timestamp(at, TS, now)?;
            Ok(Verified {
                delivery_id: delivery("x-zendesk-webhook-invocation-id"),
                hint: None,
            })
        }
        Kind::Chatwoot => {
            const SIG: &str = "x-chatwoot-signature";
            const TS: &str = "x-chatwoot-timestamp";
            let sig = required(headers, SIG)?;
            let at = required(headers, TS)?;
            check_hex256(secret, &[at.as_bytes(), b".", body], sig, SIG)?;
            check_timestamp(at, TS, now)?;
            Ok(Verified {
                delivery_id: delivery("x-chatwoot-delivery"),
                hint: None,
            })
        }
        Kind::Generic => {
            use generic_headers::{DELIVERY, SIGNATURE, TIMESTAMP};
            let sig = required(headers, SIGNATURE)?;
            let at = required(headers, TIMESTAMP)?;
            check_hex256(secret, &[at.as_bytes(), b".", body], sig, SIGNATURE)?;
            check_timestamp(at, TIMESTAMP, now)?;
            Ok(Verified {
                delivery_id: delivery(DELIVERY),
                hint: None,
            })
        }
        Kind::Zammad => {
            const SIG: &str = "x-hub-signature";
            let sig = required(headers, SIG)?;
            let hex_part = sig
                .strip_prefix("sha1=")
                .ok_or(Unverified::Malformed(SIG))?;
            let tag = hex::decode(hex_part).map_err(|_| Unverified::Malformed(SIG))?;
            let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes())
                .map_err(|_| Unverified::Mismatch(SIG))?;
            mac.update(body);
            mac.verify_slice(&tag)
                .map_err(|_| Unverified::Mismatch(SIG))?;
            Ok(Verified {
                delivery_id: delivery("x-zammad-delivery"),
                hint: delivery("x-zammad-trigger"),
            })
        }
        Kind::Connectiveone => {
            const AUTH: &str = "authorization";
            let auth = required(headers, AUTH)?;
            let token = auth
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim())
                .ok_or(Unverified::Malformed(AUTH))?;
            if !equal(token, secret) {
                return Err(Unverified::Mismatch("bearer token"));
            }
            Ok(Verified {
                delivery_id: delivery(generic_headers::DELIVERY),
                hint: None,
            })
        }
        Kind::DjangoHelpdesk => {
            let given = url_secret(headers, query_secret).ok_or(Unverified::Missing(
                "authorization (Basic) or `secret` query",
            ))?;
            if !equal(&given, secret) {
                return Err(Unverified::Mismatch("secret"));
            }
            Ok(Verified::default())
        }
    }
}

/// Signs like the generic kind (for senders written in Rust and the tests).
pub fn sign_generic(secret: &str, timestamp: &str, body: &[u8]) -> String {
    hmac256(secret, &[timestamp.as_bytes(), b".", body])
        .map(|mac| format!("sha256={}", hex::encode(mac.finalize().into_bytes())))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn generic_round_trip_and_tamper() {
        let now = Utc::now();
        let at = now.timestamp().to_string();
        let body = br#"{"type":"ticket_created"}"#;
        let sig = sign_generic("s3cret", &at, body);
        let h = headers(&[
            (generic_headers::TIMESTAMP, at.clone()),
            (generic_headers::SIGNATURE, sig.clone()),
        ]);
        assert!(verify(Kind::Generic, "s3cret", &h, None, body, now).is_ok());
        assert_eq!(
            verify(Kind::Generic, "other", &h, None, body, now),
            Err(Unverified::Mismatch(generic_headers::SIGNATURE))
        );
        assert!(verify(Kind::Generic, "s3cret", &h, None, b"{}", now).is_err());
        let later = now + chrono::Duration::seconds(MAX_SKEW_S + 5);
        assert!(matches!(
            verify(Kind::Generic, "s3cret", &h, None, body, later),
            Err(Unverified::Stale(_))
        ));
    }

    #[test]
    fn basic_auth_and_query_secrets() {
        let now = Utc::now();
        let basic = base64::engine::general_purpose::STANDARD.encode("belfry:pw");
        let h = headers(&[("authorization", format!("Basic {basic}"))]);
        assert!(verify(Kind::DjangoHelpdesk, "pw", &h, None, b"", now).is_ok());
        assert!(verify(Kind::DjangoHelpdesk, "px", &h, None, b"", now).is_err());
        let none = HeaderMap::new();
        assert!(verify(Kind::DjangoHelpdesk, "pw", &none, Some("pw"), b"", now).is_ok());
        assert!(verify(Kind::DjangoHelpdesk, "pw", &none, None, b"", now).is_err());
    }
}
