#!/usr/bin/env bash
# What a check and a capture cost per request, in instructions (valgrind --tool=callgrind,
# repeatable whatever else the machine does): the same `replay --from-log` of EVENTS
# stat.updated events (2,000 a second) against nginx answering JSON on loopback, with the
# plain mapping of scripts/bench-flows.sh and with its flow mapping (2 checks + 1
# capture), for each binary given, A B A B. Two logs: every event a user of its own
# (each capture a first store: the dearest case), and USERS users taking turns (captures
# overwrite). With PROFILE=DIR the callgrind files are kept there for callgrind_annotate.
# Figures go to docs/PERFORMANCE.md ("Flows").
#
# Usage: [EVENTS=10000] [USERS=100] [ROUNDS=2] [PROFILE=dir]
#        bash scripts/bench-flows-callgrind.sh BIN [BIN...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

BINS=("$@")
[ ${#BINS[@]} -gt 0 ] || BINS=(target/release/simulate)
EVENTS=${EVENTS:-10000}
USERS=${USERS:-100}
ROUNDS=${ROUNDS:-2}
RATE=2000
PORT=${PORT:-18095}
need nginx nginx-light
need valgrind valgrind
for b in "${BINS[@]}"; do
  [ -x "$b" ] || { echo "no $b: cargo build --release --bin simulate" >&2; exit 1; }
done

WORK=$(mktemp -d)
trap 'nginx_stop "$WORK"; rm -rf "$WORK"' EXIT
nginx_start "$WORK" "$PORT" 1 4096 '{"ok":true,"data":{"id":"s-42","status":"accepted"}}'
make_log "$RATE" $((EVENTS / RATE)) "$WORK/own.jsonl"
# The same events with USERS users taking turns.
python3 - "$WORK/own.jsonl" "$USERS" > "$WORK/shared.jsonl" <<'PY'
import re, sys
users = int(sys.argv[2])
for i, line in enumerate(open(sys.argv[1])):
    u = i % users
    line = re.sub(r'"user_id":"u\d+"', '"user_id":"u%d"' % u, line)
    print(re.sub(r'"session_id":"s\d+-1"', '"session_id":"s%d-1"' % u, line), end="")
PY
flow_mappings "$WORK"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(valgrind --version); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$EVENTS events at $RATE/s; logs: own (a user each), shared ($USERS users)"

# Instructions of one run per request sent; checks that every request was answered ok.
per_request() {
  local bin=$1 log=$2 mapping=$3 out=/dev/null
  [ -n "${PROFILE:-}" ] && mkdir -p "$PROFILE" && out="$PROFILE/$(basename "$(dirname "$(dirname "$bin")")")-$(basename "$bin")-$log-$mapping.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$bin" replay --from-log "$WORK/$log.jsonl" --target "http://127.0.0.1:$PORT" \
    --mapping "$WORK/$mapping.toml" --no-default-threshold -q \
    --summary-export "$WORK/s.json" >/dev/null 2>"$WORK/vg.txt"
  local total
  total=$(sed -n 's/.*I *refs: *//p' "$WORK/vg.txt" | tr -d ',')
  python3 - "$WORK/s.json" "$total" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
assert t["ok"] == t["sent"] == t["requests"] if "requests" in t else t["ok"] == t["sent"], t
print("%.0f" % (int(sys.argv[2]) / t["sent"]))
PY
}

printf "%-40s %6s %5s %10s %10s %8s\n" binary log round plain flow flow/plain
for round in $(seq "$ROUNDS"); do
  for log in own shared; do
    for bin in "${BINS[@]}"; do
      p=$(per_request "$bin" "$log" plain)
      f=$(per_request "$bin" "$log" flow)
      printf "%-40s %6s %5s %10s %10s %8.3f\n" "$bin" "$log" "$round" "$p" "$f" "$(echo "$f / $p" | bc -l)"
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
