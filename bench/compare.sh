#!/usr/bin/env bash
# CairnDB against PostgreSQL on this machine, in one run: the same data and
# the same pgbench scripts against both, alternating CairnDB and PostgreSQL
# (A B A B …) so that drift hits both, BENCH_ROUNDS rounds; prints the
# median TPS of each and the ratio CairnDB / PostgreSQL, and writes the
# table to bench/results/<date>.md.
#
#   bench/compare.sh                 # BENCH_SECONDS=10 BENCH_ROUNDS=3
#   BENCH_SECONDS=30 bench/compare.sh
#   CAIRN_BASELINE=91c4895 bench/compare.sh   # and an older build, alternating
#   CAIRN_SCAN_CACHE_MB=0 bench/compare.sh    # CairnDB without its scan cache
#
# CAIRN_BASELINE (a commit, or the path of a `cairn` binary) runs a second
# CairnDB build in the same alternation (A B C A B C …), on data of its
# own, so a change is measured against the build before it in the same
# conditions: the table then has its column and the ratio of the two.
#
# Both servers run with their default durability (CairnDB: fdatasync before
# a commit is acknowledged; PostgreSQL: fsync and synchronous_commit on),
# except the workload that says non-durable, where CairnDB runs with
# `--durability buffered` and PostgreSQL with synchronous_commit = off.
# Not run in CI: timings on shared machines are noise there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

seconds="${BENCH_SECONDS:-10}"
rounds="${BENCH_ROUNDS:-3}"
clients=4
threads=2
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v pgbench >/dev/null; then
  echo "== installing PostgreSQL (Debian's package)"
  $SUDO apt-get update -qq
  $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
# PostgreSQL refuses to run as root: run it as the postgres account.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

work="$(mktemp -d)"
chmod 755 "$work"
[ "$(id -u)" = 0 ] && chown postgres "$work"
declare -A cairn_pids=()
cleanup() {
  for pid in "${cairn_pids[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  as_postgres "$pg_bin/pg_ctl" -D "$work/pgdata" -m fast stop >/dev/null 2>&1 || true
  [ -d "$work/baseline-src" ] && git worktree remove --force "$work/baseline-src"
  rm -rf "$work"
}
trap cleanup EXIT

# The baseline first: it is built in a worktree with the same target
# directory (so only CairnDB's own crates build again) and copied out
# before the current build overwrites it.
baseline=""
if [ -n "${CAIRN_BASELINE:-}" ]; then
  if [ -x "$CAIRN_BASELINE" ]; then
    baseline="$CAIRN_BASELINE"
    baseline_name="$CAIRN_BASELINE"
  else
    baseline_name="$(git rev-parse --short "$CAIRN_BASELINE")"
    echo "== building the baseline $baseline_name (release)"
    git worktree add -q --detach "$work/baseline-src" "$CAIRN_BASELINE"
    (cd "$work/baseline-src" && cargo build --release -q -p cairn-server)
    cp "$CARGO_TARGET_DIR/release/cairn" "$work/baseline-cairn"
    baseline="$work/baseline-cairn"
  fi
fi
# CAIRN_BIN=path runs that binary as the current build instead.
if [ -n "${CAIRN_BIN:-}" ]; then
  cairn_bin="$CAIRN_BIN"
else
  echo "== building CairnDB (release)"
  cargo build --release -q -p cairn-server
  cairn_bin="$CARGO_TARGET_DIR/release/cairn"
fi

password=bench-pw
pg_port=$((30000 + RANDOM % 10000))
pg_dsn="host=127.0.0.1 port=$pg_port user=postgres dbname=bench"
# The CairnDB builds under test: "cairndb" (this one) and maybe "baseline".
declare -A cairn_bins=([cairndb]="$cairn_bin") cairn_ports=([cairndb]=$((20000 + RANDOM % 5000)))
cairns=(cairndb)
if [ -n "$baseline" ]; then
  cairn_bins[baseline]="$baseline"
  cairn_ports[baseline]=$((25000 + RANDOM % 5000))
  cairns+=(baseline)
