"""asyncpg against a running server (CAIRN_PORT, CAIRN_PASSWORD).

Prints PASS/FAIL per check and exits non-zero if any failed.
"""
import asyncio
import datetime
import decimal
import json
import os
import sys
import uuid

import asyncpg


async def connect():
    return await asyncpg.connect(host="127.0.0.1", port=int(os.environ["CAIRN_PORT"]), user=os.environ.get("CAIRN_USER", "root"),
                                 password=os.environ["CAIRN_PASSWORD"], database=os.environ.get("CAIRN_DATABASE", "cairn"))


async def fetch_prepare_executemany(conn):
    await conn.execute("DROP TABLE IF EXISTS ap_items")
    await conn.execute("CREATE TABLE ap_items (id BIGINT PRIMARY KEY, name TEXT)")
    await conn.executemany("INSERT INTO ap_items (id, name) VALUES ($1, $2)", [(i, f"n{i}") for i in range(5)])
    rows = await conn.fetch("SELECT id, name FROM ap_items WHERE id < $1 ORDER BY id", 3)
    assert [tuple(r) for r in rows] == [(0, "n0"), (1, "n1"), (2, "n2")], rows
    statement = await conn.prepare("SELECT name FROM ap_items WHERE id = $1")
    assert await statement.fetchval(4) == "n4"
    assert await conn.fetchval("SELECT count(*) FROM ap_items") == 5


async def types_in_binary(conn):
    await conn.execute("DROP TABLE IF EXISTS ap_types")
    await conn.execute("CREATE TABLE ap_types (k INT PRIMARY KEY, price NUMERIC(10,2), at TIMESTAMPTZ, u UUID, j JSONB, "
                       "tags TEXT[], ok BOOLEAN, d DATE, f DOUBLE PRECISION, b BYTEA, i INTERVAL)")
    row = (1, decimal.Decimal("1.50"), datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc), uuid.uuid4(),
           json.dumps({"a": 1}), ["a", "b c"], True, datetime.date(2024, 2, 29), 1.5, b"\x00\xff", datetime.timedelta(days=1, seconds=7))
    await conn.execute("INSERT INTO ap_types VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", *row)
    got = tuple(await conn.fetchrow("SELECT * FROM ap_types"))
    expected = list(row)
    expected[4] = '{"a": 1}'
    assert got == tuple(expected), got


async def type_introspection(conn):
    # A codec for a named type makes asyncpg introspect it through pg_type.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    assert await conn.fetchval("SELECT '{\"a\": [1, 2]}'::jsonb") == {"a": [1, 2]}


async def transactions_and_errors(conn):
    await conn.execute("DROP TABLE IF EXISTS ap_tx")
    await conn.execute("CREATE TABLE ap_tx (k INT PRIMARY KEY)")
    async with conn.transaction():
        await conn.execute("INSERT INTO ap_tx VALUES (1)")
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO ap_tx VALUES (2)")
            await conn.execute("INSERT INTO ap_tx VALUES (1)")
        raise AssertionError("duplicate key accepted")
    except asyncpg.exceptions.UniqueViolationError:
        pass
    assert await conn.fetchval("SELECT count(*) FROM ap_tx") == 1


async def copy_records_and_back(conn):
    # copy_records_to_table sends binary COPY, encoding each record as the
    # column types a `SELECT … LIMIT 1` on the table describes.
    await conn.execute("DROP TABLE IF EXISTS ap_copy")
    await conn.execute("CREATE TABLE ap_copy (id BIGINT PRIMARY KEY, name VARCHAR(20), price NUMERIC(10,2), "
                       "at TIMESTAMPTZ, u UUID, tags TEXT[], ok BOOLEAN)")
    at = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    records = [(i, f"n{i}" if i % 3 else None, decimal.Decimal(f"{i}.25"), at, uuid.UUID(int=i), ["x", str(i)], i % 2 == 0)
               for i in range(1000)]
    status = await conn.copy_records_to_table("ap_copy", records=records)
    assert status == "COPY 1000", status
    rows = await conn.fetch("SELECT * FROM ap_copy ORDER BY id")
    assert [tuple(r) for r in rows] == records, rows[:3]
    status = await conn.copy_records_to_table("ap_copy", records=[(5000, "late")], columns=["id", "name"])
    assert status == "COPY 1", status
    assert await conn.fetchval("SELECT name FROM ap_copy WHERE id = 5000") == "late"
    try:
        await conn.copy_records_to_table("ap_copy", records=[(1, "again")], columns=["id", "name"])
        raise AssertionError("duplicate key accepted")
    except asyncpg.exceptions.UniqueViolationError:
        pass
    assert await conn.fetchval("SELECT count(*) FROM ap_copy") == 1001
    # Out, in binary too: copy_from_query hands back the raw bytes.
    chunks = []

    async def collect(chunk):
        chunks.append(chunk)

    await conn.copy_from_query("SELECT id FROM ap_copy WHERE id < 2 ORDER BY id", output=collect, format="binary")
    data = b"".join(chunks)
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00") and data.endswith(b"\xff\xff"), data
    assert b"\x00\x01\x00\x00\x00\x08" + (1).to_bytes(8, "big") in data, data


async def pool_resets_its_connections(conn):
    # A released connection is reset with pg_advisory_unlock_all(),
    # CLOSE ALL, UNLISTEN *, RESET ALL; a failing reset made the pool unusable.
    pool = await asyncpg.create_pool(host="127.0.0.1", port=int(os.environ["CAIRN_PORT"]), user=os.environ.get("CAIRN_USER", "root"),
                                     password=os.environ["CAIRN_PASSWORD"], database=os.environ.get("CAIRN_DATABASE", "cairn"),
                                     min_size=1, max_size=1)
    try:
        for _ in range(3):
            async with pool.acquire() as pooled:
                value = await pooled.fetchval("SELECT 1")
                assert value == 1 and type(value) is int, value
    finally:
        await pool.close()


CHECKS = [fetch_prepare_executemany, types_in_binary, type_introspection, transactions_and_errors, copy_records_and_back,
          pool_resets_its_connections]


async def main():
    failed = 0
    for check in CHECKS:
        conn = await connect()
        try:
            await check(conn)
            print(f"PASS asyncpg {check.__name__}")
        except Exception as error:  # report every failure, then fail the run
            failed += 1
            print(f"FAIL asyncpg {check.__name__}: {type(error).__name__}: {error}")
        finally:
            await conn.close()
    return failed


sys.exit(1 if asyncio.run(main()) else 0)
