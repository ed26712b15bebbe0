//! simulate, the binary: the command line, one module per command, the reference target
//! (`serve`), and everything that prints. The work is done by the workspace's crates:
//! simulate-core (the world, the engine, the timeline), simulate-db (seed, verify) and
//! simulate-replay (live load); docs/ARCHITECTURE.md maps them.

pub mod cli;
pub mod commands;
pub mod console;
pub mod exit;
pub mod report;
pub mod serve;
pub mod world;
