//! The operator's settings document.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use belfry_proto::api::ErrorBody;
use belfry_proto::settings::{SettingsDocument, SettingsWrite};

/// Policy, link state and preferences, with their version.
#[utoipa::path(get, path = "/api/v1/settings", tag = "settings",
    security(("bearer" = [])),
    responses((status = 200, body = SettingsDocument), (status = 401, body = ErrorBody)))]
pub async fn get_settings(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> Result<Json<SettingsDocument>, ApiError> {
    let id = session.operator.id;
    Ok(Json(state.db(move |s| s.settings(id)).await?))
}

/// Replaces the preferences. Refused with 409 and the current document when
/// `base_version` is not the current version, and with 422, a reason per
/// field and the current document when the change breaks the policy.
#[utoipa::path(put, path = "/api/v1/settings", tag = "settings",
    security(("bearer" = [])),
    request_body = SettingsWrite,
    responses(
        (status = 200, body = SettingsDocument),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "stale version; `current` holds the document", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "policy violation; `error.fields` says why", body = ErrorBody),
    ))]
pub async fn put_settings(
    State(state): State<AppState>,
    Auth(session): Auth,
    ApiJson(write): ApiJson<SettingsWrite>,
) -> Result<Json<SettingsDocument>, ApiError> {
    let id = session.operator.id;
    Ok(Json(state.db(move |s| s.write_settings(id, write)).await?))
}
