//! Belfry's wire protocol, version 1: everything a client and an instance
//! exchange, as serde types. `docs/protocol.md` is the prose form of this
//! crate; the reference instance and the client core both build on it, so the
//! two cannot drift apart.

pub mod api;
pub mod catalogue;
pub mod inbox;
pub mod settings;
pub mod stream;
pub mod text;

/// The protocol version this crate speaks. A server refuses a `hello` with
/// another major version (close code [`stream::close::INCOMPATIBLE`]).
pub const PROTOCOL_VERSION: u32 = 1;

/// REST paths live under this prefix.
pub const API_PREFIX: &str = "/api/v1";
