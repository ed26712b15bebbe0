#!/usr/bin/env bash
# The project's test command (README and .ci/run call it): formatting, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== simulate-core: no async runtime, database or network crate (docs/ARCHITECTURE.md)"
forbidden=$(cargo tree -p simulate-core -e normal --prefix none --format '{p}' \
  | awk '{print $1}' | sort -u \
  | grep -xE 'tokio|sqlx|sqlx-.*|rusqlite|tonic|axum|hyper|hyper-util|reqwest|rustls|tokio-rustls|tokio-tungstenite|indicatif|clap' || true)
if [ -n "$forbidden" ]; then
  echo "simulate-core depends on: $forbidden" >&2
  echo "fix: keep I/O, databases and the console out of crates/core (see docs/ARCHITECTURE.md)" >&2
  exit 1
fi
echo "== cargo test --no-run with clippy's lints, warnings denied (functions over 120 lines fail)"
# One compile for the lints and the tests: our crates go through clippy-driver while they
# are built (scripts/clippy-rustc.sh); a separate `cargo clippy` compiled every dependency
# a second time. `cargo clippy --workspace --all-targets -- -D warnings` reports the same.
if ! command -v clippy-driver >/dev/null 2>&1; then
  echo "clippy-driver not found: rustup component add clippy" >&2
  exit 1
fi
export RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/clippy-rustc.sh"
cargo test --workspace --all-targets --no-run --quiet
echo "== PostgreSQL for the seed and verify tests"
SIMULATE_TEST_PG=$(bash scripts/ensure-postgres.sh | tail -n 1)
export SIMULATE_TEST_PG
echo "== Chromium for the HTML report tests (tests/it/report.rs)"
SIMULATE_TEST_CHROMIUM=$(bash scripts/ensure-chromium.sh | tail -n 1)
export SIMULATE_TEST_CHROMIUM
echo "== Prometheus for the live-metrics tests (tests/it/live_metrics.rs)"
SIMULATE_TEST_PROMETHEUS=$(bash scripts/ensure-prometheus.sh | tail -n 1)
export SIMULATE_TEST_PROMETHEUS
echo "== kubernetes-validate for the manifest tests (tests/it/deploy.rs)"
SIMULATE_TEST_KUBERNETES_VALIDATE=$(bash scripts/ensure-kubernetes-validate.sh | tail -n 1)
export SIMULATE_TEST_KUBERNETES_VALIDATE
echo "== cargo test --workspace"
cargo test --workspace --all-targets --quiet
