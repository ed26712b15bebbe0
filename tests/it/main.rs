//! Integration tests: one binary, one module per concern.

mod capacity;
mod cli;
mod common;
mod compare;
mod concurrency;
mod deploy;
mod examples;
mod figures;
mod flows;
mod fuzz;
#[path = "../support/gift_app.rs"]
mod gift_app;
mod grpc;
mod hooks;
mod live_metrics;
mod load;
mod mapping_checks;
mod metrics;
mod ordering;
mod personas;
mod phases;
mod pools;
mod probes;
mod replay;
mod report;
mod safety;
mod seed;
mod seed_into;
mod serve;
mod shards;
mod socketio;
mod span;
mod team_entities;
mod verdicts;
mod websocket;
mod world;
