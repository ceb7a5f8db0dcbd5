//! REST bodies that are not inbox or settings: auth, server info, errors,
//! status, test notifications and the admin API.

use crate::settings::FieldError;
use serde::{Deserialize, Serialize};

/// `GET /api/v1/info` (no auth): what a client checks before anything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServerInfo {
    /// Product name of the instance software.
    pub server: String,
    /// Instance software version.
    pub version: String,
    /// Protocol versions served; a client picks the highest it speaks.
    pub protocol_versions: Vec<u32>,
    /// Seconds between heartbeats each side sends on the stream.
    pub heartbeat_s: u32,
    /// Largest stream frame, in bytes, either direction.
    pub max_frame_bytes: u32,
    /// The instance's public origin; notification links point here.
    pub public_url: String,
    /// The origins (`scheme://host[:port]`) a client may open a
    /// notification's link on: the instance's own and each helpdesk that
    /// feeds it. A client opens a link on no other origin. Added within
    /// protocol 1 (docs/protocol.md, "Link origins"); absent from an older
    /// instance, when only `public_url`'s origin is allowed.
    #[serde(default)]
    pub link_origins: Vec<String>,
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LoginRequest {
    /// Operator login.
    pub login: String,
    /// Password.
    pub password: String,
    /// Shown in the operator's session list, e.g. "Belfry 0.1 on host".
    #[serde(default)]
    pub client: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("login", &self.login)
            .field("password", &"<redacted>")
            .field("client", &self.client)
            .finish()
    }
}

/// An operator's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Handles tickets and chats.
    Operator,
    /// Also sets policy, creates operators, emits events.
    Admin,
}

/// An account on the instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Operator {
    /// Numeric id.
    pub id: i64,
    /// Login.
    pub login: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// `200` answer to a login.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    /// When the token stops working.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Who logged in.
    pub operator: Operator,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("operator", &self.operator)
            .finish()
    }
}

/// Every non-2xx REST answer has this body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
    /// For `stale_version` and `policy_violation`: the current settings document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<crate::settings::SettingsDocument>,
}

/// The error part of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApiError {
    /// Machine-readable code (see [`ErrorCode`]).
    pub code: ErrorCode,
    /// For people; not stable.
    pub message: String,
    /// For `policy_violation` and `invalid_request`: one entry per refused field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// The error codes a REST call can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not valid JSON or not the expected shape.
    InvalidRequest,
    /// 401: wrong login or password.
    InvalidCredentials,
    /// 401: no token, or a revoked or expired one. Sign in again.
    Unauthorized,
    /// 403: the caller is not an admin.
    Forbidden,
    /// 404: no such resource.
    NotFound,
    /// 409: a settings write based on an old version; `current` has the new one.
    StaleVersion,
    /// 409: a login that already exists.
    Conflict,
    /// 408: the request (its body, or the server's answer) took longer than
    /// the server allows; retry.
    RequestTimeout,
    /// 413: the body is larger than the server accepts.
    PayloadTooLarge,
    /// 422: a settings write that breaks the instance policy; see `fields`.
    PolicyViolation,
    /// 429: too many requests or connections.
    TooManyRequests,
    /// 500: the server failed; retry later.
    Internal,
}

/// An operator's availability, as the operator panel knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Ready for new chats.
    Ready,
    /// Not ready for new chats (the status reminder watches this one).
    NotReady,
    /// Away.
    Away,
}

/// `GET`/`PUT /api/v1/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OperatorStatus {
    /// Availability.
    pub status: Availability,
    /// Since when (set by the server; ignored in a `PUT`).
    #[serde(default)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

/// `POST /api/v1/test-notification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TestRequest {
    /// The channel to test.
    pub channel: String,
}

/// `POST /api/v1/admin/operators`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreateOperator {
    /// Login, 1–64 characters.
    pub login: String,
    /// Password, 8–256 characters.
    pub password: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Role; operator when absent.
    #[serde(default)]
    pub role: Option<Role>,
}

impl std::fmt::Debug for CreateOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateOperator")
            .field("login", &self.login)
            .field("password", &"<redacted>")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish()
    }
}

/// `POST /api/v1/admin/events`: make something happen for an operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EmitEvent {
    /// The operator's login.
    pub operator: String,
    /// Type id from the catalogue.
    #[serde(rename = "type")]
    pub type_id: String,
    /// Title; the type's title when absent.
    #[serde(default)]
    pub title: Option<String>,
    /// Body; made from `data` when absent.
    #[serde(default)]
    pub body: Option<String>,
    /// A path on the instance (`/tickets/42`); made from `data` when absent.
    #[serde(default)]
    pub path: Option<String>,
    /// Extras: `ticket_id`, `chat_id`, `client`, `score`, `channel`, …
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[serde(default)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// `POST /api/v1/admin/events/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EmitBatch {
    /// At most [`MAX_BATCH`] events, stored in order.
    pub events: Vec<EmitEvent>,
}

/// Most events in one batch.
pub const MAX_BATCH: usize = 10_000;

/// Answer to a batch: the created notifications' ids and sequence range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BatchResult {
    /// Ids in the order given.
    pub ids: Vec<String>,
    /// Sequence of the first.
    pub first_seq: Option<u64>,
    /// Sequence of the last.
    pub last_seq: Option<u64>,
}

/// `PUT /api/v1/admin/operators/{login}/links`: the web profile's linking, simulated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SetLinks {
    /// Bot channel id → linked.
    pub links: std::collections::BTreeMap<String, bool>,
}
