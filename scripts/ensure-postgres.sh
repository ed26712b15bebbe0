#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests, installing and
# starting one if needed. Prints the URL the tests should use on its last line.
set -euo pipefail

url=${SIMULATE_TEST_PG:-postgres://postgres@127.0.0.1:5432}

answers() {
  command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q
}

if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! answers; then
  echo "PostgreSQL is not installed: installing it from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

if ! answers; then
  for v in $(ls /etc/postgresql 2>/dev/null); do
    echo "starting PostgreSQL $v" >&2
    pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2 || true
  done
fi

for _ in $(seq 1 60); do
  answers && break
  sleep 0.5
done
if ! answers; then
  echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2
  exit 1
fi

# A fresh install asks for a password on TCP: give the postgres role one the tests know.
if ! psql "$url/postgres" -Atqc 'SELECT 1' >/dev/null 2>&1; then
  su postgres -c "psql -Atqc \"ALTER ROLE postgres PASSWORD 'postgres'\"" >&2
  url=postgres://postgres:postgres@127.0.0.1:5432
fi
echo "$url"
