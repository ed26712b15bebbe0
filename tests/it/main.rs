//! Integration tests: one binary, one module per concern.

mod cli;
mod common;
mod determinism;
mod fuzz;
#[path = "../support/gift_app.rs"]
mod gift_app;
mod grpc;
mod personas;
mod replay;
mod safety;
mod schema;
mod seed;
mod socketio;
mod statistics;
mod timeline;
