#!/usr/bin/env bash
# rustc for the workspace's own crates with clippy's lints, warnings denied: scripts/test.sh
# sets it as RUSTC_WORKSPACE_WRAPPER so the test build and the lints share one compile
# (a separate `cargo clippy` checked every dependency a second time: 265 of CI's ~800 s).
# Cargo calls it as `<this> <rustc> <args…>`; clippy-driver takes that same form.
exec clippy-driver "$@" -D warnings
