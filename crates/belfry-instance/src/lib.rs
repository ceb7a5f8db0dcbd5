//! The Belfry reference instance: a real Notification Center server that
//! speaks the protocol in `docs/protocol.md`, over REST and a WebSocket
//! stream, with a persistent store: SQLite, or PostgreSQL shared by several
//! nodes (`db.rs`, `relay.rs`).
//!
//! Run it as the `belfry-instance` binary, or in-process with
//! [`Instance::start`] on a port of its own (the demo and the tests do).

pub mod acks;
pub mod api;
pub mod auth;
pub mod connectors;
pub mod db;
pub mod demo;
pub mod error;
pub mod extract;
pub mod fds;
pub mod hub;
pub mod relay;
pub mod render;
pub mod serve;
pub mod state;
pub mod store;
pub mod stream;

use crate::error::ApiError;
use crate::hub::Hub;
pub use crate::state::{AppState, Config};
use crate::store::Store;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Builds the whole HTTP application for `state`.
pub fn app(state: AppState) -> Router {
    let (api, doc) = api::router().split_for_parts();
    let doc = Arc::new(doc.to_pretty_json().unwrap_or_default());
    let serve_doc = move || {
        let doc = Arc::clone(&doc);
        async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                doc.as_str().to_owned(),
            )
        }
    };
    let max_body = state.config.max_body_bytes;
    let mut app = api
        .route("/api/v1/stream", get(stream::stream))
        .route("/api-docs", get(serve_doc.clone()))
        .route("/api-docs/openapi.json", get(serve_doc));
    if let Some(dir) = &state.config.updates_dir {
        // tower-http's ServeDir: no path escapes the directory, no listing,
        // content types and ranges as a static server gives them.
        let files = tower_http::services::ServeDir::new(dir)
            .append_index_html_on_directories(false)
            .fallback(axum::routing::any(|| async {
                ApiError::NoRoute.into_response()
            }));
        app = app.nest_service("/updates", files);
    }
    let guard = RequestGuard {
        deadline: state.config.request_timeout,
        max_body: state.config.max_body_bytes,
    };
    app.fallback(|| async { ApiError::NoRoute.into_response() })
        .method_not_allowed_fallback(|| async {
            ApiError::Rejected(StatusCode::METHOD_NOT_ALLOWED, "method not allowed".into())
                .into_response()
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(guard, request_guard))
        .with_state(state)
}

/// The limits every request meets before its handler.
#[derive(Clone, Copy)]
struct RequestGuard {
    deadline: Duration,
    max_body: usize,
}

/// Answers 413 at once when the declared `Content-Length` is over the body
/// limit (the extractors would only notice once that much had arrived), and
/// 408 when a request, its body's upload included, takes longer than the
/// deadline. tower-http's `RequestBodyLimitLayer` and `TimeoutLayer` do the
/// same with bodies of their own; every error here has the error body.
async fn request_guard(State(guard): State<RequestGuard>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(guard.max_body).unwrap_or(u64::MAX)) {
        return ApiError::TooLarge.into_response();
    }
    let path = render::clip(req.uri().path(), 200);
    match tokio::time::timeout(guard.deadline, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::info!(%path, limit = ?guard.deadline, "request timed out");
            ApiError::Timeout.into_response()
        }
    }
}

/// The longest a stopping instance waits for its streams to close: each
/// sends 1001 and waits up to two seconds for the client's answer
/// (`stream.rs`, `CLOSE_LINGER`), so this is only reached by a stream
/// stuck in a write.
const STREAMS_CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// Waits (bounded) until every stream has sent its close frame and let go:
/// the upgraded connections outlive the accept loop, and a process that
/// exited first would drop them without a close frame.
async fn streams_closed(hub: &Hub) {
    if tokio::time::timeout(STREAMS_CLOSE_WITHIN, hub.all_closed())
        .await
        .is_err()
    {
        tracing::warn!(open = hub.open_streams(), "streams still open at shutdown");
    }
}

/// A running instance.
pub struct Instance {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its public origin, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Its state (store included), for tests that look inside.
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Starting failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listener could not be bound or read.
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
    /// The database could not be opened.
    #[error("database: {0}")]
    Store(#[from] store::StoreError),
}

/// Resolves when the process is asked to stop: SIGINT (Ctrl-C) or, on
/// Unix, SIGTERM (what systemd, container runtimes and rolling restarts
/// send), so the streams close with 1001 instead of dropping.
pub async fn stop_signal() {
    // A signal that cannot be watched never resolves: never stop for it.
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    () = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "SIGTERM cannot be watched; Ctrl-C still stops");
                interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}

impl Instance {
    /// Binds `127.0.0.1:0` and serves `config`.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, config).await
    }

    /// Serves `config` on an already bound listener, in a background task.
    pub async fn serve(listener: TcpListener, mut config: Config) -> Result<Self, StartError> {
        let addr = listener.local_addr()?;
        let open_files = fds::current();
        let max_streams = config
            .max_streams
            .unwrap_or_else(|| open_files.map_or(usize::MAX, fds::streams_for));
        config.max_streams = Some(max_streams);
        let url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        let hub = Arc::new(Hub::default());
        let db = config
            .db
            .as_deref()
            .map(|p| p.to_string_lossy().into_owned());
        let window = config.replay_window;
        let location = db.clone();
        let relay_hub = Arc::clone(&hub);
        let store =
            tokio::task::spawn_blocking(move || Store::open_at(location.as_deref(), hub, window))
                .await
                .map_err(std::io::Error::other)??;
        if let Some(url) = db.filter(|d| db::is_postgres_url(d)) {
            relay::start(url, Arc::from(store.node()), &relay_hub)?;
        }
        drop(relay_hub);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let gateway = connectors::worker::Gateway::start(
            store.clone(),
            Arc::from(url.as_str()),
            shutdown_rx.clone(),
        );
        let state = AppState {
            acks: acks::Acks::start(store.clone()),
            gateway,
            store,
            config: Arc::new(config),
            public_url: Arc::from(url.as_str()),
            shutdown: shutdown_rx.clone(),
        };
        let limits = serve::HttpLimits {
            max_head_bytes: state.config.max_header_bytes,
            header_read_timeout: state.config.header_read_timeout,
        };
        let app = app(state.clone());
        let task = tokio::spawn(serve::run(listener, app, limits, shutdown_rx));
        tracing::info!(%addr, %url, max_streams, ?open_files, "instance listening");
        Ok(Self {
            addr,
            url,
            state,
            shutdown,
            task,
        })
    }

    /// Stops accepting, closes streams with 1001 and waits for the server
    /// to end and every stream to have closed.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        let hub = Arc::clone(self.state.store.hub());
        let result = self.task.await.map_err(std::io::Error::other)?;
        streams_closed(&hub).await;
        result
    }

    /// Resolves when the server ends (after [`Instance::shutdown_handle`]
    /// was told to stop) and its streams have closed.
    pub async fn wait(self) -> std::io::Result<()> {
        let Instance {
            task,
            shutdown,
            state,
            ..
        } = self;
        let result = task.await.map_err(std::io::Error::other)?;
        streams_closed(state.store.hub()).await;
        drop(shutdown);
        result
    }

    /// Asks the server to stop (streams close with 1001); pair with [`Instance::wait`].
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}
