#!/usr/bin/env bash
# The project's test command (README and .ci/run call it): formatting, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi

# Each step's heading carries the seconds since the start: CI's time is read off its log.
step() { echo "== [${SECONDS}s] $*"; }
step "cargo fmt --check"
cargo fmt --all -- --check
step "simulate-core: no async runtime, database or network crate (docs/ARCHITECTURE.md)"
forbidden=$(cargo tree -p simulate-core -e normal --prefix none --format '{p}' \
  | awk '{print $1}' | sort -u \
  | grep -xE 'tokio|sqlx|sqlx-.*|rusqlite|tonic|axum|hyper|hyper-util|reqwest|rustls|tokio-rustls|tokio-tungstenite|indicatif|clap' || true)
if [ -n "$forbidden" ]; then
  echo "simulate-core depends on: $forbidden" >&2
  echo "fix: keep I/O, databases and the console out of crates/core (see docs/ARCHITECTURE.md)" >&2
  exit 1
fi
step "PostgreSQL, Chromium, Prometheus and kubernetes-validate, set up beside the build"
# The services and tools the tests need are fetched and started while the build compiles
# (downloads and installs wait on the network and the disk, the build on the cores), one
# after another (apt-get takes one lock). Each script prints its value on its last line.
setup=$(mktemp -d)
# On a failed build, let the set-up finish (an apt-get killed midway breaks dpkg), then tidy.
trap 'wait; rm -rf "$setup"' EXIT
(
  for tool in postgres chromium prometheus kubernetes-validate; do
    if ! bash "scripts/ensure-$tool.sh" > "$setup/$tool.out" 2> "$setup/$tool.err"; then
      echo "$tool" > "$setup/failed"
      break
    fi
  done
) &
setup_pid=$!
step "cargo test --no-run with clippy's lints, warnings denied (functions over 120 lines fail)"
# One compile for the lints and the tests: our crates go through clippy-driver while they
# are built (scripts/clippy-rustc.sh); a separate `cargo clippy` compiled every dependency
# a second time. `cargo clippy --workspace --all-targets -- -D warnings` reports the same.
if ! command -v clippy-driver >/dev/null 2>&1; then
  echo "clippy-driver not found: rustup component add clippy" >&2
  exit 1
fi
export RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/clippy-rustc.sh"
cargo test --workspace --all-targets --no-run --quiet
step "waiting for the set-up"
wait "$setup_pid"
if [ -f "$setup/failed" ]; then
  tool=$(cat "$setup/failed")
  echo "scripts/ensure-$tool.sh failed:" >&2
  cat "$setup/$tool.err" >&2
  exit 1
fi
setup_value() { tail -n 1 "$setup/$1.out"; }
SIMULATE_TEST_PG=$(setup_value postgres)
SIMULATE_TEST_CHROMIUM=$(setup_value chromium)          # tests/it/report.rs
SIMULATE_TEST_PROMETHEUS=$(setup_value prometheus)      # tests/it/live_metrics.rs
SIMULATE_TEST_KUBERNETES_VALIDATE=$(setup_value kubernetes-validate) # tests/it/deploy.rs
export SIMULATE_TEST_PG SIMULATE_TEST_CHROMIUM SIMULATE_TEST_PROMETHEUS SIMULATE_TEST_KUBERNETES_VALIDATE
# cargo-nextest when the machine has it: every test its own process, the two cores kept
# busy across test binaries (cargo test runs the binaries one after another).
if command -v cargo-nextest >/dev/null 2>&1; then
  step "cargo nextest run --workspace --all-targets"
  cargo nextest run --workspace --all-targets --no-fail-fast --hide-progress-bar
else
  step "cargo test --workspace"
  cargo test --workspace --all-targets --quiet
fi
step "done"
