//! Statement shapes: how the simple protocol reuses plans.
//!
//! psycopg2, PHP's PDO with emulated prepares and every driver call
//! without parameters send their values inside the SQL text, so without
//! help each `SELECT … WHERE id = 7` is planned afresh, which costs many
//! times what running a key read does. A statement's *shape* is its tree
//! with the literals in value positions lifted out as parameters:
//! `WHERE id = 7` and `WHERE id = 8` share the plan of `WHERE id = $1`,
//! which the session keeps as it keeps a prepared statement's.
//!
//! Only literals whose meaning does not depend on the plan are lifted:
//! compared with an expression that is not itself a literal (`=`, `<>`,
//! `<`, `<=`, `>`, `>=`, `BETWEEN`, `IN (…)`), a row of `INSERT …
//! VALUES`, the value of an `UPDATE … SET col =`. A literal in a select
//! list, a function's argument or arithmetic stays in the shape, since its
//! type decides the result's. A lifted literal is then bound to the type
//! DataFusion inferred for its parameter only where that gives the very
//! value PostgreSQL compares or stores ([`bind`]); where it does not, the
//! statement is planned as written, so a shape never changes an answer.
//!
//! A shape is also kept as its statement's tokens show it ([`TokenShape`]),
//! so that a statement seen before is recognised before any parse: the
//! same tokens but for the lifted literals' values.

use std::ops::ControlFlow;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    self, BinaryOperator, Expr, SetExpr, UnaryOperator, Value, Visit, VisitMut, Visitor, VisitorMut,
};

use crate::returning::Extras;
use cairn_tables::direct::KeyRead;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use cairn_tables::values::PG_TYPE_METADATA;

/// The most literals a shape lifts: a statement with more (a long `IN`
/// list, a bulk `VALUES`) is unlikely to come again in the same shape,
/// and planning thousands of parameters costs more than the literals.
const MAX_LIFTED: usize = 512;

/// What identifies a shape: the statement with its liftable literals
/// replaced by `$1`, `$2`, … (spans and spelling aside, as sqlparser
/// compares trees), and what was taken off it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShapeKey {
    statement: ast::Statement,
    extras: Extras,
}

impl ShapeKey {
    /// What was taken off the statement.
    pub fn extras(&self) -> &Extras {
        &self.extras
    }

    /// The shape's statement, to be planned.
    pub fn statement(&self) -> DfStatement {
        DfStatement::Statement(Box::new(self.statement.clone()))
    }
}

/// A statement as a shape and the literals lifted out of it, in
/// parameter order.
#[derive(Debug)]
pub struct Shape {
    pub key: ShapeKey,
    pub literals: Vec<Literal>,
    /// Where each lifted literal starts in the text, and whether it was
    /// negated (`-5` is a minus and a number).
    starts: Vec<(Location, bool)>,
}

impl Shape {
    /// The shape of a query, INSERT, UPDATE or DELETE; `None` for other
    /// statements, and for one that has parameters of its own.
    pub fn of(statement: &DfStatement, extras: &Extras) -> Option<Shape> {
        let DfStatement::Statement(statement) = statement else { return None };
        if !matches!(
            statement.as_ref(),
            ast::Statement::Query(_) | ast::Statement::Insert(_) | ast::Statement::Update(_) | ast::Statement::Delete(_)
        ) || has_placeholder(statement)
        {
            return None;
        }
        let mut statement = statement.as_ref().clone();
        let mut lifter = Lifter::default();
        match &mut statement {
            ast::Statement::Insert(insert) => {
                if let Some(SetExpr::Values(values)) = insert.source.as_mut().map(|source| source.body.as_mut()) {
                    values.rows.iter_mut().flat_map(|row| row.content.iter_mut()).for_each(|value| lifter.lift(value));
                }
            }
            ast::Statement::Update(update) => {
                update.assignments.iter_mut().for_each(|assignment| lifter.lift(&mut assignment.value));
            }
            _ => {}
        }
        let _ = VisitMut::visit(&mut statement, &mut lifter);
        if lifter.literals.len() > MAX_LIFTED {
            return None;
        }
        Some(Shape { key: ShapeKey { statement, extras: extras.clone() }, literals: lifter.literals, starts: lifter.starts })
    }

}

