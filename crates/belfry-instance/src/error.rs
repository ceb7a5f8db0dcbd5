//! The REST error type: every failure becomes an [`ErrorBody`] with a
//! machine-readable code and the right status.

use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use belfry_proto::api::{self, ErrorBody, ErrorCode};
use belfry_proto::settings::{FieldError, SettingsDocument};

/// A failed REST call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400.
    #[error("{0}")]
    Invalid(String),
    /// 400 with per-field reasons.
    #[error("invalid fields")]
    InvalidFields(Vec<FieldError>),
    /// 401 on login.
    #[error("wrong login or password")]
    InvalidCredentials,
    /// 401.
    #[error("sign in required: the token is missing, revoked or expired")]
    Unauthorized,
    /// 403.
    #[error("admin role required")]
    Forbidden,
    /// 404.
    #[error("not found")]
    NotFound,
    /// 404 for a path the API does not have.
    #[error("no such route")]
    NoRoute,
    /// 409 on create.
    #[error("already exists")]
    Conflict,
    /// 409 on a stale settings write.
    #[error("the settings changed since version you edited")]
    Stale(Box<SettingsDocument>),
    /// 405, 426 and the like: a request the route cannot take (wrong
    /// method, a stream request that is not a WebSocket upgrade), with that
    /// status and the `invalid_request` code.
    #[error("{1}")]
    Rejected(StatusCode, String),
    /// A webhook the gateway refused: its status, code and reason.
    #[error("{2}")]
    Hook(StatusCode, ErrorCode, String),
    /// 408.
    #[error("the request took too long")]
    Timeout,
    /// 413.
    #[error("request body too large")]
    TooLarge,
    /// 422.
    #[error("the instance policy does not allow this change")]
    Policy(Vec<FieldError>, Box<SettingsDocument>),
    /// 503 with `too_many_requests` and a `Retry-After`: the node holds
    /// all the streams it may (see `Config::max_streams`); another node, or
    /// this one a little later, takes the client.
    #[error("{0}")]
    Busy(String),
    /// 503 with `internal`: the node cannot serve (its database does not
    /// answer). The detail is logged, not sent.
    #[error("the database does not answer")]
    Unavailable(String),
    /// 500. The detail is logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict => ApiError::Conflict,
            StoreError::Stale(doc) => ApiError::Stale(doc),
            StoreError::Policy(fields, doc) => ApiError::Policy(fields, doc),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Seconds a client refused for a full node is asked to wait.
const BUSY_RETRY_AFTER_S: &str = "5";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, code, fields, current) = match self {
            ApiError::Invalid(_) => (
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                vec![],
                None,
            ),
            ApiError::InvalidFields(f) => {
                (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, f, None)
            }
            ApiError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                vec![],
                None,
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                vec![],
                None,
            ),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, ErrorCode::Forbidden, vec![], None),
            ApiError::NotFound | ApiError::NoRoute => {
                (StatusCode::NOT_FOUND, ErrorCode::NotFound, vec![], None)
            }
            ApiError::Conflict => (StatusCode::CONFLICT, ErrorCode::Conflict, vec![], None),
            ApiError::Stale(doc) => (
                StatusCode::CONFLICT,
                ErrorCode::StaleVersion,
                vec![],
                Some(*doc),
            ),
            ApiError::Rejected(status, _) => (status, ErrorCode::InvalidRequest, vec![], None),
            ApiError::Hook(status, code, _) => (status, code, vec![], None),
            ApiError::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::RequestTimeout,
                vec![],
                None,
            ),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                vec![],
                None,
            ),
            ApiError::Policy(f, doc) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::PolicyViolation,
                f,
                Some(*doc),
            ),
            ApiError::Busy(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::TooManyRequests,
                vec![],
                None,
            ),
            ApiError::Unavailable(detail) => {
                tracing::warn!(%detail, "health check failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Internal,
                    vec![],
                    None,
                )
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    vec![],
                    None,
                )
            }
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: api::ApiError {
                    code,
                    message,
                    fields,
                },
                current,
            }),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(BUSY_RETRY_AFTER_S),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
