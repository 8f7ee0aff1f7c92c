//! PostgreSQL syntax DataFusion does not plan by itself, each a small
//! extension of its planner rather than a rewrite of the query text:
//!
//! - the types `uuid`, `json` and `jsonb` in casts (`'…'::uuid`): text to
//!   Arrow, with field metadata so clients are told the PostgreSQL type;
//! - the JSON operators `->` and `->>` (field or element, as json or text);
//! - text written as an array (`'{a,b}'::text[]`, or a text literal
//!   inserted into an array column), read in PostgreSQL's array syntax;
//! - text written as an interval in PostgreSQL's output form
//!   (`1 day 02:00:00`), which Arrow's interval parser does not read;
//! - `OPERATOR(pg_catalog.~)` and friends (psql's catalog queries);
//! - and, before planning, two rewrites of the statement's syntax tree
//!   (see [`plan`]): `COLLATE …` is dropped, `pg_catalog.f(…)` calls `f`,
//!   and two subquery forms DataFusion does not plan are restated.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, IntervalMonthDayNano, IntervalUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{plan_err, DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr, TypePlanner};
use datafusion::logical_expr::{binary_expr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;
use datafusion::sql::sqlparser::ast::{self, BinaryOperator};

use cairn_tables::values::PG_TYPE_METADATA;

mod build;
mod column_names;
mod arithmetic;
mod array_text;
mod constants;
mod exists;
mod field_access;
mod intervals;
mod recursive;
mod set_ops;
pub mod json;
mod single_value;
mod text_input;
pub mod rewrites;
mod subqueries;

pub use column_names::{client_column_name, column_name};
pub use field_access::NonCompositeFieldAccess;
pub use arithmetic::CheckedIntegerArithmetic;
pub use constants::type_constants;
pub use recursive::recursive_terms_without_sources;
pub use set_ops::multiset_intersect_and_except;
pub use single_value::single_value;

fn text_field(name: &str, pg_type: &str) -> FieldRef {
    let metadata = HashMap::from([(PG_TYPE_METADATA.to_owned(), pg_type.to_owned())]);
    Arc::new(Field::new(name, DataType::Utf8, true).with_metadata(metadata))
}

/// `text::bytea` read as bytea's text input: a literal at once, other
/// text through `bytea_in`; then cast to the binary type asked for.
fn bytea_input(inner: Expr, field: FieldRef, schema: Option<&DFSchema>) -> Result<Transformed<Expr>> {
    let bytes = match inner {
        Expr::Literal(ScalarValue::Utf8(text) | ScalarValue::Utf8View(text) | ScalarValue::LargeUtf8(text), _) => {
            let bytes = text.as_deref().map(crate::bytea::parse).transpose().map_err(cairn_tables::error::to_df)?;
            Expr::Literal(ScalarValue::Binary(bytes), None)
        }
        other => match schema.and_then(|schema| other.get_type(schema).ok()) {
            Some(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) => Expr::ScalarFunction(
                datafusion::logical_expr::expr::ScalarFunction::new_udf(Arc::new(crate::bytea::bytea_in()), vec![other]),
            ),
            _ => return Ok(Transformed::no(Expr::Cast(Cast { expr: Box::new(other), field }))),
        },
    };
    Ok(Transformed::yes(match field.data_type() {
        DataType::Binary => bytes,
        _ => Expr::Cast(Cast { expr: Box::new(bytes), field }),
    }))
}

/// `date ± interval` and `interval + date` are timestamps, as in
/// PostgreSQL (`date '2024-01-31' + interval '1 month'` is
/// `2024-02-29 00:00:00`); DataFusion keeps a date. `date - date` is an
/// integer.
fn date_and_interval(expr: &RawBinaryExpr, schema: &DFSchema) -> Option<Expr> {
    let op = match expr.op {
        BinaryOperator::Plus => Operator::Plus,
        BinaryOperator::Minus => Operator::Minus,
        _ => return None,
    };
    let is = |e: &Expr, f: fn(&DataType) -> bool| e.get_type(schema).ok().is_some_and(|t| f(&t));
    let date = |t: &DataType| matches!(t, DataType::Date32 | DataType::Date64);
    let interval = |t: &DataType| matches!(t, DataType::Interval(_));
    let timestamp = |e: Expr| Expr::Cast(Cast::new(Box::new(e), DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None)));
    if is(&expr.left, date) && is(&expr.right, interval) {
        return Some(binary_expr(timestamp(expr.left.clone()), op, expr.right.clone()));
    }
    if op == Operator::Plus && is(&expr.left, interval) && is(&expr.right, date) {
        return Some(binary_expr(expr.left.clone(), op, timestamp(expr.right.clone())));
    }
    // date - date is a number of days, an integer (DataFusion's is a bigint).
    if op == Operator::Minus && is(&expr.left, date) && is(&expr.right, date) {
        let days = binary_expr(expr.left.clone(), op, expr.right.clone());
        return Some(Expr::Cast(Cast::new(Box::new(days), DataType::Int32)));
    }
    None
}

