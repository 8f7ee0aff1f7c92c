//! Integers as PostgreSQL types and computes them:
//!
//! - an integer literal is `integer` (int4) when it fits, `bigint` when
//!   not ([`type_integer_literals`]); DataFusion makes every one Int64, so
//!   `SELECT 1` reached node-postgres as a string and `pg_typeof(1)` said
//!   `bigint`;
//! - `+`, `-` and `*` of two integers of one width fail with 22003
//!   (`integer out of range`) where DataFusion's kernels wrap around
//!   ([`CheckedIntegerArithmetic`]).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, Operator};
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::ExecutionPlan;

use cairn_types::CairnError;

/// Makes the Int64 literals of `plan` that fit in 32 bits Int32, as
/// PostgreSQL types an integer constant, and recomputes the schemas above
/// them (keeping every expression's name, which the plan above refers
/// to). Runs on the plan SQL became, before analysis, so that Describe
/// and execution see the same types. INSERT, UPDATE and DELETE are left
/// as they are: the values they write are typed as the table's columns
/// already (a bulk VALUES list is also where the walk would cost most).
/// LIMIT and OFFSET stay Int64.
///
/// Arithmetic of two integer constants is folded here, checked: the
/// optimizer would fold it with DataFusion's wrapping kernels before
/// [`CheckedIntegerArithmetic`] sees it, and PostgreSQL too fails such a
/// constant (`SELECT 2147483647 + 1`) when it folds it.
pub fn type_integer_literals(plan: LogicalPlan) -> Result<LogicalPlan> {
    if matches!(plan, LogicalPlan::Dml(_)) {
        return Ok(plan);
    }
    plan.transform_up_with_subqueries(|node| {
        if matches!(node, LogicalPlan::Limit(_)) {
            return Ok(Transformed::no(node));
        }
        if let LogicalPlan::Values(values) = &node {
            let mut changed = false;
            let rows: Vec<Vec<Expr>> = values
                .values
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|expr| {
                            let narrowed = expr.clone().transform_up(narrow_literal)?;
                            changed |= narrowed.transformed;
                            Ok(narrowed.data)
                        })
                        .collect::<Result<_>>()
                })
                .collect::<Result<_>>()?;
            if !changed {
                return Ok(Transformed::no(node));
            }
            return Ok(Transformed::yes(LogicalPlanBuilder::values(rows)?.build()?));
        }
        let names = NamePreserver::new(&node);
        let rewritten = node.map_expressions(|expr| {
            let name = names.save(&expr);
            Ok(expr.transform_up(narrow_literal)?.update_data(|expr| name.restore(expr)))
        })?;
        match rewritten.transformed {
            true => rewritten.map_data(LogicalPlan::recompute_schema),
            false => Ok(rewritten),
        }
    })
    .map(|transformed| transformed.data)
}

fn narrow_literal(expr: Expr) -> Result<Transformed<Expr>> {
    use datafusion::logical_expr::BinaryExpr as Binary;
    if let Expr::BinaryExpr(Binary { left, op, right }) = &expr {
        if let (Expr::Literal(l, None), Expr::Literal(r, None)) = (left.as_ref(), right.as_ref()) {
            if let Some(folded) = fold_integers(l, *op, r)? {
                return Ok(Transformed::yes(Expr::Literal(folded, None)));
            }
        }
    }
    Ok(match expr {
        Expr::Literal(ScalarValue::Int64(Some(value)), metadata) => match i32::try_from(value) {
            Ok(value) => Transformed::yes(Expr::Literal(ScalarValue::Int32(Some(value)), metadata)),
            Err(_) => Transformed::no(Expr::Literal(ScalarValue::Int64(Some(value)), metadata)),
        },
        other => Transformed::no(other),
    })
}

/// `l op r` for two integer constants and `+`, `-` or `*`: as int4 if
/// both are, else as int8; 22003 if it overflows. `None` for any other.
fn fold_integers(l: &ScalarValue, op: Operator, r: &ScalarValue) -> Result<Option<ScalarValue>> {
    let apply = |a: i64, b: i64| match op {
        Operator::Plus => Some(a.checked_add(b)),
        Operator::Minus => Some(a.checked_sub(b)),
        Operator::Multiply => Some(a.checked_mul(b)),
        _ => None,
    };
    let out_of_range = |name: &str| cairn_tables::error::to_df(CairnError::NumericValueOutOfRange(format!("{name} out of range")));
    Ok(match (l, r) {
        (ScalarValue::Int32(Some(a)), ScalarValue::Int32(Some(b))) => match apply(i64::from(*a), i64::from(*b)) {
            None => None,
            Some(value) => {
                let value = value.and_then(|v| i32::try_from(v).ok()).ok_or_else(|| out_of_range("integer"))?;
                Some(ScalarValue::Int32(Some(value)))
            }
        },
        (ScalarValue::Int32(Some(_)) | ScalarValue::Int64(Some(_)), ScalarValue::Int32(Some(_)) | ScalarValue::Int64(Some(_))) => {
            let wide = |v: &ScalarValue| match v {
                ScalarValue::Int32(Some(v)) => i64::from(*v),
                ScalarValue::Int64(Some(v)) => *v,
                _ => 0,
            };
            match apply(wide(l), wide(r)) {
                None => None,
                Some(value) => Some(ScalarValue::Int64(Some(value.ok_or_else(|| out_of_range("bigint"))?))),
            }
        }
        _ => None,
    })
}

