//! Server info, login, logout and "who am I".

use crate::auth::{self, Auth};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use belfry_proto::api::{ErrorBody, LoginRequest, LoginResponse, Operator, ServerInfo};
use belfry_proto::stream::MAX_FRAME_BYTES;

/// What a client checks first: versions, heartbeat, frame size, origin,
/// and the origins whose links it may open.
#[utoipa::path(get, path = "/api/v1/info", tag = "session",
    responses((status = 200, body = ServerInfo), (status = 500, body = ErrorBody)))]
pub async fn info(State(state): State<AppState>) -> Result<Json<ServerInfo>, ApiError> {
    let sources = state.db(|s| s.sources()).await?;
    let own = crate::connectors::sources::origin_of(&state.public_url);
    let mut link_origins: Vec<String> = own.into_iter().collect();
    for source in sources {
        if let Some(o) = crate::connectors::sources::origin_of(&source.info.base_url)
            && !link_origins.contains(&o)
        {
            link_origins.push(o);
        }
    }
    Ok(Json(ServerInfo {
        server: "belfry-instance".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol_versions: vec![belfry_proto::PROTOCOL_VERSION],
        heartbeat_s: u32::try_from(state.config.heartbeat.as_secs().max(1)).unwrap_or(u32::MAX),
        max_frame_bytes: MAX_FRAME_BYTES,
        public_url: state.public_url.to_string(),
        link_origins,
    }))
}

/// Exchanges a login and password for a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "session",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "wrong login or password", body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let login = req.login.clone();
    let found = state.db(move |s| s.operator_by_login(&login)).await?;
    let password = req.password;
    // Verify even for unknown logins so timing does not reveal which exist.
    let (operator, ok) = tokio::task::spawn_blocking(move || match found {
        Some((op, hash)) => {
            let ok = auth::verify_password(&password, &hash);
            (Some(op), ok)
        }
        None => {
            let _ = auth::verify_password(&password, &DUMMY_HASH);
            (None, false)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let operator = match operator {
        Some(op) if ok => op,
        _ => {
            tracing::info!(login = %req.login, "login refused");
            return Err(ApiError::InvalidCredentials);
        }
    };
    let (token, hash) = auth::new_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    let ttl =
        chrono::Duration::from_std(state.config.token_ttl).unwrap_or(chrono::Duration::days(30));
    let expires_at = chrono::Utc::now() + ttl;
    let client = req.client.map(|c| crate::render::clip(&c, 200));
    let id = operator.id;
    state
        .db(move |s| s.insert_token(id, &hash, client.as_deref(), expires_at))
        .await?;
    tracing::info!(login = %operator.login, "signed in");
    Ok(Json(LoginResponse {
        token,
        expires_at,
        operator,
    }))
}

/// A real argon2 hash of a throwaway password, verified against when the
/// login is unknown so that both paths cost the same.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| auth::hash_password("belfry-timing-guard").unwrap_or_default());

/// Revokes the token used for this call; its streams close with 4401.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "session",
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> Result<StatusCode, ApiError> {
    let (op, token) = (session.operator.id, session.token_id);
    state.db(move |s| s.revoke_token(op, token)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me", tag = "session",
    security(("bearer" = [])),
    responses((status = 200, body = Operator), (status = 401, body = ErrorBody)))]
pub async fn me(Auth(session): Auth) -> Json<Operator> {
    Json(session.operator)
}
