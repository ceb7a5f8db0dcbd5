//! Toasts. On Linux (and the BSDs) through the freedesktop notification
//! service on the session bus ([`freedesktop`]); on Windows (WinRT toasts)
//! and macOS (the user notification center) through notify-rust's
//! backends ([`native`]), built only on those platforms. Differences are
//! written down in `docs/platforms.md`.
//!
//! The text is always plain: where the service renders markup (the
//! `body-markup` capability; dunst's default format applies it to the
//! title too), `<`, `>` and `&` are escaped in the title and the body, so
//! that hostile text shows as typed. And no address in a toast's text can
//! become a link: daemons find URLs in the text themselves (dunst offers
//! them in its context menu, GNOME Shell underlines them), so each one is
//! broken where their patterns look ([`unlinked`]); the toast's own Open
//! goes to the item through the app, which opens only the instance's
//! origins.

use belfry_core::router::{Toast, ToastBody, ToastKey};
use belfry_core::sinks::{OnToastEvent, SinkError, SinkFuture, Toaster};
pub use belfry_proto::inbox::clip;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

#[cfg(all(unix, not(target_os = "macos")))]
mod freedesktop;
#[cfg(not(all(unix, not(target_os = "macos"))))]
mod native;

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
/// a toast lie about what it says: the set the window's rows and the
/// store's search leave out too ([`belfry_proto::text::HIDDEN`]).
pub fn sanitize(s: &str) -> String {
    belfry_proto::text::plain(s)
}

/// U+2060 WORD JOINER: invisible, and not a character of any URL pattern.
const JOINER: char = '\u{2060}';

/// Schemes a daemon turns into links without `//` after them.
const BARE_SCHEMES: &[&str] = &["mailto", "javascript", "data", "file", "tel", "sms", "news"];

/// The text with every address made unmatchable by the URL patterns of
/// notification daemons, and looking the same: a word joiner goes before
/// the `:` of a scheme (`https://`, any `scheme://`, `mailto:`,
/// `javascript:`, …) and after a `www` that starts a host. Written here:
/// no crate defangs text for display without changing what it shows.
pub fn unlinked(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    // Whether `chars[from..to]`, lower-cased, is `word` and starts a word.
    let word_at = |from: usize, to: usize, word: &str| {
        chars
            .get(from..to)
            .is_some_and(|w| w.iter().map(char::to_ascii_lowercase).eq(word.chars()))
            && (from == 0 || !chars[from - 1].is_alphanumeric())
    };
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let scheme = c == ':' && {
            let run = chars[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                .count();
            let slashes = chars.get(i + 1..i + 3) == Some(&['/', '/'][..]);
            (slashes && chars[i - run..i].iter().any(char::is_ascii_alphabetic))
                || BARE_SCHEMES
                    .iter()
                    .any(|b| i >= b.len() && word_at(i - b.len(), i, b))
        };
        let www = c == '.' && i >= 3 && word_at(i - 3, i, "www");
        if scheme || www {
            out.push(JOINER);
        }
        out.push(c);
    }
    out
}

/// The title and body a toast shows.
pub fn text(toast: &Toast) -> (String, String) {
    match &toast.body {
        ToastBody::Item(n) => (
            unlinked(&clip(&sanitize(&n.title), MAX_TITLE)),
            unlinked(&clip(&sanitize(&n.body), MAX_BODY)),
        ),
        ToastBody::Burst { count } => (
            "Belfry".to_owned(),
            format!("{count} more new notifications"),
        ),
        ToastBody::Away { count } => (
            "Belfry".to_owned(),
            format!("{count} new while you were away"),
        ),
        ToastBody::StatusReminder { minutes } => (
            "Still not ready?".to_owned(),
            format!(
                "You have been \"not ready\" for new chats for {minutes} {}.",
                if *minutes == 1 { "minute" } else { "minutes" }
            ),
        ),
    }
}

/// The action a click on the toast itself invokes (freedesktop "default").
pub const DEFAULT_ACTION: &str = "default";
/// The Open button.
pub const ACTION_OPEN: &str = "open";
/// The Mark read button.
pub const ACTION_READ: &str = "read";
/// The status reminder's Set ready button.
pub const ACTION_READY: &str = "ready";

/// Who the toasts come from.
#[derive(Debug, Clone)]
pub struct AppIdentity {
    /// The app name the desktop shows ("Belfry").
    pub name: String,
    /// An icon: a theme icon name or an absolute path to a PNG.
    pub icon: String,
    /// The desktop entry (`belfry` for `belfry.desktop`), so the desktop
    /// groups toasts under the app and applies its per-app settings.
    pub desktop_entry: String,
}

/// Shows toasts on the desktop.
pub struct DesktopToaster {
    #[cfg(all(unix, not(target_os = "macos")))]
    inner: freedesktop::Freedesktop,
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    inner: native::Native,
}

impl DesktopToaster {
    /// Connects to the notification service; fails when there is none (the
    /// caller reports it once and goes on with the inbox and sounds).
    /// What the user does with a toast goes to `on_event`.
    pub async fn connect(app: AppIdentity, on_event: OnToastEvent) -> Result<Self, SinkError> {
        #[cfg(all(unix, not(target_os = "macos")))]
        let inner = freedesktop::Freedesktop::connect(app, on_event).await?;
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let inner = native::Native::connect(app, on_event)?;
        Ok(Self { inner })
    }

