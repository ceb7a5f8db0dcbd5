//! Toasts on Windows and macOS through notify-rust's backends (WinRT toast
//! notifications; the macOS user notification center). Built only on those
//! platforms, so CI (Linux) does not compile it; what differs from Linux is
//! written down in `docs/platforms.md`:
//!
//! - no Open / Mark read buttons yet: notify-rust's Windows backend has no
//!   action callbacks and its macOS one blocks a thread per toast, so the
//!   toast is informational and the tray and inbox carry the actions;
//! - no replace or close per item: the platform keeps its own history, and
//!   the inbox is where reads show;
//! - no urgency: Windows and macOS have no equivalent of critical toasts
//!   that notify-rust exposes.

use super::{AppIdentity, text};
use belfry_core::router::{Toast, ToastKey};
use belfry_core::sinks::{OnToastEvent, SinkError};
use notify_rust::{Notification, Timeout};

/// What the platform backend can do.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caps {
    /// Action buttons with callbacks.
    pub actions: bool,
}

/// The notify-rust toaster.
pub(super) struct Native {
    app: AppIdentity,
    caps: Caps,
}

impl Native {
    pub fn connect(app: AppIdentity, _on_event: OnToastEvent) -> Result<Self, SinkError> {
        Ok(Self {
            app,
            caps: Caps { actions: false },
        })
    }

    /// What the backend can do.
    pub fn caps(&self) -> Caps {
        self.caps
    }

    pub async fn show(&self, toast: &Toast) -> Result<(), SinkError> {
        let (title, body) = text(toast);
        let app = self.app.clone();
        let timeout = if toast.timeout.is_zero() {
            // The status reminder stays until the operator acts.
            Timeout::Never
        } else {
            Timeout::Milliseconds(u32::try_from(toast.timeout.as_millis()).unwrap_or(u32::MAX))
        };
        // notify-rust's calls block (WinRT; the notification center): a
        // blocking thread makes them, not the app's runtime.
        tokio::task::spawn_blocking(move || {
            let mut n = Notification::new();
            n.appname(&app.name)
                .summary(&title)
                .body(&body)
                .icon(&app.icon)
                .timeout(timeout);
            n.show()
                .map(drop)
                .map_err(|e| SinkError(format!("notification service: {e}")))
        })
        .await
        .map_err(|e| {
            SinkError(format!(
                "notification service: the toast's thread failed: {e}"
            ))
        })?
    }

    pub async fn close(&self, _key: &ToastKey) -> Result<(), SinkError> {
        Ok(())
    }
}
