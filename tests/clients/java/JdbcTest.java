// pgJDBC against a running CairnDB (port and password in CAIRN_PORT,
// CAIRN_PASSWORD). Each check runs in turn; exits non-zero if any failed.
import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

public class JdbcTest {
    interface Check { void run(Connection c) throws Exception; }

    static void expect(Object actual, Object expected, String what) {
        if (!Objects.equals(actual, expected)) {
            throw new AssertionError(what + ": expected " + expected + ", got " + actual);
        }
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + System.getenv("CAIRN_PORT") + "/cairn";
        Properties props = new Properties();
        props.setProperty("user", "root");
        props.setProperty("password", System.getenv("CAIRN_PASSWORD"));
        Map<String, Check> checks = new LinkedHashMap<>();

        checks.put("statementsAndTypes", c -> {
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE IF EXISTS jdbc_items");
                s.execute("CREATE TABLE jdbc_items (id BIGINT PRIMARY KEY, name TEXT, price NUMERIC(10,2), ok BOOLEAN, at TIMESTAMPTZ)");
                s.execute("INSERT INTO jdbc_items VALUES (1, 'one', 1.50, true, now())");
                try (ResultSet rs = s.executeQuery("SELECT id, name, price, ok, at FROM jdbc_items")) {
                    ResultSetMetaData md = rs.getMetaData();
                    expect(md.getColumnType(1), Types.BIGINT, "bigint type");
                    expect(md.getColumnType(3), Types.NUMERIC, "numeric type");
                    expect(md.getColumnType(5), Types.TIMESTAMP, "timestamptz type");
                    rs.next();
                    expect(rs.getLong(1), 1L, "id");
                    expect(rs.getString(2), "one", "name");
                    expect(rs.getBigDecimal(3), new BigDecimal("1.50"), "price");
                    expect(rs.getBoolean(4), true, "ok");
                }
            }
        });

        // Past prepareThreshold (5) the driver switches to named server-side
        // statements and binary transfer.
        checks.put("preparedPastThreshold", c -> {
            try (PreparedStatement p = c.prepareStatement("INSERT INTO jdbc_items (id, name, price, ok, at) VALUES (?, ?, ?, ?, ?)")) {
                for (long i = 2; i < 12; i++) {
                    p.setLong(1, i);
                    p.setString(2, "item " + i);
                    p.setBigDecimal(3, new BigDecimal("2.25"));
                    p.setBoolean(4, i % 2 == 0);
                    p.setTimestamp(5, new Timestamp(1_700_000_000_000L));
                    expect(p.executeUpdate(), 1, "insert count");
                }
            }
            try (PreparedStatement p = c.prepareStatement("SELECT name, price, at FROM jdbc_items WHERE id = ?")) {
                for (long i = 2; i < 12; i++) {
                    p.setLong(1, i);
                    try (ResultSet rs = p.executeQuery()) {
                        rs.next();
                        expect(rs.getString(1), "item " + i, "name");
                        expect(rs.getBigDecimal(2), new BigDecimal("2.25"), "price");
                        expect(rs.getTimestamp(3).getTime(), 1_700_000_000_000L, "timestamp");
                    }
                }
            }
        });

