//! Splitting a query string into statements and recognising the ones
//! CairnDB executes itself (user management, SET/SHOW/RESET, transaction
//! control). Everything else goes to DataFusion as text.
//!
//! Statements are recognised on sqlparser's tokens, so quoting, comments
//! and dollar-quoting are handled the way PostgreSQL handles them.

use cairn_catalog::UserChange;

use crate::alter::{parse_alter_table, AlterTable};
use crate::copy::{parse_copy, CopySpec};
use cairn_types::{CairnError, Result, Role, TableKind};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Word};

/// A statement as CairnDB routes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    CreateUser {
        name: String,
        password: String,
        role: Role,
        email: Option<String>,
    },
    AlterUser {
        name: String,
        change: UserChange,
    },
    DropUser {
        names: Vec<String>,
        if_exists: bool,
    },
    /// `CREATE NAMESPACE` (or `CREATE SCHEMA`: namespaces are schemas).
    CreateNamespace {
        name: String,
        if_not_exists: bool,
    },
    DropNamespace {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    /// `USE name`: makes `name` the current namespace.
    Use {
        name: String,
    },
    /// `CREATE [USER | SHARED | STREAM] TABLE …`; `sql` is the statement as
    /// a plain `CREATE TABLE`, for sqlparser.
    CreateTable {
        kind: TableKind,
        sql: String,
    },
    /// `EXECUTE AS USER 'name' (statement)`.
    ExecuteAs {
        user: String,
        sql: String,
    },
    /// `DROP TABLE [IF EXISTS] [ns.]name, …`.
    DropTable {
        names: Vec<(Option<String>, String)>,
        if_exists: bool,
    },
    /// `SET name = value`; `None` means DEFAULT.
    Set {
        name: String,
        value: Option<String>,
        local: bool,
    },
    Show {
        name: Option<String>,
    },
    Reset {
        name: Option<String>,
    },
    Begin,
    Commit,
    Rollback,
    Savepoint(String),
    /// `RELEASE [SAVEPOINT] name`.
    ReleaseSavepoint(String),
    /// `ROLLBACK TO [SAVEPOINT] name`.
    RollbackTo(String),
    AlterTable(AlterTable),
    /// `COPY … FROM STDIN` / `COPY … TO STDOUT`.
    Copy(CopySpec),
    /// `DEALLOCATE [PREPARE] name | ALL`: drops prepared statements (kept
    /// by the wire layer, which carries it out). `None`: all.
    Deallocate {
        name: Option<String>,
    },
    /// `DECLARE name [NO SCROLL] CURSOR [WITH[OUT] HOLD] FOR query`.
    DeclareCursor { name: String, query: String, hold: bool },
    /// `FETCH [NEXT | FORWARD] [n | ALL] [FROM | IN] name`; `None`: all.
    Fetch { name: String, count: Option<u64> },
    /// `CLOSE name | ALL`; `None`: all.
    CloseCursor(Option<String>),
    /// `DISCARD ALL`: settings back to their defaults and prepared
    /// statements dropped, as poolers reset a connection.
    DiscardAll,
    /// `UNLISTEN *`: drivers send it to clean a connection; CairnDB has no
    /// LISTEN, so there is nothing to do.
    NothingToDo {
        tag: &'static str,
    },
    /// `SELECT [pg_catalog.]set_config(name, value, is_local) [, …]`:
    /// SET as a function (pg_dump, and pools that scope settings to a
    /// transaction, send it). Carried out as SET, as no query can change
    /// the session it runs in; it returns the new values.
    SetConfig(Vec<SetConfigCall>),
    /// Anything else: planned and run by DataFusion.
    Query(String),
}

/// One `set_config(name, value, is_local)` call.
#[derive(Debug, Clone, PartialEq)]
pub struct SetConfigCall {
    pub name: Argument,
    pub value: Argument,
    pub local: Argument,
    /// The result column's name (`set_config` unless aliased).
    pub column: String,
}

/// An argument given as a literal, or as a `$n` parameter of the
/// extended protocol (1-based, as written).
#[derive(Debug, Clone, PartialEq)]
pub enum Argument {
    Literal(String),
    Parameter(usize),
}

impl Statement {
    /// Whether it changes the catalog (users, namespaces, tables): such
    /// statements apply at once, inside a transaction block or not.
    pub fn changes_catalog(&self) -> bool {
        matches!(
            self,
            Statement::CreateUser { .. }
                | Statement::AlterUser { .. }
                | Statement::DropUser { .. }
                | Statement::CreateNamespace { .. }
                | Statement::DropNamespace { .. }
                | Statement::CreateTable { .. }
                | Statement::AlterTable(_)
                | Statement::DropTable { .. }
        )
    }

