//! The admin API: policy, accounts, link state, and emitting events. Tests
//! and the demo make tickets, chats and SLA breaches happen through it.

use crate::auth::{self, Admin};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::render;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use belfry_proto::api::{
    BatchResult, CreateOperator, EmitBatch, EmitEvent, ErrorBody, MAX_BATCH, Operator,
    OperatorStatus, Role, SetLinks,
};
use belfry_proto::catalogue::{self, BOT_CHANNELS};
use belfry_proto::inbox::Notification;
use belfry_proto::settings::{FieldError, Policy, Reason, SettingsDocument};
use serde::{Deserialize, Serialize};

/// The instance policy.
#[utoipa::path(get, path = "/api/v1/admin/policy", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = Policy), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_policy(
    State(state): State<AppState>,
    Admin(_): Admin,
) -> Result<Json<Policy>, ApiError> {
    Ok(Json(state.db(|s| s.policy()).await?))
}

fn check_policy(policy: &Policy) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut push = |path: String, reason: Reason| {
        errors.push(FieldError {
            path,
            reason,
            message: reason.message().to_owned(),
        });
    };
    for (i, c) in policy.mandatory_channels.iter().enumerate() {
        if !catalogue::is_known_channel(c) {
            push(format!("mandatory_channels.{i}"), Reason::UnknownChannel);
        }
    }
    for (i, c) in policy.bot_channels.iter().enumerate() {
        if !BOT_CHANNELS.contains(&c.as_str()) {
            push(format!("bot_channels.{i}"), Reason::UnknownChannel);
        }
    }
    for (field, list) in [
        ("mandatory_types", &policy.mandatory_types),
        ("unavailable_types", &policy.unavailable_types),
    ] {
        for (i, t) in list.iter().enumerate() {
            match catalogue::type_def(t) {
                None => push(format!("{field}.{i}"), Reason::UnknownType),
                Some(d) if !d.listed => push(format!("{field}.{i}"), Reason::NotListed),
                Some(_) => {}
            }
        }
    }
    errors
}

/// Replaces the policy. Every operator's preferences are brought in line
/// (mandatory parts switched on) and each open stream gets a `settings` frame.
#[utoipa::path(put, path = "/api/v1/admin/policy", tag = "admin",
    security(("bearer" = [])),
    request_body = Policy,
    responses(
        (status = 200, body = Policy),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn put_policy(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiJson(policy): ApiJson<Policy>,
) -> Result<Json<Policy>, ApiError> {
    let errors = check_policy(&policy);
    if !errors.is_empty() {
        return Err(ApiError::InvalidFields(errors));
    }
    let stored = policy.clone();
    state.db(move |s| s.set_policy(&stored)).await?;
    tracing::info!(?policy, "policy changed");
    Ok(Json(policy))
}

/// Every account.
#[utoipa::path(get, path = "/api/v1/admin/operators", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Operator>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_operators(
    State(state): State<AppState>,
    Admin(_): Admin,
) -> Result<Json<Vec<Operator>>, ApiError> {
    Ok(Json(state.db(|s| s.operators()).await?))
}

