#!/usr/bin/env bash
# `seed --into` figures for docs/PERFORMANCE.md (issue 20 item 8): the points app's team
# schema (examples/points-app/schema.sql: text keys, a unique email, a foreign key, two
# indexes on the JSONB log) seeded three ways, each into a fresh database with the keys
# and indexes in place, in one transaction:
#   simulate   `simulate seed --into examples/points-app/seed.toml`, end to end (the
#              engine, the spool, the COPY of both tables);
#   (a) psql   `\copy` of the very same rows from files, table by table: the database's
#              floor for loading into tables whose indexes stay (target: simulate >= 0.9x);
#   (b) INSERT the same rows as 1,000-row multi-row INSERT statements, what teams write
#              today (target: simulate >= 2x).
# Not a test: it prints numbers. Needs PostgreSQL (scripts/ensure-postgres.sh).
# Usage: bash scripts/bench-seed-into.sh [users] [days]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-250000}
DAYS=${2:-7}
PG=$(bash scripts/ensure-postgres.sh | tail -n 1)
cargo build --release --quiet
BIN=target/release/simulate
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

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(psql "$PG/postgres" -Atc 'SHOW server_version')"
echo "== simulate seed --into $EX/seed.toml --users $USERS --days $DAYS"
fresh
t0=$(now)
/usr/bin/time -f "%e s wall, peak RSS %M KB" -o "$OUT/seed.time" "$BIN" seed -q \
  --personas "$EX/personas" --scenario "$EX/scenario.toml" --users "$USERS" --days "$DAYS" \
  --database-url "$PG/$DB" --into "$EX/seed.toml" > "$OUT/seed.out"
t1=$(now)
head -3 "$OUT/seed.out"
cat "$OUT/seed.time"
SIM_S=$(python3 -c "print($t1 - $t0)")
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

echo "== (a) psql \\copy of the same rows from files, one transaction"
fresh
t0=$(now)
psql -q -1 -v ON_ERROR_STOP=1 "$PG/$DB" -c "\\copy \"User\" FROM '$OUT/user.copy'" -c "\\copy \"BehaviorLog\" FROM '$OUT/log.copy'"
t1=$(now)
COPY_S=$(python3 -c "print($t1 - $t0)")
[ "$(rows)" = "$ROWS" ] || { echo "psql loaded $(rows) rows, not $ROWS" >&2; exit 1; }

echo "== (b) 1,000-row multi-row INSERTs of the same rows, one transaction"
fresh
t0=$(now)
psql -q -1 -v ON_ERROR_STOP=1 "$PG/$DB" -f "$OUT/inserts.sql" >/dev/null
t1=$(now)
INS_S=$(python3 -c "print($t1 - $t0)")
[ "$(rows)" = "$ROWS" ] || { echo "the INSERTs loaded $(rows) rows, not $ROWS" >&2; exit 1; }

python3 - "$ROWS" "$BYTES" "$SIM_S" "$COPY_S" "$INS_S" <<'PY'
import sys
rows, data = int(sys.argv[1]), int(sys.argv[2])
runs = [("simulate seed --into", float(sys.argv[3])), ("(a) psql \\copy", float(sys.argv[4])),
        ("(b) 1,000-row INSERTs", float(sys.argv[5]))]
print()
print(f"{rows} rows, {data/1e6:.1f} MB as COPY text")
print(f"{'':<24}{'seconds':>9}{'rows/s':>12}{'MB/s':>8}")
for name, s in runs:
    print(f"{name:<24}{s:9.2f}{rows/s:12.0f}{data/1e6/s:8.1f}")
sim = runs[0][1]
print(f"simulate / (a) psql \\copy: {runs[1][1]/sim:.2f}x (target >= 0.9x)")
print(f"simulate / (b) INSERTs:    {runs[2][1]/sim:.2f}x (target >= 2x)")
PY
