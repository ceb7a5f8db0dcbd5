//! What the `belfry` binary does before (or instead of) opening a window:
//! parse the command line, set up logging, and run the headless mode.

pub mod cli;
pub mod demo;
pub mod headless;
pub mod logging;
pub mod session;
