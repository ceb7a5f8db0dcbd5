//! Sends queued operations (marks, settings edits) to the server, in order,
//! whenever the stream is up; re-bases settings edits on conflicts.

use super::Ctx;
use crate::event::{ConnState, CoreEvent};
use crate::net::ApiError;
use crate::store::Op;
use belfry_proto::api::ErrorCode;
use belfry_proto::settings::{self, SettingsWrite};
use std::sync::Arc;
use tokio::sync::watch;

/// Attempts at one settings edit before it waits for the next round.
const SETTINGS_ATTEMPTS: usize = 5;

enum Sent {
    Done,
    /// The network failed: stop and wait for the next connection.
    Later,
}

pub(super) async fn run(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = ctx.outbox_kick.notified() => {}
            _ = shutdown.changed() => return,
        }
        if *ctx.state.borrow() != ConnState::Connected {
            continue;
        }
        flush(&ctx).await;
    }
}

async fn flush(ctx: &Ctx) {
    loop {
        let Some(Some((id, op))) = ctx.report("reading the outbox", ctx.db(|s| s.peek()).await)
        else {
            return;
        };
        let settings_edit = matches!(op, Op::Settings { .. });
        match send(ctx, id, op).await {
            Sent::Done => {
                if ctx
                    .report("updating the outbox", ctx.db(move |s| s.pop(id)).await)
                    .is_none()
                {
                    return;
                }
                if settings_edit {
                    ctx.refresh_settings().await;
                }
            }
            Sent::Later => return,
        }
    }
}

/// Whether a refused call can never succeed (so the operation is dropped).
fn permanent(e: &ApiError) -> bool {
    matches!(e, ApiError::Refused { status, .. } if (400..500).contains(status) && *status != 429)
}

async fn send(ctx: &Ctx, id: i64, op: Op) -> Sent {
    let result = match &op {
        Op::MarkRead { ids } => ctx.api.mark_read(ids).await.map(|_| ()),
        Op::MarkAllRead { up_to_seq } => ctx.api.mark_all_read(*up_to_seq).await.map(|_| ()),
        Op::Settings { patch } => return send_settings(ctx, id, patch.clone()).await,
    };
    match result {
        Ok(()) => Sent::Done,
        Err(ApiError::Unauthorized) => {
            // The stream will see the same and report signed out; keep the op.
            Sent::Later
        }
        Err(e) if permanent(&e) => {
            tracing::warn!(error = %e, ?op, "the server refused a queued operation; dropping it");
            Sent::Done
        }
        Err(e) => {
            tracing::info!(error = %e, "outbox waits for the connection");
            Sent::Later
        }
    }
}

async fn send_settings(ctx: &Ctx, id: i64, mut patch: crate::patch::Patch) -> Sent {
    let mut server = match ctx.db(|s| s.settings()).await {
        Ok(Some(doc)) => doc,
        Ok(None) => match ctx.api.settings().await {
            Ok(doc) => doc,
            Err(_) => return Sent::Later,
        },
        Err(e) => {
            ctx.problem("reading settings", &e);
            return Sent::Later;
        }
    };
    for _ in 0..SETTINGS_ATTEMPTS {
        let merged = match patch.apply(&server.preferences) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "dropping an unusable settings edit");
                return settled(ctx, server).await;
            }
        };
        // Policy always wins: fields the current policy forbids go back now.
        let refused = settings::validate(&server.policy, &server.preferences, &merged);
        if !refused.is_empty() {
            patch.drop_paths(refused.iter().map(|f| f.path.as_str()));
            ctx.emit(CoreEvent::Refused { fields: refused });
            if patch.is_empty() {
                return settled(ctx, server).await;
            }
            let op = Op::Settings {
                patch: patch.clone(),
            };
            let replaced = ctx.db(move |s| s.replace(id, &op)).await;
            ctx.report("updating the outbox", replaced);
            continue;
        }
        let write = SettingsWrite {
            base_version: server.version,
            preferences: merged,
        };
        match ctx.api.put_settings(&write).await {
            Ok(doc) => return settled(ctx, doc).await,
            Err(ApiError::Refused { body, .. }) if body.error.code == ErrorCode::StaleVersion => {
                match body.current {
                    // Someone else changed the settings: re-base on theirs.
                    Some(current) => server = current,
                    None => return Sent::Later,
                }
            }
            Err(ApiError::Refused { body, .. })
                if body.error.code == ErrorCode::PolicyViolation =>
            {
                patch.drop_paths(body.error.fields.iter().map(|f| f.path.as_str()));
                ctx.emit(CoreEvent::Refused {
                    fields: body.error.fields.clone(),
                });
                if let Some(current) = body.current {
                    server = current;
                }
                if patch.is_empty() {
                    return settled(ctx, server).await;
                }
            }
            Err(e) if permanent(&e) => {
                tracing::warn!(error = %e, "the server refused a settings edit; dropping it");
                return settled(ctx, server).await;
            }
            Err(_) => return Sent::Later,
        }
    }
    Sent::Later
}

/// The edit is finished (saved or dropped): keep the server's document.
async fn settled(ctx: &Ctx, doc: belfry_proto::settings::SettingsDocument) -> Sent {
    let saved = ctx.db(move |s| s.set_settings(&doc)).await;
    ctx.report("saving settings", saved);
    // The caller pops the op and recomputes the effective settings.
    Sent::Done
}
