#!/usr/bin/env bash
# Engine events/s of a world of custom actions only (world.toml) against the default
# world, A/B alternated in one run on the release build (docs/PERFORMANCE.md). Not a test.
# The custom world is made from the shipped personas: every built-in action becomes a
# custom one emitting its own kind (an int drawn, a label drawn, a counter bumped, the
# user's platform by template), so sessions, habit and churn are the same machine; both
# worlds run without scenario phases (the phases script built-in actions).
# Usage: bash scripts/bench-custom-world.sh [users] [days] [rounds]
#        (BIN=target/debug/simulate to skip the release build: a quick, slower look)
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-50000}
DAYS=${2:-7}
ROUNDS=${3:-3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin simulate
  BIN=target/release/simulate
fi
SCENARIO=crates/core/tests/data/no_phases.toml
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

mkdir -p "$OUT/custom"
python3 - "$OUT/custom" <<'PY'
import glob, os, re, sys
out = sys.argv[1]
actions = set()
drop = re.compile(r"^(points|kills|price|shares|currency|accept|join_delay)\s*=")
for path in sorted(glob.glob("personas/*.toml")):
    lines = []
    for line in open(path):
        if drop.match(line):
            continue
        m = re.match(r'^action\s*=\s*"([a-z_]+)"', line)
        if m:
            actions.add(m.group(1))
            line = f'action = "c_{m.group(1)}"\n'
        lines.append(line)
    open(os.path.join(out, os.path.basename(path)), "w").write("".join(lines))
world = []
for a in sorted(actions):
    world.append(f'[kinds."{a}.done"]\nprops = {{ n = "int", label = "enum:a|b|c", platform = "str" }}\n')
    world.append(f'[actions.c_{a}]\nemits = "{a}.done"\ncounters = {{ {a} = 1 }}\n'
                 f'props = {{ n = {{ dist = "uniform", min = 1, max = 100 }}, '
                 f'label = {{ dist = "weighted", table = {{ a = 5, b = 3, c = 2 }} }}, platform = "{{user.platform}}" }}\n')
open(os.path.join(out, "world.toml"), "w").write("\n".join(world))
PY
"$BIN" personas validate "$OUT/custom" > /dev/null

# one NAME ARGS...: a timed engine run (lines written and hashed, no file); "events wall".
one() {
  local name=$1; shift
  /usr/bin/time -f "%e" -o "$OUT/$name.time" "$BIN" run -q --force --format none \
    --out "$OUT/$name" --users "$USERS" --days "$DAYS" --threads 2 --scenario "$SCENARIO" "$@" > /dev/null
  python3 -c "import json;print(json.load(open('$OUT/$name/run.json'))['counts']['events'], open('$OUT/$name.time').read().split()[-1])"
}

echo "== $USERS users, $DAYS days, --threads 2, $ROUNDS rounds alternated (default, custom)"
for r in $(seq 1 "$ROUNDS"); do
  echo "default $(one "default-$r")" >> "$OUT/figures"
  echo "custom $(one "custom-$r" --personas "$OUT/custom")" >> "$OUT/figures"
done
python3 - "$OUT/figures" "$USERS" "$DAYS" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
users, days = int(sys.argv[2]), int(sys.argv[3])
by = {}
for name, ev, wall in rows:
    by.setdefault(name, []).append((int(ev), float(wall)))
for name in ("default", "custom"):
    rates = [e / w for e, w in by[name]]
    ev = by[name][0][0]
    print(f"{name:<8} {ev/1e6:6.2f} M events ({ev/users/days:5.1f} per user-day)  "
          f"median {statistics.median(rates)/1e6:5.2f} M ev/s  (runs: {', '.join(f'{r/1e6:.2f}' for r in rates)})")
d = statistics.median(e / w for e, w in by["default"])
c = statistics.median(e / w for e, w in by["custom"])
print(f"custom / default: {c/d:.3f} ({(c/d-1)*100:+.1f} %)")
PY