    /// The command tag PostgreSQL sends for this statement.
    pub fn tag(&self) -> &'static str {
        match self {
            Statement::CreateUser { .. } => "CREATE ROLE",
            Statement::AlterUser { .. } => "ALTER ROLE",
            Statement::DropUser { .. } => "DROP ROLE",
            Statement::CreateNamespace { .. } => "CREATE SCHEMA",
            Statement::DropNamespace { .. } => "DROP SCHEMA",
            Statement::Use { .. } => "SET",
            Statement::CreateTable { .. } => "CREATE TABLE",
            Statement::DropTable { .. } => "DROP TABLE",
            Statement::ExecuteAs { .. } => "SELECT",
            Statement::Set { .. } => "SET",
            Statement::Show { .. } => "SHOW",
            Statement::Reset { .. } => "RESET",
            Statement::Begin => "BEGIN",
            Statement::Commit => "COMMIT",
            Statement::Rollback | Statement::RollbackTo(_) => "ROLLBACK",
            Statement::Savepoint(_) => "SAVEPOINT",
            Statement::ReleaseSavepoint(_) => "RELEASE",
            Statement::Copy(_) => "COPY",
            Statement::AlterTable(_) => "ALTER TABLE",
            Statement::NothingToDo { tag } => tag,
            Statement::Deallocate { .. } => "DEALLOCATE",
            Statement::DiscardAll => "DISCARD ALL",
            Statement::DeclareCursor { .. } => "DECLARE CURSOR",
            Statement::Fetch { .. } => "FETCH",
            Statement::CloseCursor(_) => "CLOSE CURSOR",
            Statement::Query(_) | Statement::SetConfig(_) => "SELECT",
        }
    }
}

/// Splits `sql` into statements; empty ones (only `;`, spaces or comments)
/// are dropped.
pub fn parse_statements(sql: &str) -> Result<Vec<Statement>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .map_err(|e| CairnError::Syntax(e.to_string()))?;
    tokens
        .split(|token| *token == Token::SemiColon)
        .filter(|tokens| {
            tokens
                .iter()
                .any(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        })
        .map(parse_one)
        .collect()
}

/// A token as SQL text again. The tokenizer's `Display` drops the
/// escaping of quotes inside literals and quoted identifiers (`'it''s'`
/// would come back as `'it's'`), so those are written here.
fn token_sql(token: &Token) -> String {
    match token {
        Token::SingleQuotedString(text) => format!("'{}'", text.replace('\'', "''")),
        Token::NationalStringLiteral(text) => format!("N'{}'", text.replace('\'', "''")),
        Token::EscapedStringLiteral(text) => {
            format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
        }
        Token::Word(word) if word.quote_style == Some('"') => {
            format!("\"{}\"", word.value.replace('"', "\"\""))
        }
        other => other.to_string(),
    }
}

