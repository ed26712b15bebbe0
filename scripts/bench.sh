#!/usr/bin/env bash
# Throughput and memory figures for docs/PERFORMANCE.md. Not a test: it prints numbers.
# Usage: bash scripts/bench.sh [users] [engine_days] [jsonl_days]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-250000}
ENGINE_DAYS=${2:-30}
JSONL_DAYS=${3:-7}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

cargo build --release --quiet
BIN=target/release/simulate
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

# run NAME ARGS... : one timed run; prints events/s, wall seconds and peak RSS.
run() {
  local name=$1; shift
  local log="$OUT/$name.time"
  /usr/bin/time -f "%e %M" -o "$log" "$BIN" run -q --force --out "$OUT/$name" "$@" > "$OUT/$name.stdout"
  local events wall rss users
  events=$(python3 -c "import json;print(json.load(open('$OUT/$name/run.json'))['counts']['events'])")
  users=$(python3 -c "import json;print(json.load(open('$OUT/$name/run.json'))['counts']['users_created'])")
  read -r wall rss < "$log"
  python3 - "$name" "$events" "$users" "$wall" "$rss" <<'PY'
import sys
name, events, users, wall, rss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"{name:<28} {events/1e6:8.2f} M events {wall:7.2f} s {events/wall/1e6:6.2f} M ev/s  peak RSS {rss/1024:7.1f} MiB  {rss*1024/users:6.0f} B/user ({users} users created)")
PY
  echo "$events $wall" > "$OUT/$name.figures"
}

echo
echo "== engine only (--format none): $USERS users, $ENGINE_DAYS days"
run engine-t1 --users "$USERS" --days "$ENGINE_DAYS" --format none --threads 1
run engine-t2 --users "$USERS" --days "$ENGINE_DAYS" --format none --threads 2
python3 - "$OUT" <<'PY'
import sys
d = sys.argv[1]
e1, w1 = map(float, open(f"{d}/engine-t1.figures").read().split())
e2, w2 = map(float, open(f"{d}/engine-t2.figures").read().split())
print(f"threads 2 vs 1: {w1/w2:.2f}x faster (same checksum: ", end="")
import json
a = json.load(open(f"{d}/engine-t1/run.json"))["events_sha256"]
b = json.load(open(f"{d}/engine-t2/run.json"))["events_sha256"]
print("yes)" if a == b else "NO)")
PY

echo
echo "== JSONL: $USERS users, $JSONL_DAYS days, --threads 2"
/usr/bin/time -f "%e %M" -o "$OUT/devnull.time" "$BIN" run -q --force --out "$OUT/devnull" --users "$USERS" --days "$JSONL_DAYS" --threads 2 --stdout > /dev/null 2> "$OUT/devnull.stderr"
python3 - "$OUT" <<'PY'
import json, sys
d = sys.argv[1]
r = json.load(open(f"{d}/devnull/run.json"))
wall, rss = open(f"{d}/devnull.time").read().split()
ev = r["counts"]["events"]
print(f"{'jsonl to /dev/null':<28} {ev/1e6:8.2f} M events {float(wall):7.2f} s {ev/float(wall)/1e6:6.2f} M ev/s  {r['counts']['bytes_uncompressed']/ev:.0f} B/event")
PY
run jsonl-file --users "$USERS" --days "$JSONL_DAYS" --threads 2
run jsonl-zst-file --users "$USERS" --days "$JSONL_DAYS" --threads 2 --format jsonl.zst
ls -l "$OUT/jsonl-file/events.jsonl" "$OUT/jsonl-zst-file/events.jsonl.zst" | awk '{printf "  %-14s %8.1f MB\n", substr($NF, length($NF)-15), $5/1e6}'
