//! Belfry's OS sinks: toasts through the desktop's notification service
//! (freedesktop D-Bus on Linux; notify-rust's backends on Windows and
//! macOS), melodies through the audio output (rodio), the token in the OS
//! secret store, the OS's do-not-disturb, links and start at login.

pub mod autostart;
pub mod browser;
pub mod melody;
pub mod memory;
pub mod menu;
pub mod player;
pub mod quiet;
pub mod secrets;
/// One Belfry per session, on the session bus.
#[cfg(all(unix, not(target_os = "macos")))]
pub mod single_instance;
pub mod sounds;
pub mod toast;
/// The tray icon as a StatusNotifierItem on the session bus.
#[cfg(all(unix, not(target_os = "macos")))]
pub mod tray;

use belfry_core::router::{Toast, ToastKey};
use belfry_core::sinks::{Player, SinkError, SinkFuture, Sound, Toaster};

/// The sink used when the real one is unavailable (no notification service,
/// no audio thread): it drops what it is given, so the inbox goes on alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Toaster for Quiet {
    fn show<'a>(&'a self, toast: &'a Toast) -> SinkFuture<'a> {
        tracing::debug!(key = ?toast.key, "toast dropped: no notification service");
        Box::pin(std::future::ready(Ok(())))
    }

    fn close<'a>(&'a self, _key: &'a ToastKey) -> SinkFuture<'a> {
        Box::pin(std::future::ready(Ok(())))
    }
}

impl Player for Quiet {
    fn play(&self, sound: &Sound) -> Result<(), SinkError> {
        tracing::debug!(melody = sound.melody, "melody dropped: no audio");
        Ok(())
    }
}
