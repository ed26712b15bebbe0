#!/usr/bin/env bash
# `seed --into` figures for docs/PERFORMANCE.md (issue 20 item 8): the points app's team
# schema (examples/points-app/schema.sql: text keys, a unique email, a foreign key, two
# indexes on the JSONB log) loaded several ways, each into a fresh database with the keys
# and indexes in place, in one transaction:
#   simulate   `simulate seed --into examples/points-app/seed.toml`, end to end (the
#              engine, the spool, the COPY of both tables, the manifest);
#   rebuild    the same with --rebuild-indexes (the log's two plain indexes dropped
#              before the rows and built after them, in the same transaction);
#   (a) psql   `\copy` of the very same rows from files, table by table: the database's
#              floor for loading into tables whose indexes stay (target: simulate >= 0.9x);
#   (b) INSERT the same rows as 1,000-row multi-row INSERT statements, what teams write
#              today (target: simulate >= 2x), loaded once (the slowest).
# The loads alternate round by round (psql, simulate, rebuild, psql, simulate, …) so a
# machine whose load changes treats them alike; each round's ratios are printed, then
# their range. BASE=path/to/another/simulate adds that binary as a variant (before/after).
# Each simulate run's phases (engine, rendering, COPY waits, keys and digest) are kept in
# the output. Not a test: it prints numbers. Needs PostgreSQL (scripts/ensure-postgres.sh).
# Usage: [ROUNDS=2] [BIN=bin] [BASE=bin] bash scripts/bench-seed-into.sh [users] [days]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-250000}
DAYS=${2:-7}
ROUNDS=${ROUNDS:-2}
PG=$(bash scripts/ensure-postgres.sh | tail -n 1)
if [ -z "${BIN:-}" ]; then # BIN=path skips the build (a binary kept aside)
  cargo build --release --quiet
  BIN=target/release/simulate
fi
EX=examples/points-app
DB=bench_into
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"; psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

fresh() { # an empty database holding the team's schema
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -qc "CREATE DATABASE $DB" >/dev/null
  psql -q "$PG/$DB" -f "$EX/schema.sql" >/dev/null
  sync
}
now() { date +%s.%N; }
rows() { psql "$PG/$DB" -Atc 'SELECT (SELECT count(*) FROM "User") + (SELECT count(*) FROM "BehaviorLog")'; }
secs() { python3 -c "print($2 - $1)"; }

seed_with() { # binary, extra flags...: the seed's seconds (its phases in $OUT/phases.<n>)
  local bin=$1; shift
  fresh
  local t0 t1
  t0=$(now)
  "$bin" seed --personas "$EX/personas" --scenario "$EX/scenario.toml" --users "$USERS" \
    --days "$DAYS" --database-url "$PG/$DB" --into "$EX/seed.toml" "$@" \
    > "$OUT/seed.out" 2> "$OUT/seed.err"
  t1=$(now)
  secs "$t0" "$t1"
}