fn parse_one(tokens: &[Token]) -> Result<Statement> {
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .collect();
    let mut cursor = Cursor {
        tokens: words,
        pos: 0,
    };
    let table_kind = [
        (["CREATE", "USER", "TABLE"], TableKind::User),
        (["CREATE", "SHARED", "TABLE"], TableKind::Shared),
        (["CREATE", "STREAM", "TABLE"], TableKind::Stream),
    ]
    .into_iter()
    .find_map(|(words, kind)| cursor.keywords(&words).then_some(kind))
    .or_else(|| {
        cursor
            .keywords(&["CREATE", "TABLE"])
            .then_some(TableKind::Shared)
    });
    if let Some(kind) = table_kind {
        let rest: Vec<String> = cursor.tokens[cursor.pos..]
            .iter()
            .map(|t| token_sql(t))
            .collect();
        return Ok(Statement::CreateTable {
            kind,
            sql: format!("CREATE TABLE {}", rest.join(" ")),
        });
    }
    if cursor.keywords(&["ALTER", "TABLE"]) {
        let text: String = tokens.iter().map(token_sql).collect();
        return parse_alter_table(&text).map(Statement::AlterTable);
    }
    if cursor.keyword("COPY") {
        let text: String = tokens.iter().map(token_sql).collect();
        return parse_copy(&text).map(Statement::Copy);
    }
    if cursor.keywords(&["EXECUTE", "AS", "USER"]) {
        let user = match cursor.peek() {
            Some(Token::Word(_)) => cursor.identifier()?,
            _ => cursor.string()?,
        };
        let inner = &cursor.tokens[cursor.pos..];
        let (Some(Token::LParen), Some(Token::RParen)) =
            (inner.first().copied(), inner.last().copied())
        else {
            return Err(
                cursor.error("a parenthesized statement: EXECUTE AS USER 'name' (SELECT …)")
            );
        };
        let body: Vec<String> = inner[1..inner.len() - 1]
            .iter()
            .map(|t| token_sql(t))
            .collect();
        return Ok(Statement::ExecuteAs {
            user,
            sql: body.join(" "),
        });
    }
    let statement = if cursor.keywords(&["DROP", "TABLE"]) {
        let if_exists = cursor.keywords(&["IF", "EXISTS"]);
        let mut names = vec![cursor.qualified_name()?];
        while cursor.peek() == Some(&Token::Comma) {
            cursor.pos += 1;
            names.push(cursor.qualified_name()?);
        }
        // Nothing depends on a table yet: both drop just the table.
        if !cursor.keyword("CASCADE") {
            cursor.keyword("RESTRICT");
        }
        Statement::DropTable { names, if_exists }
    } else if cursor.keywords(&["CREATE", "USER"]) {
        parse_create_user(&mut cursor)?
    } else if cursor.keywords(&["ALTER", "USER"]) {
        parse_alter_user(&mut cursor)?
    } else if cursor.keywords(&["DROP", "USER"]) {
        parse_drop_user(&mut cursor)?
    } else if cursor.keywords(&["CREATE", "NAMESPACE"]) || cursor.keywords(&["CREATE", "SCHEMA"]) {
        let if_not_exists = cursor.keywords(&["IF", "NOT", "EXISTS"]);
        Statement::CreateNamespace {
            name: cursor.identifier()?,
            if_not_exists,
        }
    } else if cursor.keywords(&["DROP", "NAMESPACE"]) || cursor.keywords(&["DROP", "SCHEMA"]) {
        let if_exists = cursor.keywords(&["IF", "EXISTS"]);
        let name = cursor.identifier()?;
        let cascade = cursor.keyword("CASCADE");
        if !cascade {
            cursor.keyword("RESTRICT");
        }
        Statement::DropNamespace {
            name,
            if_exists,
            cascade,
        }
    } else if cursor.keyword("USE") {
        Statement::Use {
            name: cursor.identifier()?,
        }
    } else if cursor.keyword("SET") {
        parse_set(&mut cursor)?
    } else if cursor.keyword("SHOW") {
        let name = if cursor.keyword("ALL") {
            None
        } else if cursor.keywords(&["TRANSACTION", "ISOLATION", "LEVEL"]) {
            Some("transaction_isolation".to_owned())
        } else {
            Some(cursor.parameter_name()?)
        };
        Statement::Show { name }
    } else if cursor.keyword("RESET") {
        let name = if cursor.keyword("ALL") {
            None
        } else {
            Some(cursor.parameter_name()?)
        };
        Statement::Reset { name }
    } else if cursor.keyword("BEGIN") || cursor.keywords(&["START", "TRANSACTION"]) {
        cursor.keyword("WORK");
        cursor.keyword("TRANSACTION");
        cursor.skip_transaction_modes()?;
        Statement::Begin
    } else if cursor.keyword("COMMIT") || cursor.keyword("END") {
        cursor.keyword("WORK");
        cursor.keyword("TRANSACTION");
        Statement::Commit
    } else if cursor.keyword("ROLLBACK") || cursor.keyword("ABORT") {
        cursor.keyword("WORK");
        cursor.keyword("TRANSACTION");
        if cursor.keyword("TO") {
            cursor.keyword("SAVEPOINT");
            Statement::RollbackTo(cursor.identifier()?)
        } else {
            cursor.keyword("AND");
            cursor.keyword("NO");
            cursor.keyword("CHAIN");
            Statement::Rollback
        }
    } else if cursor.keyword("DEALLOCATE") {
        cursor.keyword("PREPARE");
        let name = if cursor.keyword("ALL") {
            None
        } else {
            Some(cursor.identifier()?)
        };
        Statement::Deallocate { name }
    } else if cursor.keywords(&["DISCARD", "ALL"]) {
        Statement::DiscardAll
    } else if cursor.keyword("CLOSE") {
        match cursor.keyword("ALL") {
            true => Statement::CloseCursor(None),
            false => Statement::CloseCursor(Some(cursor.identifier()?)),
        }
    } else if cursor.keyword("DECLARE") {
        let name = cursor.identifier()?;
        while ["BINARY", "INSENSITIVE", "ASENSITIVE", "NO", "SCROLL"].iter().any(|k| cursor.keyword(k)) {}
        if !cursor.keyword("CURSOR") {
            return Err(cursor.error("CURSOR"));
        }
        let hold = cursor.keywords(&["WITH", "HOLD"]);
        cursor.keywords(&["WITHOUT", "HOLD"]);
        if !cursor.keyword("FOR") {
            return Err(cursor.error("FOR"));
        }
        let query: Vec<String> = cursor.tokens[cursor.pos..].iter().map(|t| token_sql(t)).collect();
        return Ok(Statement::DeclareCursor { name, query: query.join(" "), hold });
    } else if cursor.keyword("FETCH") {
        let count = if cursor.keyword("NEXT") {
            Some(1)
        } else {
            cursor.keyword("FORWARD");
            let number = match cursor.peek() {
                Some(Token::Number(n, _)) => Some(n.parse::<u64>().map_err(|_| cursor.error("a row count"))?),
                _ => None,
            };
            if cursor.keyword("ALL") {
                None
            } else if let Some(n) = number {
                cursor.pos += 1;
                Some(n)
            } else {
                Some(1)
            }
        };
        if !cursor.keyword("FROM") {
            cursor.keyword("IN");
        }
        Statement::Fetch { name: cursor.identifier()?, count }
    } else if cursor.keyword("UNLISTEN") && cursor.peek() == Some(&Token::Mul) {
        cursor.pos += 1;
        Statement::NothingToDo { tag: "UNLISTEN" }
    } else if cursor.keyword("SAVEPOINT") {
        Statement::Savepoint(cursor.identifier()?)
    } else if cursor.keyword("RELEASE") {
        cursor.keyword("SAVEPOINT");
        Statement::ReleaseSavepoint(cursor.identifier()?)
    } else if let Some(calls) = set_config_calls(&mut cursor) {
        Statement::SetConfig(calls)
    } else {
        return Ok(Statement::Query(tokens.iter().map(token_sql).collect()));
    };
    cursor.expect_end()?;
    Ok(statement)
}

