//! The REST API: handlers with their OpenAPI descriptions. Routes and the
//! document are built from the same annotations (utoipa-axum), so a route
//! cannot exist without its documentation; `docs/openapi.json` is the
//! committed copy, checked by a test.

pub mod admin;
mod catalogue;
pub mod health;
mod inbox;
mod session;
mod settings;
pub mod sources;
mod status;

use crate::state::AppState;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Belfry instance API",
        description = "The REST half of the Belfry protocol (see docs/protocol.md for the stream). \
                       Every error answers with an ErrorBody.",
        version = "1",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "session", description = "Server info, sign in and out"),
        (name = "catalogue", description = "Notification types and channels"),
        (name = "settings", description = "Policy and preferences"),
        (name = "inbox", description = "The bell inbox"),
        (name = "status", description = "Availability and test notifications"),
        (name = "admin", description = "Instance administration (admin role)"),
        (name = "connectors", description = "The gateway: helpdesk sources (admin role) and their webhook endpoint (docs/connectors.md)")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every REST route with its documentation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(session::info))
        .routes(routes!(health::health))
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(session::me))
        .routes(routes!(catalogue::catalogue))
        .routes(routes!(settings::get_settings, settings::put_settings))
        .routes(routes!(inbox::list))
        .routes(routes!(inbox::unread_count))
        .routes(routes!(inbox::get_one))
        .routes(routes!(inbox::mark_read))
        .routes(routes!(inbox::mark_all_read))
        .routes(routes!(status::get_status, status::put_status))
        .routes(routes!(status::test_notification))
        .routes(routes!(admin::get_policy, admin::put_policy))
        .routes(routes!(admin::list_operators, admin::create_operator))
        .routes(routes!(admin::set_links))
        .routes(routes!(admin::set_operator_status))
        .routes(routes!(admin::emit))
        .routes(routes!(admin::emit_batch))
        .routes(routes!(admin::delivery))
        .routes(routes!(sources::list_sources, sources::create_source))
        .routes(routes!(sources::remove_source))
        .routes(routes!(sources::rotate_secret))
        .routes(routes!(sources::set_users))
        .routes(routes!(sources::deliveries))
        .routes(routes!(sources::set_email))
        .routes(routes!(crate::connectors::ingest::ingest))
}

/// The OpenAPI document as JSON, as served at `/api-docs/openapi.json`.
pub fn openapi_json() -> String {
    let (_, doc) = router().split_for_parts();
    doc.to_pretty_json().unwrap_or_default()
}
