//! The reminder task: follows the operator's status and the settings, and
//! asks the router for the status reminder when it is due (see
//! [`crate::reminder`] for the schedule).

use super::Ctx;
use crate::reminder::{Next, Reminder};
use crate::router::Input;
use chrono::Utc;
use std::sync::Arc;
use tokio::sync::watch;

/// Longest single wait: the wall clock may jump (sleep, a clock change), so
/// a far-off reminder is re-planned now and then rather than slept to.
const REPLAN: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) async fn run(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    let mut status = ctx.status.subscribe();
    let mut settings = ctx.settings.subscribe();
    let mut reminder = Reminder::new();
    loop {
        let now = Utc::now();
        if reminder.status(status.borrow_and_update().as_ref(), now) {
            ctx.route(Input::ReminderOver);
        }
        let next = reminder.next(&settings.borrow_and_update().preferences);
        let wait = match next {
            Next::Idle => None,
            Next::At(due) if due <= now => {
                let minutes = reminder.shown(now);
                tracing::info!(minutes, "status reminder");
                ctx.route(Input::Reminder { minutes });
                continue;
            }
            Next::At(due) => Some((due - now).to_std().unwrap_or_default().min(REPLAN)),
        };
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {}
            r = status.changed() => if r.is_err() { return },
            r = settings.changed() => if r.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}
