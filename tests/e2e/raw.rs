//! Wire transcripts: hand-built protocol messages, for what stock drivers
//! do that tokio-postgres does not (text-format parameters of unspecified
//! type, as node-postgres and JDBC send them; partial portals; an error in
//! the middle of a pipeline).

use cairn_e2e::{Server, ROOT_PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Raw {
    stream: TcpStream,
}

fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

impl Raw {
    /// Sends root's startup packet and reads the password request.
    async fn start(server: &Server) -> Raw {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        let mut body = vec![0, 3, 0, 0];
        cstr(&mut body, "user");
        cstr(&mut body, "root");
        cstr(&mut body, "database");
        cstr(&mut body, "cairn");
        body.push(0);
        let mut startup = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        startup.extend_from_slice(&body);
        stream.write_all(&startup).await.expect("startup");
        let mut raw = Raw { stream };
        let (tag, body) = raw.recv().await;
        assert_eq!((tag, body.as_slice()), (b'R', &[0, 0, 0, 3][..]), "cleartext password requested");
        raw
    }

    async fn connect(server: &Server) -> Raw {
        let mut raw = Raw::start(server).await;
        let mut password = Vec::new();
        cstr(&mut password, ROOT_PASSWORD);
        raw.send(b'p', &password).await;
        let messages = raw.until_ready().await;
        assert_eq!(messages.first().map(|m| m.0), Some(b'R'), "AuthenticationOk");
        assert!(messages.iter().any(|m| m.0 == b'K'), "BackendKeyData");
        raw
    }

    async fn send(&mut self, tag: u8, body: &[u8]) {
        let mut message = vec![tag];
        message.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        message.extend_from_slice(body);
        self.stream.write_all(&message).await.expect("send");
    }

    async fn recv(&mut self) -> (u8, Vec<u8>) {
        let tag = self.stream.read_u8().await.expect("tag");
        let len = self.stream.read_u32().await.expect("length") as usize;
        let mut body = vec![0; len - 4];
        self.stream.read_exact(&mut body).await.expect("body");
        (tag, body)
    }

    /// Reads up to and including ReadyForQuery.
    async fn until_ready(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut messages = Vec::new();
        loop {
            let message = self.recv().await;
            let done = message.0 == b'Z';
            messages.push(message);
            if done {
                return messages;
            }
        }
    }

    async fn parse(&mut self, name: &str, sql: &str, types: &[u32]) {
        let mut body = Vec::new();
        cstr(&mut body, name);
        cstr(&mut body, sql);
        body.extend_from_slice(&(types.len() as i16).to_be_bytes());
        for oid in types {
            body.extend_from_slice(&oid.to_be_bytes());
        }
        self.send(b'P', &body).await;
    }

    /// Binds text-format parameters; results in text.
    async fn bind(&mut self, portal: &str, statement: &str, params: &[Option<&str>]) {
        self.bind_with_result_formats(portal, statement, params, &[]).await;
    }

    async fn bind_with_result_formats(&mut self, portal: &str, statement: &str, params: &[Option<&str>], formats: &[i16]) {
        let mut body = Vec::new();
        cstr(&mut body, portal);
        cstr(&mut body, statement);
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&(params.len() as i16).to_be_bytes());
        for param in params {
            match param {
                Some(value) => {
                    body.extend_from_slice(&(value.len() as i32).to_be_bytes());
                    body.extend_from_slice(value.as_bytes());
                }
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        body.extend_from_slice(&(formats.len() as i16).to_be_bytes());
        for format in formats {
            body.extend_from_slice(&format.to_be_bytes());
        }
        self.send(b'B', &body).await;
    }

    async fn execute(&mut self, portal: &str, max_rows: i32) {
        let mut body = Vec::new();
        cstr(&mut body, portal);
        body.extend_from_slice(&max_rows.to_be_bytes());
        self.send(b'E', &body).await;
    }

    async fn describe_portal(&mut self, portal: &str) {
        let mut body = vec![b'P'];
        cstr(&mut body, portal);
        self.send(b'D', &body).await;
    }

    async fn describe_statement(&mut self, statement: &str) {
        let mut body = vec![b'S'];
        cstr(&mut body, statement);
        self.send(b'D', &body).await;
    }

    async fn sync(&mut self) {
        self.send(b'S', &[]).await;
    }
}

/// The text of each column of a DataRow.
fn data_row(body: &[u8]) -> Vec<Option<String>> {
    let count = i16::from_be_bytes([body[0], body[1]]) as usize;
    let mut at = 2;
    (0..count)
        .map(|_| {
            let len = i32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
            at += 4;
            if len < 0 {
                return None;
            }
            let value = String::from_utf8_lossy(&body[at..at + len as usize]).into_owned();
            at += len as usize;
            Some(value)
        })
        .collect()
}

fn tags(messages: &[(u8, Vec<u8>)]) -> String {
    messages.iter().map(|m| m.0 as char).collect()
}

fn command_tag(body: &[u8]) -> String {
    String::from_utf8_lossy(body.strip_suffix(&[0]).unwrap_or(body)).into_owned()
}

#[tokio::test]
async fn text_parameters_of_unspecified_type() {
    let server = Server::start();
    let mut raw = Raw::connect(&server).await;
    // OID 0: "unspecified", as node-postgres sends every parameter.
    raw.parse("", "SELECT username, role FROM system.users WHERE user_id = $1", &[0]).await;
    raw.bind("", "", &[Some("1")]).await;
    raw.describe_portal("").await;
    raw.execute("", 0).await;
    raw.sync().await;
    let messages = raw.until_ready().await;
    assert_eq!(tags(&messages), "12TDCZ", "ParseComplete BindComplete RowDescription DataRow CommandComplete ReadyForQuery");
    assert_eq!(data_row(&messages[3].1), [Some("root".to_owned()), Some("system".to_owned())]);
    assert_eq!(command_tag(&messages[4].1), "SELECT 1");
    assert_eq!(messages[5].1, b"I");

    // A declared int8 parameter sent as text, and a NULL parameter.
    raw.parse("by_id", "SELECT count(*) FROM system.users WHERE user_id = $1", &[20]).await;
    raw.bind("", "by_id", &[Some("1")]).await;
    raw.execute("", 0).await;
    raw.bind("", "by_id", &[None]).await;
    raw.execute("", 0).await;
    raw.sync().await;
    let messages = raw.until_ready().await;
    assert_eq!(tags(&messages), "12DC2DCZ");
    assert_eq!(data_row(&messages[2].1), [Some("1".to_owned())]);
    assert_eq!(data_row(&messages[5].1), [Some("0".to_owned())], "= NULL matches nothing");
}

#[tokio::test]
async fn an_error_in_a_pipeline_skips_to_sync() {
    let server = Server::start();
    let mut raw = Raw::connect(&server).await;
    raw.parse("", "SELECT * FROM system.nope", &[]).await;
    raw.bind("", "", &[]).await;
    raw.execute("", 0).await;
    raw.sync().await;
    let messages = raw.until_ready().await;
    assert_eq!(tags(&messages), "EZ", "one error, the rest discarded until Sync");
    assert!(String::from_utf8_lossy(&messages[0].1).contains("C42P01"));
    assert_eq!(messages[1].1, b"I");

    // A bad parameter value fails Execute the same way, and the
    // connection carries on.
    raw.parse("", "SELECT count(*) FROM system.users WHERE user_id = $1", &[20]).await;
    raw.bind("", "", &[Some("not a number")]).await;
    raw.execute("", 0).await;
    raw.sync().await;
    let messages = raw.until_ready().await;
    assert_eq!(tags(&messages), "12EZ");
    assert!(String::from_utf8_lossy(&messages[2].1).contains("C22P02"));

    raw.parse("", "SELECT 1", &[]).await;
    raw.bind("", "", &[]).await;
    raw.execute("", 0).await;
    raw.sync().await;
    assert_eq!(tags(&raw.until_ready().await), "12DCZ");
}

#[tokio::test]
async fn a_portal_returns_rows_in_pieces() {
    let server = Server::start();
    let mut raw = Raw::connect(&server).await;
    raw.parse("", "SELECT name FROM (VALUES ('a'), ('b'), ('c')) AS t(name) ORDER BY name", &[]).await;
    raw.bind("p", "", &[]).await;
    raw.execute("p", 2).await;
    raw.execute("p", 2).await;
    raw.sync().await;
    let messages = raw.until_ready().await;
    assert_eq!(tags(&messages), "12DDsDCZ", "two rows, PortalSuspended, the last row, CommandComplete");
    let rows: Vec<_> = messages.iter().filter(|m| m.0 == b'D').map(|m| data_row(&m.1)).collect();
    assert_eq!(rows, [[Some("a".to_owned())], [Some("b".to_owned())], [Some("c".to_owned())]]);
}

/// pgJDBC describes its named statements; a statement with parameters and
/// no result columns must answer NoData, not an empty RowDescription.
#[tokio::test]
async fn describing_an_insert_with_parameters_answers_no_data() {
    let server = Server::start();
    let mut raw = Raw::connect(&server).await;
    raw.send(b'Q', b"CREATE TABLE t (k INT PRIMARY KEY)\0").await;
    raw.until_ready().await;
    raw.parse("s1", "INSERT INTO t VALUES ($1)", &[0]).await;
    raw.describe_statement("s1").await;
    raw.parse("s2", "SELECT k FROM t WHERE k = $1", &[0]).await;
    raw.describe_statement("s2").await;
    raw.sync().await;
    let messages = raw.until_ready().await;
    assert_eq!(tags(&messages), "1tn1tTZ", "ParameterDescription then NoData for the INSERT, RowDescription for the SELECT");
}

/// A RowDescription's columns: (name, type oid, format code).
fn described_columns(body: &[u8]) -> Vec<(String, u32, i16)> {
    let count = i16::from_be_bytes([body[0], body[1]]);
    let mut at = 2;
    (0..count)
        .map(|_| {
            let end = at + body[at..].iter().position(|&b| b == 0).expect("name ends");
            let name = String::from_utf8_lossy(&body[at..end]).into_owned();
            let field = &body[end + 1..end + 19];
            at = end + 19;
            let oid = u32::from_be_bytes([field[6], field[7], field[8], field[9]]);
            (name, oid, i16::from_be_bytes([field[16], field[17]]))
        })
        .collect()
}

/// Drivers (node-postgres, pgbench) describe the portal before each
/// Execute: the answer must follow the portal's result formats however
/// often the statement is run.
#[tokio::test]
async fn describing_a_portal_follows_its_result_formats() {
    let server = Server::start();
    let mut raw = Raw::connect(&server).await;
    raw.send(b'Q', b"CREATE TABLE t (k INT PRIMARY KEY, v TEXT)\0").await;
    raw.until_ready().await;
    raw.parse("s", "SELECT k, v FROM t WHERE k = $1", &[0]).await;
    raw.parse("i", "INSERT INTO t VALUES ($1, 'x')", &[0]).await;
    raw.sync().await;
    assert_eq!(tags(&raw.until_ready().await), "11Z");
    for round in 0..2 {
        raw.bind("", "s", &[Some("1")]).await;
        raw.describe_portal("").await;
        raw.bind_with_result_formats("", "s", &[Some("1")], &[1]).await;
        raw.describe_portal("").await;
        raw.bind_with_result_formats("", "s", &[Some("1")], &[0, 1]).await;
        raw.describe_portal("").await;
        raw.bind("", "i", &[Some(&round.to_string())]).await;
        raw.describe_portal("").await;
        raw.sync().await;
        let messages = raw.until_ready().await;
        assert_eq!(tags(&messages), "2T2T2T2nZ", "round {round}");
        let described: Vec<_> = messages.iter().filter(|m| m.0 == b'T').map(|m| described_columns(&m.1)).collect();
        let columns = |k: i16, v: i16| vec![("k".to_owned(), 23, k), ("v".to_owned(), 25, v)];
        assert_eq!(described, [columns(0, 0), columns(1, 1), columns(0, 1)], "round {round}");
    }
}

#[tokio::test]
async fn deallocate_drops_a_named_statement() {
    let server = Server::start();
    let mut raw = Raw::connect(&server).await;
    raw.parse("mine", "SELECT 1", &[]).await;
    raw.sync().await;
    assert_eq!(tags(&raw.until_ready().await), "1Z");
    raw.send(b'Q', b"DEALLOCATE mine\0").await;
    assert_eq!(tags(&raw.until_ready().await), "CZ");
    raw.bind("", "mine", &[]).await;
    raw.sync().await;
    let messages = raw.until_ready().await;
    assert_eq!(tags(&messages), "EZ", "binding a deallocated statement fails");
}

/// A key read's result columns are kept from one execution to the next:
/// they must still follow the portal's result formats and the session's
/// DateStyle, and a portal run to its end returns no more rows.
#[tokio::test]
async fn a_repeated_key_read_follows_formats_and_date_style() {
    let server = Server::start();
    let mut raw = Raw::connect(&server).await;
    raw.send(b'Q', b"CREATE TABLE t (k INT PRIMARY KEY, d DATE); INSERT INTO t VALUES (1, DATE '2026-01-02')\0").await;
    raw.until_ready().await;
    raw.parse("s", "SELECT d FROM t WHERE k = $1", &[0]).await;
    raw.sync().await;
    assert_eq!(tags(&raw.until_ready().await), "1Z");
    let days_since_2000 = 9498i32.to_be_bytes();
    for expected in ["2026-01-02", "02.01.2026"] {
        raw.bind("", "s", &[Some("1")]).await;
        raw.execute("", 0).await;
        raw.bind_with_result_formats("", "s", &[Some("1")], &[1]).await;
        raw.execute("", 0).await;
        raw.sync().await;
        let messages = raw.until_ready().await;
        assert_eq!(tags(&messages), "2DC2DCZ");
        assert_eq!(data_row(&messages[1].1), [Some(expected.to_owned())]);
        assert_eq!(&messages[4].1[6..], &days_since_2000, "binary date, whatever the DateStyle");
        raw.send(b'Q', b"SET DateStyle = 'German'\0").await;
        raw.until_ready().await;
    }
    raw.bind("p", "s", &[Some("1")]).await;
    raw.execute("p", 0).await;
    raw.execute("p", 0).await;
    raw.sync().await;
    let messages = raw.until_ready().await;
    assert_eq!(tags(&messages), "2DCCZ");
    assert_eq!(command_tag(&messages[3].1), "SELECT 0", "the portal has no rows left");
}

/// The SQLSTATE field of an ErrorResponse body.
fn error_code_of(body: &[u8]) -> String {
    let mut fields = body.split(|b| *b == 0);
    fields
        .find_map(|field| field.strip_prefix(b"C"))
        .map(|code| String::from_utf8_lossy(code).into_owned())
        .unwrap_or_default()
}

/// Reads until the server closes the connection; the messages it sent.
async fn until_closed(raw: &mut Raw) -> Vec<(u8, Vec<u8>)> {
    let mut messages = Vec::new();
    loop {
        let Ok(tag) = raw.stream.read_u8().await else { return messages };
        let Ok(len) = raw.stream.read_u32().await else { return messages };
        let mut body = vec![0; len as usize - 4];
        if raw.stream.read_exact(&mut body).await.is_err() {
            return messages;
        }
        messages.push((tag, body));
    }
}

#[tokio::test]
async fn a_message_hidden_inside_a_query_is_never_run() {
    let server = Server::start();
    let mut raw = Raw::connect(&server).await;
    // The declared length covers `SELECT 1\0` and a whole second Query.
    let mut body = Vec::new();
    cstr(&mut body, "SELECT 1");
    let mut hidden = Vec::new();
    cstr(&mut hidden, "CREATE NAMESPACE smuggled");
    body.push(b'Q');
    body.extend_from_slice(&((hidden.len() + 4) as u32).to_be_bytes());
    body.extend_from_slice(&hidden);
    raw.send(b'Q', &body).await;
    let messages = until_closed(&mut raw).await;
    assert_eq!(messages.len(), 1, "one FATAL error, then the connection closes: {messages:?}");
    assert_eq!((messages[0].0, error_code_of(&messages[0].1)), (b'E', "08P01".to_owned()));

    let root = server.root().await;
    let namespaces = cairn_e2e::text_rows(&root, "SELECT name FROM system.namespaces WHERE name = 'smuggled'").await;
    assert!(namespaces.is_empty(), "the hidden statement ran");
}

#[tokio::test]
async fn a_large_message_before_login_closes_the_connection_unread() {
    let server = Server::start();
    let mut raw = Raw::start(&server).await;
    // A password message that claims 1 GiB: refused from its header.
    let mut header = vec![b'p'];
    header.extend_from_slice(&(1u32 << 30).to_be_bytes());
    raw.stream.write_all(&header).await.expect("header");
    let messages = until_closed(&mut raw).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(error_code_of(&messages[0].1), "08P01");
}

#[tokio::test]
async fn a_wrong_password_ends_with_the_error_and_no_ready_for_query() {
    let server = Server::start();
    let mut raw = Raw::start(&server).await;
    let mut password = Vec::new();
    cstr(&mut password, "wrong");
    raw.send(b'p', &password).await;
    let messages = until_closed(&mut raw).await;
    let tags: Vec<u8> = messages.iter().map(|m| m.0).collect();
    assert_eq!(tags, vec![b'E'], "ErrorResponse, then the connection closes");
    assert_eq!(error_code_of(&messages[0].1), "28P01");
}

#[tokio::test]
async fn invalid_utf8_is_22021_and_the_connection_goes_on() {
    let server = Server::start();
    let mut raw = Raw::connect(&server).await;
    raw.send(b'Q', b"SELECT '\xff\xfe'\0").await;
    let messages = raw.until_ready().await;
    assert_eq!(messages[0].0, b'E');
    assert_eq!(error_code_of(&messages[0].1), "22021");
    assert!(String::from_utf8_lossy(&messages[0].1).contains("invalid byte sequence for encoding \"UTF8\": 0xff"));

    // The extended protocol too; the pipeline skips to Sync.
    raw.send(b'P', b"\0SELECT 'a\xc3'\0\0\0").await;
    raw.sync().await;
    let messages = raw.until_ready().await;
    assert_eq!(error_code_of(&messages[0].1), "22021");

    // A real U+FFFD is text like any other.
    raw.send(b'Q', "SELECT '\u{FFFD}' AS r\0".as_bytes()).await;
    let messages = raw.until_ready().await;
    let row = messages.iter().find(|m| m.0 == b'D').expect("a row");
    assert_eq!(data_row(&row.1), vec![Some("\u{FFFD}".to_owned())]);
}

#[tokio::test]
async fn a_parameter_number_past_65535_is_refused_without_a_huge_allocation() {
    let server = Server::start();
    let mut raw = Raw::connect(&server).await;
    for sql in ["SELECT 1 WHERE 1 = $99999999999", "SELECT 1 WHERE 1 = $65536"] {
        raw.parse("", sql, &[]).await;
        raw.sync().await;
        let messages = raw.until_ready().await;
        assert_eq!(messages[0].0, b'E', "{sql}");
        let code = error_code_of(&messages[0].1);
        assert!(code == "08P01" || code == "42601", "{sql}: {code}");
    }
    raw.send(b'Q', b"SELECT 1\0").await;
    assert!(raw.until_ready().await.iter().any(|m| m.0 == b'D'), "the connection still serves");
}

#[tokio::test]
async fn connections_past_the_limit_get_53300() {
    let server = Server::start_with(&["--max-connections", "2"]);
    let first = server.root().await;
    let _second = server.root().await;
    let refused = server.connect("root", ROOT_PASSWORD).await.err().expect("refused");
    assert_eq!(cairn_e2e::sqlstate(&refused), "53300");
    // A cancel request is not a connection to refuse, and a place freed
    // is a place taken again.
    first.cancel_token().cancel_query(tokio_postgres::NoTls).await.expect("cancel");
    drop(first);
    let mut attempts = 0;
    loop {
        match server.connect("root", ROOT_PASSWORD).await {
            Ok(client) => {
                client.simple_query("SELECT 1").await.expect("serves");
                break;
            }
            Err(error) if attempts < 50 => {
                assert_eq!(cairn_e2e::sqlstate(&error), "53300");
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(error) => panic!("the freed place was not given back: {error}"),
        }
    }
}
