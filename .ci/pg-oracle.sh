#!/usr/bin/env bash
# The differential suite (tests/conformance) against PostgreSQL itself:
# its expectations must be PostgreSQL's answers, except where a record says
# it is CairnDB's alone (see tests/e2e/conformance.rs). Starts a throwaway
# PostgreSQL from Debian's package on a free port, runs the scripts there
# over both protocols, stops it.
#
#   .ci/pg-oracle.sh            check the recorded answers against PostgreSQL
#   .ci/pg-oracle.sh --record   record PostgreSQL's answers into the scripts
set -euo pipefail
if [ "${1:-}" = --record ]; then export CAIRN_SQL_UPDATE=1; fi
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
  cargo test --workspace --test e2e -- --exact conformance::scripts_answer_as_postgresql_does