fi
systems=("${cairns[@]}" postgresql)
dsn_of() {
  case "$1" in
    postgresql) echo "$pg_dsn" ;;
    *) echo "host=127.0.0.1 port=${cairn_ports[$1]} user=${2:-root} password=${3:-$password} dbname=cairn" ;;
  esac
}

# start_cairn [durable|buffered]: (re)starts each CairnDB build on its data.
start_cairn() {
  local name
  for name in "${cairns[@]}"; do
    if [ -n "${cairn_pids[$name]:-}" ]; then kill -TERM "${cairn_pids[$name]}"; wait "${cairn_pids[$name]}" 2>/dev/null || true; fi
    # A low scrypt cost: the run creates 1,000 users.
    CAIRN_ROOT_PASSWORD="$password" CAIRN_LOG=warn "${cairn_bins[$name]}" serve --data-dir "$work/$name" \
      --listen "127.0.0.1:${cairn_ports[$name]}" --durability "$1" --scrypt-log-n 8 >>"$work/$name.log" 2>&1 &
    cairn_pids[$name]=$!
    local started=""
    for _ in $(seq 1 100); do
      PGPASSWORD=$password psql -X -q "$(dsn_of "$name")" -c "SELECT 1" >/dev/null 2>&1 && { started=1; break; }
      sleep 0.2
    done
    [ -n "$started" ] || { echo "CairnDB ($name) did not start:"; cat "$work/$name.log"; exit 1; }
  done
}

# start_postgres [on|off]: (re)starts PostgreSQL with synchronous_commit on or off.
start_postgres() {
  as_postgres "$pg_bin/pg_ctl" -D "$work/pgdata" -m fast stop >/dev/null 2>&1 || true
  as_postgres "$pg_bin/pg_ctl" -D "$work/pgdata" -l "$work/pg.log" -w \
    -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c synchronous_commit=$1 -c max_connections=50" start >/dev/null
}

echo "== starting CairnDB $("$cairn_bin" --version 2>/dev/null || echo)${baseline:+, the baseline $baseline_name,} and $("$pg_bin/postgres" --version)"
as_postgres "$pg_bin/initdb" -D "$work/pgdata" -A trust -U postgres >/dev/null
start_postgres on
psql -X -q "host=127.0.0.1 port=$pg_port user=postgres dbname=postgres" -c "CREATE DATABASE bench"
start_cairn durable

# cairn ARGS…: psql against every CairnDB build.
cairn() {
  local name
  for name in "${cairns[@]}"; do PGPASSWORD=$password psql -X -q -v ON_ERROR_STOP=1 "$(dsn_of "$name")" "$@"; done
}
postgres() { psql -X -q -v ON_ERROR_STOP=1 "$pg_dsn" "$@"; }

echo "== generating data"
python3 - "$work" <<'EOF'
import random, sys
work = sys.argv[1]
rng = random.Random(7)
with open(f"{work}/accounts.csv", "w") as f:
    for i in range(1, 100_001):
        f.write(f"{i},{rng.randrange(1_000_000)},account {i}\n")
with open(f"{work}/facts.csv", "w") as f:
    for i in range(1, 1_000_001):
        f.write(f"{i},{rng.randrange(100)},{rng.randrange(1_000_000)},{rng.randrange(100_000) / 100}\n")
EOF

echo "== loading"
schema="CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL, name TEXT);
CREATE TABLE events (id BIGINT PRIMARY KEY, payload TEXT);"
cairn -c "$schema"
postgres -c "$schema"
facts="CREATE TABLE facts (id BIGINT PRIMARY KEY, grp INT, v BIGINT, amount DOUBLE PRECISION)"
cairn -c "$facts"
postgres -c "$facts"
cairn -c "\\copy accounts FROM '$work/accounts.csv' WITH (FORMAT csv)"
postgres -c "\\copy accounts FROM '$work/accounts.csv' WITH (FORMAT csv)"
postgres -c "VACUUM ANALYZE accounts"

# The per-user feed. CairnDB: a USER table, each user's rows in their own
# partition. PostgreSQL: the user in the key, and a WHERE.
cairn -c "CREATE NAMESPACE app" -c "CREATE USER TABLE app.messages (id BIGINT PRIMARY KEY, body TEXT, at TIMESTAMP)"
python3 - "$work" <<'EOF' > "$work/users.sql"
import sys
for u in range(1, 1001):
    print(f"CREATE USER u{u} WITH PASSWORD 'pw{u}' ROLE user;")
    print(f"EXECUTE AS USER 'u{u}' (INSERT INTO app.messages SELECT n, 'message ' || n, TIMESTAMP '2026-01-01 12:00:00' FROM generate_series(1, 100) AS g(n));")