/// `SELECT set_config(…) [AS name] [, …]` and nothing else; `None` (the
/// cursor where it was) for any other statement, which DataFusion plans.
fn set_config_calls(cursor: &mut Cursor) -> Option<Vec<SetConfigCall>> {
    let start = cursor.pos;
    let calls = (|| {
        if !cursor.keyword("SELECT") {
            return None;
        }
        let mut calls = Vec::new();
        loop {
            if cursor.keyword("pg_catalog") && !cursor.token(&Token::Period) {
                return None;
            }
            if !(cursor.keyword("set_config") && cursor.token(&Token::LParen)) {
                return None;
            }
            let name = cursor.argument()?;
            let value = cursor.token(&Token::Comma).then(|| cursor.argument()).flatten()?;
            let local = cursor.token(&Token::Comma).then(|| cursor.argument()).flatten()?;
            if !cursor.token(&Token::RParen) {
                return None;
            }
            let column = match cursor.keyword("AS") {
                true => cursor.identifier().ok()?,
                false => "set_config".to_owned(),
            };
            calls.push(SetConfigCall { name, value, local, column });
            if !cursor.token(&Token::Comma) {
                break;
            }
        }
        cursor.peek().is_none().then_some(calls)
    })();
    if calls.is_none() {
        cursor.pos = start;
    }
    calls
}