        checks.put("batchesAndTransactions", c -> {
            c.setAutoCommit(false);
            try (PreparedStatement p = c.prepareStatement("INSERT INTO jdbc_items (id, name) VALUES (?, ?)")) {
                for (long i = 100; i < 110; i++) {
                    p.setLong(1, i);
                    p.setString(2, "batch");
                    p.addBatch();
                }
                p.executeBatch();
            }
            c.rollback();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM jdbc_items WHERE name = 'batch'")) {
                rs.next();
                expect(rs.getLong(1), 0L, "rolled back");
            }
            c.commit();
            c.setAutoCommit(true);
            try (Statement s = c.createStatement()) {
                s.execute("INSERT INTO jdbc_items (id) VALUES (1)");
                throw new AssertionError("duplicate accepted");
            } catch (SQLException e) {
                expect(e.getSQLState(), "23505", "SQLSTATE");
            }
        });

        checks.put("fetchSizeCursor", c -> {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.setFetchSize(2);
                try (ResultSet rs = s.executeQuery("SELECT id FROM jdbc_items ORDER BY id")) {
                    long rows = 0;
                    while (rs.next()) rows++;
                    expect(rows > 2, true, "all rows arrive in fetches of 2");
                }
            }
            c.commit();
            c.setAutoCommit(true);
        });

        checks.put("copyManager", c -> {
            org.postgresql.copy.CopyManager copy = c.unwrap(org.postgresql.PGConnection.class).getCopyAPI();
            long in = copy.copyIn("COPY jdbc_items (id, name) FROM STDIN WITH (FORMAT csv)",
                new java.io.StringReader("500,copied\n501,\"a, b\"\n"));
            expect(in, 2L, "rows copied in");
            java.io.StringWriter out = new java.io.StringWriter();
            copy.copyOut("COPY (SELECT id, name FROM jdbc_items WHERE id >= 500 ORDER BY id) TO STDOUT WITH (FORMAT csv)", out);
            expect(out.toString(), "500,copied\n501,\"a, b\"\n", "rows copied out");
        });

        checks.put("databaseMetaData", c -> {
            DatabaseMetaData md = c.getMetaData();
            expect(md.getDatabaseProductName(), "PostgreSQL", "product");
            try (ResultSet rs = md.getTables(null, null, "jdbc_items", new String[] {"TABLE"})) {
                expect(rs.next(), true, "getTables finds the table");
                expect(rs.getString("TABLE_NAME"), "jdbc_items", "table name");
                expect(rs.getString("TABLE_SCHEM"), "public", "the table's schema");
            }
            try (ResultSet rs = md.getTables(null, "public", "jdbc_%", new String[] {"TABLE"})) {
                expect(rs.next(), true, "getTables finds the table in public");
            }
            expect(c.getSchema(), "public", "the connection's schema");
            List<String> columns = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, null, "jdbc_items", null)) {
                while (rs.next()) columns.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
            }
            expect(columns, List.of("id:int8", "name:text", "price:numeric", "ok:bool", "at:timestamptz"), "getColumns");
            try (ResultSet rs = md.getPrimaryKeys(null, null, "jdbc_items")) {
                expect(rs.next(), true, "getPrimaryKeys finds the key");
                expect(rs.getString("COLUMN_NAME"), "id", "key column");
            }
            try (ResultSet rs = md.getIndexInfo(null, null, "jdbc_items", false, false)) {
                expect(rs.next(), true, "getIndexInfo finds the key's index");
                expect(rs.getString("INDEX_NAME"), "jdbc_items_pkey", "index name");
            }
            try (ResultSet rs = md.getSchemas()) {
                expect(rs.next(), true, "getSchemas");
            }
            try (ResultSet rs = md.getCatalogs()) {
                expect(rs.next(), true, "getCatalogs");
            }
            try (ResultSet rs = md.getTableTypes()) {
                expect(rs.next(), true, "getTableTypes");
            }
            try (ResultSet rs = md.getTypeInfo()) {
                expect(rs.next(), true, "getTypeInfo");
            }
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id, name, price FROM jdbc_items LIMIT 1")) {
                ResultSetMetaData rmd = rs.getMetaData();
                expect(rmd.getColumnType(1), Types.BIGINT, "id type");
                expect(rmd.getColumnType(2), Types.VARCHAR, "name type");
                expect(rmd.getColumnType(3), Types.NUMERIC, "price type");
                expect(rmd.getTableName(1), "jdbc_items", "the column's table");
                expect(rmd.unwrap(org.postgresql.PGResultSetMetaData.class).getBaseSchemaName(1), "public", "the column's schema");
            }
        });

        try (Connection c = DriverManager.getConnection(url, props)) {
            int failed = 0;
            for (Map.Entry<String, Check> check : checks.entrySet()) {
                try {
                    check.getValue().run(c);
                    System.out.println("PASS " + check.getKey());
                } catch (Throwable e) {
                    failed++;
                    System.out.println("FAIL " + check.getKey() + ": " + e);
                    if (!c.getAutoCommit()) { c.rollback(); c.setAutoCommit(true); }
                }
            }
            System.out.println("jdbc: " + (checks.size() - failed) + " passed, " + failed + " failed");
            System.exit(failed == 0 ? 0 : 1);
        }
    }
}