EOF
cairn -f "$work/users.sql" >/dev/null
postgres -c "CREATE TABLE messages (user_id INT, id BIGINT, body TEXT, at TIMESTAMP, PRIMARY KEY (user_id, id))" \
  -c "INSERT INTO messages SELECT u, n, 'message ' || n, TIMESTAMP '2026-01-01 12:00:00' FROM generate_series(1, 1000) u, generate_series(1, 100) n" \
  -c "VACUUM ANALYZE messages"

scripts="$work/scripts"
mkdir -p "$scripts"
cat >"$scripts/point.sql" <<'EOF'
\set id random(1, 100000)
SELECT id, balance, name FROM accounts WHERE id = :id;
EOF
cat >"$scripts/insert.sql" <<'EOF'
\set id random(1, 9000000000000000000)
INSERT INTO events (id, payload) VALUES (:id, 'an event of some length, as a log line would be');
EOF
cat >"$scripts/update.sql" <<'EOF'
\set id random(1, 100000)
UPDATE accounts SET balance = balance + 1 WHERE id = :id;
EOF
cat >"$scripts/group_by.sql" <<'EOF'
SELECT grp, count(*), sum(v), avg(amount) FROM facts GROUP BY grp;
EOF
cat >"$scripts/feed_cairn.sql" <<'EOF'
SELECT * FROM app.messages ORDER BY id DESC LIMIT 20;
EOF
cat >"$scripts/feed_pg.sql" <<'EOF'
SELECT * FROM messages WHERE user_id = :uid ORDER BY id DESC LIMIT 20;
EOF

results="$work/results.txt"
: >"$results"
# tps DSN ARGS…: one pgbench run; prints its TPS.
tps() {
  local dsn="$1"; shift
  PGPASSWORD=$password pgbench -n -T "$seconds" "$@" "$dsn" 2>"$work/pgbench.err" \
    | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n1 | grep . || { cat "$work/pgbench.err" >&2; echo 0; }
}
record() { echo "$1|$2|$3" >>"$results"; printf '  %-34s %-10s %12s\n' "$1" "$2" "$3"; }

# workload NAME ARGS…: the same pgbench run against each, alternating.
workload() {
  local name="$1" system; shift
  for round in $(seq 1 "$rounds"); do
    for system in "${systems[@]}"; do record "$name" "$system" "$(tps "$(dsn_of "$system")" "$@")"; done
  done
}

# feed: one pgbench process per client, each logged in as its own user.
feed_round() {
  local system="$1" pids=() k
  for k in $(seq 1 "$clients"); do
    if [ "$system" != postgresql ]; then
      pgbench -n -T "$seconds" -c 1 -j 1 -M prepared -f "$scripts/feed_cairn.sql" \
        "$(dsn_of "$system" "u$k" "pw$k")" >"$work/feed.$k" 2>&1 &
    else
      pgbench -n -T "$seconds" -c 1 -j 1 -M prepared -D uid="$k" -f "$scripts/feed_pg.sql" "$pg_dsn" >"$work/feed.$k" 2>&1 &
    fi
    pids+=($!)
  done
  wait "${pids[@]}"
  cat "$work"/feed.* | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | awk '{ s += $1 } END { printf "%.1f\n", s }'
}

echo "== workloads: ${seconds}s each, $rounds rounds, $clients clients, $threads threads"
workload "point select (prepared)" -c $clients -j $threads -M prepared -f "$scripts/point.sql"
workload "point select (simple)" -c $clients -j $threads -M simple -f "$scripts/point.sql"
workload "insert, durable" -c $clients -j $threads -M prepared -f "$scripts/insert.sql"
workload "insert, durable (simple)" -c $clients -j $threads -M simple -f "$scripts/insert.sql"
workload "update by key" -c $clients -j $threads -M prepared -f "$scripts/update.sql"
workload "update by key (simple)" -c $clients -j $threads -M simple -f "$scripts/update.sql"
for round in $(seq 1 "$rounds"); do
  for system in "${systems[@]}"; do record "per-user feed" "$system" "$(feed_round "$system")"; done