    /// Whether the service shows action buttons (Open, Mark read).
    pub fn has_actions(&self) -> bool {
        self.inner.caps().actions
    }
}

/// Whether the service keeps toasts on screen until it closes them (see
/// [`Toaster::toasts_stay`]): a freedesktop service without a list of its
/// own. Windows and macOS move an expired banner to their notification
/// centre themselves.
#[cfg(all(unix, not(target_os = "macos")))]
fn toasts_stay(toaster: &DesktopToaster) -> bool {
    !toaster.inner.caps().persistence
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn toasts_stay(_: &DesktopToaster) -> bool {
    false
}

impl Toaster for DesktopToaster {
    fn show<'a>(&'a self, toast: &'a Toast) -> SinkFuture<'a> {
        Box::pin(self.inner.show(toast))
    }

    fn close<'a>(&'a self, key: &'a ToastKey) -> SinkFuture<'a> {
        Box::pin(self.inner.close(key))
    }

    fn toasts_stay(&self) -> bool {
        toasts_stay(self)
    }
}

/// How often [`Toasts`] looks for a notification service that was not there.
pub const RECONNECT_EVERY: Duration = Duration::from_secs(15);

/// The app's toaster: connects to the notification service when it can and
/// keeps looking when it cannot, so a daemon that starts after Belfry (a
/// login race) or restarts is picked up. While there is none, `show` fails;
/// the core reports that once and goes on with the inbox and sounds.
pub struct Toasts {
    app: AppIdentity,
    on_event: OnToastEvent,
    /// An async lock: a connection attempt is awaited while it is held.
    state: tokio::sync::Mutex<Connection>,
    /// The connected toaster again, behind a lock the router can take
    /// without waiting on a connection attempt: it asks what the service
    /// answering now does with toasts whose time is up, before each
    /// decision (the service can change hands, see `freedesktop`).
    current: std::sync::Mutex<Option<Arc<DesktopToaster>>>,
}

struct Connection {
    toaster: Option<Arc<DesktopToaster>>,
    tried: Option<Instant>,
    why: String,
}

impl Toasts {
    /// A toaster that connects on first use (see [`Toaster::ready`]).
    pub fn new(app: AppIdentity, on_event: OnToastEvent) -> Self {
        let state = Connection {
            toaster: None,
            tried: None,
            why: String::new(),
        };
        Self {
            app,
            on_event,
            state: tokio::sync::Mutex::new(state),
            current: std::sync::Mutex::new(None),
        }
    }

    /// The connected toaster, connecting first when it is time to try.
    async fn connected(&self) -> Result<Arc<DesktopToaster>, SinkError> {
        let mut state = self.state.lock().await;
        if state.toaster.is_none() && state.tried.is_none_or(|t| t.elapsed() >= RECONNECT_EVERY) {
            let retry = state.tried.replace(Instant::now()).is_some();
            match DesktopToaster::connect(self.app.clone(), Arc::clone(&self.on_event)).await {
                Ok(t) => {
                    if retry {
                        tracing::info!("a notification service appeared: toasts are back");
                    }
                    let t = Arc::new(t);
                    *self.current.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(Arc::clone(&t));
                    state.toaster = Some(t);
                }
                Err(e) => state.why = e.to_string(),
            }
        }
        match &state.toaster {
            Some(t) => Ok(Arc::clone(t)),
            None => Err(SinkError(state.why.clone())),
        }
    }
}

impl Toaster for Toasts {
    fn show<'a>(&'a self, toast: &'a Toast) -> SinkFuture<'a> {
        Box::pin(async move { self.connected().await?.show(toast).await })
    }

    fn close<'a>(&'a self, key: &'a ToastKey) -> SinkFuture<'a> {
        Box::pin(async move { self.connected().await?.close(key).await })
    }

    fn ready(&self) -> SinkFuture<'_> {
        Box::pin(async move { self.connected().await.map(drop) })
    }

    fn toasts_stay(&self) -> bool {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|t| t.toasts_stay())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_address_in_toast_text_can_become_a_link() {
        let j = JOINER;
        assert_eq!(
            unlinked("see https://evil.example/x and HTTP://a.b"),
            format!("see https{j}://evil.example/x and HTTP{j}://a.b")
        );
        assert_eq!(
            unlinked("mailto:a@b.c javascript:alert(1) x.file:///etc www.evil.example WWW.X"),
            format!(
                "mailto{j}:a@b.c javascript{j}:alert(1) x.file{j}:///etc www{j}.evil.example WWW{j}.X"
            )
        );
        assert_eq!(unlinked("a.www.b"), format!("a.www{j}.b"));
        // Plain text is left as it was: times, ratios, "Note:".
        for plain in [
            "Note: 12:30, ratio 3:1",
            "wwwx.y",
            "awww.b",
            "ticket #42: done",
            "",
        ] {
            assert_eq!(unlinked(plain), plain);
        }
        // Nothing visible changes.
        assert_eq!(
            unlinked("go to https://x.y now").replace(j, ""),
            "go to https://x.y now"
        );
    }

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
