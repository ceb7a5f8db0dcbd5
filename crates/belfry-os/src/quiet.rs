//! The operating system's own do-not-disturb, read where it can be: while
//! it is on, the core holds back toasts and sounds (the inbox still fills)
//! and the tray says why it is quiet.
//!
//! - GNOME: `org.gnome.desktop.notifications show-banners` is false
//!   (read with `gsettings`, which knows the desktop's settings backend).
//! - dunst: its `paused` property (`dunstctl set-paused true`).
//! - KDE Plasma and other services with the `Inhibited` property.
//! - Windows Focus Assist and macOS Focus are not read: Windows offers no
//!   public API for Focus Assist, and macOS shares Focus only with apps
//!   holding the Focus Status entitlement. There the OS itself hides or
//!   queues toasts; Belfry's melodies still play. See `docs/platforms.md`.

use std::time::Duration;

/// How often the setting is read without a signal saying it changed: a
/// safety net for a desktop that changes it silently, rare enough that an
/// idle app stays asleep (a read every 3 s was a third of its wake-ups).
pub const POLL: Duration = Duration::from_secs(60);

/// The signals after which the settings are read again: the notification
/// service's properties changed (dunst's `paused`, KDE's `Inhibited`), or
/// the service changed hands (a daemon restarted).
#[cfg(all(unix, not(target_os = "macos")))]
const RULES: [&str; 2] = [
    "type='signal',path='/org/freedesktop/Notifications',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'",
    "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.freedesktop.Notifications'",
];

/// On GNOME: dconf's signal for a written setting (gsettings' backend).
#[cfg(all(unix, not(target_os = "macos")))]
const DCONF_RULE: &str = "type='signal',interface='ca.desrt.dconf.Writer',member='Notify'";

/// Reads the do-not-disturb settings of this desktop.
pub struct DoNotDisturb {
    #[cfg(all(unix, not(target_os = "macos")))]
    bus: Option<zbus::Connection>,
    #[cfg(all(unix, not(target_os = "macos")))]
    gnome: bool,
}

impl DoNotDisturb {
    /// Reads what this session's desktop (`XDG_CURRENT_DESKTOP`) has.
    pub fn new() -> Self {
        Self::for_desktop(&std::env::var("XDG_CURRENT_DESKTOP").unwrap_or_default())
    }

    /// Reads what `desktop` (an `XDG_CURRENT_DESKTOP` value, such as
    /// `ubuntu:GNOME`) has; what is missing is simply not read.
    pub fn for_desktop(desktop: &str) -> Self {
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            let bus = zbus::block_on(zbus::Connection::session())
                .inspect_err(|e| tracing::debug!(error = %e, "do-not-disturb: no session bus"))
                .ok();
            let gnome = desktop.split(':').any(|d| d.eq_ignore_ascii_case("GNOME"));
            Self { bus, gnome }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        {
            let _ = desktop;
            Self {}
        }
    }

    /// The setting that is on, for people ("dunst is paused"), or `None`.
    pub fn read(&self) -> Option<String> {
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            if self.gnome && gnome_banners_off() {
                return Some("GNOME's Do Not Disturb is on".into());
            }
            if let Some(bus) = &self.bus {
                if property(bus, "org.dunstproject.cmd0", "paused") == Some(true) {
                    return Some("dunst is paused".into());
                }
                if property(bus, "org.freedesktop.Notifications", "Inhibited") == Some(true) {
                    return Some("the desktop's Do Not Disturb is on".into());
                }
            }
            None
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        None
    }

    /// Reads when the session bus signals a change (and every [`POLL`] in
    /// any case), and calls `on_change` with the first reading and every
    /// change after it. A task on the current Tokio runtime (it panics
    /// outside one); the reads, which block on the bus (and on
    /// `gsettings` on GNOME), run on the runtime's blocking threads. It
    /// was two threads of its own, each with its stack and allocator
    /// cache, for one reading a minute.
    pub fn watch(
        self,
        on_change: impl Fn(Option<String>) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let dnd = std::sync::Arc::new(self);
        tokio::spawn(async move {
            let mut signals = signals(&dnd).await;
            let mut last: Option<Option<String>> = None;
            loop {
                let reader = std::sync::Arc::clone(&dnd);
                let Ok(now) = tokio::task::spawn_blocking(move || reader.read()).await else {
                    return;
                };
                if last.as_ref() != Some(&now) {
                    tracing::info!(quiet = ?now, "do-not-disturb");
                    on_change(now.clone());
                    last = Some(now);
                }
                next_change(&mut signals).await;
            }
        })
    }
}

/// The signals after which the settings may read differently, merged;
/// `None` where there are none to listen to.
#[cfg(all(unix, not(target_os = "macos")))]
type Signals = Option<futures_util::stream::SelectAll<zbus::MessageStream>>;
#[cfg(not(all(unix, not(target_os = "macos"))))]
type Signals = ();

#[cfg(all(unix, not(target_os = "macos")))]
async fn signals(dnd: &DoNotDisturb) -> Signals {
    let bus = dnd.bus.as_ref()?;
    let mut streams = Vec::new();
    let dconf = dnd.gnome.then_some(DCONF_RULE);
    for rule in RULES.into_iter().chain(dconf) {
        match zbus::MessageStream::for_match_rule(rule, bus, None).await {
            Ok(s) => streams.push(s),
            Err(e) => {
                tracing::debug!(error = %e, rule, "do-not-disturb: no signal; read now and then")
            }
        }
    }
    (!streams.is_empty()).then(|| futures_util::stream::select_all(streams))
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
async fn signals(_: &DoNotDisturb) -> Signals {}

/// Waits for a signal (one wake for a run of them) or [`POLL`].
#[cfg(all(unix, not(target_os = "macos")))]
async fn next_change(signals: &mut Signals) {
    use futures_util::{FutureExt as _, StreamExt as _};
    let Some(any) = signals else {
        tokio::time::sleep(POLL).await;
        return;
    };
    tokio::select! {
        signal = any.next() => match signal {
            Some(_) => while let Some(Some(_)) = any.next().now_or_never() {},
            // The bus is gone: read now and then from here on.
            None => *signals = None,
        },
        () = tokio::time::sleep(POLL) => {}
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
async fn next_change(_: &mut Signals) {
    tokio::time::sleep(POLL).await;
}

impl Default for DoNotDisturb {
    fn default() -> Self {
        Self::new()
    }
}

/// A boolean D-Bus property of the notification service, if it has it.
#[cfg(all(unix, not(target_os = "macos")))]
fn property(bus: &zbus::Connection, interface: &str, name: &str) -> Option<bool> {
    let reply = zbus::block_on(bus.call_method(
        Some("org.freedesktop.Notifications"),
        "/org/freedesktop/Notifications",
        Some("org.freedesktop.DBus.Properties"),
        "Get",
        &(interface, name),
    ))
    .ok()?;
    let value: zbus::OwnedVariant = reply.body().deserialize().ok()?;
    bool::try_from(value).ok()
}

/// GNOME turns banners off for Do Not Disturb.
#[cfg(all(unix, not(target_os = "macos")))]
fn gnome_banners_off() -> bool {
    std::process::Command::new("gsettings")
        .args(["get", "org.gnome.desktop.notifications", "show-banners"])
        .stderr(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "false")
}
