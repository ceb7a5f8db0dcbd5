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

/// How often the setting is read. Changing it is rare and a few seconds of
/// lag is invisible; signals would differ per desktop.
pub const POLL: Duration = Duration::from_secs(3);

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

    /// Reads every [`POLL`] on a thread of its own and calls `on_change`
    /// with the first reading and every change after it.
    pub fn watch(
        self,
        on_change: impl Fn(Option<String>) + Send + 'static,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("belfry-dnd".into())
            .spawn(move || {
                let mut last: Option<Option<String>> = None;
                loop {
                    let now = self.read();
                    if last.as_ref() != Some(&now) {
                        tracing::info!(quiet = ?now, "do-not-disturb");
                        on_change(now.clone());
                        last = Some(now);
                    }
                    std::thread::sleep(POLL);
                }
            })
    }
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
