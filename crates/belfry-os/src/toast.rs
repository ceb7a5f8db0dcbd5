//! Toasts through notify-rust. On Linux that is the freedesktop
//! notification service on the session bus; notify-rust's Windows (WinRT
//! toast) and macOS (NSUserNotification) backends take the same calls, with
//! differences written down in `docs/platforms.md`.
//!
//! The text is always plain: where the server renders markup in bodies
//! (the `body-markup` capability), `<`, `>` and `&` are escaped so that a
//! hostile title or body shows as typed.

use belfry_core::router::{Toast, ToastBody, ToastKey, Urgency};
use belfry_core::sinks::{SinkError, Toaster};
pub use belfry_proto::inbox::clip;
use notify_rust::{Notification, Timeout};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Longest toast title, in characters.
pub const MAX_TITLE: usize = 100;
/// Longest toast body, in characters.
pub const MAX_BODY: usize = 300;

/// Escapes the three characters freedesktop body markup gives meaning to.
pub fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Removes control, bidi-override and zero-width characters that would make
/// a toast lie about what it says.
pub fn sanitize(s: &str) -> String {
    let hidden = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    s.chars().filter(|c| !hidden(*c)).collect()
}

/// The title and body a toast shows.
pub fn text(toast: &Toast) -> (String, String) {
    match &toast.body {
        ToastBody::Item(n) => (
            clip(&sanitize(&n.title), MAX_TITLE),
            clip(&sanitize(&n.body), MAX_BODY),
        ),
        ToastBody::Burst { count } => (
            "Belfry".to_owned(),
            format!("{count} more new notifications"),
        ),
        ToastBody::Away { count } => (
            "Belfry".to_owned(),
            format!("{count} new while you were away"),
        ),
    }
}

/// Shows toasts on the desktop.
pub struct DesktopToaster {
    app_name: String,
    icon: Option<String>,
    markup: bool,
    #[cfg(all(unix, not(target_os = "macos")))]
    shown: Mutex<HashMap<ToastKey, notify_rust::NotificationHandle>>,
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    shown: Mutex<HashMap<ToastKey, ()>>,
}

impl DesktopToaster {
    /// Connects to the notification service; fails when there is none (the
    /// caller reports it and goes on with the inbox and sounds).
    pub fn connect(app_name: &str, icon: Option<String>) -> Result<Self, SinkError> {
        #[cfg(all(unix, not(target_os = "macos")))]
        let markup = notify_rust::get_capabilities()
            .map_err(|e| SinkError(format!("no notification service: {e}")))?
            .iter()
            .any(|c| c == "body-markup");
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let markup = false;
        Ok(Self {
            app_name: app_name.to_owned(),
            icon,
            markup,
            shown: Mutex::new(HashMap::new()),
        })
    }
}

impl Toaster for DesktopToaster {
    fn show(&self, toast: &Toast) -> Result<(), SinkError> {
        let (title, body) = text(toast);
        let body = if self.markup {
            escape_markup(&body)
        } else {
            body
        };
        let mut n = Notification::new();
        n.appname(&self.app_name).summary(&title).body(&body);
        if let Some(icon) = &self.icon {
            n.icon(icon);
        }
        n.timeout(Timeout::Milliseconds(
            u32::try_from(toast.timeout.as_millis()).unwrap_or(u32::MAX),
        ));
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            n.urgency(match toast.urgency {
                Urgency::Critical => notify_rust::Urgency::Critical,
                Urgency::Normal => notify_rust::Urgency::Normal,
            });
            // Belfry plays its own melody; ask the server for silence.
            n.hint(notify_rust::Hint::SuppressSound(true));
            n.hint(notify_rust::Hint::Category("im.received".into()));
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = Urgency::Normal;
        #[cfg(all(unix, not(target_os = "macos")))]
        if let Some(previous) = self
            .shown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&toast.key)
        {
            // Same ticket or chat: replace its toast instead of stacking another.
            n.id(previous.id());
        }
        let handle = n
            .show()
            .map_err(|e| SinkError(format!("notification service: {e}")))?;
        #[cfg(all(unix, not(target_os = "macos")))]
        self.shown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(toast.key.clone(), handle);
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = handle;
        Ok(())
    }

    fn close(&self, key: &ToastKey) -> Result<(), SinkError> {
        let handle = self
            .shown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        #[cfg(all(unix, not(target_os = "macos")))]
        if let Some(h) = handle {
            h.close();
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = handle;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_made_plain() {
        assert_eq!(
            escape_markup("<b>x</b> & <img src=x onerror=alert(1)>"),
            "&lt;b&gt;x&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(sanitize("pay\u{202E}gnp.exe\u{200B}"), "paygnp.exe");
        assert_eq!(clip(&"x".repeat(500), MAX_BODY).chars().count(), MAX_BODY);
    }
}
