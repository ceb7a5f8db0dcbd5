//! The catalogue of types and channels, with this instance's policy flags
//! and this operator's link state.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use belfry_proto::api::ErrorBody;
use belfry_proto::catalogue::Catalogue;
use belfry_proto::settings::SettingsDocument;

/// Builds the catalogue an operator sees from their settings document
/// (the protocol crate's, which the desktop uses on its cached copy).
pub fn build(doc: &SettingsDocument) -> Catalogue {
    doc.catalogue()
}

/// Notification types, channels and melodies, with the instance's flags.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "catalogue",
    security(("bearer" = [])),
    responses((status = 200, body = Catalogue), (status = 401, body = ErrorBody)))]
pub async fn catalogue(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> Result<Json<Catalogue>, ApiError> {
    let id = session.operator.id;
    let doc = state.db(move |s| s.settings(id)).await?;
    Ok(Json(build(&doc)))
}