/// A query or DML statement planned to run many times.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: LogicalPlan,
    pub extras: Extras,
    /// The plan as a direct key read, if it is one.
    pub key_read: Option<KeyRead>,
}

/// A shape's plan, made under one catalog schema and one set of settings.
pub struct ShapePlan {
    /// [`Catalog::schema_version`](cairn_catalog::Catalog::schema_version)
    /// and [`Settings::generation`](cairn_pg::settings::Settings::generation)
    /// when it was made: when either moves, it is made again.
    pub made_under: (u64, u64),
    /// The plan and its parameters' types; `None` if the shape does not
    /// plan, or its parameters cannot take literals ([`bindable`]).
    pub planned: Option<(Planned, Vec<Option<FieldRef>>)>,
}

/// A shape as its statement's tokens show it, so that a statement seen
/// before is recognised without being parsed: the same tokens, save the
/// lifted literals' values. (Literal values never change how tokens
/// parse; any other difference, a kept literal's value included, is
/// another statement.)
#[derive(Debug)]
pub struct TokenShape {
    tokens: Vec<Token>,
    /// The tokens that are lifted literals, in parameter order; `true`
    /// where a minus before it was lifted with it.
    lifted: Vec<(usize, bool)>,
    pub key: ShapeKey,
}

impl TokenShape {
    /// The tokens' shape, from the shape their parse gave: `None` if a
    /// lifted literal is not one of the tokens (it always should be).
    pub fn learn(tokens: &[TokenWithSpan], shape: Shape) -> Option<TokenShape> {
        let literal_at: HashMap<Location, usize> = tokens
            .iter()
            .enumerate()
            .filter(|(_, token)| maskable(&token.token))
            .map(|(index, token)| (token.span.start, index))
            .collect();
        let lifted = shape
            .starts
            .iter()
            .map(|&(start, negated)| Some((*literal_at.get(&start)?, negated)))
            .collect::<Option<Vec<_>>>()?;
        // `literals_of` walks the tokens in order: the parameters must
        // come in that order too (they do, but for odd statements).
        if !lifted.windows(2).all(|pair| pair[0].0 < pair[1].0) {
            return None;
        }
        Some(TokenShape { tokens: tokens.iter().map(|t| t.token.clone()).collect(), lifted, key: shape.key })
    }

    /// A hash of the tokens with every literal's value left out, so that
    /// statements differing in literals only meet.
    pub fn hash_of(tokens: &[TokenWithSpan]) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for token in tokens {
            match &token.token {
                literal if maskable(literal) => std::mem::discriminant(literal).hash(&mut hasher),
                other => other.hash(&mut hasher),
            }
        }
        hasher.finish()
    }

    /// The lifted literals of `tokens` if they have this shape.
    pub fn literals_of(&self, tokens: &[TokenWithSpan]) -> Option<Vec<Literal>> {
        if tokens.len() != self.tokens.len() {
            return None;
        }
        let mut lifted = self.lifted.iter().peekable();
        for (index, (token, known)) in tokens.iter().zip(&self.tokens).enumerate() {
            let same = match lifted.next_if(|(at, _)| *at == index) {
                Some(_) => std::mem::discriminant(&token.token) == std::mem::discriminant(known),
                None => token.token == *known,
            };
            if !same {
                return None;
            }
        }
        self.lifted
            .iter()
            .map(|&(index, negated)| match &tokens[index].token {
                Token::Number(number, false) if negated => Some(Literal::Number(format!("-{number}"))),
                Token::Number(number, false) => Some(Literal::Number(number.clone())),
                Token::SingleQuotedString(text) if !negated => Some(Literal::Text(text.clone())),
                _ => None,
            })
            .collect()
    }
}

