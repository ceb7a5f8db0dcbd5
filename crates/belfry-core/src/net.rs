//! Talking to the instance over HTTP: the URL rules, TLS (the system's
//! roots plus an admin's extra CA), and the REST calls the core makes.

use crate::secret::Secret;
use belfry_proto::api::{ErrorBody, ErrorCode, LoginRequest, LoginResponse, ServerInfo};
use belfry_proto::inbox::{InboxPage, MarkAllRead, MarkRead, Notification, ReadResult};
use belfry_proto::settings::{SettingsDocument, SettingsWrite};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Problems with the instance address or TLS set-up (fatal for a start).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Not a URL.
    #[error("instance address: {0}")]
    Url(#[from] url::ParseError),
    /// Not http(s).
    #[error("instance address must start with https:// (or http:// for this machine)")]
    Scheme,
    /// Plain http to another machine without the explicit permission.
    #[error(
        "plain http is only allowed to this machine; use https:// or allow insecure connections explicitly"
    )]
    Insecure,
    /// The extra CA file could not be used.
    #[error("extra CA certificate {path}: {reason}")]
    Ca {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The TLS library refused the configuration.
    #[error("TLS: {0}")]
    Tls(String),
}

/// A failed REST call, as the core needs to tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: the token is revoked or expired.
    #[error("signed out")]
    Unauthorized,
    /// The server answered with an error body.
    #[error("server refused ({status}): {}", body.error.message)]
    Refused {
        /// HTTP status.
        status: u16,
        /// The body.
        body: Box<ErrorBody>,
    },
    /// No answer: network down, timeout, TLS failure, server gone.
    #[error("network: {0}")]
    Network(String),
    /// An answer that is not what the protocol says.
    #[error("unexpected answer: {0}")]
    Decode(String),
}

/// An error in words with its causes: reqwest's own message is only
/// "error sending request for url (…)", and the reason an operator or an
/// admin can act on (a certificate from an unknown issuer, one for another
/// host, a refused connection) is further down the chain.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut why = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        // hyper and reqwest repeat their inner error in their own text.
        if !why.contains(&text) {
            why.push_str(": ");
            why.push_str(&text);
        }
        cause = c.source();
    }
    why
}

fn network(e: impl std::error::Error) -> ApiError {
    ApiError::Network(with_causes(&e))
}

impl ApiError {
    /// The error code when the server refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Refused { body, .. } => Some(body.error.code),
            _ => None,
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses and checks an instance address: https anywhere, http only to
/// loopback unless `allow_insecure`.
pub fn instance_url(address: &str, allow_insecure: bool) -> Result<Url, SetupError> {
    let mut url = Url::parse(address.trim())?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) || allow_insecure => {}
        "http" => return Err(SetupError::Insecure),
        _ => return Err(SetupError::Scheme),
    }
    url.set_path("");
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The URL of the stream for an instance address.
pub fn stream_url(base: &Url) -> String {
    let origin = base.as_str().trim_end_matches('/');
    let ws = origin
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    format!("{ws}/api/v1/stream")
}

/// TLS settings: the system's trusted roots, plus the PEM certificates in
/// `extra_ca` (an on-premises instance's own CA). Certificates are always
/// verified.
pub fn tls_config(extra_ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, SetupError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A single unusable system certificate must not stop the app.
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca {
        let ca_err = |reason: String| SetupError::Ca {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
        let mut added = 0;
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let cert: rustls::pki_types::CertificateDer<'static> =
                cert.map_err(|e| ca_err(e.to_string()))?;
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ca_err("no PEM certificate in the file".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn http_client(tls: &Arc<rustls::ClientConfig>) -> Result<reqwest::Client, SetupError> {
    reqwest::Client::builder()
        .use_preconfigured_tls((**tls).clone())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("Belfry/", env!("CARGO_PKG_VERSION")))
        .redirect(same_origin_only())
        .build()
        .map_err(|e| SetupError::Tls(e.to_string()))
}

/// Follows redirects only within the origin the request went to: a
/// redirect to another host would take the token there (reqwest drops the
/// header across hosts, but a 307 also resends the body, and the sign-in
/// body holds the password). Stopped, the 3xx is an error the caller reports.
fn same_origin_only() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if same {
            attempt.follow()
        } else {
            tracing::warn!(to = %attempt.url().origin().ascii_serialization(), "not following a redirect off the instance");
            attempt.stop()
        }
    })
}

