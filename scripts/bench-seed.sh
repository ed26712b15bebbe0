#!/usr/bin/env bash
# Seeding figures for docs/PERFORMANCE.md, with `pgbench -i` measured in the same run as
# the yardstick. Not a test: it prints numbers. Needs PostgreSQL (scripts/ensure-postgres.sh).
# Usage: bash scripts/bench-seed.sh [users] [days] [pgbench_scale]
# CORES=N bash scripts/bench-seed.sh pins PostgreSQL (every process of the postgres user;
# new backends inherit the postmaster's mask) and both clients to the first N cores for
# the run, and gives PostgreSQL every core back at exit: how each side scales with cores.
# Root only (taskset on the server's processes).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-250000}
DAYS=${2:-7}
SCALE=${3:-30}
if [ -n "${CORES:-}" ]; then # checked before the build, not after it
  if ! [[ "$CORES" =~ ^[1-9][0-9]*$ ]] || [ "$CORES" -gt "$(nproc)" ]; then
    echo "CORES=$CORES: give a whole number of cores from 1 to $(nproc)" >&2
    exit 2
  fi
  [ "$(id -u)" = 0 ] || { echo "CORES: pinning PostgreSQL's processes needs root" >&2; exit 2; }
fi
PG=$(bash scripts/ensure-postgres.sh | tail -n 1)
cargo build --release --quiet
BIN=target/release/simulate
OUT=$(mktemp -d)
# CORES: every PostgreSQL process's own mask is saved before it is pinned and given back
# at exit; without CORES nothing of the server is touched.
SAVED=() # "pid mask"
restore_server() {
  local pair
  for pair in "${SAVED[@]}"; do # a backend that has exited since needs nothing back
    taskset -a -p "${pair#* }" "${pair%% *}" >/dev/null 2>&1 || true
  done
}
trap 'restore_server; rm -rf "$OUT"; psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS bench_seed WITH (FORCE)" -qc "DROP DATABASE IF EXISTS bench_pgbench WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
RUN=()
if [ -n "${CORES:-}" ]; then
  pids=$(pgrep -u postgres) || {
    echo "CORES: no process of the postgres user on this machine (a server elsewhere cannot be pinned)" >&2
    exit 2
  }
  for pid in $pids; do
    mask=$(taskset -p "$pid" 2>/dev/null | awk '{print $NF}') || continue
    [ -n "$mask" ] || continue # exited since pgrep
    SAVED+=("$pid $mask")
    if ! taskset -a -cp "0-$((CORES - 1))" "$pid" >/dev/null 2>&1 && kill -0 "$pid" 2>/dev/null; then
      echo "CORES: could not pin PostgreSQL process $pid; the figures would not be for $CORES cores" >&2
      exit 1
    fi
  done
  RUN=(taskset -c "0-$((CORES - 1))")
fi
export CORES=${CORES:-$(nproc)}

for db in bench_seed bench_pgbench; do
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -qc "CREATE DATABASE $db" >/dev/null
done
echo "machine: $(nproc) cores (this run on $CORES), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(psql "$PG/postgres" -Atc 'SHOW server_version')"

busy() { # core-seconds the whole machine has been busy (all of /proc/stat but idle and iowait)
  awk '/^cpu /{print ($2+$3+$4+$7+$8+$9)/100}' /proc/stat
}

size_of() { # database, schema -> bytes of tables, indexes and TOAST
  psql "$PG/$1" -Atc "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$2' AND c.relkind = 'r'"
}

# pgbench -i at scale $1 (further flags after it) into bench_pgbench; prints
# "seconds bytes rows client_cpu server_cpu".
pgbench_at() {
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS bench_pgbench WITH (FORCE)" -qc "CREATE DATABASE bench_pgbench" >/dev/null
  sync
  local start end b0 b1
  start=$(date +%s.%N); b0=$(busy)
  "${RUN[@]}" /usr/bin/time -f "%U %S" -o "$OUT/pgbench.cpu" pgbench -i -s "$1" "${@:2}" "$PG/bench_pgbench" 2> "$OUT/pgbench.log" >/dev/null
  end=$(date +%s.%N); b1=$(busy)
  grep -E "^done in" "$OUT/pgbench.log" >&2 || true
  local cpu; cpu=$(awk '{print $1+$2}' "$OUT/pgbench.cpu")
  echo "$(python3 -c "print($end - $start)") $(size_of bench_pgbench public) $(($1 * 100000 + $1 * 10 + $1)) $cpu $(python3 -c "print($b1 - $b0 - $cpu)")"
}

echo
echo "== pgbench -i -s $SCALE"
PGB=$(pgbench_at "$SCALE")

