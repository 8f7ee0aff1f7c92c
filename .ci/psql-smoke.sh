#!/usr/bin/env bash
# Starts the given cairn binary and drives it with the real psql: plain
# connection, then TLS with certificate verification.
set -euo pipefail
binary="$1"
fixtures="$(cd "$(dirname "$0")/../tests/fixtures" && pwd)"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME ARGS...: starts a server, sets PORT to the port it bound.
start() {
  local name="$1"; shift
  CAIRN_ROOT_PASSWORD=root-pw CAIRN_LOG=info "$binary" serve \
    --data-dir "$work/$name" --listen 127.0.0.1:0 "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do
    PORT="$(sed -n 's/.*listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/$name.log" | head -n1)"
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  echo "server $name did not start:"; cat "$work/$name.log"; exit 1
}

fail() { echo "FAIL: $*"; exit 1; }
passed=0

start plain
export PGPASSWORD=root-pw
out="$(psql -X -v ON_ERROR_STOP=1 -At "host=127.0.0.1 port=$PORT user=root dbname=cairn" \
  -c "CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user" \
  -c "SELECT username, role FROM system.users ORDER BY user_id" \
  -c "EXPLAIN SELECT * FROM system.users WHERE username = 'alice'")"
echo "$out"
grep -qx 'root|system' <<<"$out" || fail "root missing from system.users"
grep -qx 'alice|user' <<<"$out" || fail "alice missing from system.users"
grep -q 'IndexLookup(users_username_idx' <<<"$out" || fail "EXPLAIN does not show the index lookup"
passed=$((passed + 1))

out="$(PGPASSWORD=alice-pw psql -X -v ON_ERROR_STOP=1 -At "host=127.0.0.1 port=$PORT user=alice dbname=cairn" \
  -c "SELECT username FROM system.users")"
[ "$out" = "alice" ] || fail "alice should see only her own row, got: $out"
passed=$((passed + 1))

if PGPASSWORD=wrong psql -X -At "host=127.0.0.1 port=$PORT user=alice dbname=cairn" -c "SELECT 1" 2>"$work/err"; then
  fail "a wrong password was accepted"
fi
grep -q 'password authentication failed for user "alice"' "$work/err" || fail "unexpected error: $(cat "$work/err")"
passed=$((passed + 1))

# COPY over the simple protocol: psql's \copy in and out, inline data
# from stdin, and a failed COPY that leaves the session usable.
printf 'sku,name\na,"x, y"\nb,\n' >"$work/in.csv"
out="$(psql -X -v ON_ERROR_STOP=1 -At "host=127.0.0.1 port=$PORT user=root dbname=cairn" <<SQL
CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT);
\copy products from '$work/in.csv' with (format csv, header true)
COPY products (sku) FROM STDIN;
c
\.
\copy products to stdout with csv
SQL
)"
echo "$out"
[ "$out" = "$(printf 'CREATE TABLE\nCOPY 2\nCOPY 1\na,"x, y"\nb,\nc,')" ] || fail "COPY round trip returned: $out"
out="$(psql -X -At "host=127.0.0.1 port=$PORT user=root dbname=cairn" 2>&1 <<SQL
COPY products (sku) FROM STDIN;
d
bad line with	two fields
\.
SELECT count(*) FROM products;
SQL
)" || true
echo "$out"
grep -q 'extra data after last expected column (COPY products, line 2)' <<<"$out" || fail "bad COPY line not reported: $out"
grep -qx '3' <<<"$out" || fail "session not usable after a failed COPY, or rows written: $out"
passed=$((passed + 1))

# psql's backslash commands read pg_catalog.
out="$(psql -X -v ON_ERROR_STOP=1 -At "host=127.0.0.1 port=$PORT user=root dbname=cairn" \
  -c "CREATE NAMESPACE app" -c "CREATE TABLE app.items (id INT PRIMARY KEY)" \
  -c '\dn' -c '\dt app.*' -c '\l' -c '\du')"
echo "$out"
grep -qx 'app|root' <<<"$out" || fail "\\dn does not list app: $out"
grep -qx 'app|items|table|root' <<<"$out" || fail "\\dt app.* does not list items: $out"
grep -q '^cairn|root|UTF8' <<<"$out" || fail "\\l does not list cairn: $out"
grep -q '^root|Superuser' <<<"$out" || fail "\\du does not list root as superuser: $out"
passed=$((passed + 1))

start tls --tls-cert "$fixtures/server.crt" --tls-key "$fixtures/server.key"
out="$(psql -X -v ON_ERROR_STOP=1 -At \
  "host=localhost port=$PORT user=root dbname=cairn sslmode=verify-full sslrootcert=$fixtures/ca.crt" \
  -c "SELECT current_user")"
[ "$out" = "root" ] || fail "TLS login returned: $out"
passed=$((passed + 1))

echo "psql: $passed passed, 0 failed"
