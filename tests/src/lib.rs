//! Helpers for the end-to-end tests: a reference instance on a loopback port
//! with accounts ready, a REST client and a stream client. Everything talks
//! over real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod disk;
pub mod hooks;
pub mod pg;
pub mod proxy;
pub mod sound;
pub mod tls;

use belfry_instance::{Config, Instance};
use belfry_proto::api::{EmitBatch, EmitEvent, LoginRequest, LoginResponse};
use belfry_proto::stream::{ClientFrame, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, http};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ADMIN: (&str, &str) = ("admin", "admin-password");
pub const OPERATOR: (&str, &str) = ("olga", "olga-password");

/// How long a test waits for something that should happen at once. Longer
/// on Windows, whose tests run under Wine here: SQLite's writes go through
/// Wine's server, and a 10,000-event batch took 11 s where Linux takes 2.
pub const PATIENCE: Duration = Duration::from_secs(if cfg!(windows) { 30 } else { 10 });

/// An instance with a temp database, an admin and an operator. The
/// database is SQLite in `dir`, or with `BELFRY_TEST_DB=postgres` a fresh
/// PostgreSQL database (`pg`), which lives as long as this.
pub struct TestInstance {
    pub instance: Instance,
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub pg: Option<Arc<pg::Database>>,
}

impl TestInstance {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    /// Starts with `config`, its database in a fresh temp dir (or a fresh
    /// PostgreSQL database, see [`pg::wanted`]).
    pub async fn start_with(config: Config) -> Self {
        let pg = pg::wanted().then(|| Arc::new(pg::Database::create()));
        Self::start_on(config, pg).await
    }

    /// Starts with `config` on `pg` (another node of the same database),
    /// or SQLite in a temp dir for `None`.
    pub async fn start_on(mut config: Config, pg: Option<Arc<pg::Database>>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        config.db = Some(match &pg {
            Some(db) => db.url.clone().into(),
            None => dir.path().join("instance.db"),
        });
        let instance = Instance::start(config.clone()).await.unwrap();
        let this = Self {
            instance,
            dir,
            config,
            pg,
        };
        this.create_account(ADMIN.0, ADMIN.1, true).await;
        this.create_account(OPERATOR.0, OPERATOR.1, false).await;
        this
    }

