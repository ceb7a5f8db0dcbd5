//! The catalogue of types and channels, with this instance's policy flags
//! and this operator's link state.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use belfry_proto::api::ErrorBody;
use belfry_proto::catalogue::{
    self, BOT_CHANNELS, CORE_CHANNELS, Catalogue, ChannelInfo, ChannelKind, Group, GroupInfo,
    TypeInfo,
};
use belfry_proto::settings::SettingsDocument;

/// Builds the catalogue an operator sees from their settings document.
pub fn build(doc: &SettingsDocument) -> Catalogue {
    let policy = &doc.policy;
    let groups = Group::ALL
        .iter()
        .map(|g| GroupInfo {
            id: *g,
            titles: g.titles(),
        })
        .collect();
    let types = catalogue::TYPES
        .iter()
        .filter(|d| d.id != "status_reminder")
        .map(|d| TypeInfo {
            id: d.id.to_owned(),
            group: d.group,
            category: d.category,
            titles: d.titles(),
            default_channels: catalogue::DEFAULT_TYPE_CHANNELS
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            default_melody: d.default_melody.to_owned(),
            extended: d.extended,
            unavailable: policy.unavailable_types.iter().any(|t| t == d.id),
            listed: d.listed,
            mandatory: policy.type_mandatory(d.id),
            critical: d.critical,
        })
        .collect();
    let core = CORE_CHANNELS.iter().map(|id| {
        let kind = match *id {
            catalogue::BELL => ChannelKind::Bell,
            catalogue::BANNER => ChannelKind::Banner,
            catalogue::SOUND => ChannelKind::Sound,
            _ => ChannelKind::Browser,
        };
        ChannelInfo {
            id: (*id).to_owned(),
            kind,
            titles: catalogue::channel_titles(id),
            enabled: true,
            linked: true,
            mandatory: policy.channel_mandatory(id),
        }
    });
    let bots = BOT_CHANNELS.iter().map(|id| ChannelInfo {
        id: (*id).to_owned(),
        kind: ChannelKind::Bot,
        titles: catalogue::channel_titles(id),
        enabled: policy.channel_available(id),
        linked: doc.links.get(*id).copied().unwrap_or(false),
        mandatory: policy.channel_mandatory(id),
    });
    Catalogue {
        groups,
        types,
        channels: core.chain(bots).collect(),
        melodies: catalogue::MELODIES
            .iter()
            .map(|m| (*m).to_owned())
            .collect(),
    }
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
