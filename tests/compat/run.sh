#!/usr/bin/env bash
# The client-compatibility suite: starts the given cairn binary and runs
# real drivers against it: psycopg 3 and psycopg2 (Python) with and
# without SQLAlchemy, node-postgres, and pgJDBC. The drivers must be installed (see .ci/run); a missing one
# fails the run rather than being skipped.
set -euo pipefail
binary="$1"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

export CAIRN_PASSWORD=root-pw
CAIRN_ROOT_PASSWORD="$CAIRN_PASSWORD" CAIRN_LOG=info "$binary" serve \
  --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  CAIRN_PORT="$(sed -n 's/.*listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log" | head -n1)"
  [ -n "$CAIRN_PORT" ] && break
  sleep 0.1
done
[ -n "$CAIRN_PORT" ] || { echo "server did not start:"; cat "$work/server.log"; exit 1; }
export CAIRN_PORT
export CAIRN_DSN="host=127.0.0.1 port=$CAIRN_PORT user=root password=$CAIRN_PASSWORD dbname=cairn"

failed=()
run() {
  local name="$1"; shift
  echo "-- $name"
  if ! "$@"; then failed+=("$name"); fi
}

run psycopg python3 "$here/psycopg_test.py"
run sqlalchemy python3 "$here/sqlalchemy_test.py"
run node-postgres env NODE_PATH="${CAIRN_NODE_MODULES:?set CAIRN_NODE_MODULES to a node_modules holding pg}" \
  node "$here/node_pg_test.js"
jdbc_jar="${CAIRN_JDBC_JAR:-/usr/share/java/postgresql.jar}"
mkdir -p "$work/classes"
run pgjdbc bash -c "javac -d '$work/classes' -cp '$jdbc_jar' '$here/java/JdbcTest.java' && java -cp '$work/classes:$jdbc_jar' JdbcTest"

if [ "${#failed[@]}" -gt 0 ]; then
  echo "client compatibility FAILED: ${failed[*]}"
  echo "-- server log"; tail -n 50 "$work/server.log"
  exit 1
fi
echo "client compatibility: all drivers passed"
