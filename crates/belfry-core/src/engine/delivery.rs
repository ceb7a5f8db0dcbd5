//! The delivery task: runs the router on every input and when its next
//! repeat is due, and hands its actions to the sink workers through bounded
//! queues, so a slow notification daemon or a stuck audio device never
//! holds up the stream.

use super::{Ctx, LocalState};
use crate::router::{Action, Input, Router, Toast, ToastBody, ToastKey};
use crate::sinks::{Player, Sinks, Sound, Toaster};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};

/// Toast jobs waiting for the daemon, at most one per toast key. The router
/// keeps what is on screen small, so this fills only when the daemon stalls.
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

impl ToastJob {
    fn key(&self) -> &ToastKey {
        match self {
            ToastJob::Show(t, _) => &t.key,
            ToastJob::Close(k) => k,
        }
    }
}

/// The jobs waiting for the toast worker. A newer job for a key replaces
/// the waiting one (a burst on one ticket shows that ticket once, in its
/// newest state), so a burst takes one place per ticket or chat and the
/// breach behind it is not dropped for lack of room. A plain bounded
/// channel cannot replace what it holds, hence this.
#[derive(Default)]
struct Jobs {
    queue: Mutex<VecDeque<ToastJob>>,
    ready: Notify,
    closed: AtomicBool,
}

impl Jobs {
    fn push(&self, job: ToastJob) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        q.retain(|j| j.key() != job.key());
        if q.len() >= TOAST_QUEUE
            && let Some(oldest) = q.iter().position(|j| matches!(j, ToastJob::Show(..)))
        {
            q.remove(oldest);
            tracing::debug!(
                "toast queue full; the daemon is behind; the oldest waiting toast dropped"
            );
        }
        q.push_back(job);
        drop(q);
        self.ready.notify_one();
    }

    /// Everything waiting, oldest first; `None` once closed and empty.
    async fn take(&self) -> Option<Vec<ToastJob>> {
        loop {
            {
                let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if !q.is_empty() {
                    return Some(q.drain(..).collect());
                }
                if self.closed.load(Ordering::SeqCst) {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.ready.notify_one();
    }
}

pub(super) async fn run(
    ctx: Arc<Ctx>,
    mut inputs: mpsc::UnboundedReceiver<Input>,
    mut local: watch::Receiver<LocalState>,
    sinks: Sinks,
    mut shutdown: watch::Receiver<bool>,
) {
    let jobs = Arc::new(Jobs::default());
    let toaster = Arc::clone(&sinks.toaster);
    // One melody at a time: a new one waits in a slot of one, or is dropped.
    let (sound_tx, sound_rx) = mpsc::channel(1);
    let toasts = tokio::spawn(toast_worker(
        Arc::clone(&ctx),
        sinks.toaster,
        Arc::clone(&jobs),
    ));
    let sounds = tokio::spawn(sound_worker(Arc::clone(&ctx), sinks.player, sound_rx));
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
            match action {
                Action::Toast(t) => jobs.push(ToastJob::Show(t, Instant::now())),
                Action::Close(k) => jobs.push(ToastJob::Close(k)),
                Action::Play(sound) => {
                    let _ = sound_tx.try_send(sound);
                }
            }
        }
    }
    jobs.close();
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
                    ctx.resolved(self.what);
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

async fn toast_worker(ctx: Arc<Ctx>, toaster: Arc<dyn Toaster>, jobs: Arc<Jobs>) {
    let mut health = Health {
        what: "showing notifications",
        failing: false,
    };
    health.report(&ctx, toaster.ready().await);
    while let Some(batch) = jobs.take().await {
        for job in batch {
            let result = match job {
                ToastJob::Show(t, decided) => {
                    // Read elsewhere while waiting for the daemon: show nothing.
                    if let ToastBody::Item(n) = &t.body
                        && decided.elapsed() >= FRESH
                        && read_meanwhile(&ctx, &n.id).await
                    {
                        continue;
                    }
                    toaster.show(&t).await
                }
                ToastJob::Close(k) => toaster.close(&k).await,
            };
            health.report(&ctx, result);
        }
    }
}

/// Whether the item was read since; a store query, so on a blocking thread.
async fn read_meanwhile(ctx: &Ctx, id: &str) -> bool {
    let store = ctx.store.clone();
    let id = id.to_owned();
    tokio::task::spawn_blocking(move || store.is_read(&id).unwrap_or(false))
        .await
        .unwrap_or(false)
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
