//! Integration tests: one binary, one module per concern.

mod cli;
mod common;
mod fuzz;
#[path = "../support/gift_app.rs"]
mod gift_app;
mod grpc;
mod metrics;
mod personas;
mod replay;
mod safety;
mod seed;
mod socketio;
mod span;
