//! The protocol drivers: how a mapped request goes on the wire.

pub mod grpc;
pub mod http;
pub mod socketio;
