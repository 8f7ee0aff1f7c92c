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

use std::ops::ControlFlow;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    self, BinaryOperator, Expr, SetExpr, UnaryOperator, Value, Visit, VisitMut, Visitor, VisitorMut,
};

use crate::returning::Extras;
use cairn_tables::values::PG_TYPE_METADATA;

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
}

/// A statement as a shape and the literals lifted out of it, in
/// parameter order.
#[derive(Debug)]
pub struct Shape {
    pub key: ShapeKey,
    pub literals: Vec<Literal>,
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
        Some(Shape { key: ShapeKey { statement, extras: extras.clone() }, literals: lifter.literals })
    }

    /// The shape's statement, to be planned.
    pub fn statement(&self) -> DfStatement {
        DfStatement::Statement(Box::new(self.key.statement.clone()))
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
}

impl Lifter {
    /// Replaces `expr` with the next parameter if it is a plain literal.
    fn lift(&mut self, expr: &mut Expr) {
        let Some(literal) = literal(expr) else { return };
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

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(Decimal::parse("-12.340"), Some(Decimal { mantissa: -1234, scale: 2 }));
        assert_eq!(Decimal::parse(".5"), Some(Decimal { mantissa: 5, scale: 1 }));
        for bad in ["", ".", "-", "1e5", "1.2.3", "+1", "0x10"] {
            assert_eq!(Decimal::parse(bad), None, "{bad}");
        }
    }
}