struct Cursor<'t> {
    tokens: Vec<&'t Token>,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).copied()
    }

    fn word(&self) -> Option<&Word> {
        match self.peek() {
            Some(Token::Word(word)) => Some(word),
            _ => None,
        }
    }

    /// Consumes an unquoted keyword.
    fn keyword(&mut self, keyword: &str) -> bool {
        let found = self
            .word()
            .is_some_and(|w| w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword));
        if found {
            self.pos += 1;
        }
        found
    }

    /// Consumes a sequence of keywords, or nothing.
    fn keywords(&mut self, keywords: &[&str]) -> bool {
        let start = self.pos;
        if keywords.iter().all(|k| self.keyword(k)) {
            true
        } else {
            self.pos = start;
            false
        }
    }

    fn error(&self, expected: &str) -> CairnError {
        match self.peek() {
            Some(token) => CairnError::Syntax(format!(
                "syntax error at or near \"{token}\": expected {expected}"
            )),
            None => {
                CairnError::Syntax(format!("syntax error at end of input: expected {expected}"))
            }
        }
    }

    /// An identifier: unquoted ones fold to lower case, as in PostgreSQL.
    fn identifier(&mut self) -> Result<String> {
        let word = self.word().ok_or_else(|| self.error("a name"))?;
        let name = if word.quote_style.is_some() {
            word.value.clone()
        } else {
            word.value.to_lowercase()
        };
        self.pos += 1;
        Ok(name)
    }

    /// `name` or `namespace.name`.
    fn qualified_name(&mut self) -> Result<(Option<String>, String)> {
        let first = self.identifier()?;
        if self.peek() == Some(&Token::Period) {
            self.pos += 1;
            Ok((Some(first), self.identifier()?))
        } else {
            Ok((None, first))
        }
    }

    /// A parameter name for SET/SHOW/RESET, possibly dotted (`myapp.x`).
    fn parameter_name(&mut self) -> Result<String> {
        let mut name = self.identifier()?;
        while self.peek() == Some(&Token::Period) {
            self.pos += 1;
            name.push('.');
            name.push_str(&self.identifier()?);
        }
        // `SHOW TIME ZONE` / `SET TIME ZONE` name TimeZone.
        if name == "time" && self.keyword("ZONE") {
            return Ok("timezone".into());
        }
        Ok(name)
    }

    fn string(&mut self) -> Result<String> {
        match self.peek() {
            Some(
                Token::SingleQuotedString(s)
                | Token::EscapedStringLiteral(s)
                | Token::NationalStringLiteral(s),
            ) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            Some(Token::DollarQuotedString(s)) => {
                let s = s.value.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.error("a string literal")),
        }
    }

    /// A SET value: a string, a number, or a bare word (kept as written).
    fn value(&mut self) -> Result<String> {
        let negative = self.peek() == Some(&Token::Minus);
        if negative {
            self.pos += 1;
        }
        let value = match self.peek() {
            Some(Token::Number(n, _)) => {
                let n = n.clone();
                self.pos += 1;
                n
            }
            Some(Token::Word(w)) => {
                let value = w.value.clone();
                self.pos += 1;
                value
            }
            _ => self.string()?,
        };
        Ok(if negative { format!("-{value}") } else { value })
    }

    /// Consumes `token` if it is next.
    fn token(&mut self, token: &Token) -> bool {
        let found = self.peek() == Some(token);
        if found {
            self.pos += 1;
        }
        found
    }

    /// A function argument: a string, number or boolean literal, or `$n`,
    /// either maybe cast (`$1::text`).
    fn argument(&mut self) -> Option<Argument> {
        let argument = match self.peek()? {
            Token::Placeholder(p) => {
                let n = p.strip_prefix('$')?.parse().ok().filter(|n| (1..=crate::direct::MAX_PARAMETERS).contains(n))?;
                self.pos += 1;
                Argument::Parameter(n)
            }
            Token::Word(w) if w.quote_style.is_none() && (w.value.eq_ignore_ascii_case("true") || w.value.eq_ignore_ascii_case("false")) => {
                let value = w.value.to_lowercase();
                self.pos += 1;
                Argument::Literal(value)
            }
            Token::Word(_) => return None,
            _ => Argument::Literal(self.value().ok()?),
        };
        if self.token(&Token::DoubleColon) {
            self.identifier().ok()?;
        }
        Some(argument)
    }

    fn expect_end(&self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("end of statement")),
        }
    }

    /// ISOLATION LEVEL …, READ WRITE / READ ONLY, [NOT] DEFERRABLE.
    fn skip_transaction_modes(&mut self) -> Result<()> {
        while self.peek().is_some() {
            if self.peek() == Some(&Token::Comma) {
                self.pos += 1;
            } else if self.keywords(&["ISOLATION", "LEVEL"]) {
                let known = self.keyword("SERIALIZABLE")
                    || self.keywords(&["REPEATABLE", "READ"])
                    || self.keywords(&["READ", "COMMITTED"])
                    || self.keywords(&["READ", "UNCOMMITTED"]);
                if !known {
                    return Err(self.error("an isolation level"));
                }
            } else if self.keywords(&["READ", "WRITE"])
                || self.keywords(&["READ", "ONLY"])
                || self.keyword("DEFERRABLE")
                || self.keywords(&["NOT", "DEFERRABLE"])
            {
            } else {
                return Err(self.error("a transaction mode"));
            }
        }
        Ok(())
    }
}

fn role(cursor: &mut Cursor) -> Result<Role> {
    let name = match cursor.peek() {
        Some(Token::Word(_)) => cursor.identifier()?,
        _ => cursor.string()?,
    };
    name.parse()
}

/// A password, refusing verifiers computed by the client (psql's
/// `\password` sends a SCRAM verifier): CairnDB stores scrypt hashes and
/// needs the password itself.
fn password(cursor: &mut Cursor) -> Result<String> {
    let password = cursor.string()?;
    let is_md5 = password.len() == 35
        && password.starts_with("md5")
        && password[3..].bytes().all(|b| b.is_ascii_hexdigit());
    if password.starts_with("SCRAM-SHA-256$") || is_md5 {
        return Err(CairnError::FeatureNotSupported(
            "pre-hashed passwords are not supported: send the password itself (over TLS when not on loopback)".into(),
        ));
    }
    Ok(password)
}

fn email(cursor: &mut Cursor) -> Result<Option<String>> {
    if cursor.keyword("NULL") {
        Ok(None)
    } else {
        cursor.string().map(Some)
    }
}

