//! The delivery task: runs the router on every input and when its next
//! repeat is due, and hands each action to the channel it names (see
//! [`super::channels`]), so a slow notification daemon or a stuck audio
//! device never holds up the stream.

use super::channels::{self, Channel};
use super::{Ctx, LocalState};
use crate::router::{Input, Router};
use crate::sinks::Sinks;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

pub(super) async fn run(
    ctx: Arc<Ctx>,
    mut inputs: mpsc::UnboundedReceiver<Input>,
    mut local: watch::Receiver<LocalState>,
    sinks: Sinks,
    mut shutdown: watch::Receiver<bool>,
) {
    // The router counts toasts on screen its own way for a notification
    // service that keeps them (`Local::toasts_stay`): it asks the toaster.
    let toaster = Arc::clone(&sinks.toaster);
    let channels: Vec<Box<dyn Channel>> = channels::register(&ctx, sinks);
    let mut router = Router::new();
    loop {
        // Asleep until an input or the next repeat: an idle app does not
        // wake up (it was a tick every second). Repeats wait while the OS
        // is quiet, so then only a change of the local state re-plans.
        let due = match local.borrow().os_quiet {
            Some(_) => None,
            None => router.next_due(),
        };
        let repeat = async {
            match due {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let input = tokio::select! {
            i = inputs.recv() => match i {
                Some(i) => i,
                None => break,
            },
            () = repeat => Input::Tick,
            r = local.changed() => match r {
                Ok(()) => continue,
                // The engine is gone: so is everything this served.
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let mut now = local.borrow().at(chrono::Utc::now());
        now.toasts_stay = toaster.toasts_stay();
        // Read in place, not cloned per input (a burst is thousands): the
        // router is synchronous, so the watch is held only while it decides.
        let actions = router.handle(input, Instant::now(), &ctx.settings.borrow(), now);
        for action in actions {
            match channels.iter().find(|c| c.id() == action.channel()) {
                Some(channel) => channel.deliver(action),
                None => tracing::debug!(channel = action.channel(), "no such channel here"),
            }
        }
    }
    for channel in channels {
        channel.finish().await;
    }
}
