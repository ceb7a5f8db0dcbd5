//! The endpoint helpdesks post to, one path per source. In order: the
//! source exists (404), the body fits (413), the sender proves itself by
//! its kind's scheme (401), the body is JSON (415 for a form, 400 for
//! anything else unreadable), a delivery id seen before is dropped with a
//! 200; otherwise the body is stored and answered 202, and mapped after
//! the answer. A refusal stores no body and touches no other source; it is
//! recorded (reason only) for the source's deliveries list.

use super::deliveries::Stored;
use super::sources::Source;
use super::verify::{self, Unverified};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use belfry_proto::api::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};

/// The answer to a delivery the gateway took.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookAnswer {
    /// `accepted` (stored, to be mapped) or `duplicate` (seen before, dropped).
    pub status: String,
    /// The delivery's row in the source's deliveries list (for a
    /// duplicate, the first one's).
    pub delivery: i64,
}

fn refusal(status: StatusCode, code: ErrorCode, reason: String) -> ApiError {
    ApiError::Hook(status, code, reason)
}

/// Records a refusal for the admin (reason only; the body is not kept).
async fn record(state: &AppState, source: &Source, delivery: Option<String>, reason: &str) {
    let (id, owned) = (source.id, reason.to_owned());
    if let Err(error) = state
        .db(move |s| s.record_refusal(id, delivery.as_deref(), &owned))
        .await
    {
        tracing::warn!(%error, "could not record a refused delivery");
    }
}

fn query_secret(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.into_owned())
}

/// A JSON body or why not: forms are named as such, since a helpdesk set
/// to post a form is the usual mistake.
fn read_json(headers: &HeaderMap, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("application/x-www-form-urlencoded") || ctype.starts_with("multipart/") {
        return Err(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidRequest,
            format!(
                "expected a JSON body, got {}: set the webhook to send JSON",
                crate::render::clip(&ctype, 80)
            ),
        ));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "expected a JSON object".into(),
        )),
        Err(e) => Err(refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("malformed JSON: {e}"),
        )),
    }
}

async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let limit = state.config.max_hook_body_bytes;
    let too_large = || {
        refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("body over {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // The only error to_bytes gives a client still waiting for an answer is
    // the limit (a dropped connection reads no answer).
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// Takes one webhook delivery from a helpdesk.
#[utoipa::path(post, path = "/api/v1/hooks/{source}", tag = "connectors",
    params(
        ("source" = String, Path, description = "source name"),
        ("secret" = Option<String>, Query, description = "django-helpdesk sources only: the secret, when the helpdesk cannot send Basic auth"),
    ),
    request_body(content = Object, description = "the helpdesk's webhook body, JSON; headers per kind (docs/connectors.md)"),
    responses(
        (status = 202, description = "stored; mapped after this answer", body = HookAnswer),
        (status = 200, description = "a delivery id seen before: dropped", body = HookAnswer),
        (status = 400, description = "not a JSON object", body = ErrorBody),
        (status = 401, description = "signature, token or secret wrong or missing; signed timestamp stale", body = ErrorBody),
        (status = 404, description = "no such source", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, description = "a form where JSON is expected", body = ErrorBody),
    ))]
pub async fn ingest(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<HookAnswer>), ApiError> {
    let lookup = name.clone();
    let Some(source) = state.db(move |s| s.source(&lookup)).await? else {
        return Err(refusal(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no source named {:?}", crate::render::clip(&name, 64)),
        ));
    };
    let result = take(&state, &source, query.as_deref(), &headers, body).await;
    match &result {
        Ok((_, Json(answer))) => tracing::info!(
            source = %source.info.name,
            kind = %source.info.kind,
            status = %answer.status,
            delivery = answer.delivery,
            "webhook taken"
        ),
        Err(why) => {
            let reason = why.to_string();
            tracing::info!(source = %source.info.name, kind = %source.info.kind, %reason, "webhook refused");
            record(&state, &source, None, &reason).await;
        }
    }
    result
}

async fn take(
    state: &AppState,
    source: &Source,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<HookAnswer>), ApiError> {
    let bytes = read_body(state, headers, body).await?;
    let verified = verify::verify(
        source.info.kind,
        source.secret.expose(),
        headers,
        query_secret(query).as_deref(),
        &bytes,
        chrono::Utc::now(),
    )
    .map_err(|e: Unverified| {
        refusal(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            e.to_string(),
        )
    })?;
    let json = read_json(headers, &bytes)?;
    let delivery_id = verified.delivery_id.or_else(|| match source.info.kind {
        // Zendesk's event id is the same on every retry of the event.
        super::Kind::Zendesk => super::mapping::text(&json, "/id"),
        _ => None,
    });
    let (id, hint, body) = (source.id, verified.hint, bytes.to_vec());
    let stored = state
        .db(move |s| s.store_delivery(id, delivery_id.as_deref(), hint.as_deref(), &body))
        .await?;
    Ok(match stored {
        Stored::New(delivery) => {
            state.gateway.enqueue(delivery);
            (
                StatusCode::ACCEPTED,
                Json(HookAnswer {
                    status: "accepted".into(),
                    delivery,
                }),
            )
        }
        Stored::Duplicate(first) => (
            StatusCode::OK,
            Json(HookAnswer {
                status: "duplicate".into(),
                delivery: first,
            }),
        ),
    })
}
