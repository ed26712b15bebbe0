#!/usr/bin/env bash
# Makes sure a headless Chromium is installed for the report tests (tests/it/report.rs
# loads each HTML report in it), installing Debian's `chromium` if needed. Prints the
# browser's path on its last line; scripts/test.sh exports it as SIMULATE_TEST_CHROMIUM.
set -euo pipefail
source "$(dirname "$0")/ensure-lib.sh"
ensure_debian_program Chromium "chromium fonts-dejavu-core" "${SIMULATE_TEST_CHROMIUM:-}" \
  /usr/bin/chromium /usr/bin/chromium-browser "$(command -v chromium 2>/dev/null || true)"
