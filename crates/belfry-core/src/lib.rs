//! Belfry's headless client engine: the connection to the instance, the
//! local store, preference sync with an offline outbox, and the delivery
//! router. No GUI: the Tauri shell and the headless mode both drive it.

pub mod backoff;
pub mod clock;
pub mod config;
pub mod engine;
pub mod event;
pub mod links;
pub mod managed;
pub mod net;
pub mod patch;
pub mod reminder;
pub mod router;
pub mod secret;
pub mod sinks;
pub mod store;
