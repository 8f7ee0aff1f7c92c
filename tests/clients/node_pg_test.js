// node-postgres against a running CairnDB (connection in CAIRN_* variables).
// Each check runs in turn; the script exits non-zero if any failed.
const { Client, Pool } = require('pg');

const config = {
  host: '127.0.0.1',
  port: Number(process.env.CAIRN_PORT),
  user: 'root',
  password: process.env.CAIRN_PASSWORD,
  database: 'cairn',
};

function assertEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

const checks = {
  async simpleAndParameterized(client) {
    await client.query('DROP TABLE IF EXISTS node_items');
    await client.query('CREATE TABLE node_items (id INT PRIMARY KEY, name TEXT, price NUMERIC(10,2), at TIMESTAMPTZ, tags TEXT[])');
    await client.query('INSERT INTO node_items VALUES ($1, $2, $3, $4, $5)', [1, 'one', '9.99', new Date('2024-02-29T13:14:15Z'), ['a', 'b c']]);
    await client.query("INSERT INTO node_items VALUES (2, 'two', 1.5, now(), '{x}')");
    const res = await client.query('SELECT id, name, price, at, tags FROM node_items WHERE id = $1', [1]);
    assertEqual(res.rows[0].name, 'one', 'name');
    assertEqual(res.rows[0].price, '9.99', 'numeric as text');
    assertEqual(res.rows[0].at.toISOString(), '2024-02-29T13:14:15.000Z', 'timestamptz');
    assertEqual(res.rows[0].tags, ['a', 'b c'], 'text[]');
    assertEqual(res.fields.map((f) => f.name), ['id', 'name', 'price', 'at', 'tags'], 'fields');
    // An integer constant is an int4, which node-postgres reads as a number
    // (an int8 comes as a string); a numeric constant keeps its scale.
    const constants = await client.query('SELECT 1 AS one, 1.50 AS price, 2147483648 AS big');
    assertEqual(constants.rows[0], { one: 1, price: '1.50', big: '2147483648' }, 'constants');
  },
  async namedStatementsAndRowModeArray(client) {
    for (const id of [1, 2, 1]) {
      const res = await client.query({ name: 'by-id', text: 'SELECT id, name FROM node_items WHERE id = $1', values: [id] });
      assertEqual(res.rows[0].id, id, 'named statement');
    }
    const res = await client.query({ text: 'SELECT id, name FROM node_items ORDER BY id', rowMode: 'array' });
    assertEqual(res.rows, [[1, 'one'], [2, 'two']], 'rowMode array');
  },
  async transactionsAndErrors(client) {
    await client.query('BEGIN');
    await client.query("INSERT INTO node_items (id, name) VALUES (3, 'three')");
    await client.query('ROLLBACK');
    assertEqual((await client.query('SELECT count(*)::INT AS n FROM node_items')).rows[0].n, 2, 'rolled back');
    try {
      await client.query("INSERT INTO node_items (id) VALUES (1)");
      throw new Error('duplicate accepted');
    } catch (error) {
      assertEqual(error.code, '23505', 'SQLSTATE');
    }
  },
  async pool() {
    const pool = new Pool({ ...config, max: 4 });
    const counts = await Promise.all([...Array(8).keys()].map(() => pool.query('SELECT count(*)::INT AS n FROM node_items')));
    assertEqual(counts.map((r) => r.rows[0].n), Array(8).fill(2), 'pool');
    await pool.end();
  },
};

(async () => {
  const client = new Client(config);
  await client.connect();
  let failed = 0;
  for (const [name, check] of Object.entries(checks)) {
    try {
      await check(client);
      console.log(`PASS ${name}`);
    } catch (error) {
      failed += 1;
      console.log(`FAIL ${name}: ${error.message}`);
    }
  }
  await client.end();
  console.log(`node-postgres: ${Object.keys(checks).length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((error) => {
  console.log(`FAIL: ${error.stack}`);
  process.exit(1);
});
