#!/usr/bin/env bash
# Socket.IO figures for docs/PERFORMANCE.md, against the test suite's gift app on
# socketioxide (examples/socketio_target.rs) in its own process on the same machine. Not a test:
# it prints numbers.
#   1. connections: N sessions open over 10 s and stay open ~35 s (one connection each,
#      joined to a room of 400); each emits a stat every 10 s, and one user per room creates
#      a gift every 5 s, broadcast to the room: peak connections held, client memory per
#      connection, ack latency, broadcast fan-out latency.
#   2. emits/s: 2,000 connections, then 200,000 acknowledged emits all due at once.
# Usage: bash scripts/bench-socketio.sh [N]   (default 12000; the fd limit is raised to fit)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-12000}
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((N + 1000)) ]; then
  echo "the file-descriptor limit ($(ulimit -n)) is below N + 1000; raise the hard limit" >&2
  exit 1
fi
cargo build --release --quiet
cargo build --release --quiet --example socketio_target
BIN=$PWD/target/release/simulate
WORK=$(mktemp -d)
target/release/examples/socketio_target 127.0.0.1:18471 > "$WORK/server.out" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), fd limit $(ulimit -n)"
cat > "$WORK/m.toml" <<'TOML'
timeout = "10s"
[socketio]
auth = { userId = "{user_id}" }
join = { emit = "room:join", payload = { room = "{props.room}" }, ack = true }
[[socketio.listen]]
event = "gift:available"
key = "giftId"
origin = "gift.created"
[[request]]
event = "stat.updated"
protocol = "socketio"
emit = "stat"
payload = { eventId = "{event_id}", value = "{props.value}" }
ack = true
kind = "stat"
[[request]]
event = "gift.created"
protocol = "socketio"
emit = "gift:create"
payload = { giftId = "{props.gift_id}", shares = "{props.shares}", room = "{props.room}" }
ack = true
kind = "gift"
TOML
python3 - "$WORK" "$N" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
def line(t, u, seq, ev, props):
    return '{"v":1,"ts":"2026-01-05T00:00:00.000Z","t_ms":%d,"user_id":"u%d","persona":"gamer","session_id":"s%d-1","seq":%d,"event":"%s","props":%s}\n' % (t, u, u, seq, ev, props)
def hold(users, path):
    ev = []
    for u in range(users):
        room = u // 400
        t0 = u * 10000 // users
        ev.append((t0, u, 0, "session.started", '{"trigger":"internal","habit":0.5,"room":%d}' % room))
        seq = 1
        for k in range(1, 4):
            ev.append((t0 + k * 10000, u, seq, "stat.updated", '{"statCode":"kills","value":%d,"delta":1}' % k)); seq += 1
        if u % 400 == 0:
            for g in range(6):
                ev.append((12000 + g * 5000 + room * 7, u, seq, "gift.created", '{"gift_id":"g%d-%d","shares":5,"value":500,"room":%d}' % (u, g, room))); seq += 1
        ev.append((45000, u, seq, "session.ended", '{"reason":"done"}'))
    ev.sort(key=lambda e: (e[0], e[1], e[2]))
    with open(path, "w") as f:
        for e in ev: f.write(line(*e))
hold(n, work + "/hold.jsonl")
hold(400, work + "/base.jsonl")
with open(work + "/storm.jsonl", "w") as f:
    users, total = 2000, 200000
    ev = [(u * 1000 // users, u, 0, "session.started", '{"trigger":"internal","habit":0.5,"room":0}') for u in range(users)]
    per = total // users
    for u in range(users):
        for k in range(1, per + 1):
            ev.append((2000, u, k, "stat.updated", '{"statCode":"kills","value":%d,"delta":1}' % k))
        ev.append((2000, u, per + 1, "session.ended", '{"reason":"done"}'))
    ev.sort(key=lambda e: (e[0], e[1], e[2]))
    for e in ev: f.write(line(*e))
PY
report() {
python3 - "$1" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); c = s["socketio"]["connections"]; t = s["totals"]
rss = int(open(sys.argv[2]).read().split()[1])
print("  connections: peak %d open · %d opened · %d failed · %d dropped · client max RSS %.1f MB · %s" % (c["peak_open"], c["opened"], c["failed"], c["dropped"], rss / 1024, open(sys.argv[2]).read().split(" ", 2)[2].strip()))
for g in s["groups"]:
    l = g["latency_ms"]
    print("  %-16s %-8s %7d sent, %d errors, latency p50 %.2f ms p99 %.2f ms max %.2f ms" % (g["tags"]["event"], g["tags"]["kind"], g["count"], g["errors"], l["p50"], l["p99"], l["max"]))
for l in s["socketio"]["listen"]:
    f = l["fanout_ms"]
    if l["received"]:
        print("  %s: %d receipts of %d broadcasts (%.0f each) · fan-out p50 %.2f ms p95 %.2f ms p99 %.2f ms max %.2f ms" % (l["event"], l["received"], l["origins"], l["receipts_per_origin"]["mean"], f["p50"], f["p95"], f["p99"], f["max"]))
print("  lag p99 %.2f ms · wall %.1f s" % (s["scheduler_lag_ms"]["p99"], s["wall_seconds"]))
PY
}
run() {  # name log max-in-flight
  /usr/bin/time -f "%e %M %P CPU" -o "$WORK/$1.time" "$BIN" replay --from-log "$WORK/$2" \
    --mapping "$WORK/m.toml" --target http://127.0.0.1:18471 --compress 1x \
    --max-in-flight "$3" --no-default-threshold -q --summary-export "$WORK/$1.json" > /dev/null
  awk '{print "x", $2, $3, $4}' "$WORK/$1.time" > "$WORK/$1.rss"
}
echo
echo "== 400 connections (baseline for memory per connection)"
run base base.jsonl 5000; report "$WORK/base.json" "$WORK/base.rss"
echo
echo "== $N connections held ~35 s, stats every 10 s, a gift per room every 5 s"
run hold hold.jsonl 20000; report "$WORK/hold.json" "$WORK/hold.rss"
python3 - "$WORK" "$N" <<'PY'
import json, sys
w, n = sys.argv[1], int(sys.argv[2])
rss = lambda k: int(open(w + "/" + k + ".rss").read().split()[1])
peak = lambda k: json.load(open(w + "/" + k + ".json"))["socketio"]["connections"]["peak_open"]
print("  client memory per connection: %.1f KB ((max RSS at %d − at %d) / (%d − %d) connections)" % ((rss("hold") - rss("base")) / (peak("hold") - peak("base")), peak("hold"), peak("base"), peak("hold"), peak("base")))
PY
echo
echo "== emits/s: 2,000 connections, 200,000 acknowledged emits due at once (--max-in-flight 2000)"
run storm storm.jsonl 2000; report "$WORK/storm.json" "$WORK/storm.rss"
python3 - "$WORK/storm.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n = sum(g["count"] for g in s["groups"] if g["tags"]["event"] == "stat.updated")
print("  emits/s %.0f (acknowledged emits / (wall − the 2 s before they are due))" % (n / (s["wall_seconds"] - 2.0)))
PY
echo
tail -n 2 "$WORK/server.out"