/// Checks a login: 1–64 characters of letters, digits, `.`, `_`, `-`, `@`.
pub fn valid_login(login: &str) -> bool {
    (1..=64).contains(&login.len())
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// Creates an account with default preferences.
#[utoipa::path(post, path = "/api/v1/admin/operators", tag = "admin",
    security(("bearer" = [])),
    request_body = CreateOperator,
    responses(
        (status = 201, body = Operator),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "the login exists", body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn create_operator(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiJson(req): ApiJson<CreateOperator>,
) -> Result<(StatusCode, Json<Operator>), ApiError> {
    let op = create(&state, req).await?;
    Ok((StatusCode::CREATED, Json(op)))
}

/// Validates and creates an account (also used by the demo set-up).
pub async fn create(state: &AppState, req: CreateOperator) -> Result<Operator, ApiError> {
    if !valid_login(&req.login) {
        return Err(ApiError::Invalid(
            "login: 1-64 letters, digits, '.', '_', '-', '@'".into(),
        ));
    }
    if !(8..=256).contains(&req.password.chars().count()) {
        return Err(ApiError::Invalid("password: 8-256 characters".into()));
    }
    let name = render::clip(req.name.as_deref().unwrap_or(&req.login), 100);
    let role = req.role.unwrap_or(Role::Operator);
    let password = req.password;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let login = req.login;
    state
        .db(move |s| s.create_operator(&login, &name, role, &hash))
        .await
}

async fn operator_id(state: &AppState, login: String) -> Result<i64, ApiError> {
    state
        .db(move |s| s.operator_by_login(&login))
        .await?
        .map(|(op, _)| op.id)
        .ok_or(ApiError::NotFound)
}

/// Sets which bot channels an operator linked (what the web profile's
/// "Log in with Telegram" does on a real instance).
#[utoipa::path(put, path = "/api/v1/admin/operators/{login}/links", tag = "admin",
    security(("bearer" = [])),
    params(("login" = String, Path, description = "operator login")),
    request_body = SetLinks,
    responses(
        (status = 200, body = SettingsDocument),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn set_links(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath(login): ApiPath<String>,
    ApiJson(req): ApiJson<SetLinks>,
) -> Result<Json<SettingsDocument>, ApiError> {
    if let Some(bad) = req
        .links
        .keys()
        .find(|k| !BOT_CHANNELS.contains(&k.as_str()))
    {
        return Err(ApiError::Invalid(format!(
            "not a bot channel: {:?}",
            render::clip(bad, 64)
        )));
    }
    let id = operator_id(&state, login).await?;
    Ok(Json(state.db(move |s| s.set_links(id, &req.links)).await?))
}

/// Sets an operator's availability (what the operator panel does).
#[utoipa::path(put, path = "/api/v1/admin/operators/{login}/status", tag = "admin",
    security(("bearer" = [])),
    params(("login" = String, Path, description = "operator login")),
    request_body = OperatorStatus,
    responses(
        (status = 200, body = OperatorStatus),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn set_operator_status(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath(login): ApiPath<String>,
    ApiJson(req): ApiJson<OperatorStatus>,
) -> Result<Json<OperatorStatus>, ApiError> {
    let id = operator_id(&state, login).await?;
    Ok(Json(
        state
            .db(move |s| s.set_status(id, req.status, req.since))
            .await?,
    ))
}

/// Makes an event happen for an operator: it is stored in their inbox and
/// streamed to their open connections.
#[utoipa::path(post, path = "/api/v1/admin/events", tag = "admin",
    security(("bearer" = [])),
    request_body = EmitEvent,
    responses(
        (status = 201, body = Notification),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "no such operator", body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn emit(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiJson(event): ApiJson<EmitEvent>,
) -> Result<(StatusCode, Json<Notification>), ApiError> {
    let mut out = emit_all(&state, vec![event]).await?;
    let n = out
        .pop()
        .ok_or_else(|| ApiError::Internal("emit returned nothing".into()))?;
    Ok((StatusCode::CREATED, Json(n)))
}

/// Emits many events at once: all are checked first, then each operator's
/// run is stored in one transaction, in the order given.
#[utoipa::path(post, path = "/api/v1/admin/events/batch", tag = "admin",
    security(("bearer" = [])),
    request_body = EmitBatch,
    responses(
        (status = 201, body = BatchResult),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "no such operator", body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn emit_batch(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiJson(batch): ApiJson<EmitBatch>,
) -> Result<(StatusCode, Json<BatchResult>), ApiError> {
    if batch.events.len() > MAX_BATCH {
        return Err(ApiError::Invalid(format!(
            "at most {MAX_BATCH} events per batch"
        )));
    }
    let out = emit_all(&state, batch.events).await?;
    let result = BatchResult {
        first_seq: out.first().map(|n| n.seq),
        last_seq: out.last().map(|n| n.seq),
        ids: out.into_iter().map(|n| n.id).collect(),
    };
    Ok((StatusCode::CREATED, Json(result)))
}

/// Renders and stores events, all in one transaction: the operators are
/// looked up together and every operator's events stored in one commit, so
/// a change for every operator is not one round of lookups and commits per
/// operator (issue 32: 0.27 ms per operator, 2.7 s for 10,000).
pub async fn emit_all(
    state: &AppState,
    events: Vec<EmitEvent>,
) -> Result<Vec<Notification>, ApiError> {
    let mut runs: Vec<(String, Vec<crate::store::NewNotification>)> = Vec::new();
    for event in events {
        let login = event.operator.clone();
        let n = render::render(event, &state.public_url)?;
        match runs.last_mut() {
            Some((l, run)) if *l == login => run.push(n),
            _ => runs.push((login, vec![n])),
        }
    }
    state
        .db(move |s| {
            let logins: Vec<String> = runs.iter().map(|(l, _)| l.clone()).collect();
            let ids = s.operator_ids(&logins)?;
            let runs = runs
                .into_iter()
                .map(|(login, run)| ids.get(&login).map(|id| (*id, run)))
                .collect::<Option<Vec<_>>>()
                .ok_or(crate::store::StoreError::NotFound)?;
            s.emit_runs(runs)
        })
        .await
}

/// A notification as the admin sees it: with its delivery acknowledgement.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// The notification.
    pub notification: Notification,
    /// When a desktop client acknowledged showing it, or null.
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One notification of an operator with its delivery state.
#[utoipa::path(get, path = "/api/v1/admin/operators/{login}/notifications/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("login" = String, Path, description = "operator login"), ("id" = String, Path, description = "notification id")),
    responses(
        (status = 200, body = Delivery),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn delivery(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath((login, id)): ApiPath<(String, String)>,
) -> Result<Json<Delivery>, ApiError> {
    let op = operator_id(&state, login).await?;
    let (notification, delivered_at) = state.db(move |s| s.notification(op, &id)).await?;
    Ok(Json(Delivery {
        notification,
        delivered_at,
    }))
}
