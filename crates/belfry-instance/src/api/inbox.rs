//! The bell inbox over REST.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::store::InboxFilter;
use axum::Json;
use axum::extract::State;
use belfry_proto::api::ErrorBody;
use belfry_proto::catalogue::Category;
use belfry_proto::inbox::{
    InboxPage, MAX_PAGE, MAX_READ_IDS, MarkAllRead, MarkRead, Notification, ReadResult, UnreadCount,
};
use serde::Deserialize;
use utoipa::IntoParams;

/// Filters and paging for the inbox listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only unread notifications.
    unread: Option<bool>,
    /// Only one section.
    category: Option<Category>,
    /// Text contained in the title or body (case-insensitive for ASCII).
    #[param(max_length = 200)]
    q: Option<String>,
}

/// One page of notifications, newest first.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "inbox",
    security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = InboxPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(session): Auth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::Invalid(format!("limit must be 1..={MAX_PAGE}")));
    }
    let before = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| ApiError::Invalid("bad cursor".into()))?,
        ),
    };
    if query.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::Invalid("q is longer than 200 characters".into()));
    }
    let filter = InboxFilter {
        unread: query.unread.unwrap_or(false),
        category: query.category,
        text: query.q,
        before,
        limit,
    };
    let id = session.operator.id;
    Ok(Json(state.db(move |s| s.inbox(id, &filter)).await?))
}

/// Unread counts, total and per section.
#[utoipa::path(get, path = "/api/v1/inbox/unread-count", tag = "inbox",
    security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = 401, body = ErrorBody)))]
pub async fn unread_count(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> Result<Json<UnreadCount>, ApiError> {
    let id = session.operator.id;
    Ok(Json(state.db(move |s| s.unread(id)).await?))
}

/// One notification.
#[utoipa::path(get, path = "/api/v1/inbox/{id}", tag = "inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "notification id")),
    responses((status = 200, body = Notification), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Notification>, ApiError> {
    let op = session.operator.id;
    Ok(Json(state.db(move |s| s.notification(op, &id)).await?.0))
}

/// Marks notifications read. Unknown and already-read ids are ignored.
#[utoipa::path(post, path = "/api/v1/inbox/read", tag = "inbox",
    security(("bearer" = [])),
    request_body = MarkRead,
    responses(
        (status = 200, body = ReadResult),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn mark_read(
    State(state): State<AppState>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<MarkRead>,
) -> Result<Json<ReadResult>, ApiError> {
    if req.ids.len() > MAX_READ_IDS {
        return Err(ApiError::Invalid(format!(
            "at most {MAX_READ_IDS} ids per request"
        )));
    }
    let op = session.operator.id;
    Ok(Json(state.db(move |s| s.mark_read(op, &req.ids)).await?))
}

/// Marks everything up to a sequence read.
#[utoipa::path(post, path = "/api/v1/inbox/read-all", tag = "inbox",
    security(("bearer" = [])),
    request_body = MarkAllRead,
    responses(
        (status = 200, body = ReadResult),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody),
    ))]
pub async fn mark_all_read(
    State(state): State<AppState>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<MarkAllRead>,
) -> Result<Json<ReadResult>, ApiError> {
    let op = session.operator.id;
    Ok(Json(
        state
            .db(move |s| s.mark_all_read(op, req.up_to_seq))
            .await?,
    ))
}
