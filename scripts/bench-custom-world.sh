#!/usr/bin/env bash
# Engine events/s of a world of custom actions only (world.toml) against the default
# world, A/B alternated in one run on the release build (docs/PERFORMANCE.md). Not a test.
# The custom world is made from the shipped personas: every built-in action becomes a
# custom one emitting its own kind (an int drawn, a label drawn, a counter bumped, the
# user's platform by template) and serving the same Hooked step, so sessions, habit and
# churn are the same machine; a chain of `c_more` states after each action stands for the
# side events built-in actions make (EXTRA below), so both worlds make the same events
# per user-day. Both run without scenario phases (the phases script built-in actions).
# Usage: [EXTRA=1.93] bash scripts/bench-custom-world.sh [users] [days] [rounds]
#        (BIN=target/debug/simulate to skip the release build: a quick, slower look)
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-50000}
DAYS=${2:-7}
ROUNDS=${3:-3}
# Extra events per action (the side events built-in actions make): tuned so both worlds
# make the same events per user-day at the default size, 50,000 users × 7 days (within
# 5 %; the script prints both): 1.2 does it at 5,000 × 3, where fewer users have churned.
EXTRA=${EXTRA:-1.93}
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
python3 - "$OUT/custom" "$EXTRA" <<'PY'
import glob, math, os, re, sys
out, extra = sys.argv[1], float(sys.argv[2])
# A built-in action makes its side events too (a game's stat updates, a goal completed
# by points, a claim's points): a custom action makes one event. To make the same events
# per user-day, each action state is followed by a chain of `more` states performing
# `c_more` (one event, no habit effect), each with chance extra / length, so an action
# makes 1 + extra events on average; then the state's own transitions.
chain = math.ceil(extra) if extra > 0 else 0
actions = set()
drop = re.compile(r"^(points|kills|price|shares|currency|accept|join_delay)\s*=")
trans = re.compile(r"^(next|weighted|when|otherwise)\s*=")
def split(path):
    text = open(path).read().splitlines(keepends=True)
    sections, cur = [], []
    for line in text:
        if line.startswith("[") and cur:
            sections.append(cur)
            cur = []
        cur.append(line)
    sections.append(cur)
    return sections
for path in sorted(glob.glob("personas/*.toml")):
    lines = []
    for sec in split(path):
        head = sec[0]
        state = re.match(r"^\[states\.([a-z_0-9]+)\]", head)
        body, moves, in_move = [], [], False
        for line in sec[1:]:
            if drop.match(line):
                continue
            m = re.match(r'^action\s*=\s*"([a-z_]+)"', line)
            if m:
                actions.add(m.group(1))
                line = f'action = "c_{m.group(1)}"\n'
            if trans.match(line):
                in_move = True
            elif re.match(r"^[a-z_]+\s*=", line) or not line.strip():
                in_move = False
            (moves if in_move else body).append(line)
        if not state or chain == 0 or not moves:
            lines += [head] + body + moves
            continue
        name = state.group(1)
        lines += [head] + body + [f'next = {{ to = "{name}_more1", delay = "1s" }}\n\n']
        for k in range(1, chain + 1):
            lines.append(f"[states.{name}_more{k}]\naction = \"c_more\"\nchance = {extra / chain:.4f}\n")
            if k < chain:
                lines.append(f'next = {{ to = "{name}_more{k + 1}", delay = "1s" }}\n\n')
        lines += moves + ["\n"]
    open(os.path.join(out, os.path.basename(path)), "w").write("".join(lines))
# Each custom action serves the Hooked step its built-in one does (persona::model's
# default_hook), so rewards and investments feed habit as theirs do.
HOOK = {"login": "action", "view_challenges": "action", "play_game": "action",
        "earn_points": "reward", "claim_goal": "reward", "claim_gift": "reward",
        "redeem_points": "reward", "check_in": "investment", "update_profile": "investment",
        "invite": "investment", "create_gift": "investment", "purchase": "investment",
        "more": "action"}
if chain:
    actions.add("more")
world = []
for a in sorted(actions):
    world.append(f'[kinds."{a}.done"]\nprops = {{ n = "int", label = "enum:a|b|c", platform = "str" }}\n')
    world.append(f'[actions.c_{a}]\nemits = "{a}.done"\nhook = "{HOOK[a]}"\ncounters = {{ {a} = 1 }}\n'
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
