#!/usr/bin/env bash
# What the template language costs a replay request (issue 19: at most 3 % more
# instructions per request for a mapping without the new functions, and the highest HTTP
# rate held within noise of the base's). Not a test: it prints numbers for
# docs/PERFORMANCE.md. Builds two release binaries: A = the base commit (default `integ`,
# exported with `git archive`, nothing checked out in place) and B = this checkout.
#
#   1. Instructions (valgrind --tool=callgrind, repeatable whatever the machine does):
#      `replay --from-log` of 20,000 events (2,000/s) against nginx on loopback, with the
#      shipped mapping (POST the line; the path `/v1/events/{event}` is the only hole) and
#      with a templated one (path, headers and a JSON body of today's fields). Printed per
#      request: the whole process, and the render alone (`Client::parts`, which renders
#      path, headers and body). Each binary twice, A B A B.
#   2. The highest rate held, `scripts/bench-replay.sh`'s ladder for A and B in turn
#      (A B A B), which is wall-clock and so noisy on two shared cores.
#
# Usage: [BASE=<commit>] [ROUNDS=2] [SECS=5] [RATES="60000 70000 …"] [ONLY=callgrind|rate]
#        [EVENTS=20000] [A_BIN=path B_BIN=path: use these binaries, build nothing]
#        bash scripts/bench-template.sh
# Installs nginx and valgrind from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BASE=${BASE:-integ}
ROUNDS=${ROUNDS:-2}
SECS=${SECS:-5}
RATES=${RATES:-"20000 30000 40000 50000 60000 70000 80000"}
ONLY=${ONLY:-}
EVENTS=${EVENTS:-20000}
RATE=2000
# B builds in this checkout's own target folder. A needs a folder of its own: cargo
# leaves the path out of a workspace member's artifact names, so two checkouts built in
# one folder share `simulate`'s fingerprint, and whichever was built last can be reported
# "fresh" for the other (seen: a "B" binary that was the base's sources).
BASE_TARGET=${BASE_TARGET:-$ROOT/target/bench-base}

source scripts/bench-lib.sh
need nginx nginx-light
need valgrind valgrind

WORK=$(mktemp -d)
PORT=18089
trap 'nginx_stop "$WORK"; rm -rf "$WORK"' EXIT

if [ -n "${A_BIN:-}" ] && [ -n "${B_BIN:-}" ]; then
  # Binaries built beforehand (say debug builds of both sides on a machine too loaded
  # for two release builds): instruction ratios only, not the release figures.
  echo "== A = $A_BIN, B = $B_BIN (given; nothing built)"
  cp "$A_BIN" "$WORK/simulate-A"
  cp "$B_BIN" "$WORK/simulate-B"
else
echo "== building A ($BASE, $(git rev-parse --short "$BASE")) and B (this checkout, $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + uncommitted changes'))"
# The base's sources are kept beside the builds, so a second run rebuilds nothing.
BASE_SRC=$BASE_TARGET/base-src/$(git rev-parse "$BASE")
if [ ! -d "$BASE_SRC" ]; then
  mkdir -p "$BASE_SRC.tmp"
  git archive "$BASE" | tar -x -C "$BASE_SRC.tmp"
  mv "$BASE_SRC.tmp" "$BASE_SRC"
fi
(cd "$BASE_SRC" && CARGO_TARGET_DIR=$BASE_TARGET cargo build --release --quiet --bin simulate)
cp "$BASE_TARGET/release/simulate" "$WORK/simulate-A"
B_TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --quiet --bin simulate
cp "$B_TARGET/release/simulate" "$WORK/simulate-B"
fi
A=$WORK/simulate-A
B=$WORK/simulate-B

# One worker: the callgrind runs measure the client; the rate runs start their own.
nginx_start "$WORK" "$PORT" 1 4096
URL=http://127.0.0.1:$PORT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(valgrind --version)"

