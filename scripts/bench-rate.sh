#!/usr/bin/env bash
# Rate accuracy for docs/PERFORMANCE.md: `replay --rate` at a constant target against the
# reference target (`simulate serve`, its own process on this machine): the achieved rate
# of every 10 s window against the target, scheduler lag, and where a stage change lands.
# Not a test: it prints numbers. Usage: bash scripts/bench-rate.sh [rate] [seconds]
# (PROFILE=debug uses the debug build, when a release build costs too much CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-2000}
SECS=${2:-60}
if [ "${PROFILE:-release}" = debug ]; then
  cargo build --quiet
  BIN=$PWD/target/debug/simulate
else
  cargo build --release --quiet
  BIN=$PWD/target/release/simulate
fi
WORK=$(mktemp -d)
"$BIN" serve --listen 127.0.0.1:18471 > "$WORK/serve.out" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 1
echo "build: ${PROFILE:-release}; load average: $(cut -d" " -f1-3 /proc/loadavg)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "== --rate ${RATE}/s for ${SECS} s (default world from 8h, the shipped mapping)"
/usr/bin/time -f "%P CPU, %M KB max RSS" "$BIN" replay --window 8h.. --rate "${RATE}/s" \
  --max-duration "${SECS}s" --target http://127.0.0.1:18471 -q \
  --summary-export "$WORK/rate.json" > /dev/null
python3 - "$WORK/rate.json" "$RATE" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); rate = float(sys.argv[2])
sent = [x["sent"] for x in s["series"]]
full = sent[: len(sent) // 10 * 10]
worst = 0.0
for i in range(0, len(full), 10):
    got = sum(full[i:i + 10]) / 10.0
    dev = (got - rate) / rate * 100
    worst = max(worst, abs(dev))
    print("  window %3d-%3d s: %.1f/s (%+.2f %%)" % (i, i + 10, got, dev))
lag = s["scheduler_lag_ms"]
factors = [x["factor"] for x in s["series"] if "factor" in x]
print("worst 10 s window %.2f %% off; lag p50 %.3f ms p99 %.3f ms max %.1f ms; late %d; factor %.0f..%.0f (mean %.0f)"
      % (worst, lag["p50"], lag["p99"], lag["max"], s["totals"]["late"], min(factors), max(factors), s["config"]["factor"]))
PY
echo
echo "== --stages '10s:500/s, 10s:1500/s': where the change lands"
"$BIN" replay --window 8h.. --stages '10s:500/s, 10s:1500/s' --target http://127.0.0.1:18471 -q \
  --summary-export "$WORK/stages.json" > /dev/null
python3 - "$WORK/stages.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("per second sent:", [x["sent"] for x in s["series"]])
print("per second target:", [x.get("target_per_s") for x in s["series"]])
PY
