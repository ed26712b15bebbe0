#!/usr/bin/env bash
# Makes sure a Prometheus server is installed for the live-metrics test
# (tests/it/live_metrics.rs starts it on a loopback port, scraping a replay's
# `--metrics-addr`), installing Debian's `prometheus` package if needed. Its service is not
# started here (no init system in CI): the test starts its own server with a temporary
# configuration and data directory. Prints the binary's path on its last line;
# scripts/test.sh exports it as SIMULATE_TEST_PROMETHEUS.
set -euo pipefail
source "$(dirname "$0")/ensure-lib.sh"
ensure_debian_program Prometheus prometheus "${SIMULATE_TEST_PROMETHEUS:-}" /usr/bin/prometheus \
  "$(command -v prometheus 2>/dev/null || true)"