/// The instance's REST API, signed in.
#[derive(Clone)]
pub struct Api {
    base: Url,
    token: Secret,
    http: reqwest::Client,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base.as_str())
            .field("token", &self.token)
            .finish()
    }
}

/// The largest REST body read: a full inbox page (500 notifications at
/// their longest title, body and link) is under half of it. A broken or
/// hostile server's endless body stops here instead of filling memory.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// The body, up to [`MAX_BODY_BYTES`]: refused before reading when its
/// declared length is over, and as soon as what arrives is.
async fn body(mut res: reqwest::Response) -> Result<Vec<u8>, ApiError> {
    let too_big = || ApiError::Decode(format!("an answer over {MAX_BODY_BYTES} bytes"));
    if res
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(network)? {
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_big());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn decode<T: DeserializeOwned>(res: reqwest::Response) -> Result<T, ApiError> {
    let status = res.status();
    let bytes = body(res).await?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode(e.to_string()));
    }
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        // A wrong password is a refusal to explain, not a lost session.
        Ok(body)
            if status == StatusCode::UNAUTHORIZED
                && body.error.code != ErrorCode::InvalidCredentials =>
        {
            Err(ApiError::Unauthorized)
        }
        Ok(body) => Err(ApiError::Refused {
            status: status.as_u16(),
            body: Box::new(body),
        }),
        Err(_) if status == StatusCode::UNAUTHORIZED => Err(ApiError::Unauthorized),
        Err(_) => Err(ApiError::Decode(format!(
            "HTTP {status} without an error body"
        ))),
    }
}

impl Api {
    /// A client for `base` with `token`.
    pub fn new(
        base: Url,
        token: Secret,
        tls: &Arc<rustls::ClientConfig>,
    ) -> Result<Self, SetupError> {
        Ok(Self {
            base,
            token,
            http: http_client(tls)?,
        })
    }

