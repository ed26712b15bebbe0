#!/usr/bin/env bash
# Makes sure a Prometheus server is installed for the live-metrics test (tests/it/metrics.rs
# starts it on a loopback port, scraping a replay's `--metrics-addr`), installing Debian's
# `prometheus` package if needed. Prints the binary's path on its last line;
# scripts/test.sh exports it as SIMULATE_TEST_PROMETHEUS.
set -euo pipefail

find_prometheus() {
  for b in "${SIMULATE_TEST_PROMETHEUS:-}" /usr/bin/prometheus \
    "$(command -v prometheus 2>/dev/null || true)"; do
    if [ -n "$b" ] && [ -x "$b" ]; then
      echo "$b"
      return 0
    fi
  done
  return 1
}

if ! prom=$(find_prometheus); then
  echo "Prometheus is not installed: installing it from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # The package's service is not started here (no init system in CI): the test starts
  # its own server with a temporary configuration and data directory.
  apt-get install -y -qq --no-install-recommends prometheus >&2
  prom=$(find_prometheus) || {
    echo "Prometheus is still missing after apt-get install prometheus" >&2
    exit 1
  }
fi
echo "$prom"
