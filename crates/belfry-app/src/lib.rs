//! What the `belfry` binary does before (or instead of) opening a window:
//! parse the command line, set up logging, and run the headless mode (with
//! its tray icon where the panel shows StatusNotifierItems), and the update
//! checks both trays share.

pub mod cli;
pub mod demo;
pub mod front;
pub mod glance;
pub mod hand_over;
pub mod headless;
pub mod logging;
pub mod menu;
pub mod session;
pub mod start_at_login;
/// The headless tray is a StatusNotifierItem: Linux and the BSDs.
#[cfg(all(unix, not(target_os = "macos")))]
pub mod tray;
pub mod updates;
