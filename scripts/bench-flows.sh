#!/usr/bin/env bash
# What captures and checks cost (issue 22 item 9), for docs/PERFORMANCE.md: the highest
# open-loop rate `simulate replay` holds against nginx answering JSON on loopback, with a
# plain mapping and with the same request checking the answer and capturing a value from
# it (a flow: the answer kept, parsed, checked, its value stored per user), in one run,
# rate by rate in turn (plain, flow, plain, flow, …) so drift on a shared machine hits
# both alike. Held: scheduler lag p99 <= 2 ms, nothing late, nothing failed (the check
# holding included). TRIES=N (default 1) runs each mapping N times at each rate, in turn,
# and a rate is held when most of its tries held: one scheduling blip on a shared machine
# then does not decide the verdict. Not a test: it prints numbers. Installs nginx from
# Debian when missing.
# Usage: [CAP=N] [TRIES=N] [BIN=path] bash scripts/bench-flows.sh [seconds per step] [rates...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-6}
shift || true
RATES=${*:-"20000 30000 40000 50000 60000 70000 80000"}
CAP=${CAP:-10000}
TRIES=${TRIES:-1}

source scripts/bench-lib.sh
need nginx nginx-light
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/simulate
fi
UNJUDGED=$(unjudged "$BIN")
WORK=$(mktemp -d)
PORT=18089
trap 'nginx_stop "$WORK"; rm -rf "$WORK"' EXIT
nginx_start "$WORK" "$PORT" auto 8192 '{"ok":true,"data":{"id":"s-42","status":"accepted"}}'
sleep 0.5
URL=http://127.0.0.1:$PORT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(nginx -v 2>&1)"

flow_mappings "$WORK"

# make_log (scripts/bench-lib.sh): RATE events a second for SECS seconds.

echo
echo "== simulate replay --from-log against JSON answers (--max-in-flight $CAP)"
printf "%-6s %8s %10s %10s %8s %8s %10s %10s %8s\n" mapping rate achieved lag_p50 lag_p99 late p99_ms errors cpu%
declare -A BEST=([plain]=0 [flow]=0)
for RATE in $RATES; do
  make_log "$RATE" "$SECS" "$WORK/log.jsonl"
  declare -A HELD=([plain]=0 [flow]=0)
  for TRY in $(seq 1 "$TRIES"); do
    for M in plain flow; do
      /usr/bin/time -f "%P %M" -o "$WORK/time.txt" \
        "$BIN" replay --from-log "$WORK/log.jsonl" --target "$URL" --mapping "$WORK/$M.toml" \
        --max-in-flight "$CAP" $UNJUDGED -q --summary-export "$WORK/s.json" > /dev/null
      read -r CPU RSS < "$WORK/time.txt"
      python3 - "$WORK/s.json" "$RATE" "$CPU" "$M" > "$WORK/row.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); t = s["totals"]; lag = s["scheduler_lag_ms"]; lat = s["overall"]["latency_ms"]
ok = lag["p99"] <= 2.0 and t["late"] == 0 and t["errors"] == 0 and t["ok"] == t["sent"]
print("%-6s %8s %10.0f %10.3f %8.3f %8d %10.3f %10d %8s %s" % (sys.argv[4], sys.argv[2], t["achieved_per_s"], lag["p50"], lag["p99"], t["late"], lat["p99"], t["errors"], sys.argv[3], "held" if ok else "NOT held"))
PY
      cat "$WORK/row.txt"
      if ! grep -q "NOT held" "$WORK/row.txt"; then HELD[$M]=$((HELD[$M] + 1)); fi
    done
  done
  for M in plain flow; do
    if [ $((2 * HELD[$M])) -gt "$TRIES" ]; then BEST[$M]=$RATE; fi
  done
  if [ "$TRIES" -gt 1 ]; then echo "  at $RATE: plain held ${HELD[plain]} of $TRIES tries, flow ${HELD[flow]} of $TRIES"; fi
done
echo
python3 -c "p, f = ${BEST[plain]}, ${BEST[flow]}; print('highest rate held: plain %d req/s, checking and capturing %d req/s (%s)' % (p, f, 'cost %.0f %%' % (100 * (p - f) / p) if p else 'no plain rate held'))"
