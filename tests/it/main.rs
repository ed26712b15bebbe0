//! Integration tests: one binary, one module per concern.

mod cli;
mod common;
mod determinism;
mod grpc;
mod personas;
mod replay;
mod schema;
mod seed;
mod socketio;
mod statistics;
mod timeline;
