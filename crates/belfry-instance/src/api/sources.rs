//! The admin API of the gateway: sources (add, list, remove, rotate the
//! secret, replace the user map), their deliveries, and operators' emails.
//! A source's secret is in two answers only: the one that creates it and
//! the one that rotates it.

use crate::auth::Admin;
use crate::connectors::Secret;
use crate::connectors::deliveries::DeliveryView;
use crate::connectors::sources::{
    self, NewSource, SetEmail, SetSecret, SourceSecret, SourceView, UserMap, check_users,
    normalize_base_url,
};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use belfry_proto::api::ErrorBody;
use serde::Deserialize;

fn invalid(e: sources::Invalid) -> ApiError {
    ApiError::Invalid(e.to_string())
}

/// The admin's secret when given (checked), else a new random one.
fn secret_or_new(given: Option<Secret>) -> Result<Secret, ApiError> {
    match given {
        Some(s) => s
            .check()
            .map(|()| s)
            .map_err(|e| ApiError::Invalid(e.into())),
        None => Secret::generate().map_err(|e| ApiError::Internal(e.to_string())),
    }
}

/// Every source (no secrets).
#[utoipa::path(get, path = "/api/v1/admin/sources", tag = "connectors",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<SourceView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_sources(
    State(state): State<AppState>,
    Admin(_): Admin,
) -> Result<Json<Vec<SourceView>>, ApiError> {
    let all = state.db(|s| s.sources()).await?;
    Ok(Json(
        all.iter().map(|s| s.view(&state.public_url)).collect(),
    ))
}

/// Adds a source; the answer shows its secret, this once.
#[utoipa::path(post, path = "/api/v1/admin/sources", tag = "connectors",
    security(("bearer" = [])),
    request_body = NewSource,
    responses(
        (status = 201, body = SourceSecret),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "the name exists", body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn create_source(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiJson(mut req): ApiJson<NewSource>,
) -> Result<(StatusCode, Json<SourceSecret>), ApiError> {
    if !sources::valid_name(&req.name) {
        return Err(invalid(sources::Invalid::Name));
    }
    req.base_url = normalize_base_url(&req.base_url).map_err(invalid)?;
    check_users(&req.users).map_err(invalid)?;
    let secret = secret_or_new(req.secret.take())?;
    let source = state.db(move |s| s.create_source(&req, &secret)).await?;
    tracing::info!(source = %source.info.name, kind = %source.info.kind, "source added");
    Ok((
        StatusCode::CREATED,
        Json(source.with_secret(&state.public_url)),
    ))
}

/// Removes a source, its user map, deliveries and remembered tickets.
#[utoipa::path(delete, path = "/api/v1/admin/sources/{name}", tag = "connectors",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "source name")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_source(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let n = name.clone();
    state.db(move |s| s.remove_source(&n)).await?;
    tracing::info!(source = %name, "source removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Gives a source a new secret (the old one stops working at once): a new
/// random one, or the one the helpdesk made; the answer shows it, this once.
#[utoipa::path(post, path = "/api/v1/admin/sources/{name}/secret", tag = "connectors",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "source name")),
    request_body(content = SetSecret, description = "optional: empty makes a new secret"),
    responses((status = 200, body = SourceSecret), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath(name): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<Json<SourceSecret>, ApiError> {
    let given: SetSecret = if body.iter().all(u8::is_ascii_whitespace) {
        SetSecret::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::Invalid(e.to_string()))?
    };
    let secret = secret_or_new(given.secret)?;
    let source = state
        .db(move |s| s.set_source_secret(&name, &secret))
        .await?;
    tracing::info!(source = %source.info.name, "source secret rotated");
    Ok(Json(source.with_secret(&state.public_url)))
}

/// Replaces a source's user map.
#[utoipa::path(put, path = "/api/v1/admin/sources/{name}/users", tag = "connectors",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "source name")),
    request_body = UserMap,
    responses((status = 200, body = SourceView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn set_users(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<UserMap>,
) -> Result<Json<SourceView>, ApiError> {
    check_users(&req.users).map_err(invalid)?;
    let source = state
        .db(move |s| s.set_source_users(&name, &req.users))
        .await?;
    Ok(Json(source.view(&state.public_url)))
}

/// Query of the deliveries list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveriesQuery {
    /// How many, newest first (1–1000, default 50).
    pub limit: Option<u32>,
}

/// A source's latest deliveries, newest first: accepted (and the
/// notifications each became), ignored and refused (why), duplicates.
#[utoipa::path(get, path = "/api/v1/admin/sources/{name}/deliveries", tag = "connectors",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "source name"), DeliveriesQuery),
    responses((status = 200, body = Vec<DeliveryView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    let list = state
        .db(move |s| {
            let id = s
                .source_id(&name)?
                .ok_or(crate::store::StoreError::NotFound)?;
            s.deliveries(id, limit)
        })
        .await?;
    Ok(Json(list))
}

/// Sets or clears an operator's email (a helpdesk user with this email
/// maps to them when a source's map does not name the user).
#[utoipa::path(put, path = "/api/v1/admin/operators/{login}/email", tag = "connectors",
    security(("bearer" = [])),
    params(("login" = String, Path, description = "operator login")),
    request_body = SetEmail,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "another operator has this email", body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn set_email(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath(login): ApiPath<String>,
    ApiJson(req): ApiJson<SetEmail>,
) -> Result<StatusCode, ApiError> {
    let email = req
        .email
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty());
    if let Some(e) = &email
        && (e.len() > 320 || !e.contains('@'))
    {
        return Err(ApiError::Invalid(
            "email: an address with '@', up to 320 characters".into(),
        ));
    }
    state
        .db(move |s| s.set_operator_email(&login, email.as_deref()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