/// `uuid`, `json`, `jsonb` in casts and placeholders.
#[derive(Debug)]
pub struct PgTypes;

impl TypePlanner for PgTypes {
    fn plan_type_field(&self, sql_type: &ast::DataType) -> Result<Option<FieldRef>> {
        Ok(match sql_type {
            ast::DataType::Uuid => Some(text_field("", "uuid")),
            ast::DataType::JSON => Some(text_field("", "json")),
            ast::DataType::JSONB => Some(text_field("", "jsonb")),
            ast::DataType::Regclass => Some(Arc::new(Field::new("", DataType::UInt32, true))),
            // Text to Arrow; the type clients are told is PostgreSQL's.
            ast::DataType::Varchar(_) | ast::DataType::CharacterVarying(_) | ast::DataType::CharVarying(_) => {
                Some(text_field("", "varchar"))
            }
            ast::DataType::Numeric(ast::ExactNumberInfo::None)
            | ast::DataType::Decimal(ast::ExactNumberInfo::None)
            | ast::DataType::Dec(ast::ExactNumberInfo::None) => Some(constants::unconstrained_numeric()),
            // Names DataFusion's parser leaves custom: `pg_catalog.text`,
            // `name`, `oid`, `regclass`, … as catalog queries write them.
            ast::DataType::Custom(name, modifiers) if modifiers.is_empty() => {
                let parts: Vec<String> = name
                    .0
                    .iter()
                    .map(|p| p.to_string().to_ascii_lowercase())
                    .collect();
                let type_name = match parts.as_slice() {
                    [schema, type_name] if schema == "pg_catalog" => type_name.as_str(),
                    [type_name] => type_name.as_str(),
                    _ => return Ok(None),
                };
                let data_type = match type_name.trim_matches('"') {
                    "varchar" => return Ok(Some(text_field("", "varchar"))),
                    "name" => return Ok(Some(text_field("", "name"))),
                    "text" | "bpchar" | "char" => DataType::Utf8,
                    "bool" => DataType::Boolean,
                    "int2" => DataType::Int16,
                    "int4" => DataType::Int32,
                    "int8" => DataType::Int64,
                    "float4" => DataType::Float32,
                    "float8" => DataType::Float64,
                    // Object identifiers: numbers. (`'t'::regclass`, a
                    // name, is looked up before planning: see `plan`.)
                    "oid" | "regclass" | "regtype" | "regproc" | "regprocedure"
                    | "regnamespace" | "regrole" | "xid" => DataType::UInt32,
                    _ => return Ok(None),
                };
                Some(Arc::new(Field::new("", data_type, true)))
            }
            _ => None,
        })
    }
}

/// `->`, `->>`, and operators spelled `OPERATOR(pg_catalog.op)`.
#[derive(Debug)]
pub struct PgOperators;

