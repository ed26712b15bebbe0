#!/usr/bin/env bash
# The cost of `--metrics-addr` per replay request: instructions (valgrind --tool=callgrind,
# repeatable whatever else the machine does) of the same `replay --from-log` of EVENTS
# stat.updated events (2,000 a second) against nginx on loopback, without and with
# `--metrics-addr` (nothing scrapes: the recording is what is measured; a scrape a second
# costs the same whatever the rate), A B A B. Figures go to docs/PERFORMANCE.md.
#
# Usage: [BIN=target/release/simulate] [EVENTS=20000] [ROUNDS=2] bash scripts/bench-metrics.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

BIN=${BIN:-target/release/simulate}
EVENTS=${EVENTS:-20000}
ROUNDS=${ROUNDS:-2}
RATE=2000
PORT=${PORT:-18093}
need nginx nginx
need valgrind valgrind
[ -x "$BIN" ] || { echo "no $BIN: cargo build --release --bin simulate (or set BIN)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'nginx_stop "$WORK"; rm -rf "$WORK"' EXIT
nginx_start "$WORK" "$PORT" 1 4096
make_log "$RATE" $((EVENTS / RATE)) "$WORK/log.jsonl"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(valgrind --version); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binary: $BIN; $EVENTS events at $RATE/s"

# Instructions of one run and the requests it sent: "total sent".
instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$BIN" replay --from-log "$WORK/log.jsonl" --target "http://127.0.0.1:$PORT" \
    --no-default-threshold -q --summary-export "$WORK/s.json" "$@" >/dev/null 2>"$WORK/vg.txt"
  local total sent
  total=$(sed -n 's/.*I *refs: *//p' "$WORK/vg.txt" | tr -d ',')
  sent=$(python3 -c "import json; print(json.load(open('$WORK/s.json'))['totals']['sent'])")
  echo "$total $sent"
}

printf "%-8s %5s %16s %8s %12s\n" side round "Ir total" sent "Ir/request"
declare -A SUM=()
for round in $(seq "$ROUNDS"); do
  for side in without with; do
    flags=()
    [ "$side" = with ] && flags=(--metrics-addr "127.0.0.1:$((PORT + 1))" --metrics-linger 0s)
    read -r T S < <(instructions "${flags[@]}")
    per=$(echo "$T / $S" | bc -l)
    printf "%-8s %5s %16s %8s %12.0f\n" "$side" "$round" "$T" "$S" "$per"
    SUM[$side]=$(echo "${SUM[$side]:-0} + $per" | bc -l)
  done
done
python3 -c "a, b, n = ${SUM[without]}, ${SUM[with]}, $ROUNDS; print('per request: without %.0f, with %.0f instructions: %+.0f (%+.2f %%)' % (a / n, b / n, (b - a) / n, (b / a - 1) * 100))"

# The recording alone: instructions inside LiveMetrics (its counters and histograms).
valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*LiveMetrics*' \
  "$BIN" replay --from-log "$WORK/log.jsonl" --target "http://127.0.0.1:$PORT" \
  --no-default-threshold -q --summary-export "$WORK/s.json" \
  --metrics-addr "127.0.0.1:$((PORT + 1))" --metrics-linger 0s >/dev/null 2>"$WORK/vg.txt"
inside=$(sed -n 's/.*Collected : *//p' "$WORK/vg.txt" | tr -d ',')
sent=$(python3 -c "import json; print(json.load(open('$WORK/s.json'))['totals']['sent'])")
python3 -c "print('inside LiveMetrics: %.0f instructions per request' % ($inside / $sent))"
