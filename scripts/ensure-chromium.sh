#!/usr/bin/env bash
# Makes sure a headless Chromium is installed for the report tests (tests/it/report.rs
# loads each HTML report in it), installing Debian's `chromium` if needed. Prints the
# browser's path on its last line; scripts/test.sh exports it as SIMULATE_TEST_CHROMIUM.
set -euo pipefail

find_browser() {
  for b in "${SIMULATE_TEST_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser \
    "$(command -v chromium 2>/dev/null || true)"; do
    if [ -n "$b" ] && [ -x "$b" ]; then
      echo "$b"
      return 0
    fi
  done
  return 1
}

if ! browser=$(find_browser); then
  echo "Chromium is not installed: installing it from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
  browser=$(find_browser) || {
    echo "Chromium is still missing after apt-get install chromium" >&2
    exit 1
  }
fi
echo "$browser"