impl ExprPlanner for PgOperators {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        if let Some(planned) = date_and_interval(&expr, schema) {
            return Ok(PlannerResult::Planned(planned));
        }
        if let Some(planned) = intervals::plan_operator(&expr.op, &expr.left, &expr.right, schema) {
            return Ok(PlannerResult::Planned(planned));
        }
        if let Some(planned) = json::plan_operator(&expr.op, &expr.left, &expr.right, schema) {
            return Ok(PlannerResult::Planned(planned));
        }
        match &expr.op {
            BinaryOperator::PGCustomBinaryOperator(name) => {
                let op = match name.as_slice() {
                    [schema, op] if schema.eq_ignore_ascii_case("pg_catalog") => op.as_str(),
                    [op] => op.as_str(),
                    _ => return Ok(PlannerResult::Original(expr)),
                };
                let op = match op {
                    "~" => Operator::RegexMatch,
                    "~*" => Operator::RegexIMatch,
                    "!~" => Operator::RegexNotMatch,
                    "!~*" => Operator::RegexNotIMatch,
                    "~~" => Operator::LikeMatch,
                    "!~~" => Operator::NotLikeMatch,
                    "=" => Operator::Eq,
                    "<>" | "!=" => Operator::NotEq,
                    "<" => Operator::Lt,
                    "<=" => Operator::LtEq,
                    ">" => Operator::Gt,
                    ">=" => Operator::GtEq,
                    "||" => Operator::StringConcat,
                    _ => return Ok(PlannerResult::Original(expr)),
                };
                Ok(PlannerResult::Planned(binary_expr(expr.left, op, expr.right)))
            }
            _ => Ok(PlannerResult::Original(expr)),
        }
    }
}

/// DataFusion's analyzer rules, after [`ArrayLiterals`]: it reads text
/// literals before type coercion would refuse or misread them.
pub fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules = datafusion::optimizer::Analyzer::new().rules;
    rules.insert(0, Arc::new(TextInput));
    // Once types are settled: after DataFusion's type coercion.
    let coerced = rules.iter().position(|rule| rule.name() == "type_coercion").map_or(rules.len(), |at| at + 1);
    rules.insert(coerced, Arc::new(arithmetic::RoundedIntegerCasts));
    // Again for the casts type coercion adds: text compared with a
    // timestamp (`WHERE t > '2024-01-01 10:00'`), a bytea, an interval.
    rules.insert(coerced, Arc::new(TextInput));
    rules.insert(coerced, Arc::new(array_text::ArrayText));
    rules
}

/// Text cast to a type whose text form Arrow's cast does not read as
/// PostgreSQL does:
///
/// - to an array type, or compared with an array: read as an array
///   literal (`{a,"b c",NULL}`); Arrow would make a one-element list of
///   the whole text. Only literals are rewritten; other text-to-array
///   casts are refused;
/// - to an interval: PostgreSQL's output form (`1 day 02:00:00`) too;
/// - to bytea: hex or escape format ([`crate::bytea`]); Arrow would take
///   the text's own bytes;
/// - to uuid, json, jsonb: checked, and in the form each is kept;
/// - to a date, time or timestamp: in PostgreSQL's forms
///   ([`cairn_tables::datetime`]), which Arrow's parser mostly refuses.
#[derive(Debug)]
pub struct TextInput;