/// The tokens a lifted literal can be.
fn maskable(token: &Token) -> bool {
    matches!(token, Token::Number(_, false) | Token::SingleQuotedString(_))
}

/// A token shape the session knows, and the plan it last ran by.
pub struct KnownShape {
    pub shape: TokenShape,
    pub plan: Mutex<Option<Arc<ShapePlan>>>,
}

/// A statement recognised by its tokens ([`TokenShape`]), not parsed.
#[derive(Clone)]
pub struct Shaped {
    pub known: Arc<KnownShape>,
    pub literals: Vec<Literal>,
    /// To parse it as written after all.
    pub tokens: Vec<TokenWithSpan>,
    pub text_bytes: usize,
}

impl std::fmt::Debug for Shaped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shaped").field("key", &self.known.shape.key).field("literals", &self.literals).finish()
    }
}

impl PartialEq for Shaped {
    fn eq(&self, other: &Shaped) -> bool {
        self.tokens == other.tokens
    }
}

/// A lifted literal as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number, with its sign: `7`, `-2.50`, `1e3`.
    Number(String),
    /// A string: `'abc'`.
    Text(String),
}

/// Whether a shape's parameters can take literals at all: a type
/// DataFusion could not infer, or one whose text form [`bind`] does not
/// read exactly, rules the shape out for good.
pub fn bindable(types: &[Option<FieldRef>]) -> bool {
    types.iter().all(|field| field.as_ref().is_some_and(bindable_type))
}

fn bindable_type(field: &FieldRef) -> bool {
    // uuid, json, jsonb: text with rules of their own.
    !field.metadata().contains_key(PG_TYPE_METADATA)
        && matches!(
            field.data_type(),
            DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::Float64
                | DataType::Decimal128(..)
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
        )
}

/// The literals as values of their parameters' types, or `None` where one
/// would not be the value PostgreSQL uses for it (an integer too large
/// for the column's type, a fraction finer than its scale, text compared
/// with a number, …): the statement is then planned as written.
pub fn bind(literals: &[Literal], types: &[Option<FieldRef>]) -> Option<Vec<ScalarValue>> {
    if literals.len() != types.len() {
        return None;
    }
    literals
        .iter()
        .zip(types)
        .map(|(literal, field)| {
            let field = field.as_ref().filter(|field| bindable_type(field))?;
            bind_one(literal, field.data_type())
        })
        .collect()
}

fn bind_one(literal: &Literal, target: &DataType) -> Option<ScalarValue> {
    match (literal, target) {
        (Literal::Text(text), DataType::Utf8) => Some(ScalarValue::Utf8(Some(text.clone()))),
        (Literal::Text(text), DataType::LargeUtf8) => Some(ScalarValue::LargeUtf8(Some(text.clone()))),
        (Literal::Text(text), DataType::Utf8View) => Some(ScalarValue::Utf8View(Some(text.clone()))),
        // A number in quotes compared with or stored in a number column is
        // read by that type's input function in PostgreSQL, which for an
        // integer type takes no fraction at all (`'42.0'` is an error).
        (Literal::Text(text), DataType::Int16 | DataType::Int32 | DataType::Int64) if text.contains('.') => None,
        (Literal::Text(text), _) => bind_number(text, target),
        (Literal::Number(number), _) => bind_number(number, target),
    }
}

