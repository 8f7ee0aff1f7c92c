//! CairnDB's SQL dialect: a query string becomes statements, parsed once.
//!
//! The string is tokenized once (sqlparser's PostgreSQL tokenizer, so
//! quoting, comments and dollar-quoting are PostgreSQL's) and split at
//! semicolons. Each statement is then parsed once into its tree:
//! CairnDB's own statements (user management, namespaces, `CREATE USER |
//! SHARED | STREAM TABLE`, `EXECUTE AS USER`, SET/SHOW/RESET, transaction
//! control, cursors) by the small recursive-descent parser here, all
//! others by DataFusion's parser, from the same tokens. Nothing is turned
//! back into text to be parsed again.
//!
//! Why not sqlparser's `Dialect::parse_statement` hook: it must return a
//! sqlparser `Statement`, which cannot hold CairnDB's statements without
//! dressing them as some other statement. DataFusion's own parser takes
//! the same approach as this one: its statements first, sqlparser's for
//! the rest.

use cairn_catalog::UserChange;
use datafusion::sql::parser::{DFParserBuilder, Statement as DfStatement};
use datafusion::sql::sqlparser::ast;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Word};

use crate::alter::{parse_alter_table, AlterTable};
use crate::copy::{parse_copy, CopySpec};
use cairn_tables::error::{from_df, from_parser};
use crate::nesting::{self, PARSER_RECURSION_LIMIT};
use crate::returning::{self, Extras};
use crate::shapes::Shaped;
use cairn_types::{CairnError, Result, Role, TableKind};

static DIALECT: PostgreSqlDialect = PostgreSqlDialect {};

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
    /// `CREATE [USER | SHARED | STREAM] TABLE …`, parsed as the plain
    /// `CREATE TABLE` it is apart from its kind.
    CreateTable {
        kind: TableKind,
        definition: Box<ast::CreateTable>,
    },
    /// `EXECUTE AS USER 'name' (statement)`.
    ExecuteAs {
        user: String,
        statement: Box<Statement>,
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
    DeclareCursor { name: String, query: Box<DfStatement>, hold: bool },
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
    Query(Box<Query>),
    /// A query or DML statement recognised by its tokens as a shape the
    /// session has a plan for, not parsed (simple protocol only).
    Shaped(Box<Shaped>),
}

/// A statement DataFusion plans (a query, INSERT, UPDATE, DELETE,
/// EXPLAIN), with the parts of DML it does not plan taken off.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub statement: DfStatement,
    pub extras: Extras,
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
            Statement::Query(_) | Statement::Shaped(_) | Statement::SetConfig(_) => "SELECT",
        }
    }
}

/// Splits `sql` into statements and parses each; empty ones (only `;`,
/// spaces or comments) are dropped.
pub fn parse_statements(sql: &str) -> Result<Vec<Statement>> {
    split_statements(sql)?.iter().map(|tokens| parse_statement(tokens, sql.len())).collect()
}

/// Tokenizes `sql` once and splits it at semicolons into the tokens of
/// each statement (no spaces or comments; empty statements dropped).
pub fn split_statements(sql: &str) -> Result<Vec<Vec<TokenWithSpan>>> {
    let tokens = Tokenizer::new(&DIALECT, sql)
        .tokenize_with_location()
        .map_err(|e| from_parser(e.into()))?;
    let mut statements = vec![Vec::new()];
    for token in tokens {
        match token.token {
            Token::Whitespace(_) | Token::EOF => {}
            Token::SemiColon => statements.push(Vec::new()),
            _ => {
                if let Some(statement) = statements.last_mut() {
                    statement.push(token);
                }
            }
        }
    }
    statements.retain(|statement| !statement.is_empty());
    Ok(statements)
}

/// Parses `tokens` as one sqlparser statement, all of them.
fn sql_statement(tokens: &[TokenWithSpan], text_bytes: usize) -> Result<ast::Statement> {
    let mut parser = Parser::new(&DIALECT)
        .with_tokens_with_locations(tokens.to_vec())
        .with_recursion_limit(PARSER_RECURSION_LIMIT);
    let statement = parser.parse_statement().map_err(from_parser)?;
    expect_end(&parser)?;
    nesting::bound_sql(statement, text_bytes)
}

