//! The operator's availability and "Send test" per channel.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::render;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use belfry_proto::api::{EmitEvent, ErrorBody, OperatorStatus, TestRequest};
use belfry_proto::catalogue::{self, TEST_NOTIFICATION};
use belfry_proto::inbox::Notification;

/// The operator's availability.
#[utoipa::path(get, path = "/api/v1/status", tag = "status",
    security(("bearer" = [])),
    responses((status = 200, body = OperatorStatus), (status = 401, body = ErrorBody)))]
pub async fn get_status(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> Result<Json<OperatorStatus>, ApiError> {
    let id = session.operator.id;
    Ok(Json(state.db(move |s| s.status(id)).await?))
}

/// Changes the availability; every stream of the operator gets a `status` frame.
#[utoipa::path(put, path = "/api/v1/status", tag = "status",
    security(("bearer" = [])),
    request_body = OperatorStatus,
    responses(
        (status = 200, body = OperatorStatus),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn put_status(
    State(state): State<AppState>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<OperatorStatus>,
) -> Result<Json<OperatorStatus>, ApiError> {
    let id = session.operator.id;
    Ok(Json(
        state
            .db(move |s| s.set_status(id, req.status, None))
            .await?,
    ))
}

/// Sends a test notification for a channel. It arrives like any other, with
/// type `test_notification` and `data.channel` naming the channel to show it on.
#[utoipa::path(post, path = "/api/v1/test-notification", tag = "status",
    security(("bearer" = [])),
    request_body = TestRequest,
    responses(
        (status = 201, body = Notification),
        (status = 400, description = "unknown channel, or a bot channel the admin has not enabled", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn test_notification(
    State(state): State<AppState>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<TestRequest>,
) -> Result<(StatusCode, Json<Notification>), ApiError> {
    if !catalogue::is_known_channel(&req.channel) {
        return Err(ApiError::Invalid("unknown channel".into()));
    }
    let policy = state.db(|s| s.policy()).await?;
    if !policy.channel_available(&req.channel) {
        return Err(ApiError::Invalid(
            "the admin has not enabled this channel".into(),
        ));
    }
    let mut data = serde_json::Map::new();
    data.insert("channel".into(), req.channel.into());
    let event = EmitEvent {
        operator: session.operator.login.clone(),
        type_id: TEST_NOTIFICATION.into(),
        title: None,
        body: None,
        path: None,
        data,
    };
    let n = render::render(event, &state.public_url)?;
    let id = session.operator.id;
    let mut out = state.db(move |s| s.emit(id, vec![n])).await?;
    let n = out
        .pop()
        .ok_or_else(|| ApiError::Internal("emit returned nothing".into()))?;
    Ok((StatusCode::CREATED, Json(n)))
}