fn bind_number(text: &str, target: &DataType) -> Option<ScalarValue> {
    let exact = Decimal::parse(text)?;
    match target {
        DataType::Int16 => Some(ScalarValue::Int16(Some(i16::try_from(exact.integer()?).ok()?))),
        DataType::Int32 => Some(ScalarValue::Int32(Some(i32::try_from(exact.integer()?).ok()?))),
        DataType::Int64 => Some(ScalarValue::Int64(Some(i64::try_from(exact.integer()?).ok()?))),
        // PostgreSQL compares a number with a float8 as float8: the nearest.
        DataType::Float64 => text.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| ScalarValue::Float64(Some(f))),
        DataType::Decimal128(precision, scale) => {
            let mantissa = exact.scaled(u32::try_from(*scale).ok()?)?;
            let digits = mantissa.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
            (digits <= u32::from(*precision)).then_some(ScalarValue::Decimal128(Some(mantissa), *precision, *scale))
        }
        _ => None,
    }
}

/// A number written in decimal: `mantissa × 10^-scale`, exactly.
#[derive(Debug, PartialEq)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// `[-]digits[.digits]`; exponents and anything else: `None`.
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !digits_only(whole) || !digits_only(fraction) {
            return None;
        }
        // Trailing zeros of the fraction change nothing in a comparison
        // or a store; taking them off keeps `1.50` valid for scale 1.
        let fraction = fraction.trim_end_matches('0');
        let scale = u32::try_from(fraction.len()).ok()?;
        let mut mantissa: i128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(digit - b'0'))?;
        }
        Some(Decimal { mantissa: if negative { -mantissa } else { mantissa }, scale })
    }

    /// The value if it is a whole number.
    fn integer(&self) -> Option<i128> {
        (self.scale == 0).then_some(self.mantissa)
    }

    /// The mantissa at `scale`, if no digit is lost.
    fn scaled(&self, scale: u32) -> Option<i128> {
        let extra = scale.checked_sub(self.scale)?;
        self.mantissa.checked_mul(10i128.checked_pow(extra)?)
    }
}

/// Lifts literals in value positions, numbering them in the order met.
#[derive(Default)]
struct Lifter {
    literals: Vec<Literal>,
    starts: Vec<(Location, bool)>,
}

impl Lifter {
    /// Replaces `expr` with the next parameter if it is a plain literal.
    fn lift(&mut self, expr: &mut Expr) {
        let Some(literal) = literal(expr) else { return };
        let start = match expr {
            Expr::UnaryOp { expr, .. } => match expr.as_ref() {
                Expr::Value(value) => (value.span.start, true),
                _ => return,
            },
            Expr::Value(value) => (value.span.start, false),
            _ => return,
        };
        self.starts.push(start);
        self.literals.push(literal);
        let placeholder = format!("${}", self.literals.len());
        *expr = Expr::value(Value::Placeholder(placeholder));
    }
}

impl VisitorMut for Lifter {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::BinaryOp { left, op, right } if is_comparison(op) => {
                match (literal(left).is_some(), literal(right).is_some()) {
                    (false, true) => self.lift(right),
                    (true, false) => self.lift(left),
                    _ => {}
                }
            }
            Expr::Between { expr, low, high, .. } if literal(expr).is_none() => {
                self.lift(low);
                self.lift(high);
            }
            Expr::InList { expr, list, .. } if literal(expr).is_none() => list.iter_mut().for_each(|item| self.lift(item)),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn is_comparison(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    )
}

