//! Integer arithmetic as PostgreSQL computes it: overflow is 22003
//! ([`CheckedIntegerArithmetic`]), never a wrapped value, and a cast to
//! an integer rounds ([`RoundedIntegerCasts`]).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float32Type, Float64Type, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::ExecutionPlan;

use cairn_types::CairnError;

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

/// A cast of a numeric or a float to an integer rounds, as PostgreSQL's
/// does: a numeric half away from zero (`2.5::numeric::int` is 3), a
/// float half to even (`2.5::float8::int` is 2, as C's `rint`). Arrow's
/// casts truncate. Runs after type coercion, which settles what is cast.
#[derive(Debug)]
pub struct RoundedIntegerCasts;

impl AnalyzerRule for RoundedIntegerCasts {
    fn name(&self) -> &str {
        "cairn_rounded_integer_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let schema = match node.inputs().as_slice() {
                [input] => Arc::clone(input.schema()),
                _ => Arc::new(DFSchema::empty()),
            };
            let names = NamePreserver::new(&node);
            node.map_expressions(|expr| {
                let name = names.save(&expr);
                Ok(expr.transform_up(|expr| rounded(expr, &schema))?.update_data(|expr| name.restore(expr)))
            })
        })
        .map(|transformed| transformed.data)
    }
}

fn rounded(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::Cast(Cast { expr: inner, field }) = expr else { return Ok(Transformed::no(expr)) };
    if !matches!(field.data_type(), DataType::Int16 | DataType::Int32 | DataType::Int64) {
        return Ok(Transformed::no(Expr::Cast(Cast { expr: inner, field })));
    }
    let inner = match inner.get_type(schema).ok() {
        Some(DataType::Decimal128(..)) => datafusion::functions::math::expr_fn::round(vec![*inner]),
        Some(DataType::Float32 | DataType::Float64) => Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(ScalarUDF::from(RoundHalfEven { signature: Signature::any(1, Volatility::Immutable) })),
            vec![*inner],
        )),
        _ => return Ok(Transformed::no(Expr::Cast(Cast { expr: inner, field }))),
    };
    Ok(Transformed::yes(Expr::Cast(Cast { expr: Box::new(inner), field })))
}

/// A float rounded half to even (C's `rint`, which PostgreSQL's float to
/// integer casts use).
#[derive(Debug, PartialEq, Eq, Hash)]
struct RoundHalfEven {
    signature: Signature,
}

impl ScalarUDFImpl for RoundHalfEven {
    fn name(&self) -> &str {
        "rint"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Float64))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(value) = arrays.first() else { return datafusion::common::exec_err!("rint takes one argument") };
        let result: ArrayRef = match value.data_type() {
            DataType::Float32 => Arc::new(value.as_primitive::<Float32Type>().unary::<_, Float32Type>(f32::round_ties_even)),
            DataType::Float64 => Arc::new(value.as_primitive::<Float64Type>().unary::<_, Float64Type>(f64::round_ties_even)),
            other => return datafusion::common::exec_err!("rint of {other}"),
        };
        cairn_tables::functions::shaped_like(&args.args, result)
    }
}