/// `CREATE USER name [WITH] PASSWORD '…' [ROLE r] [EMAIL '…']`, options in
/// any order; the role defaults to `user`.
fn parse_create_user(cursor: &mut Cursor) -> Result<Statement> {
    let name = cursor.identifier()?;
    cursor.keyword("WITH");
    let (mut password_value, mut role_value, mut email_value) = (None, None, None);
    while cursor.peek().is_some() {
        if cursor.keyword("PASSWORD") && password_value.is_none() {
            password_value = Some(password(cursor)?);
        } else if cursor.keyword("ROLE") && role_value.is_none() {
            role_value = Some(role(cursor)?);
        } else if cursor.keyword("EMAIL") && email_value.is_none() {
            email_value = Some(email(cursor)?);
        } else {
            return Err(cursor.error("PASSWORD, ROLE or EMAIL (each at most once)"));
        }
    }
    let password = password_value.ok_or_else(|| {
        CairnError::Syntax(
            "CREATE USER needs a PASSWORD: CREATE USER name WITH PASSWORD '…' ROLE user".into(),
        )
    })?;
    Ok(Statement::CreateUser {
        name,
        password,
        role: role_value.unwrap_or(Role::User),
        email: email_value.flatten(),
    })
}

/// `ALTER USER name SET PASSWORD '…' | SET ROLE r | SET EMAIL '…'|NULL`,
/// and PostgreSQL's `ALTER USER name [WITH] PASSWORD '…'`.
fn parse_alter_user(cursor: &mut Cursor) -> Result<Statement> {
    let name = cursor.identifier()?;
    let change = if cursor.keyword("SET") {
        if cursor.keyword("PASSWORD") {
            UserChange::Password(password(cursor)?)
        } else if cursor.keyword("ROLE") {
            UserChange::Role(role(cursor)?)
        } else if cursor.keyword("EMAIL") {
            UserChange::Email(email(cursor)?)
        } else {
            return Err(cursor.error("PASSWORD, ROLE or EMAIL"));
        }
    } else {
        cursor.keyword("WITH");
        if cursor.keyword("PASSWORD") {
            UserChange::Password(password(cursor)?)
        } else {
            return Err(cursor.error("SET PASSWORD, SET ROLE or SET EMAIL"));
        }
    };
    Ok(Statement::AlterUser { name, change })
}

/// `DROP USER [IF EXISTS] name [, name …]`.
fn parse_drop_user(cursor: &mut Cursor) -> Result<Statement> {
    let if_exists = cursor.keywords(&["IF", "EXISTS"]);
    let mut names = vec![cursor.identifier()?];
    while cursor.peek() == Some(&Token::Comma) {
        cursor.pos += 1;
        names.push(cursor.identifier()?);
    }
    Ok(Statement::DropUser { names, if_exists })
}