echo
echo "== simulate seed --users $USERS --days $DAYS (PostgreSQL)"
sync
start=$(date +%s.%N); s0=$(busy)
"${RUN[@]}" /usr/bin/time -f "%U %S" -o "$OUT/seed.cpu" "$BIN" seed --users "$USERS" --days "$DAYS" --database-url "$PG/bench_seed" --reset 2> "$OUT/seed.err" > "$OUT/seed.out"
end=$(date +%s.%N); s1=$(busy)
cat "$OUT/seed.err" | grep -v "^$" || true
head -1 "$OUT/seed.out"
SIM_BYTES=$(size_of bench_seed simulate)
SIM_ROWS=$(grep -oE '[0-9]+ rows \(' "$OUT/seed.out" | head -1 | grep -oE '^[0-9]+')
SIM_CPU=$(awk '{print $1+$2}' "$OUT/seed.cpu")
SIM="$(python3 -c "print($end - $start)") $SIM_BYTES $SIM_ROWS $SIM_CPU $(python3 -c "print($s1 - $s0 - $SIM_CPU)")"

# The issue's yardstick is -s 30 (3 M rows, about 470 MB); at the default 250k users our
# load is ten times that, and at that size the disk and the kernel's dirty-page writeback cost both
# sides more per MB. So pgbench also runs at the scale whose relations match ours in MB.
MATCH=$(python3 -c "print(max(1, round($SIM_BYTES / ($(echo "$PGB" | cut -d' ' -f2) / $SCALE))))")
echo
echo "== pgbench -i -s $MATCH (the same MB as the seed)"
PGB_MATCH=$(pgbench_at "$MATCH")

python3 - "$SCALE" "$MATCH" $PGB $PGB_MATCH $SIM <<'PY'
import os, sys
scale, match = sys.argv[1:3]
v = list(map(float, sys.argv[3:]))
runs = [(f"pgbench -i -s {scale}", v[0:5]), (f"pgbench -i -s {match}", v[5:10]), ("simulate seed", v[10:15])]
print()
print(f"{'':<26}{'seconds':>9}{'rows':>13}{'MB':>9}{'rows/s':>12}{'MB/s':>8}{'B/row':>7}")
for name, (s, b, r, _, _) in runs:
    print(f"{name:<26}{s:9.2f}{r:13.0f}{b/1e6:9.1f}{r/s:12.0f}{b/1e6/s:8.1f}{b/r:7.0f}")
ss, sb, sr, sc, sserv = runs[2][1]
for name, (s, b, r, _, _) in runs[:2]:
    print(f"MB/s ratio simulate / {name}: {(sb/ss)/(b/s):.2f}x   rows/s ratio: {(sr/ss)/(r/s):.2f}x")
# Where the CPU went: the client's own (time) and the rest of the machine (PostgreSQL,
# plus whatever else runs), from /proc/stat over the same interval.
print()
print(f"{'CPU core-seconds':<26}{'client':>9}{'server':>9}{'MB per server core-s':>22}")
for name, (s, b, r, c, serv) in runs:
    print(f"{name:<26}{c:9.1f}{serv:9.1f}{b/1e6/max(serv, 1e-9):22.0f}")
cores = int(os.environ["CORES"])
print(f"simulate seed with a client that cost nothing, the server's CPU alone on {cores} cores: >= {sserv/cores:.1f} s,")
print("  at most " + ", ".join(f"{(sb/(sserv/cores))/(b/s):.2f}x {name}" for name, (s, b, *_) in runs[:2]))
PY

echo
echo "== simulate seed --users 50000 --days 7, end to end"
"${RUN[@]}" /usr/bin/time -f "PostgreSQL: %e s wall, peak RSS %M KB" "$BIN" seed -q --users 50000 --days 7 --database-url "$PG/bench_seed" --reset | head -1
"${RUN[@]}" /usr/bin/time -f "SQLite:     %e s wall, peak RSS %M KB" "$BIN" seed -q --users 50000 --days 7 --sqlite "$OUT/seed.sqlite" | head -1
ls -l "$OUT/seed.sqlite" | awk '{printf "SQLite file: %.1f MB\n", $5/1e6}'

# Both sides without WAL: pgbench's --unlogged-tables against seed --unlogged, same MB.
echo
echo "== UNLOGGED tables on both sides: pgbench -i --unlogged-tables -s $MATCH, then seed --unlogged"
PGB_U=$(pgbench_at "$MATCH" --unlogged-tables)
sync
start=$(date +%s.%N)
"${RUN[@]}" "$BIN" seed -q --unlogged --users "$USERS" --days "$DAYS" --database-url "$PG/bench_seed" --reset > /dev/null
end=$(date +%s.%N)
python3 - $PGB_U "$(python3 -c "print($end - $start)")" "$(size_of bench_seed simulate)" <<'PY'
import sys
ps, pb = float(sys.argv[1]), float(sys.argv[2])
ss, sb = float(sys.argv[6]), float(sys.argv[7])
print(f"pgbench -i --unlogged-tables  {ps:7.2f} s {pb/1e6:9.1f} MB {pb/1e6/ps:7.1f} MB/s")
print(f"simulate seed --unlogged      {ss:7.2f} s {sb/1e6:9.1f} MB {sb/1e6/ss:7.1f} MB/s")
print(f"MB/s ratio, both UNLOGGED: {(sb/ss)/(pb/ps):.2f}x")
PY
