#!/usr/bin/env bash
# Seeding figures for docs/PERFORMANCE.md, with `pgbench -i` measured in the same run as
# the yardstick. Not a test: it prints numbers. Needs PostgreSQL (scripts/ensure-postgres.sh).
# Usage: bash scripts/bench-seed.sh [users] [days] [pgbench_scale]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-250000}
DAYS=${2:-7}
SCALE=${3:-30}
PG=$(bash scripts/ensure-postgres.sh | tail -n 1)
cargo build --release --quiet
BIN=target/release/simulate
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"; psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS bench_seed WITH (FORCE)" -qc "DROP DATABASE IF EXISTS bench_pgbench WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

for db in bench_seed bench_pgbench; do
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -qc "CREATE DATABASE $db" >/dev/null
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(psql "$PG/postgres" -Atc 'SHOW server_version')"

busy() { # core-seconds the whole machine has been busy (all of /proc/stat but idle and iowait)
  awk '/^cpu /{print ($2+$3+$4+$7+$8+$9)/100}' /proc/stat
}

size_of() { # database, schema -> bytes of tables, indexes and TOAST
  psql "$PG/$1" -Atc "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$2' AND c.relkind = 'r'"
}

echo
echo "== pgbench -i -s $SCALE"
start=$(date +%s.%N); b0=$(busy)
/usr/bin/time -f "%U %S" -o "$OUT/pgbench.cpu" pgbench -i -s "$SCALE" "$PG/bench_pgbench" 2> "$OUT/pgbench.log" >/dev/null
end=$(date +%s.%N); b1=$(busy)
grep -E "^done in" "$OUT/pgbench.log" || true
PGB_S=$(python3 -c "print($end - $start)")
PGB_BYTES=$(size_of bench_pgbench public)
PGB_ROWS=$((SCALE * 100000 + SCALE * 10 + SCALE))

echo
echo "== simulate seed --users $USERS --days $DAYS (PostgreSQL)"
start=$(date +%s.%N); s0=$(busy)
/usr/bin/time -f "%U %S" -o "$OUT/seed.cpu" "$BIN" seed --users "$USERS" --days "$DAYS" --database-url "$PG/bench_seed" --reset 2> "$OUT/seed.err" > "$OUT/seed.out"
end=$(date +%s.%N); s1=$(busy)
cat "$OUT/seed.err" | grep -v "^$" || true
head -1 "$OUT/seed.out"
SIM_S=$(python3 -c "print($end - $start)")
SIM_BYTES=$(size_of bench_seed simulate)
SIM_ROWS=$(grep -oE '[0-9]+ rows \(' "$OUT/seed.out" | head -1 | grep -oE '^[0-9]+')

python3 - "$PGB_S" "$PGB_BYTES" "$PGB_ROWS" "$SIM_S" "$SIM_BYTES" "$SIM_ROWS" \
  "$b0" "$b1" $(cat "$OUT/pgbench.cpu") "$s0" "$s1" $(cat "$OUT/seed.cpu") <<'PY'
import sys
ps, pb, pr, ss, sb, sr, b0, b1, bu, bs, s0, s1, su, sys_ = map(float, sys.argv[1:])
print()
print(f"{'':<26}{'seconds':>9}{'rows':>13}{'MB':>9}{'rows/s':>12}{'MB/s':>8}{'B/row':>7}")
print(f"{'pgbench -i':<26}{ps:9.2f}{pr:13.0f}{pb/1e6:9.1f}{pr/ps:12.0f}{pb/1e6/ps:8.1f}{pb/pr:7.0f}")
print(f"{'simulate seed':<26}{ss:9.2f}{sr:13.0f}{sb/1e6:9.1f}{sr/ss:12.0f}{sb/1e6/ss:8.1f}{sb/sr:7.0f}")
print(f"MB/s ratio simulate / pgbench: {(sb/ss)/(pb/ps):.2f}x   rows/s ratio: {(sr/ss)/(pr/ps):.2f}x")
# Where the CPU went: the client's own (time) and the rest of the machine (PostgreSQL,
# plus whatever else runs), from /proc/stat over the same interval.
pc, sc = bu + bs, su + sys_
pserv, sserv = (b1 - b0) - pc, (s1 - s0) - sc
print()
print(f"{'CPU core-seconds':<26}{'client':>9}{'server':>9}{'MB per server core-s':>22}")
print(f"{'pgbench -i':<26}{pc:9.1f}{pserv:9.1f}{pb/1e6/max(pserv, 1e-9):22.0f}")
print(f"{'simulate seed':<26}{sc:9.1f}{sserv:9.1f}{sb/1e6/max(sserv, 1e-9):22.0f}")
cores = __import__("os").cpu_count()
print(f"simulate seed with a client that cost nothing, the server's CPU alone on {cores} cores: "
      f">= {sserv/cores:.1f} s, at most {(sb/(sserv/cores))/(pb/ps):.2f}x pgbench -i")
PY

echo
echo "== simulate seed --users 50000 --days 7, end to end"
/usr/bin/time -f "PostgreSQL: %e s wall, peak RSS %M KB" "$BIN" seed -q --users 50000 --days 7 --database-url "$PG/bench_seed" --reset | head -1
/usr/bin/time -f "SQLite:     %e s wall, peak RSS %M KB" "$BIN" seed -q --users 50000 --days 7 --sqlite "$OUT/seed.sqlite" | head -1
ls -l "$OUT/seed.sqlite" | awk '{printf "SQLite file: %.1f MB\n", $5/1e6}'