impl AnalyzerRule for TextInput {
    fn name(&self) -> &str {
        "cairn_text_input"
    }

    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let zone = config.execution.time_zone.clone().unwrap_or_else(|| "UTC".to_owned());
        plan.transform_up_with_subqueries(|node| {
            let schema = match node.inputs().as_slice() {
                [input] => Some(Arc::clone(input.schema())),
                _ => None,
            };
            node.map_expressions(|expr| {
                expr.transform_up(|expr| match expr {
                    Expr::Cast(Cast { expr: inner, field })
                        if matches!(
                            field.data_type(),
                            DataType::Interval(IntervalUnit::MonthDayNano)
                        ) =>
                    {
                        match *inner {
                            Expr::Literal(
                                ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text)),
                                _,
                            ) => {
                                let interval = interval_literal(&text).ok_or_else(|| {
                                    datafusion::error::DataFusionError::External(Box::new(
                                        cairn_types::CairnError::InvalidDatetimeFormat(format!(
                                            "invalid input syntax for type interval: \"{text}\""
                                        )),
                                    ))
                                })?;
                                Ok(Transformed::yes(Expr::Literal(
                                    ScalarValue::IntervalMonthDayNano(Some(interval)),
                                    None,
                                )))
                            }
                            other => Ok(Transformed::no(Expr::Cast(Cast {
                                expr: Box::new(other),
                                field,
                            }))),
                        }
                    }
                    Expr::Cast(Cast { expr: inner, field })
                        if matches!(field.data_type(), DataType::List(_)) =>
                    {
                        match *inner {
                            Expr::Literal(
                                ScalarValue::Utf8(text)
                                | ScalarValue::Utf8View(text)
                                | ScalarValue::LargeUtf8(text),
                                _,
                            ) => Ok(Transformed::yes(Expr::Literal(
                                array_literal(text.as_deref(), field.data_type())?,
                                None,
                            ))),
                            Expr::Literal(..) => {
                                Ok(Transformed::no(Expr::Cast(Cast { expr: inner, field })))
                            }
                            other => match schema
                                .as_ref()
                                .and_then(|schema| other.get_type(schema.as_ref()).ok())
                            {
                                Some(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) => {
                                    plan_err!(
                                        "casting text to an array is supported for literals only"
                                    )
                                }
                                _ => Ok(Transformed::no(Expr::Cast(Cast {
                                    expr: Box::new(other),
                                    field,
                                }))),
                            },
                        }
                    }
                    Expr::Cast(Cast { expr: inner, field })
                        if matches!(
                            field.data_type(),
                            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
                        ) =>
                    {
                        bytea_input(*inner, field, schema.as_deref())
                    }
                    Expr::Cast(Cast { expr: inner, field }) => match text_input::TextTarget::of(&field, &zone) {
                        Some(target) => text_input::read_text(*inner, field, target, schema.as_deref()),
                        None => Ok(Transformed::no(Expr::Cast(Cast { expr: inner, field }))),
                    },
                    Expr::BinaryExpr(mut binary)
                        if binary.op.supports_propagation() || binary.op == Operator::NotEq =>
                    {
                        let Some(schema) = schema.as_ref() else {
                            return Ok(Transformed::no(Expr::BinaryExpr(binary)));
                        };
                        let list_type = |e: &Expr| {
                            e.get_type(schema.as_ref())
                                .ok()
                                .filter(|t| matches!(t, DataType::List(_)))
                        };
                        let text = |e: &Expr| match e {
                            Expr::Literal(
                                ScalarValue::Utf8(text) | ScalarValue::Utf8View(text),
                                _,
                            ) => Some(text.clone()),
                            _ => None,
                        };
                        if let (Some(list), Some(text)) =
                            (list_type(&binary.left), text(&binary.right))
                        {
                            *binary.right =
                                Expr::Literal(array_literal(text.as_deref(), &list)?, None);
                            return Ok(Transformed::yes(Expr::BinaryExpr(binary)));
                        }
                        if let (Some(text), Some(list)) =
                            (text(&binary.left), list_type(&binary.right))
                        {
                            *binary.left =
                                Expr::Literal(array_literal(text.as_deref(), &list)?, None);
                            return Ok(Transformed::yes(Expr::BinaryExpr(binary)));
                        }
                        Ok(Transformed::no(Expr::BinaryExpr(binary)))
                    }
                    other => Ok(Transformed::no(other)),
                })
            })
        })
        .map(|transformed| transformed.data)
    }
}

/// An interval in PostgreSQL's output form (`1 year 2 mons 3 days
/// 04:05:06`) or in any form Arrow reads (`1 day 2 hours`).
pub fn interval_literal(text: &str) -> Option<IntervalMonthDayNano> {
    if let Ok(interval) = pg_interval::Interval::from_postgres(text.trim()) {
        return Some(IntervalMonthDayNano::new(
            interval.months,
            interval.days,
            interval.microseconds.checked_mul(1_000)?,
        ));
    }
    datafusion::arrow::compute::kernels::cast_utils::parse_interval_month_day_nano(text).ok()
}