/// A number (maybe negated) or a plain string literal.
fn literal(expr: &Expr) -> Option<Literal> {
    match expr {
        Expr::Value(value) => match &value.value {
            Value::Number(number, false) => Some(Literal::Number(number.clone())),
            Value::SingleQuotedString(text) => Some(Literal::Text(text.clone())),
            _ => None,
        },
        Expr::UnaryOp { op: UnaryOperator::Minus, expr } => match expr.as_ref() {
            Expr::Value(value) => match &value.value {
                Value::Number(number, false) if !number.starts_with('-') => Some(Literal::Number(format!("-{number}"))),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

fn has_placeholder(statement: &ast::Statement) -> bool {
    struct Placeholders;
    impl Visitor for Placeholders {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Value(value) if matches!(value.value, Value::Placeholder(_)) => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        }
    }
    statement.visit(&mut Placeholders).is_break()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::Field;

    use super::*;
    use crate::statement::{parse_statements, Statement};

    fn shape(sql: &str) -> (String, Vec<Literal>) {
        let Some(Statement::Query(query)) = parse_statements(sql).expect("parses").pop() else {
            panic!("{sql}: a query")
        };
        let shape = Shape::of(&query.statement, &query.extras).expect("a shape");
        (shape.key.statement.to_string(), shape.literals)
    }

    fn number(text: &str) -> Literal {
        Literal::Number(text.into())
    }

    #[test]
    fn literals_in_value_positions_are_lifted_and_others_stay() {
        assert_eq!(
            shape("SELECT id, 'x', balance + 1 FROM accounts WHERE id = 7 AND name <> 'bob' AND 3 < v"),
            (
                "SELECT id, 'x', balance + 1 FROM accounts WHERE id = $1 AND name <> $2 AND $3 < v".into(),
                vec![number("7"), Literal::Text("bob".into()), number("3")]
            )
        );
        assert_eq!(
            shape("SELECT * FROM t WHERE a BETWEEN -1 AND 2.5 OR b IN (1, 'two', c) OR 1 = 1 LIMIT 10"),
            (
                "SELECT * FROM t WHERE a BETWEEN $1 AND $2 OR b IN ($3, $4, c) OR 1 = 1 LIMIT 10".into(),
                vec![number("-1"), number("2.5"), number("1"), Literal::Text("two".into())]
            )
        );
        assert_eq!(
            shape("INSERT INTO t (a, b, c) VALUES (1, 'x', now()), (-2, NULL, 3 + 4)").0,
            "INSERT INTO t (a, b, c) VALUES ($1, $2, now()), ($3, NULL, 3 + 4)"
        );
        assert_eq!(
            shape("UPDATE t SET a = 5, b = b + 1 WHERE k = 'key'"),
            ("UPDATE t SET a = $1, b = b + 1 WHERE k = $2".into(), vec![number("5"), Literal::Text("key".into())])
        );
        // Statements that differ only in lifted literals share a shape.
        let one = parse_statements("SELECT v FROM t WHERE id = 1").expect("parses");
        let two = parse_statements("select v from t where id=2").expect("parses");
        let key = |statements: &[Statement]| match statements {
            [Statement::Query(query)] => Shape::of(&query.statement, &query.extras).expect("a shape").key,
            _ => panic!("a query"),
        };
        assert_eq!(key(&one), key(&two));
    }

    #[test]
    fn statements_with_parameters_or_of_other_kinds_have_no_shape() {
        for sql in ["SELECT v FROM t WHERE id = $1", "EXPLAIN SELECT 1"] {
            let Some(Statement::Query(query)) = parse_statements(sql).expect("parses").pop() else { panic!("{sql}") };
            assert!(Shape::of(&query.statement, &query.extras).is_none(), "{sql}");
        }
    }

    #[test]
    fn literals_bind_only_to_the_value_postgresql_would_use() {
        let field = |data_type: DataType| Some(Arc::new(Field::new("", data_type, true)));
        let bound = |literal: Literal, data_type: DataType| bind(&[literal], &[field(data_type)]).map(|mut v| v.remove(0));
        assert_eq!(bound(number("7"), DataType::Int32), Some(ScalarValue::Int32(Some(7))));
        assert_eq!(bound(number("-7"), DataType::Int16), Some(ScalarValue::Int16(Some(-7))));
        assert_eq!(bound(number("3000000000"), DataType::Int32), None, "past int4: compared as int8");
        assert_eq!(bound(number("1.5"), DataType::Int64), None, "compared as numeric");
        assert_eq!(bound(number("1.50"), DataType::Decimal128(5, 1)), Some(ScalarValue::Decimal128(Some(15), 5, 1)));
        assert_eq!(bound(number("1.05"), DataType::Decimal128(5, 1)), None, "finer than the scale");
        assert_eq!(bound(number("12345"), DataType::Decimal128(5, 1)), None, "past the precision");
        assert_eq!(bound(number("0.1"), DataType::Float64), Some(ScalarValue::Float64(Some(0.1))));
        assert_eq!(bound(number("1e3"), DataType::Int64), None);
        assert_eq!(bound(Literal::Text("it's".into()), DataType::Utf8), Some(ScalarValue::Utf8(Some("it's".into()))));
        assert_eq!(bound(Literal::Text("42".into()), DataType::Int64), Some(ScalarValue::Int64(Some(42))));
        assert_eq!(bound(Literal::Text(" 42".into()), DataType::Int64), None);
        assert_eq!(bound(Literal::Text("42.0".into()), DataType::Int64), None, "an error in PostgreSQL");
        assert_eq!(bound(number("42.0"), DataType::Int64), Some(ScalarValue::Int64(Some(42))), "equal as numeric");
        assert_eq!(bound(number("5"), DataType::Utf8), None, "text = integer is an error in PostgreSQL");
        assert!(!bindable(&[field(DataType::Float32)]));
        assert!(!bindable(&[None]));
        let uuid = Field::new("", DataType::Utf8, true)
            .with_metadata([(PG_TYPE_METADATA.to_owned(), "uuid".to_owned())].into());
        assert!(!bindable(&[Some(Arc::new(uuid))]));
    }

    /// The token shape of `sql`, and the tokens of `other`'s.
    fn token_shape(sql: &str) -> TokenShape {
        let tokens = crate::statement::split_statements(sql).expect("tokens").remove(0);
        let Statement::Query(query) = crate::statement::parse_statement(&tokens, sql.len()).expect("parses") else {
            panic!("{sql}: a query")
        };
        let shape = Shape::of(&query.statement, &query.extras).expect("a shape");
        TokenShape::learn(&tokens, shape).expect("learned")
    }

    fn tokens(sql: &str) -> Vec<TokenWithSpan> {
        crate::statement::split_statements(sql).expect("tokens").remove(0)
    }

    #[test]
    fn statements_differing_in_lifted_literals_are_recognised_by_their_tokens() {
        let shape = token_shape("SELECT v FROM t WHERE id = -7 AND name = 'bob' LIMIT 10");
        let same = tokens("SELECT v FROM t WHERE id = -8 AND name = 'it''s' LIMIT 10");
        assert_eq!(TokenShape::hash_of(&same), TokenShape::hash_of(&tokens("SELECT v FROM t WHERE id = -7 AND name = 'bob' LIMIT 10")));
        assert_eq!(
            shape.literals_of(&same),
            Some(vec![Literal::Number("-8".into()), Literal::Text("it's".into())])
        );
        // A kept literal (LIMIT) that differs, another column, another
        // operator, a literal of another kind: other statements.
        for other in [
            "SELECT v FROM t WHERE id = -8 AND name = 'x' LIMIT 11",
            "SELECT w FROM t WHERE id = -8 AND name = 'x' LIMIT 10",
            "SELECT v FROM t WHERE id < -8 AND name = 'x' LIMIT 10",
            "SELECT v FROM t WHERE id = -8 AND name = 5 LIMIT 10",
        ] {
            assert_eq!(shape.literals_of(&tokens(other)), None, "{other}");
        }
    }

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(Decimal::parse("-12.340"), Some(Decimal { mantissa: -1234, scale: 2 }));
        assert_eq!(Decimal::parse(".5"), Some(Decimal { mantissa: 5, scale: 1 }));
        for bad in ["", ".", "-", "1e5", "1.2.3", "+1", "0x10"] {
            assert_eq!(Decimal::parse(bad), None, "{bad}");
        }
    }
}