    /// Another node on the same PostgreSQL database (and config), with the
    /// accounts this one made.
    pub async fn another_node(&self) -> Self {
        let pg = self.pg.clone().expect("another node needs PostgreSQL");
        let dir = tempfile::tempdir().unwrap();
        let instance = Instance::start(self.config.clone()).await.unwrap();
        Self {
            instance,
            dir,
            config: self.config.clone(),
            pg: Some(pg),
        }
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
            pg,
        } = self;
        instance.stop().await.unwrap();
        let instance = Instance::start(config.clone()).await.unwrap();
        Self {
            instance,
            dir,
            config,
            pg,
        }
    }

    /// Stops the server (the database stays); `resume` starts it again on the same port.
    pub async fn pause(self) -> Stopped {
        let Self {
            instance,
            dir,
            config,
            pg,
        } = self;
        let addr = instance.addr;
        instance.stop().await.unwrap();
        Stopped {
            addr,
            dir,
            config,
            pg,
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

/// An instance that was stopped, with its database and port kept.
pub struct Stopped {
    pub addr: std::net::SocketAddr,
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub pg: Option<Arc<pg::Database>>,
}

impl Stopped {
    /// Starts again on the same port and database.
    pub async fn resume(self) -> TestInstance {
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) if tries < 50 => {
                    // The old listener's port may take a moment to free.
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("rebinding {}: {e}", self.addr),
            }
        };
        let instance = Instance::serve(listener, self.config.clone())
            .await
            .unwrap();
        TestInstance {
            instance,
            dir: self.dir,
            config: self.config,
            pg: self.pg,
        }
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

    /// The signed-in operator's availability as the instance has it
    /// (`ready`, `not_ready`, `away`).
    pub async fn availability(&self) -> String {
        let s: serde_json::Value = self.get("/api/v1/status").await;
        s["status"].as_str().unwrap_or_default().to_owned()
    }

    /// Waits (up to ten seconds) until the operator's availability is `want`.
    pub async fn until_availability(&self, want: &str) {
        let start = std::time::Instant::now();
        loop {
            let now = self.availability().await;
            if now == want {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the status stayed {now:?}, not {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

    /// Emits one event of `type_id` for the test operator, as an instance's
    /// helpdesk would; returns the notification the server stored.
    pub async fn emit(
        &self,
        type_id: &str,
        title: &str,
        body: &str,
        path: &str,
    ) -> belfry_proto::inbox::Notification {
        self.send(
            Method::POST,
            "/api/v1/admin/events",
            &EmitEvent {
                operator: OPERATOR.0.into(),
                type_id: type_id.into(),
                title: Some(title.into()),
                body: Some(body.into()),
                path: Some(path.into()),
                data: Default::default(),
            },
        )
        .await
    }

    /// Emits `events` in one batch (admin); returns their ids.
    pub async fn emit_batch(&self, events: Vec<EmitEvent>) -> Vec<String> {
        let r: belfry_proto::api::BatchResult = self
            .send(
                Method::POST,
                "/api/v1/admin/events/batch",
                &EmitBatch { events },
            )
            .await;
        r.ids
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
        self.emit_batch(events).await
    }

    /// Emits `n` messages with 2,000-byte bodies in one ticket's thread
    /// ("while full 0", …), in one batch: more than a store's spare room
    /// on a full disk, and one toast replaced rather than a burst summary.
    pub async fn emit_large_thread(&self, login: &str, n: usize) -> Vec<String> {
        let events = (0..n)
            .map(|i| EmitEvent {
                operator: login.into(),
                type_id: "ticket_message".into(),
                title: Some(format!("while full {i}")),
                body: Some("x".repeat(2000)),
                path: Some("/tickets/1".into()),
                data: serde_json::json!({"ticket_id": "1"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect();
        self.emit_batch(events).await
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

/// A headless Belfry core signed in to an instance, recording what it
/// would show and play.
pub struct Desk {
    pub engine: belfry_core::engine::Engine,
    /// The desktop's own token (to revoke it from "elsewhere").
    pub token: String,
    pub recorder: belfry_core::sinks::Recorder,
    pub dir: tempfile::TempDir,
}

/// Fast reconnects for tests.
pub fn quick_config() -> belfry_core::engine::EngineConfig {
    belfry_core::engine::EngineConfig {
        backoff: belfry_core::backoff::Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(400),
        },
        connect_timeout: Duration::from_secs(3),
        ..Default::default()
    }
}

impl Desk {
    /// Signs in as `login` at `url` and starts the core with a fresh local store.
    pub async fn start(
        url: &str,
        login: &str,
        password: &str,
        config: belfry_core::engine::EngineConfig,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, url, login, password, config).await
    }

    /// Signs in and starts the core with the given sinks and TLS trust.
    pub async fn start_with(
        url: &str,
        login: &str,
        password: &str,
        config: belfry_core::engine::EngineConfig,
        sinks: belfry_core::sinks::Sinks,
        extra_ca: Option<&std::path::Path>,
    ) -> Result<belfry_core::engine::Engine, belfry_core::net::ApiError> {
        use belfry_core::{net, secret::Secret, store::Store};
        init_logs();
        let base = net::instance_url(url, false).unwrap();
        let tls = net::tls_config(extra_ca).unwrap();
        let (api, _) = net::Api::login(&base, &tls, login, &Secret::new(password)).await?;
        let store = Store::in_memory().unwrap();
        Ok(belfry_core::engine::Engine::start(config, store, api, tls, sinks).await)
    }

    /// The same with the local store in `dir` (kept from an earlier run).
    pub async fn start_in(
        dir: tempfile::TempDir,
        url: &str,
        login: &str,
        password: &str,
        config: belfry_core::engine::EngineConfig,
    ) -> Self {
        init_logs();
        use belfry_core::{net, secret::Secret, sinks::Sinks, store::Store};
        let base = net::instance_url(url, false).unwrap();
        let tls = net::tls_config(None).unwrap();
        let (api, _) = net::Api::login(&base, &tls, login, &Secret::new(password))
            .await
            .unwrap();
        let token = api.token().expose().to_owned();
        let store = Store::open(&dir.path().join("inbox.db")).unwrap();
        let recorder = belfry_core::sinks::Recorder::default();
        let engine = belfry_core::engine::Engine::start(
            config,
            store,
            api,
            tls,
            Sinks::recording(&recorder),
        )
        .await;
        Self {
            engine,
            token,
            recorder,
            dir,
        }
    }

    /// Waits until the connection reaches a state matching `pred`.
    pub async fn wait_state(
        &self,
        what: &str,
        pred: impl Fn(&belfry_core::event::ConnState) -> bool,
    ) {
        let mut rx = self.engine.state();
        let reached = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| pred(s)))
            .await
            .is_ok();
        assert!(reached, "never reached {what}; state is {:?}", *rx.borrow());
    }

    pub async fn connected(&self) {
        self.wait_state("connected", |s| {
            *s == belfry_core::event::ConnState::Connected
        })
        .await;
    }

    /// Stored notification ids, oldest first.
    pub fn stored(&self) -> Vec<(u64, String)> {
        self.engine.store().all_ids().unwrap()
    }
}

/// Polls `cond` every 20 ms until it holds, failing after `limit`.
pub async fn eventually(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Logs to the test's captured output (shown when a test fails); RUST_LOG filters.
pub fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "info,belfry_core=debug".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// The rig's dunst configuration (its menu picker and toast recorder) with
/// an idle threshold of a second: nobody touches the rig's display, so a
/// dunst started with it keeps every toast, as on a desk left alone.
/// `None` outside the rig.
pub fn away_dunstrc() -> Option<String> {
    let home = std::env::var_os("HOME")?;
    let rig =
        std::fs::read_to_string(std::path::Path::new(&home).join(".config/dunst/dunstrc")).ok()?;
    rig.starts_with("[global]\n")
        .then(|| rig.replacen("[global]\n", "[global]\n    idle_threshold = 1\n", 1))
}

/// Every file (not folder) under `dir`, at any depth; none when it is missing.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A `BROWSER` (a script in `dir`) that records the links it is asked to
/// open, one a line, in the file returned beside it. Unix only: `BROWSER`
/// is how a Unix desktop's opener picks the browser; Windows asks its shell.
#[cfg(unix)]
pub fn recording_browser(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let opened = dir.join("opened");
    let script = dir.join("browser.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            opened.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, opened)
}

/// The small binary (`belfry-headless`, a package of its own) beside the
/// full app at `belfry`: the tests start it where the packages install it.
/// A workspace build makes it (`cargo xtask test` builds the workspace);
/// a test run of one package alone does not, and this says so.
pub fn small_binary(belfry: &str) -> String {
    let path = std::path::Path::new(belfry)
        .with_file_name(format!("belfry-headless{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is not built: run the tests over the workspace (`cargo xtask test`), or `cargo build -p belfry-headless` first",
        path.display()
    );
    path.to_string_lossy().into_owned()
}
