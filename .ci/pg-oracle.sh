#!/usr/bin/env bash
# The SQL scripts (tests/sql) against PostgreSQL itself: their expectations
# must be PostgreSQL's answers, except where a record says it is CairnDB's
# alone (see tests/e2e/sql_scripts.rs). Starts a throwaway PostgreSQL from
# Debian's package on a free port, runs the scripts there, stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
work="$(mktemp -d)"
chmod 755 "$work"
# PostgreSQL refuses to run as root: run it as the postgres account.
# (From $work: the clone may be somewhere the postgres account cannot enter.)
as_postgres() { if [ "$(id -u)" = 0 ]; then chown -R postgres "$work"; (cd "$work" && runuser -u postgres -- "$@"); else "$@"; fi; }
cleanup() {
  as_postgres "$pg_bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$((40000 + RANDOM % 10000))
as_postgres "$pg_bin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
"$pg_bin/postgres" --version
CAIRN_SQL_ORACLE="host=127.0.0.1 port=$port user=postgres dbname=postgres" \
  cargo test --workspace --test e2e -- --exact sql_scripts::sql_scripts