done

echo "== COPY 1,000,000 rows"
copy_rate() {
  local dsn start end
  dsn="$(dsn_of "$1")"
  PGPASSWORD=$password psql -X -q -v ON_ERROR_STOP=1 "$dsn" -c "DROP TABLE facts" -c "$facts"
  start=$(date +%s.%N)
  PGPASSWORD=$password psql -X -q -v ON_ERROR_STOP=1 "$dsn" -c "\\copy facts FROM '$work/facts.csv' WITH (FORMAT csv)"
  end=$(date +%s.%N)
  python3 -c "print(round(1_000_000 / ($end - $start)))"
}
for round in $(seq 1 "$rounds"); do
  for system in "${systems[@]}"; do record "COPY (rows/s)" "$system" "$(copy_rate "$system")"; done
done
postgres -c "VACUUM ANALYZE facts"
workload "GROUP BY 1M rows, 1 client" -c 1 -j 1 -M prepared -f "$scripts/group_by.sql"
workload "GROUP BY 1M rows, 4 clients" -c $clients -j $threads -M prepared -f "$scripts/group_by.sql"

echo "== non-durable inserts (CairnDB --durability buffered, PostgreSQL synchronous_commit=off)"
start_cairn buffered
start_postgres off
workload "insert, non-durable" -c $clients -j $threads -M prepared -f "$scripts/insert.sql"

date="$(date +%F)"
mkdir -p bench/results
# A second run on the same day keeps the first: <date>-2.md, <date>-3.md, …
out="bench/results/$date.md"
n=2
while [ -e "$out" ]; do out="bench/results/$date-$n.md"; n=$((n + 1)); done
{
  echo "# CairnDB vs PostgreSQL, $date"
  echo
  echo "- machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB, $(uname -sr)"
  echo "- CairnDB: ${CAIRN_BIN:-$(git rev-parse --short HEAD)}${baseline:+, baseline $baseline_name} (release builds); PostgreSQL: $("$pg_bin/postgres" --version | sed 's/.*) //'); $(pgbench --version)"
  echo "- each run ${seconds}s, $rounds rounds alternating ${systems[*]}, medians; $clients clients on $threads pgbench threads unless the workload says"
  echo "- CairnDB's scan cache: ${CAIRN_SCAN_CACHE_MB:-256} MiB (CAIRN_SCAN_CACHE_MB=0 runs it off)"
  echo
  python3 - "$results" <<'EOF'
import statistics, sys
runs = {}
order = []
for line in open(sys.argv[1]):
    name, system, value = line.rstrip("\n").split("|")
    if name not in runs:
        order.append(name)
    runs.setdefault(name, {}).setdefault(system, []).append(float(value))
with_baseline = any("baseline" in r for r in runs.values())
ratio = lambda a, b: f"{a / b:.2f}x" if b else "n/a"
shown = lambda v: f"{v:,.1f}" if v < 100 else f"{v:,.0f}"
if with_baseline:
    print("| workload | CairnDB | baseline | PostgreSQL | CairnDB / PostgreSQL | baseline / PostgreSQL | CairnDB / baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|")
else:
    print("| workload | CairnDB | PostgreSQL | CairnDB / PostgreSQL |")
    print("|---|---:|---:|---:|")
for name in order:
    cairn = statistics.median(runs[name]["cairndb"])
    pg = statistics.median(runs[name]["postgresql"])
    unit = "" if "rows/s" in name else " tps"
    if with_baseline:
        base = statistics.median(runs[name]["baseline"])
        print(f"| {name} | {shown(cairn)}{unit} | {shown(base)}{unit} | {shown(pg)}{unit} | {ratio(cairn, pg)} | {ratio(base, pg)} | {ratio(cairn, base)} |")
    else:
        print(f"| {name} | {shown(cairn)}{unit} | {shown(pg)}{unit} | {ratio(cairn, pg)} |")
EOF
} >"$out"
echo
cat "$out"
echo
echo "written to $out"