fn expect_end(parser: &Parser) -> Result<()> {
    let next = parser.peek_token();
    match next.token {
        Token::EOF => Ok(()),
        _ => parser.expected("end of statement", next).map_err(from_parser),
    }
}

/// A statement DataFusion plans, from its tokens: RETURNING and ON
/// CONFLICT are taken off, AND/OR chains rebalanced, depth bounded.
fn query(tokens: &[TokenWithSpan], text_bytes: usize) -> Result<Query> {
    let mut parser = DFParserBuilder::new(tokens.to_vec())
        .with_dialect(&DIALECT)
        .with_recursion_limit(PARSER_RECURSION_LIMIT)
        .build()
        .map_err(from_df)?;
    let statement = parser.parse_statement().map_err(from_df)?;
    expect_end(&parser.parser)?;
    let mut statement = nesting::bound(statement, text_bytes)?;
    let extras = returning::take_extras(&mut statement)?;
    Ok(Query { statement, extras })
}

/// Parses one statement's tokens (see [`split_statements`]); `text_bytes`
/// is the length of the text they came from.
pub fn parse_statement(tokens: &[TokenWithSpan], text_bytes: usize) -> Result<Statement> {
    let mut cursor = Cursor { tokens, pos: 0 };
    let kind = [
        (["CREATE", "USER", "TABLE"], TableKind::User),
        (["CREATE", "SHARED", "TABLE"], TableKind::Shared),
        (["CREATE", "STREAM", "TABLE"], TableKind::Stream),
    ]
    .into_iter()
    .find_map(|(words, kind)| cursor.keywords(&words).then_some(kind));
    // With its kind's word taken out, it is a plain CREATE TABLE.
    let create_table = match kind {
        Some(kind) => Some((kind, [&tokens[..1], &tokens[2..]].concat())),
        None => cursor.keywords(&["CREATE", "TABLE"]).then(|| (TableKind::Shared, tokens.to_vec())),
    };
    if let Some((kind, plain)) = create_table {
        let ast::Statement::CreateTable(definition) = sql_statement(&plain, text_bytes)? else {
            return Err(CairnError::Syntax("syntax error: expected CREATE TABLE".into()));
        };
        return Ok(Statement::CreateTable { kind, definition: Box::new(definition) });
    }
    if cursor.keywords(&["ALTER", "TABLE"]) {
        return parse_alter_table(&sql_statement(tokens, text_bytes)?).map(Statement::AlterTable);
    }
    if cursor.keyword("COPY") {
        return parse_copy(sql_statement(tokens, text_bytes)?).map(Statement::Copy);
    }
    if cursor.keywords(&["EXECUTE", "AS", "USER"]) {
        let user = match cursor.peek() {
            Some(Token::Word(_)) => cursor.identifier()?,
            _ => cursor.string()?,
        };
        let inner = cursor.rest();
        let (Some(Token::LParen), Some(Token::RParen)) =
            (inner.first().map(|t| &t.token), inner.last().map(|t| &t.token))
        else {
            return Err(cursor.error("a parenthesized statement: EXECUTE AS USER 'name' (SELECT …)"));
        };
        let statement = parse_statement(&inner[1..inner.len() - 1], text_bytes)?;
        return Ok(Statement::ExecuteAs { user, statement: Box::new(statement) });
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
        let Query { statement, extras } = query(cursor.rest(), text_bytes)?;
        if extras.returning.is_some() || extras.on_conflict.is_some() {
            return Err(CairnError::FeatureNotSupported("a cursor's query cannot be DML with RETURNING".into()));
        }
        return Ok(Statement::DeclareCursor { name, query: Box::new(statement), hold });
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
        return query(tokens, text_bytes).map(|query| Statement::Query(Box::new(query)));
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

/// CairnDB's own statements are read token by token.
struct Cursor<'t> {
    tokens: &'t [TokenWithSpan],
    pos: usize,
}

impl<'t> Cursor<'t> {
    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos).map(|t| &t.token)
    }

    /// The tokens not read yet.
    fn rest(&self) -> &'t [TokenWithSpan] {
        &self.tokens[self.pos..]
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
                let n = p.strip_prefix('$')?.parse().ok().filter(|n| (1..=cairn_tables::direct::MAX_PARAMETERS).contains(n))?;
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

    /// A statement DataFusion plans, printed.
    fn query_text(statement: &Statement) -> String {
        match statement {
            Statement::Query(query) => query.statement.to_string(),
            other => panic!("not a query: {other:?}"),
        }
    }

    #[test]
    fn quotes_inside_literals_and_identifiers_survive() {
        let Statement::Query(query) = one(r#"SELECT 'it''s', E'a\'b', "we""ird" FROM t"#) else {
            panic!("a query")
        };
        let DfStatement::Statement(statement) = query.statement else { panic!("a query") };
        let ast::Statement::Query(query) = *statement else { panic!("a query") };
        let ast::SetExpr::Select(select) = *query.body else { panic!("a select") };
        let items: Vec<String> = select.projection.iter().map(|item| item.to_string()).collect();
        assert_eq!(items, [r"'it''s'", r"E'a\'b'", r#""we""ird""#]);
        let Statement::CreateTable { definition, .. } = one("CREATE TABLE t (a TEXT DEFAULT 'it''s')") else {
            panic!("a table")
        };
        assert_eq!(definition.columns[0].to_string(), "a TEXT DEFAULT 'it''s'");
    }

    #[test]
    fn comments_and_spacing_never_change_what_a_statement_does() {
        for sql in [
            "/* note */ INSERT INTO t VALUES (20, 'r') RETURNING id",
            "-- note\nINSERT INTO t VALUES (20, 'r')\n  RETURNING\tid",
            "INSERT /* inside */ INTO t VALUES (20, 'r') RETURNING /* here */ id",
        ] {
            let Statement::Query(query) = one(sql) else { panic!("{sql}: a query") };
            assert_eq!(query.statement.to_string(), "INSERT INTO t VALUES (20, 'r')", "{sql}");
            assert_eq!(query.extras.returning.as_ref().map(|r| r.items().len()), Some(1), "{sql}");
        }
        let Statement::ExecuteAs { statement, .. } = one("EXECUTE AS USER alice (/* c */ DELETE FROM t RETURNING *)") else {
            panic!("execute as")
        };
        assert!(matches!(statement.as_ref(), Statement::Query(query) if query.extras.returning.is_some()));
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
        let Statement::CreateTable { kind: TableKind::User, definition } = one("CREATE USER TABLE app.m (id BIGINT PRIMARY KEY)") else {
            panic!("a user table")
        };
        assert_eq!(definition.to_string(), "CREATE TABLE app.m (id BIGINT PRIMARY KEY)");
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
        let Statement::ExecuteAs { user, statement } = one("EXECUTE AS USER 'alice' (SELECT count(*) FROM app.messages)") else {
            panic!("execute as")
        };
        assert_eq!((user.as_str(), query_text(&statement)), ("alice", "SELECT count(*) FROM app.messages".into()));
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
        let Statement::DeclareCursor { name, query, hold: false } = one(r#"DECLARE "c" NO SCROLL CURSOR WITHOUT HOLD FOR SELECT 'it''s'"#) else {
            panic!("a cursor")
        };
        assert_eq!((name.as_str(), query.to_string()), ("c", "SELECT 'it''s'".into()));
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
    fn queries_are_parsed_and_split_on_semicolons() {
        let statements = parse_statements("SELECT 'a;b' AS x; -- c\n ;; SELECT 2").expect("parses");
        let texts: Vec<String> = statements.iter().map(query_text).collect();
        assert_eq!(texts, ["SELECT 'a;b' AS x", "SELECT 2"]);
        assert!(parse_statements(" ; -- only a comment")
            .expect("parses")
            .is_empty());
    }
}
