//! Integration tests: one binary, one module per concern.

mod cli;
mod common;
#[path = "../support/gift_app.rs"]
mod gift_app;
mod grpc;
mod personas;
mod replay;
mod seed;
mod socketio;
