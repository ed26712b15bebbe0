#!/usr/bin/env bash
# Sharded replay figures for docs/PERFORMANCE.md: four local shards (`replay --shard I/4`,
# one shared --start-at) against nginx on loopback, their summaries merged by
# `simulate report merge`, the merged rate next to one process's on the same log and
# server in the same run (A B A B), and each shard's max RSS (/usr/bin/time -v).
# Not a test: it prints numbers. Installs nginx from Debian when missing. On two cores
# expect no gain: every shard reads and paces the whole timeline, and four processes
# share the cores the one process had; the point is that the merged figures add up.
# Usage: bash scripts/bench-shards.sh [rate per second] [seconds] [rounds]
# BIN names a simulate binary to measure instead of building this checkout's.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-20000}
SECS=${2:-8}
ROUNDS=${3:-2}
SHARDS=4

source scripts/bench-lib.sh
need nginx nginx-light
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/simulate
fi
WORK=$(mktemp -d)
PORT=18089
trap 'nginx_stop "$WORK"; rm -rf "$WORK"' EXIT
nginx_start "$WORK" "$PORT" auto 8192 '{"ok":true}'
sleep 0.5
URL=http://127.0.0.1:$PORT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(nginx -v 2>&1)"
make_log "$RATE" "$SECS" "$WORK/log.jsonl"
COMMON=(replay --from-log "$WORK/log.jsonl" --target "$URL" --max-in-flight 10000 --no-default-threshold -q)

one() {
  /usr/bin/time -v -o "$WORK/one.time" "$BIN" "${COMMON[@]}" --summary-export "$WORK/one.json" > /dev/null
  python3 - "$WORK/one.json" "$WORK/one.time" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1])); t = s["totals"]
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[2]).read()).group(1))
print("one process: sent %d, achieved %.0f/s, lag p99 %.3f ms, late %d, latency p99 %.3f ms, max RSS %.1f MB"
      % (t["sent"], t["achieved_per_s"], s["scheduler_lag_ms"]["p99"], t["late"], s["overall"]["latency_ms"]["p99"], rss / 1024))
PY
}

sharded() {
  local start pids=()
  start=$(python3 -c 'import datetime; print((datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
  for i in $(seq 1 $SHARDS); do
    /usr/bin/time -v -o "$WORK/shard-$i.time" "$BIN" "${COMMON[@]}" --shard "$i/$SHARDS" --start-at "$start" \
      --summary-export "$WORK/shard-$i.json" > /dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  "$BIN" report merge "$WORK"/shard-*.json --no-default-threshold --summary-export "$WORK/all.json" > /dev/null
  python3 - "$WORK" "$SHARDS" <<'PY'
import json, re, sys
work, n = sys.argv[1], int(sys.argv[2])
s = json.load(open(work + "/all.json")); t = s["totals"]
rss = []
for i in range(1, n + 1):
    text = open("%s/shard-%d.time" % (work, i)).read()
    rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024)
    sh = json.load(open("%s/shard-%d.json" % (work, i)))
    print("  shard %d/%d: sent %d, achieved %.0f/s, late %d, started %.0f ms late, max RSS %.1f MB"
          % (i, n, sh["totals"]["sent"], sh["totals"]["achieved_per_s"], sh["totals"]["late"], sh.get("late_start_ms", 0), rss[-1]))
print("%d shards merged: sent %d, achieved %.0f/s, lag p99 %.3f ms, late %d, latency p99 %.3f ms, max RSS per shard %.1f-%.1f MB"
      % (n, t["sent"], t["achieved_per_s"], s["scheduler_lag_ms"]["p99"], t["late"], s["overall"]["latency_ms"]["p99"], min(rss), max(rss)))
PY
}

echo "log: $RATE stat.updated events a second for $SECS s ($((RATE * SECS)) requests)"
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r"
  one
  sharded
done
