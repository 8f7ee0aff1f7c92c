"""psql's list commands, expanded output, \\copy and tab completion against
a running server (CAIRN_DSN). The `\\d` family is compared with
PostgreSQL's own output by psql_describe.sh; these print what differs
between servers (databases, roles), so each checks what must be there.

Tab completion runs psql on a pseudo-terminal, as a person would.
"""
import os
import pty
import select
import subprocess
import sys
import tempfile
import time

DSN = os.environ["CAIRN_DSN"]


def psql(*commands, stdin=None):
    args = ["psql", "-X", "-v", "ON_ERROR_STOP=1", DSN]
    for command in commands:
        args += ["-c", command]
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def setup():
    psql("DROP TABLE IF EXISTS psql_s.completion_target", "DROP SCHEMA IF EXISTS psql_s")
    psql("CREATE SCHEMA psql_s", "CREATE TABLE psql_s.completion_target (id INT PRIMARY KEY, note TEXT)")


def lists():
    assert "cairn" in psql("\\l"), "\\l lists the database"
    assert "psql_s" in psql("\\dn"), "\\dn lists the schema"
    assert "root" in psql("\\du"), "\\du lists the role"
    tables = psql("\\dt psql_s.*")
    assert "completion_target" in tables and "table" in tables, tables


def expanded():
    out = psql("\\x", "SELECT 1 AS one, 'two' AS two")
    assert "-[ RECORD 1 ]" in out and "one | 1" in out and "two | two" in out, out


def copy_round_trip():
    with tempfile.TemporaryDirectory() as work:
        source = os.path.join(work, "in.csv")
        target = os.path.join(work, "out.csv")
        with open(source, "w") as f:
            f.write("1,first\n2,\"with, comma\"\n")
        psql("DELETE FROM psql_s.completion_target")
        out = psql(f"\\copy psql_s.completion_target FROM '{source}' WITH (FORMAT csv)")
        assert "COPY 2" in out, out
        psql(f"\\copy (SELECT * FROM psql_s.completion_target ORDER BY id) TO '{target}' WITH (FORMAT csv)")
        with open(target) as f:
            assert f.read() == "1,first\n2,\"with, comma\"\n"


def read_until(fd, wanted, timeout=15.0):
    """What the terminal shows until `wanted` appears (or the time is up)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def tab_completion():
    pid, fd = pty.fork()
    if pid == 0:
        env = dict(os.environ, TERM="dumb", PAGER="", PSQL_HISTORY="/dev/null")
        os.execvpe("psql", ["psql", "-X", DSN], env)
    try:
        read_until(fd, b"=#")
        os.write(fd, b"SELECT * FROM psql_s.completion_t\t")
        seen = read_until(fd, b"completion_target")
        assert b"completion_target" in seen, f"table name not completed: {seen!r}"
        os.write(fd, b";\n")
        seen = read_until(fd, b"rows)")
        assert b"(2 rows)" in seen, f"the completed query did not run: {seen!r}"
        os.write(fd, b"\\q\n")
    finally:
        os.close(fd)
        os.waitpid(pid, 0)


CHECKS = [lists, expanded, copy_round_trip, tab_completion]

failed = 0
setup()
for check in CHECKS:
    try:
        check()
        print(f"PASS psql {check.__name__}")
    except Exception as error:  # report every failure, then fail the run
        failed += 1
        print(f"FAIL psql {check.__name__}: {type(error).__name__}: {error}")
sys.exit(1 if failed else 0)
