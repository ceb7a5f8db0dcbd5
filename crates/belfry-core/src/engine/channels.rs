//! The delivery channels on this computer, one type each behind one trait
//! ([`Channel`]), registered in one place ([`register`]): the banner
//! (toasts, through the OS's [`Toaster`]) and the sound (melodies, through
//! its [`Player`]). Each works in a task of its own behind a queue, so a
//! slow notification daemon or a stuck audio device never holds up the
//! router or the other channel. The bell is the inbox (the store); the
//! browser and bot channels are the instance's to deliver.
//!
//! A new channel: its id in the catalogue (`belfry-proto`), its field in
//! the router's `Wanted` and the `Action` it takes (`router.rs`), a type
//! here implementing [`Channel`], and a line in [`register`].

use super::Ctx;
use crate::router::{Action, Toast, ToastBody, ToastKey};
use crate::sinks::{Player, Sinks, Sound, Toaster};
use belfry_proto::catalogue::{BANNER, SOUND};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// A channel's wind-down, awaited when the engine stops.
pub(super) type Finishing = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A delivery channel on this computer.
pub(super) trait Channel: Send + Sync {
    /// The catalogue's channel id; the router's [`Action::channel`] names it.
    fn id(&self) -> &'static str;
    /// Takes an action the router decided for this channel. Never waits:
    /// the channel's own task carries it out.
    fn deliver(&self, action: Action);
    /// Stops taking actions; resolves when what it holds is done.
    fn finish(self: Box<Self>) -> Finishing;
}

/// The channels the router's actions go to, made from the OS's sinks.
pub(super) fn register(ctx: &Arc<Ctx>, sinks: Sinks) -> Vec<Box<dyn Channel>> {
    vec![
        Box::new(Banner::start(ctx, sinks.toaster)),
        Box::new(SoundChannel::start(ctx, sinks.player)),
    ]
}

/// The banner channel: toasts, at most one waiting job per toast key.
struct Banner {
    jobs: Arc<Jobs>,
    worker: JoinHandle<()>,
}

impl Banner {
    fn start(ctx: &Arc<Ctx>, toaster: Arc<dyn Toaster>) -> Self {
        let jobs = Arc::new(Jobs::default());
        let worker = tokio::spawn(toast_worker(Arc::clone(ctx), toaster, Arc::clone(&jobs)));
        Self { jobs, worker }
    }
}

impl Channel for Banner {
    fn id(&self) -> &'static str {
        BANNER
    }

    fn deliver(&self, action: Action) {
        match action {
            Action::Toast(t) => self.jobs.push(ToastJob::Show(t, Instant::now())),
            Action::Close(k) => self.jobs.push(ToastJob::Close(k)),
            Action::Play(_) => tracing::debug!("a melody sent to the banner channel"),
        }
    }

    fn finish(self: Box<Self>) -> Finishing {
        self.jobs.close();
        Box::pin(async move {
            let _ = self.worker.await;
        })
    }
}

/// The sound channel: one melody at a time; a new one waits in a slot of
/// one, or is dropped.
struct SoundChannel {
    sounds: Mutex<Option<mpsc::Sender<Sound>>>,
    worker: JoinHandle<()>,
}

impl SoundChannel {
    fn start(ctx: &Arc<Ctx>, player: Arc<dyn Player>) -> Self {
        let (tx, rx) = mpsc::channel(1);
        let worker = tokio::spawn(sound_worker(Arc::clone(ctx), player, rx));
        Self {
            sounds: Mutex::new(Some(tx)),
            worker,
        }
    }
}

impl Channel for SoundChannel {
    fn id(&self) -> &'static str {
        SOUND
    }

    fn deliver(&self, action: Action) {
        let Action::Play(sound) = action else {
            tracing::debug!("a toast sent to the sound channel");
            return;
        };
        if let Some(tx) = self
            .sounds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            let _ = tx.try_send(sound);
        }
    }

    fn finish(self: Box<Self>) -> Finishing {
        // Closing the queue ends the worker once the melody in it played.
        self.sounds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Box::pin(async move {
            let _ = self.worker.await;
        })
    }
}

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