/// `+`, `-` and `*` of two integers of one width, in the physical plans
/// of projections and filters (where a statement's arithmetic is), fail
/// with 22003 on overflow instead of wrapping around: DataFusion plans
/// them with wrapping kernels, and its checked ones are a flag of the
/// physical expression that nothing sets. (A rule over the logical plan
/// would have to replace the operator by a function call, whose name
/// DataFusion rebuilds from its whole argument tree at every level: a
/// chain of 2,000 `+` then took minutes to plan.) Arithmetic inside an
/// aggregate's arguments (`sum(a * b)`) still wraps.
#[derive(Debug)]
pub struct CheckedIntegerArithmetic;

impl PhysicalOptimizerRule for CheckedIntegerArithmetic {
    fn name(&self) -> &str {
        "cairn_checked_integer_arithmetic"
    }

    fn schema_check(&self) -> bool {
        true
    }

    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let input_schema = match node.children().as_slice() {
                [input] => input.schema(),
                _ => return Ok(Transformed::no(node)),
            };
            if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
                let mut changed = false;
                let exprs = projection
                    .expr()
                    .iter()
                    .map(|projected| {
                        let expr = checked(Arc::clone(&projected.expr), &input_schema)?;
                        changed |= expr.transformed;
                        Ok(ProjectionExpr { expr: expr.data, alias: projected.alias.clone() })
                    })
                    .collect::<Result<Vec<_>>>()?;
                if !changed {
                    return Ok(Transformed::no(node));
                }
                let rebuilt = ProjectionExec::try_new(exprs, Arc::clone(projection.input()))?;
                return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
            }
            if let Some(filter) = node.downcast_ref::<FilterExec>() {
                let predicate = checked(Arc::clone(filter.predicate()), &input_schema)?;
                if !predicate.transformed {
                    return Ok(Transformed::no(node));
                }
                let rebuilt = FilterExecBuilder::from(filter).with_predicate(predicate.data).build()?;
                return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
            }
            Ok(Transformed::no(node))
        })
        .map(|transformed| transformed.data)
    }
}

fn checked(expr: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
    expr.transform_up(|expr| {
        let Some(binary) = expr.downcast_ref::<BinaryExpr>() else { return Ok(Transformed::no(expr)) };
        if !matches!(binary.op(), Operator::Plus | Operator::Minus | Operator::Multiply) {
            return Ok(Transformed::no(expr));
        }
        let (left, right) = (binary.left().data_type(schema)?, binary.right().data_type(schema)?);
        let type_name = match (&left, &right) {
            (DataType::Int16, DataType::Int16) => "smallint",
            (DataType::Int32, DataType::Int32) => "integer",
            (DataType::Int64, DataType::Int64) => "bigint",
            _ => return Ok(Transformed::no(expr)),
        };
        let inner = BinaryExpr::new(Arc::clone(binary.left()), *binary.op(), Arc::clone(binary.right()))
            .with_fail_on_overflow(true);
        Ok(Transformed::yes(Arc::new(Checked { inner: Arc::new(inner), type_name }) as Arc<dyn PhysicalExpr>))
    })
}

/// A checked integer operation: its overflow is PostgreSQL's 22003
/// naming the type. Shown as the operation it wraps.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Checked {
    inner: Arc<BinaryExpr>,
    type_name: &'static str,
}

impl std::fmt::Display for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl PhysicalExpr for Checked {
    fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
        self.inner.return_field(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        self.inner.evaluate(batch).map_err(|error| match error.find_root() {
            DataFusionError::ArrowError(arrow, _) if matches!(arrow.as_ref(), ArrowError::ArithmeticOverflow(_)) => {
                cairn_tables::error::to_df(CairnError::NumericValueOutOfRange(format!("{} out of range", self.type_name)))
            }
            _ => error,
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![self.inner.left(), self.inner.right()]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        let [left, right] = <[_; 2]>::try_from(children).map_err(|_| {
            DataFusionError::Internal("a checked operation takes two operands".into())
        })?;
        let inner = BinaryExpr::new(left, *self.inner.op(), right).with_fail_on_overflow(true);
        Ok(Arc::new(Checked { inner: Arc::new(inner), type_name: self.type_name }))
    }

    fn fmt_sql(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt_sql(f)
    }
}