/// An expression's text, for tests of the rewrites.
#[cfg(test)]
fn parse_expr(sql: &str) -> Option<ast::Expr> {
    datafusion::sql::sqlparser::parser::Parser::new(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
    )
    .try_with_sql(sql)
    .and_then(|mut parser| parser.parse_expr())
    .ok()
}

/// `{a,b}` as a list of `target`'s element type (NULL text: a NULL list).
pub fn array_literal(text: Option<&str>, target: &DataType) -> Result<ScalarValue> {
    let DataType::List(element) = target else {
        return plan_err!("{target} is not an array type");
    };
    let Some(text) = text else {
        return ScalarValue::try_from(target);
    };
    let items = parse_array(text).ok_or_else(|| {
        datafusion::error::DataFusionError::External(Box::new(
            cairn_types::CairnError::InvalidTextRepresentation(format!(
                "malformed array literal: \"{text}\""
            )),
        ))
    })?;
    let strings: ArrayRef = Arc::new(StringArray::from(items));
    let strict = datafusion::arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    let values =
        datafusion::arrow::compute::cast_with_options(&strings, element.data_type(), &strict)?;
    let list = datafusion::arrow::array::ListArray::try_new(
        Arc::clone(element),
        datafusion::arrow::buffer::OffsetBuffer::from_lengths([values.len()]),
        values,
        None,
    )?;
    Ok(ScalarValue::List(Arc::new(list)))
}

/// PostgreSQL's one-dimensional array syntax: `{}` with comma-separated
/// elements, double quotes (with backslash escapes) around elements that
/// need them, and unquoted `NULL` for NULL.
fn parse_array(text: &str) -> Option<Vec<Option<String>>> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut items = Vec::new();
    if inner.trim().is_empty() {
        return Some(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut item = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => item.push(chars.next()?),
                    c => item.push(c),
                }
            }
            items.push(Some(item));
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
        } else {
            let mut item = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '{' || c == '}' || c == '"' {
                    return None;
                }
                item.push(c);
                chars.next();
            }
            let item = item.trim().to_owned();
            if item.is_empty() {
                return None;
            }
            items.push((!item.eq_ignore_ascii_case("null")).then_some(item));
        }
        match chars.next() {
            None => return Some(items),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_syntax() {
        assert_eq!(parse_array("{}"), Some(vec![]));
        assert_eq!(
            parse_array("{a, \"b c\",NULL,\"NULL\",\"q\\\"x\"}"),
            Some(vec![
                Some("a".into()),
                Some("b c".into()),
                None,
                Some("NULL".into()),
                Some("q\"x".into())
            ])
        );
        assert_eq!(parse_array("{1,2,3}").map(|v| v.len()), Some(3));
        for bad in ["a,b", "{a,,b}", "{a", "{\"open}", "{{1}}"] {
            assert_eq!(parse_array(bad), None, "{bad}");
        }
    }

    #[test]
    fn array_literals_take_the_element_type() {
        let target = DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true)));
        let ScalarValue::List(list) = array_literal(Some("{1,NULL,3}"), &target).expect("succeeds")
        else {
            panic!("list")
        };
        assert_eq!(list.value(0).len(), 3);
        assert!(list.value(0).is_null(1));
        assert!(
            array_literal(Some("{x}"), &target).is_err(),
            "not an integer"
        );
    }

    #[test]
    fn intervals_in_postgres_and_arrow_forms() {
        let day_and_two_hours = IntervalMonthDayNano::new(0, 1, 7_200_000_000_000);
        assert_eq!(interval_literal("1 day 02:00:00"), Some(day_and_two_hours));
        assert_eq!(interval_literal("1 day 2 hours"), Some(day_and_two_hours));
        assert_eq!(
            interval_literal("1 year 2 mons"),
            Some(IntervalMonthDayNano::new(14, 0, 0))
        );
        assert_eq!(interval_literal("soon"), None);
    }
}
