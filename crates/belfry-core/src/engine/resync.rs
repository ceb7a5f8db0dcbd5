//! The REST resync: rebuilding the local inbox from the instance's inbox
//! pages when the stream cannot replay what was missed (the position is
//! older than the instance's log, or the store missed writes). Apart from
//! the stream's session, which calls it.

use super::Ctx;
use super::connection::{Outcome, api_outcome, checkpoint_if_due};
use crate::event::CoreEvent;
use crate::router::Input;
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::timeout;

/// Inbox pages a resync reads at most, of each kind (500 notifications a
/// page): an outage of 200,000 events is filled in whole.
const RESYNC_PAGES: usize = 400;

/// Rebuilds the local inbox from REST when the stream cannot replay: the
/// server's unread set, and the newest pages down to what is stored.
/// `announce`: the new items count toward the "while you were away" summary.
/// Returns the position the snapshot reflects: `server_seq`, or the inbox's
/// own when that is lower (a `server_seq` beyond what the inbox holds would
/// make the client skip events still to come); `None` when the local store
/// refused the snapshot.
pub(super) async fn resync(
    ctx: &Ctx,
    server_seq: u64,
    announce: bool,
    limit: Duration,
) -> Result<Option<u64>, Outcome> {
    tracing::info!(server_seq, "resync over REST");
    // Each page under the REST limit (a stalled network shows within it),
    // not the whole: an outage of 100,000 events takes many pages.
    let page = |unread: bool, cursor: Option<String>| async move {
        match timeout(limit, ctx.api.inbox(unread, cursor.as_deref(), 500)).await {
            Ok(r) => r.map_err(api_outcome),
            Err(_) => Err(Outcome::Lost {
                welcomed: true,
                offline: false,
                now: false,
                why: "the instance stopped answering REST calls".into(),
            }),
        }
    };
    let mut position = server_seq;
    let mut unread = HashSet::new();
    let mut complete = false;
    let mut cursor: Option<String> = None;
    for _ in 0..RESYNC_PAGES {
        let p = page(true, cursor.take()).await?;
        unread.extend(p.items.iter().map(|n| n.id.clone()));
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => {
                complete = true;
                break;
            }
        }
    }
    if !complete {
        tracing::warn!(
            unread = unread.len(),
            "more unread on the instance than a resync reads; local read states are left as they are"
        );
    }
    let (known, complete_to) = ctx
        .db(|s| {
            let known: HashSet<String> = s.all_ids()?.into_iter().map(|(_, id)| id).collect();
            Ok((known, s.last_seq()?))
        })
        .await
        .unwrap_or_default();
    let mut added = 0usize;
    let mut first = true;
    let mut cursor: Option<String> = None;
    // Newest pages first, down to the stored position (everything at or
    // below it is stored); each page is stored as it comes, and the
    // position moves only at the end. Not down to the first page already
    // stored: an earlier resync cut off mid-way leaves its newest pages
    // stored above a gap, and stopping at them would skip the gap for good
    // (the soak found it: 1,000 of 20,000 never stored).
    for _ in 0..RESYNC_PAGES {
        let p = page(false, cursor.take()).await?;
        if first && p.server_seq < position {
            tracing::warn!(
                named = server_seq,
                inbox = p.server_seq,
                "asked to resync to a position the inbox has not reached; using the inbox's"
            );
            position = p.server_seq;
        }
        first = false;
        let reached = p
            .items
            .iter()
            .any(|n| complete_to.is_some_and(|c| n.seq <= c));
        let mut fresh: Vec<_> = p
            .items
            .into_iter()
            .filter(|n| !known.contains(&n.id))
            .collect();
        fresh.sort_by_key(|n| n.seq);
        if !fresh.is_empty() {
            let new = match ctx.db(move |s| s.add_snapshot_page(&fresh)).await {
                Ok(new) => new,
                Err(e) => {
                    ctx.problem("storing the inbox", &e);
                    return Ok(None);
                }
            };
            added += new.len();
            if announce {
                for n in &new {
                    ctx.route(Input::Replayed(n.clone()));
                }
            }
            if !new.is_empty() {
                ctx.emit(CoreEvent::Added { items: new });
            }
        }
        match p.next_cursor {
            Some(c) if !reached => cursor = Some(c),
            _ => break,
        }
    }
    let server_unread = complete.then_some(unread);
    let finished = ctx
        .db(move |s| s.finish_snapshot(server_unread.as_ref(), position))
        .await;
    match finished {
        Ok(read) => {
            if !read.is_empty() {
                ctx.route(Input::Read(read.clone()));
                ctx.emit(CoreEvent::Read { ids: read });
            }
            if let Ok(u) = ctx.db(|st| st.unread()).await {
                ctx.emit(CoreEvent::Unread(u));
            }
            checkpoint_if_due(ctx).await;
        }
        Err(e) => {
            ctx.problem("storing the inbox", &e);
            return Ok(None);
        }
    }
    ctx.resolved("storing the inbox");
    tracing::debug!(added, position, "resync done");
    Ok(Some(position))
}