# 20,000 stat.updated events, 2,000 a second, users cycling through 2,000 ids.
python3 - "$EVENTS" "$RATE" "$WORK/log.jsonl" <<'PY'
import sys
n, rate, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    for i in range(n):
        t = i * 1000 // rate
        u = i % 2000
        f.write('{"v":1,"ts":"2026-01-05T00:00:%02d.%03dZ","t_ms":%d,"user_id":"u%d","persona":"gamer","session_id":"s%d-1","seq":%d,"event":"stat.updated","props":{"statCode":"enemy_kills","value":%d,"delta":1}}\n'
                % (t // 1000 % 60, t % 1000, t, u, u, i // 2000, i))
PY

# Today's fields only: what every mapping written before the template language holds.
cat > "$WORK/templated.toml" <<'EOF'
[headers]
x-user = "{user_id}"
x-trace = "{traceparent}"

[[request]]
event = "stat.updated"
method = "POST"
path = "/v1/users/{user_id}/stats/{props.statCode}?seq={seq}"
body = { user = "{user_id}", code = "{props.statCode}", value = "{props.value}", delta = "{props.delta}", at = "{ts}", session = "{session_id}", id = "{event_id}" }
EOF

# Instructions of one run: the whole process, and inside Client::parts (the render),
# as valgrind reports them ("Collected" counts only inside the toggled function).
callgrind() { # bin [mapping FILE] → "total render requests"
  local bin=$1
  shift
  if [ $# -gt 0 ]; then
    # The mapping flag was --targets before issue 17 renamed it --mapping.
    local flag=--targets
    if "$bin" replay --help | grep -q -- '--mapping'; then flag=--mapping; fi
    set -- "$flag" "$2"
  fi
  # shellcheck disable=SC2046 # unjudged prints one flag or nothing
  local run=("$bin" replay --from-log "$WORK/log.jsonl" --target "$URL" "$@" $(unjudged "$bin") -q --summary-export "$WORK/s.json")
  valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*drivers*http*Client*parts*' \
    "${run[@]}" >/dev/null 2>"$WORK/vg.txt"
  local render
  render=$(sed -n 's/.*Collected : *//p' "$WORK/vg.txt" | tr -d ',')
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "${run[@]}" >/dev/null 2>"$WORK/vg.txt"
  local total
  total=$(sed -n 's/.*I *refs: *//p' "$WORK/vg.txt" | tr -d ',')
  local sent
  sent=$(python3 -c "import json; print(json.load(open('$WORK/s.json'))['totals']['sent'])")
  echo "$total $render $sent"
}

if [ "$ONLY" != rate ]; then
  echo
  echo "== instructions per request (callgrind), $EVENTS events at $RATE/s, A B A B"
  printf "%-10s %-4s %5s %16s %12s %14s %12s\n" mapping bin round "Ir total" "Ir/request" "Ir render" "render/req"
  for MAP in shipped templated; do
    FLAGS=()
    [ "$MAP" = templated ] && FLAGS=(mapping "$WORK/templated.toml")
    declare -A SUM_T=() SUM_R=()
    for round in $(seq "$ROUNDS"); do
      for side in A B; do
        bin=$A
        [ "$side" = B ] && bin=$B
        read -r T R S < <(callgrind "$bin" "${FLAGS[@]}")
        printf "%-10s %-4s %5s %16s %12.0f %14s %12.0f\n" "$MAP" "$side" "$round" "$T" "$(echo "$T / $S" | bc -l)" "$R" "$(echo "$R / $S" | bc -l)"
        SUM_T[$side]=$(echo "${SUM_T[$side]:-0} + $T / $S" | bc -l)
        SUM_R[$side]=$(echo "${SUM_R[$side]:-0} + $R / $S" | bc -l)
      done
    done
    python3 -c "a, b, ra, rb = $(echo "${SUM_T[A]}"), $(echo "${SUM_T[B]}"), $(echo "${SUM_R[A]}"), $(echo "${SUM_R[B]}"); print('%-10s B/A per request: whole process %+.2f %%, render %+.2f %% (target: whole process <= +3 %%)' % ('$MAP', (b / a - 1) * 100, (rb / ra - 1) * 100))"
    unset SUM_T SUM_R
  done
fi

if [ "$ONLY" != callgrind ]; then
  echo
  echo "== highest HTTP rate held (scripts/bench-replay.sh ladder, ${SECS}s a step), A B A B"
  printf "      %8s %10s %10s %8s %8s %10s %10s %8s\n" rate achieved lag_p50 lag_p99 late p99_ms errors cpu%
  for round in $(seq "$ROUNDS"); do
    for side in A B; do
      bin=$A
      [ "$side" = B ] && bin=$B
      BIN=$bin LADDER_ONLY=1 bash scripts/bench-replay.sh "$SECS" $RATES > "$WORK/ladder.txt"
      # Each step's row (rate, achieved, lag p50/p99, late, p99, errors, cpu), then the verdict.
      grep -E "^ +[0-9]+ " "$WORK/ladder.txt" | sed "s/^/  $side$round /"
      echo "round $round $side: $(grep 'highest rate held' "$WORK/ladder.txt")"
    done
  done
fi