    /// The instance address.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The token (for the stream's upgrade request).
    pub fn token(&self) -> &Secret {
        &self.token
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ApiError> {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(self.token.expose());
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.map_err(network)?;
        decode(res).await
    }

    /// `GET /info` (no token needed).
    pub async fn info(base: &Url, tls: &Arc<rustls::ClientConfig>) -> Result<ServerInfo, ApiError> {
        let http = http_client(tls).map_err(network)?;
        let url = format!("{}/api/v1/info", base.as_str().trim_end_matches('/'));
        let res = http.get(url).send().await.map_err(network)?;
        decode(res).await
    }

    /// `GET /info` with this client (the link origins the instance announces
    /// change as an admin adds helpdesks).
    pub async fn server_info(&self) -> Result<ServerInfo, ApiError> {
        self.call(Method::GET, "/api/v1/info", None::<&()>).await
    }

    /// Signs in; returns the API client and who signed in.
    pub async fn login(
        base: &Url,
        tls: &Arc<rustls::ClientConfig>,
        login: &str,
        password: &Secret,
    ) -> Result<(Self, LoginResponse), ApiError> {
        let http = http_client(tls).map_err(network)?;
        let url = format!("{}/api/v1/auth/login", base.as_str().trim_end_matches('/'));
        let body = LoginRequest {
            login: login.to_owned(),
            password: password.expose().to_owned(),
            client: Some(concat!("Belfry ", env!("CARGO_PKG_VERSION")).to_owned()),
        };
        let res = http.post(url).json(&body).send().await.map_err(network)?;
        let answer: LoginResponse = decode(res).await?;
        let api = Self {
            base: base.clone(),
            token: Secret::new(answer.token.clone()),
            http,
        };
        Ok((api, answer))
    }

    /// Revokes the token.
    pub async fn logout(&self) -> Result<(), ApiError> {
        let res = self
            .http
            .post(self.url("/api/v1/auth/logout"))
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(network)?;
        match res.status() {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED => Ok(()),
            s => Err(ApiError::Decode(format!("logout answered {s}"))),
        }
    }

    /// Asks the instance for its test notification on `channel`; it comes
    /// back through the stream like any other.
    pub async fn test_notification(&self, channel: &str) -> Result<Notification, ApiError> {
        let body = belfry_proto::api::TestRequest {
            channel: channel.to_owned(),
        };
        self.call(Method::POST, "/api/v1/test-notification", Some(&body))
            .await
    }

    /// Changes the operator's availability.
    pub async fn put_status(
        &self,
        status: belfry_proto::api::Availability,
    ) -> Result<belfry_proto::api::OperatorStatus, ApiError> {
        let body = belfry_proto::api::OperatorStatus {
            status,
            since: None,
        };
        self.call(Method::PUT, "/api/v1/status", Some(&body)).await
    }

    /// The signed-in account (checks that the token still works).
    pub async fn me(&self) -> Result<belfry_proto::api::Operator, ApiError> {
        self.call(Method::GET, "/api/v1/me", None::<&()>).await
    }

    /// The settings document.
    pub async fn settings(&self) -> Result<SettingsDocument, ApiError> {
        self.call(Method::GET, "/api/v1/settings", None::<&()>)
            .await
    }

    /// Writes preferences.
    pub async fn put_settings(&self, write: &SettingsWrite) -> Result<SettingsDocument, ApiError> {
        self.call(Method::PUT, "/api/v1/settings", Some(write))
            .await
    }

    /// One inbox page.
    pub async fn inbox(
        &self,
        unread: bool,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<InboxPage, ApiError> {
        let mut path = format!("/api/v1/inbox?limit={limit}&unread={unread}");
        if let Some(c) = cursor {
            path.push_str("&cursor=");
            path.push_str(&url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>());
        }
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// Marks read.
    pub async fn mark_read(&self, ids: &[String]) -> Result<ReadResult, ApiError> {
        self.call(
            Method::POST,
            "/api/v1/inbox/read",
            Some(&MarkRead { ids: ids.to_vec() }),
        )
        .await
    }

    /// Marks everything up to a sequence read.
    pub async fn mark_all_read(&self, up_to_seq: u64) -> Result<ReadResult, ApiError> {
        self.call(
            Method::POST,
            "/api/v1/inbox/read-all",
            Some(&MarkAllRead {
                up_to_seq: Some(up_to_seq),
            }),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A server on loopback that answers every request with `head` and
    /// then writes chunks of `x` until the client hangs up.
    async fn endless(head: &'static str) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = sock.read(&mut request).await;
                    let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                    let mut out = sock.write_all(head.as_bytes()).await;
                    while out.is_ok() {
                        out = sock.write_all(chunk.as_bytes()).await;
                    }
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn an_endless_or_oversized_answer_is_refused_not_read_whole() {
        let tls = tls_config(None).unwrap();
        for head in [
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 99999999999\r\n\r\n",
        ] {
            let base = endless(head).await;
            match Api::info(&base, &tls).await {
                Err(ApiError::Decode(why)) => assert!(why.contains("over"), "{why}"),
                other => panic!("expected a refused answer, got {other:?}"),
            }
        }
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        assert!(instance_url("http://127.0.0.1:8700", false).is_ok());
        assert!(instance_url("http://localhost:8700/x?y", false).is_ok());
        assert!(instance_url("http://[::1]:8700", false).is_ok());
        assert!(matches!(
            instance_url("http://help.example.com", false),
            Err(SetupError::Insecure)
        ));
        assert!(instance_url("http://help.example.com", true).is_ok());
        assert!(instance_url("https://help.example.com", false).is_ok());
        assert!(matches!(
            instance_url("ftp://help.example.com", true),
            Err(SetupError::Scheme)
        ));
        let u = instance_url("https://help.example.com/some/path", false).unwrap();
        assert_eq!(stream_url(&u), "wss://help.example.com/api/v1/stream");
    }

    #[test]
    fn a_bad_extra_ca_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = tls_config(Some(&path)).unwrap_err();
        assert!(err.to_string().contains("ca.pem"), "{err}");
        assert!(tls_config(None).is_ok());
    }
}