psql_copy() {
  fresh
  local t0 t1
  t0=$(now)
  psql -q -1 -v ON_ERROR_STOP=1 "$PG/$DB" -c "\\copy \"User\" FROM '$OUT/user.copy'" -c "\\copy \"BehaviorLog\" FROM '$OUT/log.copy'"
  t1=$(now)
  [ "$(rows)" = "$ROWS" ] || { echo "psql loaded $(rows) rows, not $ROWS" >&2; exit 1; }
  secs "$t0" "$t1"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(psql "$PG/postgres" -Atc 'SHOW server_version'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== simulate seed --into $EX/seed.toml --users $USERS --days $DAYS (first load: its rows become the files)"
FIRST=$(seed_with "$BIN")
head -3 "$OUT/seed.out"
cat "$OUT/seed.err"
ROWS=$(rows)

# The same rows, as the files psql loads and as INSERT statements (neither timed).
psql -q "$PG/$DB" -c "\\copy \"User\" TO '$OUT/user.copy'" -c "\\copy \"BehaviorLog\" TO '$OUT/log.copy'"
BYTES=$(($(stat -c %s "$OUT/user.copy") + $(stat -c %s "$OUT/log.copy")))
python3 - "$OUT" <<'PY'
import sys
out = sys.argv[1]
def unescape(f):
    if f == r"\N":
        return None
    res, i = [], 0
    while i < len(f):
        c = f[i]
        if c == "\\" and i + 1 < len(f):
            n = f[i + 1]
            res.append({"t": "\t", "n": "\n", "r": "\r"}.get(n, n))
            i += 2
        else:
            res.append(c)
            i += 1
    return "".join(res)
def lit(v):
    return "NULL" if v is None else "'" + v.replace("'", "''") + "'"
with open(f"{out}/inserts.sql", "w") as sql:
    for table, name in (('"User"', "user"), ('"BehaviorLog"', "log")):
        batch = []
        def flush():
            if batch:
                sql.write(f"INSERT INTO {table} VALUES\n" + ",\n".join(batch) + ";\n")
                batch.clear()
        with open(f"{out}/{name}.copy") as f:
            for line in f:
                vals = [lit(unescape(x)) for x in line.rstrip("\n").split("\t")]
                batch.append("(" + ", ".join(vals) + ")")
                if len(batch) == 1000:
                    flush()
        flush()
PY

echo "== (b) 1,000-row multi-row INSERTs of the same rows, one transaction (once)"
fresh
t0=$(now)
psql -q -1 -v ON_ERROR_STOP=1 "$PG/$DB" -f "$OUT/inserts.sql" >/dev/null
t1=$(now)
INS_S=$(secs "$t0" "$t1")
[ "$(rows)" = "$ROWS" ] || { echo "the INSERTs loaded $(rows) rows, not $ROWS" >&2; exit 1; }

: > "$OUT/rounds"
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r (load average $(cut -d' ' -f1 /proc/loadavg))"
  A=$(psql_copy)
  S=$(seed_with "$BIN")
  cp "$OUT/seed.err" "$OUT/phases.sim.$r"
  R=$(seed_with "$BIN" --rebuild-indexes)
  cp "$OUT/seed.err" "$OUT/phases.rebuild.$r"
  B=-1
  if [ -n "${BASE:-}" ]; then B=$(seed_with "$BASE"); fi
  echo "$A $S $R $B" >> "$OUT/rounds"
  echo "  psql \\copy $A s, simulate $S s, --rebuild-indexes $R s$([ -n "${BASE:-}" ] && echo ", base $B s")"
done
echo "== phases of the last round's simulate run"
cat "$OUT/phases.sim.$ROUNDS"
echo "== phases of the last round's --rebuild-indexes run"
cat "$OUT/phases.rebuild.$ROUNDS"

python3 - "$ROWS" "$BYTES" "$INS_S" "$OUT/rounds" <<'PY'
import sys
rows, data, ins = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rounds = [[float(x) for x in l.split()] for l in open(sys.argv[4]) if l.strip()]
names = ["(a) psql \\copy", "simulate seed --into", "  --rebuild-indexes", "  base binary"]
print()
print(f"{rows} rows, {data/1e6:.1f} MB as COPY text; {len(rounds)} rounds")
print(f"{'':<26}{'seconds (each round)':>26}{'rows/s (best)':>15}{'MB/s':>7}")
def line(name, secs):
    best = min(secs)
    each = " ".join(f"{s:.1f}" for s in secs)
    print(f"{name:<26}{each:>26}{rows/best:15.0f}{data/1e6/best:7.1f}")
for i, name in enumerate(names):
    secs = [r[i] for r in rounds if r[i] >= 0]
    if secs:
        line(name, secs)
line("(b) 1,000-row INSERTs", [ins])
def ratios(i, base):
    v = [base(r) / r[i] for r in rounds if r[i] >= 0]
    return " ".join(f"{x:.2f}" for x in v) + (f"  (range {min(v):.2f}-{max(v):.2f})" if len(v) > 1 else "")
for i, name in ((1, "simulate"), (2, "--rebuild-indexes"), (3, "base binary")):
    if any(r[i] >= 0 for r in rounds):
        print(f"{name} / (a) psql \\copy, per round: {ratios(i, lambda r: r[0])} (target >= 0.9x)")
        print(f"{name} / (b) INSERTs, per round:    {ratios(i, lambda r: ins)} (target >= 2x)")
PY
