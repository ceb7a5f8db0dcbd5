//! Belfry's OS sinks: toasts through the desktop's notification service
//! (notify-rust: freedesktop D-Bus on Linux, its own backends on Windows
//! and macOS) and melodies through the audio output (rodio).

pub mod melody;
pub mod player;
pub mod toast;
