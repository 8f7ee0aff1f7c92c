#!/usr/bin/env bash
# The client-compatibility suite: starts the given cairn binary and runs
# real clients against it, one script per client: psql (descriptions
# compared with PostgreSQL's; list commands, \x, \copy, tab completion),
# psycopg 3 and psycopg2, SQLAlchemy, asyncpg,
# node-postgres and pgJDBC. Each prints PASS/FAIL lines; this prints the
# total and fails if anything failed. A missing client fails the run.
#
#   tests/clients/run.sh <cairn binary>
#   tests/clients/run.sh --against-postgres   # the same scenarios against
#                                             # Debian's PostgreSQL, to check
#                                             # an expectation at the source
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
chmod 755 "$work"
pid=""
postgres_bin=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$postgres_bin" ]; then as_postgres "$postgres_bin/pg_ctl" -D "$work/pgdata" -m fast stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

export CAIRN_PASSWORD=root-pw
if [ "${1:-}" = "--against-postgres" ]; then
  # PostgreSQL refuses to run as root: run it as the postgres account.
  as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  postgres_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  [ -x "$postgres_bin/initdb" ] || { echo "FAIL: no PostgreSQL server (apt-get install postgresql)"; exit 1; }
  [ "$(id -u)" = 0 ] && chown postgres "$work"
  as_postgres "$postgres_bin/initdb" -D "$work/pgdata" -A trust -U postgres >/dev/null || exit 1
  CAIRN_PORT=$((20000 + RANDOM % 20000))
  as_postgres "$postgres_bin/pg_ctl" -D "$work/pgdata" -l "$work/server.log" -w \
    -o "-p $CAIRN_PORT -k $work -c listen_addresses=127.0.0.1" start >/dev/null || exit 1
  psql -X -q "host=127.0.0.1 port=$CAIRN_PORT user=postgres dbname=postgres" \
    -c "CREATE ROLE root SUPERUSER LOGIN PASSWORD '$CAIRN_PASSWORD'" -c "CREATE DATABASE cairn OWNER root" || exit 1
else
  binary="${1:?usage: run.sh <cairn binary> | --against-postgres}"
  CAIRN_ROOT_PASSWORD="$CAIRN_PASSWORD" CAIRN_LOG=info "$binary" serve \
    --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    CAIRN_PORT="$(sed -n 's/.*listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log" | head -n1)"
    [ -n "$CAIRN_PORT" ] && break
    sleep 0.1
  done
  [ -n "$CAIRN_PORT" ] || { echo "FAIL: server did not start"; cat "$work/server.log"; exit 1; }
fi
export CAIRN_PORT PGPASSWORD="$CAIRN_PASSWORD"
export CAIRN_DSN="host=127.0.0.1 port=$CAIRN_PORT user=root password=$CAIRN_PASSWORD dbname=cairn"

passed=0
failed=0
# run NAME COMMAND…: runs one client's script, counting its PASS and FAIL
# lines; a script that fails without saying what counts as one failure.
run() {
  local name="$1"; shift
  echo "-- $name"
  "$@" 2>&1 | tee "$work/out"
  local status="${PIPESTATUS[0]}"
  local p f
  p="$(grep -c '^PASS ' "$work/out")"
  f="$(grep -c '^FAIL ' "$work/out")"
  if [ "$status" != 0 ] && [ "$f" = 0 ]; then
    echo "FAIL $name: exited with status $status"
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
}

run psql bash "$here/psql_describe.sh"
run psql-session python3 "$here/psql_session.py"
run psycopg python3 "$here/psycopg_test.py"
run sqlalchemy python3 "$here/sqlalchemy_test.py"
run asyncpg python3 "$here/asyncpg_test.py"
run node-postgres env NODE_PATH="${CAIRN_NODE_MODULES:?set CAIRN_NODE_MODULES to a node_modules holding pg}" \
  node "$here/node_pg_test.js"
jdbc_jar="${CAIRN_JDBC_JAR:-/usr/share/java/postgresql.jar}"
mkdir -p "$work/classes"
run pgjdbc bash -c "javac -d '$work/classes' -cp '$jdbc_jar' '$here/java/JdbcTest.java' && java -cp '$work/classes:$jdbc_jar' JdbcTest"

echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  echo "-- server log"; tail -n 50 "$work/server.log"
  exit 1
fi
