#!/usr/bin/env bash
# psql's descriptions of tables (\d, \d+, \dt, \di, \d of an index) must
# print exactly what PostgreSQL prints for the same definitions. The
# reference, psql/describe.expected, was recorded from PostgreSQL 15 with
# the same psql; record it again with --record against a PostgreSQL server.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dsn="${CAIRN_DSN:?}"
psql -X -q -v ON_ERROR_STOP=1 "$dsn" -f "$here/psql/describe.sql" >/dev/null 2>&1 \
  || { echo "FAIL psql describe: the table definitions did not load"; exit 1; }
actual="$(mktemp)"
trap 'rm -f "$actual"' EXIT
while IFS= read -r command; do
  echo "== $command"
  psql -X "$dsn" -c "$command" 2>&1
done <"$here/psql/describe.cmds" >"$actual"
if [ "${1:-}" = "--record" ]; then
  cp "$actual" "$here/psql/describe.expected"
  echo "recorded $here/psql/describe.expected"
  exit 0
fi
failed=0
while IFS= read -r command; do
  # One PASS/FAIL per command: compare the block that follows its header.
  block() { awk -v c="== $command" '$0 == c {on = 1; next} /^== / {on = 0} on' "$1"; }
  if diff <(block "$here/psql/describe.expected") <(block "$actual") >/dev/null; then
    echo "PASS psql $command"
  else
    failed=1
    echo "FAIL psql $command: differs from PostgreSQL's"
    diff <(block "$here/psql/describe.expected") <(block "$actual") | head -20
  fi
done <"$here/psql/describe.cmds"
exit "$failed"
