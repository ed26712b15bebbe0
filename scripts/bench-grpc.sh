#!/usr/bin/env bash
# gRPC figures for docs/PERFORMANCE.md: calls/s through one HTTP/2 channel at 500 in
# flight against the reference target's tonic EventService (`simulate serve
# --grpc-listen`), in its own process on the same machine. Not a test: it prints numbers.
# Usage: bash scripts/bench-grpc.sh [calls]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
cargo build --release --quiet
BIN=$PWD/target/release/simulate
WORK=$(mktemp -d)
"$BIN" serve --listen 127.0.0.1:18461 --grpc-listen 127.0.0.1:18462 > "$WORK/serve.out" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
python3 - "$N" "$WORK/log.jsonl" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        u = i % 50000
        f.write('{"v":1,"ts":"2026-01-05T00:00:00.000Z","t_ms":0,"user_id":"u%d","persona":"gamer","session_id":"s%d-1","seq":%d,"event":"stat.updated","props":{"statCode":"enemy_kills","value":%d,"delta":1}}\n' % (u, u, i // 50000, i))
PY
echo
echo "== $N OnMessage calls, all due at once, --max-in-flight 500 (closed loop at the cap)"
/usr/bin/time -f "%P CPU, %M KB max RSS" "$BIN" replay --from-log "$WORK/log.jsonl" \
  --mapping mappings/grpc-events.toml --target http://127.0.0.1:18461 \
  --grpc-target http://127.0.0.1:18462 --max-in-flight 500 --no-default-threshold -q --summary-export "$WORK/s.json" > /dev/null
python3 - "$WORK/s.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); t = s["totals"]; l = s["overall"]["service_ms"]
print("calls/s %.0f · ok %d · errors %d · service p50 %.2f ms p99 %.2f ms" % (t["completed"] / s["wall_seconds"], t["ok"], t["errors"], l["p50"], l["p99"]))
PY
