//! Whether the user is looking at the inbox: toasts for what the inbox
//! shows live would be noise, so the core holds them back while it is.

use crate::shell::Shell;
use std::sync::PoisonError;
use tauri::{AppHandle, Manager, Runtime};

/// The window's focus and which view it shows.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Focus {
    /// The window has the keyboard focus.
    pub(crate) window: bool,
    /// It shows something other than the inbox (Settings, the sign-in form).
    pub(crate) elsewhere: bool,
}

impl Focus {
    fn on_inbox(self) -> bool {
        self.window && !self.elsewhere
    }
}

/// Tells the core whether the inbox is in front of the user.
pub(crate) async fn follow_focus<R: Runtime>(app: &AppHandle<R>) {
    let shell = app.state::<Shell>();
    let on_inbox = shell
        .focus
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .on_inbox();
    if let Ok(s) = shell.session().await {
        s.engine.set_inbox_focused(on_inbox);
    }
}
