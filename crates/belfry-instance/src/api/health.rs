//! The balancer's probe: is this node able to serve right now?

use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use belfry_proto::api::ErrorBody;
use serde::{Deserialize, Serialize};

/// A node that serves: its database answers.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` (a node that cannot serve answers 503 instead).
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Streams open on this node.
    pub streams: usize,
    /// The most streams this node holds (`--max-streams`, or what its
    /// open-file limit leaves room for); past it a stream is refused with 503.
    pub max_streams: usize,
}

/// For a load balancer's health check: 200 once the node's database
/// answers a query, 503 when it does not (the node is up but cannot serve;
/// take it out). No sign-in needed; it reads no account.
#[utoipa::path(get, path = "/api/v1/health", tag = "session",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "the database does not answer", body = ErrorBody),
    ))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let engine = state
        .db(|s| s.ping())
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let hub = state.store.hub();
    Ok(Json(Health {
        status: "ok".into(),
        database: match engine {
            crate::db::Engine::Sqlite => "sqlite",
            crate::db::Engine::Postgres => "postgres",
        }
        .into(),
        streams: hub.open_streams(),
        max_streams: state.config.max_streams.unwrap_or(usize::MAX),
    }))
}
