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
echo "== cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== PostgreSQL for the seed and verify tests"
SIMULATE_TEST_PG=$(bash scripts/ensure-postgres.sh | tail -n 1)
export SIMULATE_TEST_PG
echo "== cargo test --workspace"
cargo test --workspace --all-targets --quiet
