//! Helpers for the end-to-end tests: a reference instance on a loopback port
//! with accounts ready, a REST client and a stream client. Everything talks
//! over real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use belfry_instance::{Config, Instance};
use belfry_proto::api::{EmitBatch, EmitEvent, LoginRequest, LoginResponse};
use belfry_proto::stream::{ClientFrame, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, http};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ADMIN: (&str, &str) = ("admin", "admin-password");
pub const OPERATOR: (&str, &str) = ("olga", "olga-password");

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// An instance with a temp database, an admin and an operator.
pub struct TestInstance {
    pub instance: Instance,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl TestInstance {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    /// Starts with `config`, its database in a fresh temp dir.
    pub async fn start_with(mut config: Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        config.db = Some(dir.path().join("instance.db"));
        let instance = Instance::start(config.clone()).await.unwrap();
        let this = Self {
            instance,
            dir,
            config,
        };
        this.create_account(ADMIN.0, ADMIN.1, true).await;
        this.create_account(OPERATOR.0, OPERATOR.1, false).await;
        this
    }

    pub async fn create_account(&self, login: &str, password: &str, admin: bool) {
        let req = belfry_proto::api::CreateOperator {
            login: login.into(),
            password: password.into(),
            name: None,
            role: Some(if admin {
                belfry_proto::api::Role::Admin
            } else {
                belfry_proto::api::Role::Operator
            }),
        };
        belfry_instance::api::admin::create(&self.instance.state, req)
            .await
            .unwrap();
    }

    /// Stops the server and starts a new one on the same database (and a new port).
    pub async fn restart(self) -> Self {
        let Self {
            instance,
            dir,
            config,
        } = self;
        instance.stop().await.unwrap();
        let instance = Instance::start(config.clone()).await.unwrap();
        Self {
            instance,
            dir,
            config,
        }
    }

    pub fn url(&self) -> &str {
        &self.instance.url
    }

    pub async fn admin(&self) -> Api {
        Api::login(self.url(), ADMIN.0, ADMIN.1).await
    }

    pub async fn operator(&self) -> Api {
        Api::login(self.url(), OPERATOR.0, OPERATOR.1).await
    }
}

/// A REST client with a bearer token.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

/// A raw answer: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone()).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Api {
    pub async fn login(base: &str, login: &str, password: &str) -> Self {
        let http = reqwest::Client::new();
        let res = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&LoginRequest {
                login: login.into(),
                password: password.into(),
                client: Some("belfry-tests".into()),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "login as {login}");
        let body: LoginResponse = res.json().await.unwrap();
        Self {
            base: base.to_owned(),
            token: body.token,
            http,
        }
    }

    /// Sends a request and returns whatever came back.
    pub async fn call(&self, method: Method, path: &str, body: Option<&impl Serialize>) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        };
        Answer { status, body }
    }

    /// GET that must succeed.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        let a = self.call(Method::GET, path, None::<&()>).await;
        assert!(a.status.is_success(), "GET {path}: {} {}", a.status, a.body);
        a.json()
    }

    /// POST/PUT that must succeed.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &impl Serialize,
    ) -> T {
        let a = self.call(method.clone(), path, Some(body)).await;
        assert!(
            a.status.is_success(),
            "{method} {path}: {} {}",
            a.status,
            a.body
        );
        a.json()
    }

    /// Emits `n` events of `type_id` for `login` in one batch; returns their ids.
    pub async fn emit_many(&self, login: &str, type_id: &str, n: usize) -> Vec<String> {
        let events = (0..n)
            .map(|i| EmitEvent {
                operator: login.into(),
                type_id: type_id.into(),
                title: Some(format!("event {i}")),
                body: None,
                path: Some(format!("/tickets/{i}")),
                data: Default::default(),
            })
            .collect();
        let r: belfry_proto::api::BatchResult = self
            .send(
                Method::POST,
                "/api/v1/admin/events/batch",
                &EmitBatch { events },
            )
            .await;
        r.ids
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A stream client that speaks the protocol frame by frame.
pub struct Stream {
    pub ws: Ws,
}

/// How a stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Close(u16),
    Dropped,
}

pub fn ws_url(base: &str) -> String {
    format!("{}/api/v1/stream", base.replacen("http", "ws", 1))
}

impl Stream {
    /// Opens the stream with `token` (no hello yet).
    pub async fn open(
        base: &str,
        token: &str,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let mut req = ws_url(base).into_client_request()?;
        req.headers_mut().insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        let (ws, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Self { ws })
    }

    /// Opens, says hello from `last_seq` and reads the welcome.
    pub async fn connect(base: &str, token: &str, last_seq: Option<u64>) -> (Self, ServerFrame) {
        let mut s = Self::open(base, token).await.unwrap();
        s.send(&ClientFrame::Hello {
            protocol: belfry_proto::PROTOCOL_VERSION,
            last_seq,
            client: Some("belfry-tests".into()),
        })
        .await;
        let welcome = s.next().await;
        assert!(
            matches!(welcome, ServerFrame::Welcome { .. }),
            "{welcome:?}"
        );
        (s, welcome)
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_raw(Message::Text(serde_json::to_string(frame).unwrap().into()))
            .await;
    }

    pub async fn send_raw(&mut self, msg: Message) {
        self.ws.send(msg).await.unwrap();
    }

    /// The next server frame that is not a heartbeat; panics on close or timeout.
    pub async fn next(&mut self) -> ServerFrame {
        match self.next_or_end().await {
            Ok(f) => f,
            Err(e) => panic!("stream ended: {e:?}"),
        }
    }

    /// The next non-heartbeat frame, or how the stream ended.
    pub async fn next_or_end(&mut self) -> Result<ServerFrame, Ended> {
        loop {
            let msg = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("no frame in time");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let frame: ServerFrame =
                        serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}: {t}"));
                    match frame {
                        ServerFrame::Ping { id } => self.send(&ClientFrame::Pong { id }).await,
                        other => return Ok(other),
                    }
                }
                Some(Ok(Message::Close(c))) => {
                    return Err(Ended::Close(c.map_or(1005, |c| u16::from(c.code))));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(Ended::Dropped),
            }
        }
    }

    /// Stays connected for `d`, answering heartbeats; returns the other frames
    /// that arrived, or how the stream ended.
    pub async fn idle_for(&mut self, d: Duration) -> Result<Vec<ServerFrame>, Ended> {
        let deadline = tokio::time::Instant::now() + d;
        let mut frames = Vec::new();
        while let Ok(next) = tokio::time::timeout_at(deadline, self.next_or_end()).await {
            frames.push(next?);
        }
        Ok(frames)
    }

    /// Reads until the stream ends; returns the close code.
    pub async fn closed(&mut self) -> Ended {
        loop {
            if let Err(e) = self.next_or_end().await {
                return e;
            }
        }
    }
}

/// A close code as tungstenite reports it.
pub fn code(c: u16) -> CloseCode {
    CloseCode::from(c)
}
