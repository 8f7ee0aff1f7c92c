"""psycopg 3 and psycopg2 against a running CairnDB (DSN in CAIRN_DSN).

Each check is a function; the script runs them all and exits non-zero if
any failed, printing which.
"""
import datetime
import decimal
import os
import sys
import uuid

import psycopg
import psycopg2
import psycopg2.extras
from psycopg import errors

DSN = os.environ["CAIRN_DSN"]


def fresh(conn, name, ddl):
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(ddl)


def psycopg_types_in_text_and_binary():
    with psycopg.connect(DSN, autocommit=True) as conn:
        fresh(conn, "pg_types", "CREATE TABLE pg_types (k INT PRIMARY KEY, b BOOLEAN, l BIGINT, d DOUBLE PRECISION, "
                                "n NUMERIC(12,2), t TEXT, y BYTEA, dt DATE, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID, j JSONB, tags TEXT[])")
        row = (1, True, 2**40, 1.5, decimal.Decimal("12.34"), "héllo", b"\x00\xff", datetime.date(2024, 2, 29),
               datetime.datetime(2024, 2, 29, 13, 14, 15, 123456),
               datetime.datetime(2024, 2, 29, 13, 14, 15, tzinfo=datetime.timezone.utc),
               uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), psycopg.types.json.Jsonb({"a": [1, 2]}), ["x", "y z"])
        for binary in (False, True):
            conn.execute("DELETE FROM pg_types")
            with conn.cursor(binary=binary) as cur:
                cur.execute("INSERT INTO pg_types VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
                cur.execute("SELECT * FROM pg_types WHERE k = %s", (1,))
                got = cur.fetchone()
            expected = list(row)
            expected[11] = {"a": [1, 2]}
            assert list(got) == expected, f"binary={binary}: {got!r}"


def psycopg_prepared_executemany_and_pipeline():
    with psycopg.connect(DSN, autocommit=True) as conn:
        fresh(conn, "pg_items", "CREATE TABLE pg_items (id BIGINT PRIMARY KEY, name TEXT)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO pg_items VALUES (%s, %s)", [(i, f"item {i}") for i in range(50)])
            for i in range(10):
                cur.execute("SELECT name FROM pg_items WHERE id = %s", (i,), prepare=True)
                assert cur.fetchone() == (f"item {i}",)
        with conn.pipeline():
            conn.execute("INSERT INTO pg_items VALUES (100, 'piped')")
            cur = conn.execute("SELECT count(*) FROM pg_items")
        assert cur.fetchone() == (51,)


def psycopg_transactions_and_errors():
    with psycopg.connect(DSN) as conn:
        fresh(conn, "pg_tx", "CREATE TABLE pg_tx (k INT PRIMARY KEY)")
        conn.commit()
        conn.execute("INSERT INTO pg_tx VALUES (1)")
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM pg_tx").fetchone() == (0,)
        conn.execute("INSERT INTO pg_tx VALUES (1)")
        conn.commit()
        try:
            conn.execute("INSERT INTO pg_tx VALUES (1)")
            raise AssertionError("duplicate accepted")
        except errors.UniqueViolation:
            conn.rollback()
        with conn.transaction():
            conn.execute("INSERT INTO pg_tx VALUES (2)")
            try:
                with conn.transaction():  # a savepoint
                    conn.execute("INSERT INTO pg_tx VALUES (2)")
            except errors.UniqueViolation:
                pass
            conn.execute("INSERT INTO pg_tx VALUES (3)")
        assert conn.execute("SELECT k FROM pg_tx ORDER BY k").fetchall() == [(1,), (2,), (3,)]


def psycopg_copy_in_and_out():
    with psycopg.connect(DSN, autocommit=True) as conn:
        fresh(conn, "pg_copy", "CREATE TABLE pg_copy (k INT PRIMARY KEY, v TEXT)")
        with conn.cursor() as cur:
            with cur.copy("COPY pg_copy (k, v) FROM STDIN") as copy:
                for k in range(1000):
                    copy.write_row((k, None if k % 10 == 0 else f"v{k}"))
            assert cur.execute("SELECT count(*), count(v) FROM pg_copy").fetchone() == (1000, 900)
            rows = []
            with cur.copy("COPY (SELECT k, v FROM pg_copy WHERE k < 3 ORDER BY k) TO STDOUT") as copy:
                for row in copy.rows():
                    rows.append(row)
            assert rows == [("0", None), ("1", "v1"), ("2", "v2")], rows


def psycopg_named_cursor():
    with psycopg.connect(DSN) as conn:
        fresh(conn, "pg_feed", "CREATE TABLE pg_feed (id INT PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO pg_feed SELECT n, 'row ' || n FROM generate_series(1, 25) AS g(n)")
        conn.commit()
        for binary in (False, True):
            with conn.cursor("feed", binary=binary) as cur:
                cur.execute("SELECT id, body FROM pg_feed WHERE id > %s ORDER BY id", (5,))
                assert [d.name for d in cur.description] == ["id", "body"], cur.description
                assert cur.fetchone() == (6, "row 6")
                assert cur.fetchmany(3) == [(7, "row 7"), (8, "row 8"), (9, "row 9")]
                rest = cur.fetchall()
                assert [r[0] for r in rest] == list(range(10, 26)), rest
            conn.commit()
        with conn.cursor("held", withhold=True) as cur:
            cur.itersize = 7
            cur.execute("SELECT id FROM pg_feed ORDER BY id")
            conn.commit()
            assert [r[0] for r in cur] == list(range(1, 26))


def psycopg2_basics():
    conn = psycopg2.connect(DSN)
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS pg2_items")
    cur.execute("CREATE TABLE pg2_items (id INT PRIMARY KEY, name TEXT, price NUMERIC(10,2))")
    conn.commit()
    psycopg2.extras.execute_values(cur, "INSERT INTO pg2_items VALUES %s", [(i, f"n{i}", decimal.Decimal("1.25") * i) for i in range(20)])
    conn.commit()
    cur.execute("SELECT name, price FROM pg2_items WHERE id = %s", (4,))
    assert cur.fetchone() == ("n4", decimal.Decimal("5.00"))
    import io
    out = io.StringIO()
    cur.copy_expert("COPY (SELECT id, name FROM pg2_items WHERE id < 2 ORDER BY id) TO STDOUT WITH CSV", out)
    assert out.getvalue() == "0,n0\n1,n1\n", out.getvalue()
    cur.copy_expert("COPY pg2_items (id, name) FROM STDIN WITH CSV", io.StringIO("100,copied\n"))
    conn.commit()
    try:
        cur.execute("INSERT INTO pg2_items (id) VALUES (1)")
        raise AssertionError("duplicate accepted")
    except psycopg2.errors.UniqueViolation:
        conn.rollback()
    cur.execute("SELECT count(*) FROM pg2_items")
    assert cur.fetchone() == (21,)
    conn.close()


def psycopg2_named_cursor():
    conn = psycopg2.connect(DSN)
    cur = conn.cursor("pg2_named")
    cur.itersize = 4
    cur.execute("SELECT generate_series(1, 10) AS n")
    assert [row[0] for row in cur] == list(range(1, 11))
    cur.close()
    conn.commit()
    conn.close()


CHECKS = [
    psycopg_types_in_text_and_binary,
    psycopg_prepared_executemany_and_pipeline,
    psycopg_transactions_and_errors,
    psycopg_copy_in_and_out,
    psycopg_named_cursor,
    psycopg2_basics,
    psycopg2_named_cursor,
]

failed = 0
for check in CHECKS:
    try:
        check()
        print(f"PASS {check.__name__}")
    except Exception as error:  # report every failure, then fail the run
        failed += 1
        print(f"FAIL {check.__name__}: {type(error).__name__}: {error}")
print(f"psycopg: {len(CHECKS) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
