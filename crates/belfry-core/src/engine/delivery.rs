//! The delivery task: runs the router on every input and on a one-second
//! tick, and hands its actions to the sink workers through bounded queues,
//! so a slow notification daemon or a stuck audio device never holds up the
//! stream.

use super::{Ctx, LocalState};
use crate::router::{Action, Input, Router, Toast, ToastBody, ToastKey};
use crate::sinks::{Player, Sinks, Sound, Toaster};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Toast jobs waiting for the daemon. The router keeps what is on screen
/// small, so this fills only when the daemon stalls.
const TOAST_QUEUE: usize = 64;

/// A toast taken from the queue sooner than this after the router decided
/// on it is shown without asking the store whether it was read meanwhile:
/// a read that came after the decision queues a close behind it anyway.
/// The check (a store query, a tenth of the path to the daemon) is for
/// toasts that waited on a slow daemon, so they never flash up read.
const FRESH: Duration = Duration::from_millis(50);

enum ToastJob {
    /// A toast, and when the router decided on it.
    Show(Toast, Instant),
    Close(ToastKey),
}

pub(super) async fn run(
    ctx: Arc<Ctx>,
    mut inputs: mpsc::UnboundedReceiver<Input>,
    local: watch::Receiver<LocalState>,
    sinks: Sinks,
    mut shutdown: watch::Receiver<bool>,
) {
    let (toast_tx, toast_rx) = mpsc::channel(TOAST_QUEUE);
    // One melody at a time: a new one waits in a slot of one, or is dropped.
    let (sound_tx, sound_rx) = mpsc::channel(1);
    let toasts = tokio::spawn(toast_worker(Arc::clone(&ctx), sinks.toaster, toast_rx));
    let sounds = tokio::spawn(sound_worker(Arc::clone(&ctx), sinks.player, sound_rx));
    let mut router = Router::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let input = tokio::select! {
            i = inputs.recv() => match i {
                Some(i) => i,
                None => break,
            },
            _ = tick.tick() => Input::Tick,
            _ = shutdown.changed() => break,
        };
        let doc = ctx.settings.borrow().clone();
        let now = local.borrow().at(chrono::Utc::now());
        let actions = router.handle(input, Instant::now(), &doc, now);
        for action in actions {
            match action {
                Action::Toast(t) => {
                    if toast_tx
                        .try_send(ToastJob::Show(t, Instant::now()))
                        .is_err()
                    {
                        tracing::debug!("toast queue full; the daemon is behind");
                    }
                }
                Action::Close(k) => {
                    let _ = toast_tx.try_send(ToastJob::Close(k));
                }
                Action::Play(sound) => {
                    let _ = sound_tx.try_send(sound);
                }
            }
        }
    }
    drop(toast_tx);
    drop(sound_tx);
    let _ = toasts.await;
    let _ = sounds.await;
}

/// Reports a sink failure once until it works again.
struct Health {
    what: &'static str,
    failing: bool,
}

impl Health {
    fn report(&mut self, ctx: &Ctx, result: Result<(), crate::sinks::SinkError>) {
        match result {
            Ok(()) => {
                if self.failing {
                    tracing::info!("{} works again", self.what);
                }
                self.failing = false;
            }
            Err(e) if !self.failing => {
                self.failing = true;
                ctx.problem(self.what, &e);
            }
            Err(_) => {}
        }
    }
}

async fn toast_worker(
    ctx: Arc<Ctx>,
    toaster: Arc<dyn Toaster>,
    mut jobs: mpsc::Receiver<ToastJob>,
) {
    let mut health = Health {
        what: "showing notifications",
        failing: false,
    };
    let ready = Arc::clone(&toaster);
    if let Ok(r) = tokio::task::spawn_blocking(move || ready.ready()).await {
        health.report(&ctx, r);
    }
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = jobs.try_recv() {
            batch.push(more);
        }
        for job in coalesce(batch) {
            let toaster = Arc::clone(&toaster);
            let store = ctx.store.clone();
            let result = tokio::task::spawn_blocking(move || match job {
                ToastJob::Show(t, decided) => {
                    // Read elsewhere while waiting for the daemon: show nothing.
                    if let ToastBody::Item(n) = &t.body
                        && decided.elapsed() >= FRESH
                        && store.is_read(&n.id).unwrap_or(false)
                    {
                        return Ok(());
                    }
                    toaster.show(&t)
                }
                ToastJob::Close(k) => toaster.close(&k),
            })
            .await;
            match result {
                Ok(r) => health.report(&ctx, r),
                Err(e) => tracing::warn!(error = %e, "toast worker task failed"),
            }
        }
    }
}

/// Keeps the last job per toast key: a burst that queued while the daemon
/// was slow shows each item once, in its newest state.
fn coalesce(batch: Vec<ToastJob>) -> Vec<ToastJob> {
    let mut seen = HashSet::new();
    let mut out: Vec<ToastJob> = batch
        .into_iter()
        .rev()
        .filter(|job| {
            let key = match job {
                ToastJob::Show(t, _) => t.key.clone(),
                ToastJob::Close(k) => k.clone(),
            };
            seen.insert(key)
        })
        .collect();
    out.reverse();
    out
}

async fn sound_worker(ctx: Arc<Ctx>, player: Arc<dyn Player>, mut sounds: mpsc::Receiver<Sound>) {
    let mut health = Health {
        what: "playing sounds",
        failing: false,
    };
    while let Some(sound) = sounds.recv().await {
        let player = Arc::clone(&player);
        match tokio::task::spawn_blocking(move || player.play(&sound)).await {
            Ok(r) => health.report(&ctx, r),
            Err(e) => tracing::warn!(error = %e, "sound worker task failed"),
        }
    }
}