/// `SET [SESSION | LOCAL] name {TO | =} value [, …] | DEFAULT`,
/// `SET TIME ZONE value`, `SET NAMES value`.
fn parse_set(cursor: &mut Cursor) -> Result<Statement> {
    // SET TRANSACTION … and SET SESSION CHARACTERISTICS AS TRANSACTION …:
    // the modes are checked; every transaction runs serializable anyway.
    if cursor.keyword("TRANSACTION")
        || cursor.keywords(&["SESSION", "CHARACTERISTICS", "AS", "TRANSACTION"])
    {
        cursor.skip_transaction_modes()?;
        return Ok(Statement::Set {
            name: "transaction_isolation".into(),
            value: Some("serializable".into()),
            local: false,
        });
    }
    let local = cursor.keyword("LOCAL");
    if !local {
        cursor.keyword("SESSION");
    }
    if cursor.keywords(&["TIME", "ZONE"]) {
        let value = if cursor.keyword("DEFAULT") || cursor.keyword("LOCAL") {
            None
        } else {
            Some(cursor.value()?)
        };
        return Ok(Statement::Set {
            name: "timezone".into(),
            value,
            local,
        });
    }
    if cursor.keyword("NAMES") {
        let value = if cursor.keyword("DEFAULT") {
            None
        } else {
            Some(cursor.value()?)
        };
        return Ok(Statement::Set {
            name: "client_encoding".into(),
            value,
            local,
        });
    }
    let name = cursor.parameter_name()?;
    if !(cursor.keyword("TO") || cursor.peek() == Some(&Token::Eq)) {
        return Err(cursor.error("TO or ="));
    }
    if cursor.peek() == Some(&Token::Eq) {
        cursor.pos += 1;
    }
    if cursor.keyword("DEFAULT") {
        return Ok(Statement::Set {
            name,
            value: None,
            local,
        });
    }
    let mut values = vec![cursor.value()?];
    while cursor.peek() == Some(&Token::Comma) {
        cursor.pos += 1;
        values.push(cursor.value()?);
    }
    Ok(Statement::Set {
        name,
        value: Some(values.join(", ")),
        local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Statement {
        let mut statements = parse_statements(sql).expect("parses");
        assert_eq!(statements.len(), 1, "{sql}");
        statements.remove(0)
    }

    #[test]
    fn quotes_inside_literals_and_identifiers_survive() {
        let Statement::Query(text) = one(r#"SELECT 'it''s', E'a\'b', "we""ird" FROM t"#) else {
            panic!("a query")
        };
        assert_eq!(text, r#"SELECT 'it''s', E'a\'b', "we""ird" FROM t"#);
        let Statement::CreateTable { sql, .. } = one("CREATE TABLE t (a TEXT DEFAULT 'it''s')")
        else {
            panic!("a table")
        };
        assert!(sql.contains("'it''s'"), "{sql}");
    }

    #[test]
    fn user_statements() {
        assert_eq!(
            one("CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user"),
            Statement::CreateUser {
                name: "alice".into(),
                password: "alice-pw".into(),
                role: Role::User,
                email: None
            }
        );
        assert_eq!(
            one("create user Svc with password 'it''s' role SERVICE email 'ops@example.com';"),
            Statement::CreateUser {
                name: "svc".into(),
                password: "it's".into(),
                role: Role::Service,
                email: Some("ops@example.com".into())
            }
        );
        assert_eq!(
            one("ALTER USER alice SET PASSWORD 'new-pw'"),
            Statement::AlterUser {
                name: "alice".into(),
                change: UserChange::Password("new-pw".into())
            }
        );
        assert_eq!(
            one("ALTER USER \"Svc\" SET ROLE dba"),
            Statement::AlterUser {
                name: "Svc".into(),
                change: UserChange::Role(Role::Dba)
            }
        );
        assert_eq!(
            one("ALTER USER svc SET EMAIL NULL"),
            Statement::AlterUser {
                name: "svc".into(),
                change: UserChange::Email(None)
            }
        );
        assert_eq!(
            one("DROP USER IF EXISTS a, b"),
            Statement::DropUser {
                names: vec!["a".into(), "b".into()],
                if_exists: true
            }
        );
    }

    #[test]
    fn user_statement_errors_are_syntax_errors() {
        for sql in [
            "CREATE USER alice",
            "CREATE USER alice WITH PASSWORD 'x' ROLE admin",
            "CREATE USER alice WITH PASSWORD 'x' PASSWORD 'y'",
            "ALTER USER alice SET NOTHING 'x'",
            "DROP USER",
            "CREATE USER alice WITH PASSWORD 'x' trailing",
        ] {
            let error = parse_statements(sql).expect_err(sql);
            assert!(
                matches!(error.code().as_str(), "42601" | "22023"),
                "{sql}: {error:?}"
            );
        }
        let error = parse_statements("ALTER USER alice PASSWORD 'SCRAM-SHA-256$4096:abc'")
            .expect_err("scram");
        assert_eq!(error.code().as_str(), "0A000");
    }

    #[test]
    fn table_statements() {
        assert_eq!(
            one("CREATE USER TABLE app.m (id BIGINT PRIMARY KEY)"),
            Statement::CreateTable {
                kind: TableKind::User,
                sql: "CREATE TABLE app . m ( id BIGINT PRIMARY KEY )".into()
            }
        );
        assert!(matches!(
            one("create shared table t (a int)"),
            Statement::CreateTable {
                kind: TableKind::Shared,
                ..
            }
        ));
        assert!(matches!(
            one("CREATE STREAM TABLE e (a int)"),
            Statement::CreateTable {
                kind: TableKind::Stream,
                ..
            }
        ));
        assert!(matches!(
            one("CREATE TABLE t (a int)"),
            Statement::CreateTable {
                kind: TableKind::Shared,
                ..
            }
        ));
        assert_eq!(
            one("DROP TABLE IF EXISTS app.t, u CASCADE"),
            Statement::DropTable {
                names: vec![(Some("app".into()), "t".into()), (None, "u".into())],
                if_exists: true
            }
        );
        assert_eq!(
            one("EXECUTE AS USER 'alice' (SELECT count(*) FROM app.messages)"),
            Statement::ExecuteAs {
                user: "alice".into(),
                sql: "SELECT count ( * ) FROM app . messages".into()
            }
        );
        assert!(parse_statements("EXECUTE AS USER alice SELECT 1").is_err());
        // CREATE USER is still a user.
        assert!(matches!(
            one("CREATE USER table_owner WITH PASSWORD 'x'"),
            Statement::CreateUser { .. }
        ));
    }

    #[test]
    fn namespace_statements() {
        assert_eq!(
            one("CREATE NAMESPACE app"),
            Statement::CreateNamespace {
                name: "app".into(),
                if_not_exists: false
            }
        );
        assert_eq!(
            one("create schema if not exists App"),
            Statement::CreateNamespace {
                name: "app".into(),
                if_not_exists: true
            }
        );
        assert_eq!(
            one("DROP NAMESPACE IF EXISTS app CASCADE"),
            Statement::DropNamespace {
                name: "app".into(),
                if_exists: true,
                cascade: true
            }
        );
        assert_eq!(
            one("DROP SCHEMA app RESTRICT"),
            Statement::DropNamespace {
                name: "app".into(),
                if_exists: false,
                cascade: false
            }
        );
        assert_eq!(one("USE app"), Statement::Use { name: "app".into() });
        assert!(parse_statements("CREATE NAMESPACE").is_err());
    }

    #[test]
    fn set_config_calls_alone_are_statements_and_anything_else_a_query() {
        let literal = |s: &str| Argument::Literal(s.into());
        assert_eq!(
            one("SELECT pg_catalog.set_config('search_path', '', false)"),
            Statement::SetConfig(vec![SetConfigCall { name: literal("search_path"), value: literal(""), local: literal("false"), column: "set_config".into() }])
        );
        assert_eq!(
            one("select set_config($1, $2::text, TRUE) as a, set_config('x.y', 3, false)"),
            Statement::SetConfig(vec![
                SetConfigCall { name: Argument::Parameter(1), value: Argument::Parameter(2), local: literal("true"), column: "a".into() },
                SetConfigCall { name: literal("x.y"), value: literal("3"), local: literal("false"), column: "set_config".into() },
            ])
        );
        for query in [
            "SELECT set_config('a.b', 'c', false) FROM t",
            "SELECT set_config('a.b', 'c', false), 1",
            "SELECT set_config('a.b', upper('c'), false)",
            "SELECT 1",
        ] {
            assert!(matches!(one(query), Statement::Query(_)), "{query}");
        }
    }

    #[test]
    fn set_show_reset_and_transactions() {
        assert_eq!(
            one("SET extra_float_digits = 3"),
            Statement::Set {
                name: "extra_float_digits".into(),
                value: Some("3".into()),
                local: false
            }
        );
        assert_eq!(
            one("set application_name to 'psql'"),
            Statement::Set {
                name: "application_name".into(),
                value: Some("psql".into()),
                local: false
            }
        );
        assert_eq!(
            one("SET search_path TO app, public"),
            Statement::Set {
                name: "search_path".into(),
                value: Some("app, public".into()),
                local: false
            }
        );
        assert_eq!(
            one("SET TIME ZONE 'Europe/Paris'"),
            Statement::Set {
                name: "timezone".into(),
                value: Some("Europe/Paris".into()),
                local: false
            }
        );
        assert_eq!(
            one("SET SESSION statement_timeout = DEFAULT"),
            Statement::Set {
                name: "statement_timeout".into(),
                value: None,
                local: false
            }
        );
        assert_eq!(
            one("SHOW TimeZone"),
            Statement::Show {
                name: Some("timezone".into())
            }
        );
        assert_eq!(one("SHOW ALL"), Statement::Show { name: None });
        assert_eq!(one("RESET ALL"), Statement::Reset { name: None });
        assert_eq!(one("DISCARD ALL"), Statement::DiscardAll);
        assert_eq!(
            one(r#"DECLARE "c" NO SCROLL CURSOR WITHOUT HOLD FOR SELECT 'it''s'"#),
            Statement::DeclareCursor { name: "c".into(), query: "SELECT 'it''s'".into(), hold: false }
        );
        assert_eq!(one("FETCH FORWARD 3 FROM c"), Statement::Fetch { name: "c".into(), count: Some(3) });
        assert_eq!(one("FETCH ALL IN c"), Statement::Fetch { name: "c".into(), count: None });
        assert_eq!(one("FETCH c"), Statement::Fetch { name: "c".into(), count: Some(1) });
        assert_eq!(one("CLOSE c"), Statement::CloseCursor(Some("c".into())));
        assert_eq!(one("CLOSE ALL"), Statement::CloseCursor(None));
        assert_eq!(
            one("BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE"),
            Statement::Begin
        );
        assert_eq!(one("start transaction"), Statement::Begin);
        assert_eq!(one("END"), Statement::Commit);
        assert_eq!(one("rollback work"), Statement::Rollback);
    }

    #[test]
    fn queries_pass_through_with_their_text_and_split_on_semicolons() {
        let statements = parse_statements("SELECT 'a;b' AS x; -- c\n ;; SELECT 2").expect("parses");
        assert_eq!(
            statements,
            [
                Statement::Query("SELECT 'a;b' AS x".into()),
                Statement::Query(" SELECT 2".into())
            ]
        );
        assert!(parse_statements(" ; -- only a comment")
            .expect("parses")
            .is_empty());
    }
}
