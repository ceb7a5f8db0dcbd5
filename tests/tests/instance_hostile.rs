//! The reference instance against hostile clients, over real sockets on
//! loopback: malformed and oversized requests, protocol garbage, many
//! streams on one token, floods of frames, clients that trickle their
//! requests. Every case checks what the hostile client sees (status and
//! error body, or close code and reason) and that a well-behaved client is
//! still served afterwards; the flood and slowloris cases check it while the
//! attack goes on. No assertion is about timing: "still served" means the
//! good client gets every notification and is not disconnected.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_instance::Config;
use belfry_proto::stream::{ClientFrame, ServerFrame, close};
use belfry_tests::{Api, OPERATOR, PATIENCE, Stream, TestInstance, eventually};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// A second operator, for "the others" that share nothing with the attacker.
const OTHER: (&str, &str) = ("ivan", "ivan-password");

// ---------------------------------------------------------------- helpers

/// What came back on a raw HTTP/1.1 connection.
#[derive(Debug)]
struct Raw {
    /// 0 when the server closed without answering.
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Asserts the instance's own error body with `code`.
    fn assert_error(&self, what: &str, status: u16, code: &str) {
        assert_eq!(self.status, status, "{what}: {}{}", self.head, self.text());
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: a message for people: {body}"
        );
        assert!(
            self.head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{what}: {}",
            self.head
        );
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request as bytes: `Host` and `Connection: close` added, and
/// `Content-Length` when there is a body or a method that takes one.
fn request(method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: belfry.test\r\nConnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let declared = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
    if !declared && (!body.is_empty() || matches!(method, "POST" | "PUT")) {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

fn json_type() -> (&'static str, String) {
    ("Content-Type", "application/json".into())
}

/// Sends `bytes` on a connection of its own and reads the answer until the
/// server closes. The write runs in its own task, so a server that answers
/// early and stops reading (a 413) does not hold the reader up.
async fn raw(addr: SocketAddr, bytes: Vec<u8>) -> Raw {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let writer = tokio::spawn(async move {
        // The server may close before it has read everything: not our failure.
        let _ = wr.write_all(&bytes).await;
        wr
    });
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(PATIENCE, rd.read(&mut buf))
            .await
            .expect("the server neither answered nor closed")
        {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    drop(writer.await);
    parse(&got)
}

fn parse(got: &[u8]) -> Raw {
    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Raw {
            status: 0,
            head: String::from_utf8_lossy(got).into_owned(),
            body: Vec::new(),
        };
    };
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut body = got[end + 4..].to_vec();
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    if let Some(n) = length {
        body.truncate(n);
    }
    Raw { status, head, body }
}

/// A well-behaved operator with its own token and an open stream.
struct Good {
    login: &'static str,
    api: Api,
    stream: Stream,
}

impl Good {
    async fn join(t: &TestInstance, (login, password): (&'static str, &str)) -> Self {
        let api = Api::login(t.url(), login, password).await;
        let (mut stream, _) = Stream::connect(t.url(), &api.token, None).await;
        assert!(matches!(
            stream.next().await,
            ServerFrame::ReplayDone { .. }
        ));
        Self { login, api, stream }
    }

    /// Still served: REST answers, and an event emitted now arrives on the
    /// stream (which is not closed in between).
    async fn served(&mut self, admin: &Api, what: &str) {
        let me = self.api.call(Method::GET, "/api/v1/me", None::<&()>).await;
        assert_eq!(me.status, StatusCode::OK, "after {what}: {}", me.body);
        let ids = admin.emit_many(self.login, "ticket_created", 1).await;
        self.receive(&ids).await;
    }

    /// Reads until every one of `ids` has arrived, in order; panics if the
    /// stream closes first.
    async fn receive(&mut self, ids: &[String]) {
        let mut got = Vec::new();
        while got.len() < ids.len() {
            // Reads, settings, status: not what this client waits for.
            if let ServerFrame::Notification { notification, .. } = self.stream.next().await {
                got.push(notification.id);
            }
        }
        assert_eq!(got, ids, "{}: every notification, in order", self.login);
    }
}

/// Reads a stream until the server closes it; its close code and reason.
async fn close_of(s: &mut Stream) -> (u16, String) {
    loop {
        let msg = tokio::time::timeout(PATIENCE, s.ws.next())
            .await
            .expect("the server did not close the stream");
        match msg {
            Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                return (u16::from(code), reason.to_string());
            }
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the stream dropped without a close frame: {e}"),
            None => panic!("the stream ended without a close frame"),
        }
    }
}

async fn start(config: Config) -> (TestInstance, Api) {
    // The instance's log is shown when a test fails.
    belfry_tests::init_logs();
    let t = TestInstance::start_with(config).await;
    t.create_account(OTHER.0, OTHER.1, false).await;
    let admin = t.admin().await;
    (t, admin)
}

// ---------------------------------------------------------------- REST

/// One malformed request and what it must get.
struct Case {
    what: &'static str,
    bytes: Vec<u8>,
    status: u16,
    /// The error body's code; `None` when hyper answers before the
    /// application (no body), or for a 2xx.
    code: Option<&'static str>,
}

#[tokio::test]
async fn malformed_requests_get_the_error_body_and_the_others_keep_being_served() {
    let (t, admin) = start(Config::default()).await;
    let mut good = Good::join(&t, OTHER).await;
    let op = t.operator().await;
    let auth = bearer(&op.token);
    let adm = bearer(&admin.token);
    let with = |method: &str, path: &str, body: &[u8]| {
        request(method, path, &[auth.clone(), json_type()], body)
    };
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let long_q = "x".repeat(20 * 1024);
    let upgrade = [
        ("Connection", "Upgrade".to_owned()),
        ("Upgrade", "websocket".into()),
        ("Sec-WebSocket-Version", "13".into()),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==".into()),
    ];
    let not_an_object = br#"{"operator": "olga", "type": "ticket_created", "data": [1]}"#;
    let text_plain = ("Content-Type", "text/plain".to_owned());
    let many: Vec<_> = (0..200).map(|i| ("X-Many", i.to_string())).collect();
    let form = (
        "Content-Type",
        "application/x-www-form-urlencoded".to_owned(),
    );
    let bad = |what, bytes| Case {
        what,
        bytes,
        status: 400,
        code: Some("invalid_request"),
    };
    let cases = vec![
        // Bodies that are not JSON, or not the expected shape.
        bad("not JSON", with("PUT", "/api/v1/settings", b"{not json")),
        bad(
            "truncated JSON",
            with("POST", "/api/v1/inbox/read", br#"{"ids": ["a""#),
        ),
        bad("empty body", with("POST", "/api/v1/inbox/read", b"")),
        bad("null", with("POST", "/api/v1/inbox/read", b"null")),
        bad(
            "an array for an object",
            with("POST", "/api/v1/inbox/read", b"[]"),
        ),
        bad(
            "a string for a list",
            with("POST", "/api/v1/inbox/read", br#"{"ids": "x"}"#),
        ),
        bad(
            "numbers for strings",
            with("POST", "/api/v1/inbox/read", br#"{"ids": [1, 2]}"#),
        ),
        bad("missing field", with("POST", "/api/v1/inbox/read", b"{}")),
        bad(
            "a string for a number",
            with("PUT", "/api/v1/settings", br#"{"base_version": "seven"}"#),
        ),
        bad(
            "a negative sequence",
            with("POST", "/api/v1/inbox/read-all", br#"{"up_to_seq": -1}"#),
        ),
        bad(
            "a number too big",
            with("POST", "/api/v1/inbox/read-all", br#"{"up_to_seq": 1e400}"#),
        ),
        bad(
            "an unknown status",
            with("PUT", "/api/v1/status", br#"{"status": "asleep"}"#),
        ),
        bad(
            "non-UTF-8 bytes",
            with("POST", "/api/v1/inbox/read", b"{\"ids\": [\"\xff\xfe\"]}"),
        ),
        bad(
            "nesting 100,000 deep",
            with("POST", "/api/v1/inbox/read", deep.as_bytes()),
        ),
        bad(
            "trailing garbage",
            with("POST", "/api/v1/inbox/read", br#"{"ids": []} {"ids": []}"#),
        ),
        bad(
            "a login of the wrong type",
            request(
                "POST",
                "/api/v1/auth/login",
                &[json_type()],
                br#"{"login": 5, "password": "x"}"#,
            ),
        ),
        bad(
            "admin: data that is not an object",
            request(
                "POST",
                "/api/v1/admin/events",
                &[adm.clone(), json_type()],
                not_an_object,
            ),
        ),
        // Wrong or missing content type on a JSON body.
        bad(
            "text/plain",
            request(
                "POST",
                "/api/v1/inbox/read",
                &[auth.clone(), text_plain.clone()],
                br#"{"ids": []}"#,
            ),
        ),
        bad(
            "a form",
            request(
                "POST",
                "/api/v1/inbox/read",
                &[auth.clone(), form.clone()],
                b"ids=1",
            ),
        ),
        bad(
            "no content type",
            request(
                "POST",
                "/api/v1/inbox/read",
                std::slice::from_ref(&auth),
                br#"{"ids": []}"#,
            ),
        ),
        // Unknown fields are ignored, as the protocol says.
        Case {
            what: "an unknown field",
            bytes: with(
                "POST",
                "/api/v1/inbox/read",
                br#"{"ids": [], "colour": "red"}"#,
            ),
            status: 200,
            code: None,
        },
        // Queries.
        bad(
            "limit not a number",
            with("GET", "/api/v1/inbox?limit=abc", b""),
        ),
        bad("limit 0", with("GET", "/api/v1/inbox?limit=0", b"")),
        bad(
            "limit over the page",
            with("GET", "/api/v1/inbox?limit=501", b""),
        ),
        bad(
            "limit over u32",
            with("GET", "/api/v1/inbox?limit=99999999999999999999", b""),
        ),
        bad(
            "limit twice",
            with("GET", "/api/v1/inbox?limit=1&limit=2", b""),
        ),
        bad(
            "unread not a bool",
            with("GET", "/api/v1/inbox?unread=maybe", b""),
        ),
        bad(
            "an unknown category",
            with("GET", "/api/v1/inbox?category=spam", b""),
        ),
        // Query bytes that are not UTF-8 are decoded lossily (U+FFFD), as
        // form decoding does: a search for replacement characters.
        Case {
            what: "a non-UTF-8 query",
            bytes: with("GET", "/api/v1/inbox?q=%FF%FE", b""),
            status: 200,
            code: None,
        },
        bad(
            "q over 200 characters",
            with("GET", &format!("/api/v1/inbox?q={long_q}"), b""),
        ),
        // Cursors are opaque: anything but one the server gave is refused.
        bad(
            "cursor: letters",
            with("GET", "/api/v1/inbox?cursor=abc", b""),
        ),
        bad(
            "cursor: negative",
            with("GET", "/api/v1/inbox?cursor=-1", b""),
        ),
        bad(
            "cursor: a float",
            with("GET", "/api/v1/inbox?cursor=1e5", b""),
        ),
        bad(
            "cursor: over u64",
            with("GET", "/api/v1/inbox?cursor=18446744073709551616", b""),
        ),
        bad(
            "cursor: a NUL",
            with("GET", "/api/v1/inbox?cursor=%00", b""),
        ),
        bad(
            "cursor: SQL",
            with("GET", "/api/v1/inbox?cursor=1%20OR%201=1", b""),
        ),
        // Paths that try to leave their place, or do not decode.
        Case {
            what: "dot segments in the inbox",
            bytes: with("GET", "/api/v1/inbox/../../../etc/passwd", b""),
            status: 404,
            code: Some("not_found"),
        },
        Case {
            what: "encoded dot segments as an id",
            bytes: with("GET", "/api/v1/inbox/..%2F..%2Fetc%2Fpasswd", b""),
            status: 404,
            code: Some("not_found"),
        },
        Case {
            what: "an id that is not UTF-8",
            bytes: with("GET", "/api/v1/inbox/%FF%FE", b""),
            status: 404,
            code: Some("not_found"),
        },
        Case {
            what: "a NUL in an id",
            bytes: with("GET", "/api/v1/inbox/%00", b""),
            status: 404,
            code: Some("not_found"),
        },
        Case {
            what: "a login with dot segments",
            bytes: request(
                "PUT",
                "/api/v1/admin/operators/..%2Fadmin/links",
                &[adm.clone(), json_type()],
                br#"{"links": {}}"#,
            ),
            status: 404,
            code: Some("not_found"),
        },
        Case {
            what: "a login that is not UTF-8",
            bytes: request(
                "GET",
                "/api/v1/admin/operators/%C3%28/notifications/x",
                std::slice::from_ref(&adm),
                b"",
            ),
            status: 404,
            code: Some("not_found"),
        },
        Case {
            what: "no such route",
            bytes: with("GET", "/api/v2/inbox", b""),
            status: 404,
            code: Some("not_found"),
        },
        // Methods and the stream endpoint used wrongly.
        Case {
            what: "a method the route does not have",
            bytes: with("DELETE", "/api/v1/settings", b""),
            status: 405,
            code: Some("invalid_request"),
        },
        Case {
            what: "POST to the stream",
            bytes: with("POST", "/api/v1/stream", b"{}"),
            status: 405,
            code: Some("invalid_request"),
        },
        Case {
            what: "the stream without an upgrade",
            bytes: with("GET", "/api/v1/stream", b""),
            status: 0, // checked below: a 4xx with the error body
            code: Some("invalid_request"),
        },
        // Credentials that are not credentials.
        Case {
            what: "an empty bearer",
            bytes: request(
                "GET",
                "/api/v1/me",
                &[("Authorization", "Bearer ".into())],
                b"",
            ),
            status: 401,
            code: Some("unauthorized"),
        },
        Case {
            what: "basic auth",
            bytes: request(
                "GET",
                "/api/v1/me",
                &[("Authorization", "Basic b2xnYTpvbGdh".into())],
                b"",
            ),
            status: 401,
            code: Some("unauthorized"),
        },
        Case {
            what: "a made-up token",
            bytes: request(
                "GET",
                "/api/v1/me",
                &[bearer(&format!("blf_{}", "A".repeat(43)))],
                b"",
            ),
            status: 401,
            code: Some("unauthorized"),
        },
        Case {
            what: "a token of 8 KiB",
            bytes: request("GET", "/api/v1/me", &[bearer(&"x".repeat(8 * 1024))], b""),
            status: 401,
            code: Some("unauthorized"),
        },
        Case {
            what: "an unauthenticated stream",
            bytes: request("GET", "/api/v1/stream", &upgrade, b""),
            status: 401,
            code: Some("unauthorized"),
        },
        // Heads too large for the instance (32 KiB): hyper answers, no body.
        Case {
            what: "a query over the head limit",
            bytes: with(
                "GET",
                &format!("/api/v1/inbox?q={}", "x".repeat(40 * 1024)),
                b"",
            ),
            status: 431,
            code: None,
        },
        Case {
            what: "a path of 100 KiB",
            bytes: with("GET", &format!("/{}", "a".repeat(100 * 1024)), b""),
            status: 431,
            code: None,
        },
        Case {
            what: "one header of 40 KiB",
            bytes: request(
                "GET",
                "/api/v1/me",
                &[auth.clone(), ("X-Big", "y".repeat(40 * 1024))],
                b"",
            ),
            status: 431,
            code: None,
        },
        Case {
            what: "200 headers",
            bytes: request("GET", "/api/v1/me", &many, b""),
            status: 431,
            code: None,
        },
        // Not HTTP at all, or contradicting itself: hyper answers 400.
        Case {
            what: "garbage",
            bytes: b"GARBAGE\r\n\r\n".to_vec(),
            status: 400,
            code: None,
        },
        Case {
            what: "a TLS hello on the plain port",
            bytes: b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(),
            status: 400,
            code: None,
        },
        Case {
            what: "a length that is not a number",
            bytes: b"POST /api/v1/inbox/read HTTP/1.1\r\nHost: x\r\n\
                     Content-Length: abc\r\n\r\n"
                .to_vec(),
            status: 400,
            code: None,
        },
        Case {
            what: "two lengths that disagree",
            bytes: b"POST /api/v1/inbox/read HTTP/1.1\r\nHost: x\r\n\
                     Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
                .to_vec(),
            status: 400,
            code: None,
        },
    ];

    for case in cases {
        let got = raw(t.instance.addr, case.bytes).await;
        match case.code {
            Some(code) if case.status == 0 => {
                assert!((400..500).contains(&got.status), "{}: {got:?}", case.what);
                got.assert_error(case.what, got.status, code);
            }
            Some(code) => got.assert_error(case.what, case.status, code),
            None => {
                assert_eq!(
                    got.status,
                    case.status,
                    "{}: {}{}",
                    case.what,
                    got.head,
                    got.text()
                );
                if case.status >= 400 {
                    assert!(got.body.is_empty(), "{}: {}", case.what, got.text());
                }
            }
        }
        // The request did no harm: another operator's REST call answers.
        let me = good.api.call(Method::GET, "/api/v1/me", None::<&()>).await;
        assert_eq!(me.status, StatusCode::OK, "after {}", case.what);
    }
    good.served(&admin, "the malformed requests").await;
    let mut mine = Good::join(&t, OPERATOR).await;
    mine.served(&admin, "the malformed requests").await;
}

#[tokio::test]
async fn an_update_feed_is_not_left_by_raw_dot_segments() {
    let feed = tempfile::tempdir().unwrap();
    std::fs::write(feed.path().join("latest.json"), "{}").unwrap();
    let secret = feed
        .path()
        .parent()
        .unwrap()
        .join("belfry-hostile-secret.txt");
    std::fs::write(&secret, "not for the web").unwrap();
    let (t, admin) = start(Config {
        updates_dir: Some(feed.path().to_owned()),
        ..Config::default()
    })
    .await;
    let mut good = Good::join(&t, OTHER).await;
    // reqwest would normalise these paths; a raw request sends them as is.
    for path in [
        "/updates/../belfry-hostile-secret.txt",
        "/updates/../../../../../../etc/passwd",
        "/updates/%2e%2e/belfry-hostile-secret.txt",
        "/updates/%2E%2E%2Fbelfry-hostile-secret.txt",
        "/updates/..%5cbelfry-hostile-secret.txt",
        "/updates/..\\belfry-hostile-secret.txt",
        "/updates//etc/passwd",
        "/updates/%00",
    ] {
        let got = raw(t.instance.addr, request("GET", path, &[], b"")).await;
        assert!(
            !got.text().contains("not for the web") && !got.text().contains("root:"),
            "{path}: {}",
            got.text()
        );
        if got.status == 400 {
            // hyper refuses a backslash in a path outright; nothing was read.
            assert!(got.body.is_empty(), "{path}");
        } else {
            got.assert_error(path, 404, "not_found");
        }
    }
    let ok = raw(
        t.instance.addr,
        request("GET", "/updates/latest.json", &[], b""),
    )
    .await;
    assert_eq!((ok.status, ok.text().as_str()), (200, "{}"));
    good.served(&admin, "the escapes").await;
    std::fs::remove_file(secret).unwrap();
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_with_the_error_body() {
    const LIMIT: usize = 16 * 1024;
    let (t, admin) = start(Config {
        max_body_bytes: LIMIT,
        ..Config::default()
    })
    .await;
    let mut good = Good::join(&t, OTHER).await;
    let op = t.operator().await;
    let auth = bearer(&op.token);
    // A valid body padded with spaces to exactly `n` bytes.
    let sized = |n: usize| {
        let mut b = br#"{"ids": ["a"]}"#.to_vec();
        b.resize(n, b' ');
        b
    };
    let chunked = |body: &[u8]| {
        let mut out = format!(
            "POST /api/v1/inbox/read HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n",
            op.token
        )
        .into_bytes();
        for chunk in body.chunks(4096) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    };
    let post = |path: &str, body: &[u8]| request("POST", path, &[auth.clone(), json_type()], body);

    let at = raw(t.instance.addr, post("/api/v1/inbox/read", &sized(LIMIT))).await;
    assert_eq!(at.status, 200, "exactly the limit is fine: {}", at.text());

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "one byte over",
            post("/api/v1/inbox/read", &sized(LIMIT + 1)),
        ),
        (
            "16 times over",
            post("/api/v1/inbox/read", &sized(LIMIT * 16)),
        ),
        ("one byte over, chunked", chunked(&sized(LIMIT + 1))),
        ("16 times over, chunked", chunked(&sized(LIMIT * 16))),
        (
            "a login over the limit",
            request(
                "POST",
                "/api/v1/auth/login",
                &[json_type()],
                &sized(LIMIT + 1),
            ),
        ),
        (
            "a settings write over the limit",
            request(
                "PUT",
                "/api/v1/settings",
                &[auth.clone(), json_type()],
                &sized(LIMIT + 1),
            ),
        ),
        (
            "an admin batch over the limit",
            request(
                "POST",
                "/api/v1/admin/events/batch",
                &[bearer(&admin.token), json_type()],
                &sized(LIMIT + 1),
            ),
        ),
        (
            "a declared gigabyte, never sent",
            request(
                "POST",
                "/api/v1/inbox/read",
                &[
                    auth.clone(),
                    json_type(),
                    ("Content-Length", (1u64 << 30).to_string()),
                ],
                b"",
            ),
        ),
    ];
    for (what, bytes) in cases {
        let got = raw(t.instance.addr, bytes).await;
        got.assert_error(what, 413, "payload_too_large");
        let me = good.api.call(Method::GET, "/api/v1/me", None::<&()>).await;
        assert_eq!(me.status, StatusCode::OK, "after {what}");
    }
    good.served(&admin, "the oversized bodies").await;
}

#[tokio::test]
async fn a_request_body_that_never_finishes_gets_408_and_others_are_served() {
    let (t, admin) = start(Config {
        request_timeout: Duration::from_secs(2),
        ..Config::default()
    })
    .await;
    let mut good = Good::join(&t, OTHER).await;
    let op = t.operator().await;
    let mut tcp = TcpStream::connect(t.instance.addr).await.unwrap();
    // A head that promises 1000 bytes, and 10 of them.
    let bytes = format!(
        "POST /api/v1/inbox/read HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"ids\": [",
        op.token
    );
    tcp.write_all(bytes.as_bytes()).await.unwrap();
    // Meanwhile the others are served.
    good.served(&admin, "a half-sent body").await;
    let mut got = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut got))
        .await
        .expect("no answer to a half-sent body")
        .unwrap();
    parse(&got).assert_error("a half-sent body", 408, "request_timeout");
    good.served(&admin, "the 408").await;
}

#[tokio::test]
async fn a_slowloris_holding_half_sent_heads_does_not_block_others_and_is_cut_off() {
    let (t, admin) = start(Config {
        header_read_timeout: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let mut good = Good::join(&t, OTHER).await;
    // The head deadline also closes idle keep-alive connections: a client
    // without a pool does not race it.
    good.api.http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let addr = t.instance.addr;

    // Many connections, each holding a head it never finishes.
    let mut held = Vec::new();
    for i in 0..64 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(format!("GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Slow-{i}: ").as_bytes())
            .await
            .unwrap();
        held.push(tcp);
    }
    // One that keeps sending, a byte at a time, and would take a minute.
    let closed_early = Arc::new(AtomicBool::new(false));
    let drip = tokio::spawn({
        let closed_early = Arc::clone(&closed_early);
        async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let (mut rd, mut wr) = tcp.into_split();
            let head = format!(
                "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Drip: {}\r\n\r\n",
                "d".repeat(600)
            );
            let dripping = async {
                for b in head.as_bytes() {
                    if wr.write_all(&[*b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                std::future::pending::<()>().await;
            };
            let mut answer = Vec::new();
            tokio::select! {
                () = dripping => unreachable!(),
                read = rd.read_to_end(&mut answer) => {
                    // A reset is a close too.
                    let _ = read;
                    closed_early.store(true, Ordering::SeqCst);
                }
            }
            answer
        }
    });

    // While they hang on, the others are served, over REST and the stream.
    for _ in 0..3 {
        good.served(&admin, "64 half-sent heads").await;
    }

    // Every held connection is closed by the server, without an answer.
    for mut tcp in held {
        let mut got = Vec::new();
        let read = tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut got))
            .await
            .expect("a half-sent head was held open");
        assert!(read.is_ok() || got.is_empty(), "{read:?}");
        assert!(
            got.is_empty(),
            "no answer: {}",
            String::from_utf8_lossy(&got)
        );
    }
    let answer = tokio::time::timeout(PATIENCE * 2, drip)
        .await
        .expect("the dripping head was not cut off")
        .unwrap();
    assert!(closed_early.load(Ordering::SeqCst));
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    good.served(&admin, "the slowloris").await;
}

// ---------------------------------------------------------------- streams

#[tokio::test]
async fn streams_over_the_token_and_operator_caps_are_closed_and_the_earlier_ones_served() {
    let (t, admin) = start(Config {
        max_streams_per_token: 2,
        max_streams_per_operator: 3,
        ..Config::default()
    })
    .await;
    let mut other = Good::join(&t, OTHER).await;
    let a = t.operator().await;
    let b = t.operator().await;
    let me: belfry_proto::api::Operator = a.get("/api/v1/me").await;
    let hub = t.instance.state.store.hub();

    // Two streams on token A; they hold their slots before saying hello.
    let mut a1 = Stream::open(t.url(), &a.token).await.unwrap();
    let mut a2 = Stream::open(t.url(), &a.token).await.unwrap();
    eventually("two slots taken", PATIENCE, || hub.streams(me.id) == 2).await;
    // More on token A are closed at once, hello or not, in a crowd or alone.
    let mut crowd = Vec::new();
    for _ in 0..16 {
        crowd.push(tokio::spawn({
            let (url, token) = (t.url().to_owned(), a.token.clone());
            async move {
                let mut s = Stream::open(&url, &token).await.unwrap();
                close_of(&mut s).await
            }
        }));
    }
    for c in crowd {
        assert_eq!(
            c.await.unwrap(),
            (
                close::TOO_MANY_CONNECTIONS,
                "too many streams for this token".into()
            )
        );
    }
    let mut a3 = Stream::open(t.url(), &a.token).await.unwrap();
    a3.send(&ClientFrame::Hello {
        protocol: 1,
        last_seq: None,
        client: None,
    })
    .await;
    assert_eq!(
        close_of(&mut a3).await,
        (
            close::TOO_MANY_CONNECTIONS,
            "too many streams for this token".into()
        )
    );

    // The earlier ones say hello late and are served.
    for s in [&mut a1, &mut a2] {
        s.send(&ClientFrame::Hello {
            protocol: 1,
            last_seq: None,
            client: None,
        })
        .await;
        assert!(matches!(s.next().await, ServerFrame::Welcome { .. }));
        assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));
    }
    // Token B has room, the operator one more.
    let (mut b1, _) = Stream::connect(t.url(), &b.token, None).await;
    assert!(matches!(b1.next().await, ServerFrame::ReplayDone { .. }));
    let mut b2 = Stream::open(t.url(), &b.token).await.unwrap();
    assert_eq!(
        close_of(&mut b2).await,
        (
            close::TOO_MANY_CONNECTIONS,
            "too many streams for this operator".into()
        )
    );
    assert_eq!(hub.streams(me.id), 3, "refused streams hold no slot");

    let ids = admin.emit_many(OPERATOR.0, "chat_created", 3).await;
    for s in [&mut a1, &mut a2, &mut b1] {
        let mut got = Vec::new();
        while got.len() < ids.len() {
            if let ServerFrame::Notification { notification, .. } = s.next().await {
                got.push(notification.id);
            }
        }
        assert_eq!(got, ids);
        s.send(&ClientFrame::Ping { id: Some(7) }).await;
        assert!(matches!(s.next().await, ServerFrame::Pong { id: Some(7) }));
    }
    other.served(&admin, "the refused streams").await;

    // A slot is freed when its stream ends, and can be taken again.
    a1.ws.close(None).await.unwrap();
    eventually("a1's slot freed", PATIENCE, || hub.streams(me.id) == 2).await;
    let (mut again, _) = Stream::connect(t.url(), &a.token, None).await;
    assert!(matches!(again.next().await, ServerFrame::ReplayDone { .. }));
}

/// What a flooding client sends, over and over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flood {
    /// Valid pings.
    Pings,
    /// Acks of a thousand ids the server never sent.
    BogusAcks,
    /// Text that is not JSON.
    Garbage,
    /// Binary messages.
    Binary,
    /// WebSocket-level pings (control frames).
    WsPings,
    /// One message over the frame limit.
    Oversized,
}

impl Flood {
    const ALL: [Flood; 6] = [
        Flood::Pings,
        Flood::BogusAcks,
        Flood::Garbage,
        Flood::Binary,
        Flood::WsPings,
        Flood::Oversized,
    ];

    fn message(self, i: usize) -> Message {
        match self {
            Flood::Pings => Message::Text(r#"{"type":"ping","id":1}"#.into()),
            Flood::BogusAcks => {
                let ids: Vec<String> = (0..1000).map(|n| format!("bogus-{i}-{n}")).collect();
                Message::Text(
                    serde_json::to_string(&ClientFrame::Ack { ids })
                        .unwrap()
                        .into(),
                )
            }
            Flood::Garbage => Message::Text(format!("garbage {i} {{{{").into()),
            Flood::Binary => Message::Binary(vec![0xde, 0xad, 0xbe, 0xef].into()),
            Flood::WsPings => Message::Ping(vec![1, 2, 3].into()),
            Flood::Oversized => Message::Text("x".repeat(200 * 1024).into()),
        }
    }

    /// The close the server answers the flood with.
    fn close(self) -> (u16, &'static str) {
        match self {
            Flood::Pings | Flood::BogusAcks | Flood::WsPings => {
                (close::TOO_MANY_CONNECTIONS, "too many frames")
            }
            Flood::Garbage | Flood::Binary => (close::PROTOCOL_ERROR, "too many bad frames"),
            Flood::Oversized => (close::TOO_BIG, "frame too large or malformed"),
        }
    }
}

/// Floods one stream until the server closes it, reconnects and floods again,
/// until `stop`; returns how each connection ended (`None`: dropped without
/// a close frame).
async fn flooder(
    url: String,
    token: String,
    kind: Flood,
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicUsize>,
) -> Vec<Option<(u16, String)>> {
    let mut ends = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let (s, _) = Stream::connect(&url, &token, None).await;
        let (mut sink, mut source) = s.ws.split();
        let writer = tokio::spawn(async move {
            let mut i = 0;
            loop {
                if sink.send(kind.message(i)).await.is_err() {
                    break;
                }
                i += 1;
                if kind == Flood::Oversized {
                    break;
                }
            }
            sink
        });
        let end = loop {
            let msg = tokio::time::timeout(PATIENCE, source.next())
                .await
                .unwrap_or_else(|_| panic!("{kind:?}: the flood went on and on"));
            match msg {
                Some(Ok(Message::Close(frame))) => {
                    break frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break None,
            }
        };
        drop(writer.await);
        ends.push(end);
        rounds.fetch_add(1, Ordering::SeqCst);
    }
    ends
}

#[tokio::test]
async fn a_flooding_client_is_closed_and_the_others_get_every_notification() {
    let (t, admin) = start(Config {
        // Room for every flooder's reconnects: the frame budget is under test here.
        max_streams_per_token: 64,
        max_streams_per_operator: 64,
        // The good clients read only when events come: two heartbeats of
        // silence must outlast the flooding on a slow machine (under Wine
        // it took 56 s). Heartbeats are not under test here.
        heartbeat: Duration::from_secs(60),
        ..Config::default()
    })
    .await;
    // The attacker is the operator itself on another token (so it shares the
    // good client's fan-out), and another operator stands by.
    let mut same = Good::join(&t, OPERATOR).await;
    let mut other = Good::join(&t, OTHER).await;
    let attacker = t.operator().await;

    let stop = Arc::new(AtomicBool::new(false));
    let floods: Vec<_> = Flood::ALL
        .iter()
        .map(|&kind| {
            let rounds = Arc::new(AtomicUsize::new(0));
            let task = tokio::spawn(flooder(
                t.url().to_owned(),
                attacker.token.clone(),
                kind,
                Arc::clone(&stop),
                Arc::clone(&rounds),
            ));
            (kind, rounds, task)
        })
        .collect();
    // Every kind of flood has been closed at least once, and goes on.
    eventually("every flood closed once", PATIENCE, || {
        floods.iter().all(|(_, r, _)| r.load(Ordering::SeqCst) >= 1)
    })
    .await;

    // Events for both operators, one by one, while the floods go on.
    let mut for_same = Vec::new();
    let mut for_other = Vec::new();
    for i in 0..40 {
        let (login, ids) = if i % 2 == 0 {
            (OPERATOR.0, &mut for_same)
        } else {
            (OTHER.0, &mut for_other)
        };
        ids.extend(admin.emit_many(login, "chat_created", 1).await);
    }
    same.receive(&for_same).await;
    other.receive(&for_other).await;

    stop.store(true, Ordering::SeqCst);
    for (kind, rounds, task) in floods {
        let ends = task.await.unwrap();
        assert!(rounds.load(Ordering::SeqCst) >= 1);
        let (code, reason) = kind.close();
        for end in ends {
            assert_eq!(end, Some((code, reason.to_owned())), "{kind:?}");
        }
    }
    // Both good clients are still on the same connection, and served.
    same.served(&admin, "the floods").await;
    other.served(&admin, "the floods").await;
    for s in [&mut same.stream, &mut other.stream] {
        s.send(&ClientFrame::Ping { id: Some(9) }).await;
        assert!(matches!(s.next().await, ServerFrame::Pong { id: Some(9) }));
    }
}

#[tokio::test]
async fn a_client_acknowledging_a_burst_event_by_event_is_not_limited() {
    // The budget is small, the burst is not: acks of what was sent are free.
    let (t, admin) = start(Config {
        stream_frame_rate: 1,
        stream_frame_burst: 10,
        ..Config::default()
    })
    .await;
    let api = t.operator().await;
    let (mut s, _) = Stream::connect(t.url(), &api.token, None).await;
    assert!(matches!(s.next().await, ServerFrame::ReplayDone { .. }));
    let ids = admin.emit_many(OPERATOR.0, "chat_created", 500).await;
    for id in &ids {
        match s.next().await {
            ServerFrame::Notification { notification, .. } => {
                assert_eq!(&notification.id, id);
                s.send(&ClientFrame::Ack {
                    ids: vec![notification.id],
                })
                .await;
            }
            other => panic!("{other:?}"),
        }
    }
    s.send(&ClientFrame::Ping { id: Some(1) }).await;
    assert!(matches!(s.next().await, ServerFrame::Pong { id: Some(1) }));
    let d: serde_json::Value = admin
        .get(&format!(
            "/api/v1/admin/operators/{}/notifications/{}",
            OPERATOR.0,
            ids.last().unwrap()
        ))
        .await;
    assert!(d["delivered_at"].is_string(), "{d}");
    // The same client, pinging past its budget, is closed.
    for _ in 0..20 {
        s.send(&ClientFrame::Ping { id: None }).await;
    }
    assert_eq!(
        close_of(&mut s).await,
        (close::TOO_MANY_CONNECTIONS, "too many frames".into())
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_the_others_get_everything() {
    // A send that waits 3 s drops the client.
    let (t, admin) = start(Config {
        stream_write_timeout: Duration::from_secs(3),
        max_body_bytes: 64 * 1024 * 1024,
        // The good client only reads: two heartbeats of silence must
        // outlast the batch on a slow machine (under Wine it took over
        // 30 s). Heartbeats are not under test here.
        heartbeat: Duration::from_secs(60),
        ..Config::default()
    })
    .await;
    let me: belfry_proto::api::Operator = t.operator().await.get("/api/v1/me").await;
    let hub = t.instance.state.store.hub();
    let mut good = Good::join(&t, OPERATOR).await;
    let slow = t.operator().await;
    let (s, _) = Stream::connect(t.url(), &slow.token, None).await;
    assert_eq!(hub.streams(me.id), 2);
    // It keeps pinging, so it is not silent, and never reads again.
    let (mut sink, source) = s.ws.split();
    let pinger = tokio::spawn(async move {
        let ping = serde_json::to_string(&ClientFrame::Ping { id: None }).unwrap();
        while sink.send(Message::Text(ping.clone().into())).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });

    // Far more than the socket buffers hold: 10,000 events of 2 KB.
    let events = (0..10_000)
        .map(|i| belfry_proto::api::EmitEvent {
            operator: OPERATOR.0.into(),
            type_id: "ticket_message".into(),
            title: Some(format!("message {i}")),
            body: Some("m".repeat(1900)),
            path: Some(format!("/tickets/{i}")),
            data: Default::default(),
        })
        .collect();
    let reader = tokio::spawn(async move {
        // The good client reads all along.
        let mut got = 0;
        while got < 10_000 {
            if let ServerFrame::Notification { .. } = good.stream.next().await {
                got += 1;
            }
        }
        good
    });
    let batch: belfry_proto::api::BatchResult = admin
        .send(
            Method::POST,
            "/api/v1/admin/events/batch",
            &belfry_proto::api::EmitBatch { events },
        )
        .await;
    assert_eq!(batch.ids.len(), 10_000);
    eventually("the stalled stream dropped", PATIENCE * 3, || {
        hub.streams(me.id) == 1
    })
    .await;
    let mut good = reader.await.unwrap();
    good.served(&admin, "a client that stopped reading").await;
    pinger.abort();
    drop(source);
}
