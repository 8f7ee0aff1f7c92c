//! The direct path: a query that is only a read of one table by its key
//! (`SELECT … FROM t WHERE id = $1`, `SELECT * FROM feed ORDER BY id DESC
//! LIMIT 20`) is answered by the table's own scan, and an `INSERT …
//! VALUES` is written by the table, without DataFusion's optimizer and
//! physical planner, which cost many times the read or write itself for
//! such a statement.
//!
//! The plan must be, from the top: an optional projection of plain columns,
//! an optional LIMIT (no OFFSET), an optional ORDER BY leading key columns
//! in one direction, an optional projection, filters that are all key
//! conditions, and the scan of a CairnDB table. Anything else, or any doubt,
//! is `None` and takes the general path, which gives the same answer.
//!
//! A prepared statement's plan comes here unbound: its `$n` are bound only
//! in the few expressions the direct path reads ([`Params`]), because
//! `LogicalPlan::with_param_values` rewrites the whole plan and recomputes
//! every schema, which costs more than the read itself.

use std::sync::Arc;

use cairn_types::{CairnError, Result};
use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::compute::concat_batches;
use datafusion::catalog::default_table_source::source_as_provider;
use datafusion::catalog::TableProvider;
use datafusion::common::ScalarValue;
use datafusion::execution::context::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::common::plan_err;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::expr::Placeholder;
use datafusion::logical_expr::{Expr, LogicalPlan, Operator, SortExpr, WriteOp};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::create_physical_expr;
use datafusion::prelude::SessionContext;

use crate::error::from_df;
use crate::scan_exec::ScanSource;
use crate::table_scan::{key_condition, key_equals, key_position, KeyCondition, TableScan};
use crate::tables::DataTable;

/// The most rows the direct path reads. A key read that finds more (a
/// whole table, a wide range) stops there and takes the general path.
const DIRECT_READ_ROWS: usize = 10_000;

/// The values bound to a plan's placeholders (`$1` is the first).
#[derive(Clone, Copy)]
pub struct Params<'a>(pub &'a [ScalarValue]);

/// How many parameters a statement may have: the wire protocol counts
/// them in 16 bits, so PostgreSQL cannot bind more either.
pub const MAX_PARAMETERS: usize = u16::MAX as usize;

/// The number of a placeholder named `$n` (from 1).
pub fn parameter_number(id: &str) -> Option<usize> {
    id.strip_prefix('$')?.parse().ok().filter(|n| *n >= 1)
}

impl Params<'_> {
    fn get(&self, placeholder: &Placeholder) -> Option<&ScalarValue> {
        self.0.get(parameter_number(&placeholder.id)? - 1)
    }

    /// `expr` with its placeholders replaced by their values, as
    /// `with_param_values` would; `None` if one has no value.
    fn bind(&self, expr: &Expr) -> Option<Expr> {
        let bound = expr.clone().transform_up(|e| match e {
            Expr::Placeholder(placeholder) => match self.get(&placeholder) {
                Some(value) => Ok(Transformed::yes(Expr::Literal(value.clone(), None))),
                None => plan_err!("no value for {}", placeholder.id),
            },
            other => Ok(Transformed::no(other)),
        });
        bound.ok().map(|bound| bound.data)
    }
}

fn has_placeholder(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::Placeholder(_)))).unwrap_or(true)
}

/// A key read (the rows of a plan that only reads one table by key),
/// worked out from its plan once, so that each execution of a
/// prepared statement only binds its parameters and reads: analysing the
/// plan again at every execution was 12% of a point select.
#[derive(Debug, Clone)]
pub struct KeyRead {
    /// The plan's table, a [`DataTable`].
    provider: Arc<dyn TableProvider>,
    /// The table column behind each output column.
    outputs: Vec<usize>,
    descending: bool,
    limit: Option<Count>,
    conditions: Vec<Condition>,
    /// The plan's output schema, whose types the outputs were checked to have.
    schema: SchemaRef,
}

/// A LIMIT's row count: written in the statement or a parameter.
#[derive(Debug, Clone, Copy)]
enum Count {
    Literal(usize),
    Parameter(usize),
}

/// One conjunct of the filters, as far as it can be worked out unbound.
#[derive(Debug, Clone)]
enum Condition {
    /// Without parameters: converted once.
    Fixed(KeyCondition),
    /// `key = $n`, the usual prepared point read: only the value to convert.
    KeyEqualsParameter { key_position: usize, parameter: usize },
    /// Any other conjunct with parameters: bound and converted each time.
    Bound(Expr),
}

impl KeyRead {
    /// `None` unless `plan` is a key read of one CairnDB table.
    pub fn compile(plan: &LogicalPlan) -> Option<KeyRead> {
        let shape = Shape::of(plan)?;
        let provider = source_as_provider(&shape.scan.source).ok()?;
        let table = provider.downcast_ref::<DataTable>()?;
        let def = table.def();
        let column_of = |name: &str| def.columns.iter().position(|c| c.name == name);

        // The table columns the output needs, in output order.
        let outputs = shape.outputs(&column_of)?;
        if (1..outputs.len()).any(|i| outputs[..i].contains(&outputs[i])) {
            return None;
        }
        let descending = match shape.order_by {
            None => false,
            Some(sort) => key_order(def, sort, &shape, &column_of)?,
        };
        // The scan builds its batches with the plan's schema, so each
        // output must be the table column's type, and may be NOT NULL only
        // where the column is.
        let schema = Arc::clone(plan.schema().inner());
        let table_schema = table.schema();
        let columns = outputs.iter().map(|&i| table_schema.field(i));
        if schema.fields().len() != outputs.len()
            || columns.zip(schema.fields()).any(|(column, output)| {
                column.data_type() != output.data_type() || (column.is_nullable() && !output.is_nullable())
            })
        {
            return None;
        }
        let conditions = shape
            .filters
            .iter()
            .flat_map(|f| split_conjunction(f))
            .map(|filter| Condition::of(def, filter))
            .collect::<Option<Vec<_>>>()?;
        let limit = shape.limit;
        Some(KeyRead { outputs, descending, limit, conditions, schema, provider })
    }

    /// The rows, read with `params` bound; `None` if these values do not
    /// make a key read (a NULL LIMIT, a value of another type), which the
    /// general path then answers.
    pub fn read(&self, params: Params) -> Result<Option<RecordBatch>> {
        let Some(table) = self.provider.downcast_ref::<DataTable>() else { return Ok(None) };
        let def = table.def();
        let limit = match self.limit {
            None => None,
            Some(Count::Literal(n)) => Some(n),
            Some(Count::Parameter(at)) => match params.0.get(at) {
                Some(ScalarValue::Int64(Some(n))) => match usize::try_from(*n) {
                    Ok(n) => Some(n),
                    Err(_) => return Ok(None),
                },
                _ => return Ok(None),
            },
        };
        let mut conditions = Vec::with_capacity(self.conditions.len());
        for condition in &self.conditions {
            let condition = match condition {
                Condition::Fixed(condition) => Some(condition.clone()),
                Condition::KeyEqualsParameter { key_position, parameter } => {
                    params.0.get(*parameter).and_then(|value| key_equals(def, *key_position, value))
                }
                Condition::Bound(filter) => params.bind(filter).and_then(|bound| key_condition(def, &bound)),
            };
            match condition {
                Some(condition) => conditions.push(condition),
                None => return Ok(None),
            }
        }
        // Read here, on the connection's thread and all at once, only
        // what is small: a read of more rows goes to the general path,
        // which streams them and can be cancelled.
        let mut scan =
            table.table_scan_as(conditions, self.outputs.clone(), limit, self.descending, Arc::clone(&self.schema))?;
        scan.at_most = Some(DIRECT_READ_ROWS + 1);
        // The statement's only read: it may read the latest rows without a snapshot.
        scan.statement = None;
        let batch = read_all(&scan)?;
        Ok((batch.num_rows() <= DIRECT_READ_ROWS).then_some(batch))
    }
}

impl Condition {
    /// `None` if `filter` can never be a key condition.
    fn of(def: &cairn_types::TableDef, filter: &Expr) -> Option<Condition> {
        if !has_placeholder(filter) {
            return key_condition(def, filter).map(Condition::Fixed);
        }
        Some(Condition::key_equals_parameter(def, filter).unwrap_or_else(|| Condition::Bound(filter.clone())))
    }

    /// `key = $n` or `$n = key`.
    fn key_equals_parameter(def: &cairn_types::TableDef, filter: &Expr) -> Option<Condition> {
        let Expr::BinaryExpr(binary) = filter else { return None };
        let ((Expr::Column(column), Expr::Placeholder(placeholder)) | (Expr::Placeholder(placeholder), Expr::Column(column))) =
            (binary.left.as_ref(), binary.right.as_ref())
        else {
            return None;
        };
        if binary.op != Operator::Eq {
            return None;
        }
        let key_position = key_position(def, &column.name)?;
        let parameter = parameter_number(&placeholder.id)? - 1;
        Some(Condition::KeyEqualsParameter { key_position, parameter })
    }
}

/// Writes the rows of an `INSERT INTO t … VALUES (…)` directly and
/// returns how many: the VALUES must be literals (and bound parameters),
/// and the projection above them (casts, column defaults such as `now()`)
/// is evaluated on them as DataFusion would, without its optimizer and
/// physical planner. `None` for any other plan.
pub async fn insert_values(plan: &LogicalPlan, params: Params<'_>, ctx: &SessionContext) -> Result<Option<u64>> {
    let LogicalPlan::Dml(dml) = plan else { return Ok(None) };
    if dml.op != WriteOp::Insert(InsertOp::Append) {
        return Ok(None);
    }
    let Ok(provider) = source_as_provider(&dml.target) else { return Ok(None) };
    let Some(table) = provider.downcast_ref::<DataTable>() else { return Ok(None) };
    let (exprs, values) = match dml.input.as_ref() {
        LogicalPlan::Projection(projection) => match projection.input.as_ref() {
            LogicalPlan::Values(values) => (Some(&projection.expr), values),
            _ => return Ok(None),
        },
        LogicalPlan::Values(values) => (None, values),
        _ => return Ok(None),
    };
    if exprs.is_some_and(|exprs| exprs.iter().any(has_placeholder)) {
        return Ok(None);
    }
    let Some(input) = values_batch(values, params)? else { return Ok(None) };
    let columns: Vec<ArrayRef> = match exprs {
        None => input.columns().to_vec(),
        Some(exprs) => match evaluate(exprs, &values.schema, &input, ctx) {
            Some(columns) => columns,
            None => return Ok(None),
        },
    };
    let schema = table.schema();
    if columns.len() != schema.fields().len() || columns.iter().zip(schema.fields()).any(|(c, f)| c.data_type() != f.data_type()) {
        return Ok(None);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(input.num_rows()));
    let batch = RecordBatch::try_new_with_options(schema, columns, &options).map_err(|e| CairnError::Internal(e.to_string()))?;
    table.insert_batch(&batch).await.map(Some)
}

/// The rows an UPDATE or DELETE reads (its input plan, bound), read by key
/// directly when the input is a projection (UPDATE's new and old values)
/// over filters that are all key conditions on one CairnDB table, the
/// common `UPDATE t SET … WHERE id = …`. The read goes through the
/// statement's transaction, as the general path's scan does, so the
/// commit still checks what it read. `None` for any other input, or if an
/// expression does not evaluate here exactly as the plan's schema says
/// (the general path then runs it).
pub fn dml_rows(input: &LogicalPlan, ctx: &SessionContext) -> Result<Option<Vec<RecordBatch>>> {
    let (exprs, below) = match input {
        LogicalPlan::Projection(projection) => (Some(&projection.expr), projection.input.as_ref()),
        other => (None, other),
    };
    let mut filters: Vec<&Expr> = Vec::new();
    let mut node = below;
    let scan = loop {
        match node {
            LogicalPlan::Filter(filter) => {
                filters.extend(split_conjunction(&filter.predicate));
                node = filter.input.as_ref();
            }
            LogicalPlan::TableScan(scan) if scan.fetch.is_none() && scan.projection.is_none() => break scan,
            _ => return Ok(None),
        }
    };
    filters.extend(scan.filters.iter().flat_map(split_conjunction));
    let Ok(provider) = source_as_provider(&scan.source) else { return Ok(None) };
    let Some(table) = provider.downcast_ref::<DataTable>() else { return Ok(None) };
    let all_columns = (0..table.def().columns.len()).collect();
    let Some(key_scan) = table.key_scan(&filters, all_columns, None, false)? else { return Ok(None) };
    let rows = read_all(&key_scan)?;
    let Some(exprs) = exprs else { return Ok(Some(vec![rows])) };
    let Some(columns) = evaluate(exprs, &scan.projected_schema, &rows, ctx) else { return Ok(None) };
    let schema = Arc::clone(input.schema().inner());
    if columns.iter().zip(schema.fields()).any(|(c, f)| c.data_type() != f.data_type()) {
        return Ok(None);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows.num_rows()));
    let batch = RecordBatch::try_new_with_options(schema, columns, &options).map_err(|e| CairnError::Internal(e.to_string()))?;
    Ok(Some(vec![batch]))
}

/// Every row a key scan reads, as one batch.
fn read_all(scan: &TableScan) -> Result<RecordBatch> {
    match scan.read()?.as_slice() {
        [batch] => Ok(batch.clone()),
        batches => concat_batches(&scan.schema, batches).map_err(|e| CairnError::Internal(e.to_string())),
    }
}

/// `exprs` evaluated on `input`, whose columns `schema` names, as
/// DataFusion's projection would (simplified, then as physical
/// expressions); `None` if any of them cannot be.
fn evaluate(
    exprs: &[Expr],
    schema: &datafusion::common::DFSchemaRef,
    input: &RecordBatch,
    ctx: &SessionContext,
) -> Option<Vec<ArrayRef>> {
    // Columns passed through as they are, the usual `INSERT … VALUES`:
    // nothing to simplify or plan (that was 7% of a one-row insert).
    let passed_through = |expr: &Expr| {
        let expr = match expr {
            Expr::Alias(alias) => alias.expr.as_ref(),
            other => other,
        };
        match expr {
            Expr::Column(column) => schema.index_of_column(column).ok(),
            _ => None,
        }
    };
    if let Some(columns) = exprs.iter().map(|e| passed_through(e).map(|i| Arc::clone(input.column(i)))).collect() {
        return Some(columns);
    }
    let config = Arc::clone(ctx.state_ref().read().config_options());
    let mut props = ExecutionProps::new();
    props.mark_start_execution(Arc::clone(&config));
    let context = SimplifyContext::builder()
        .with_schema(Arc::clone(schema))
        .with_config_options(config)
        .with_query_execution_start_time(props.query_execution_start_time)
        .build();
    let simplifier = ExprSimplifier::new(context);
    let planning = PhysicalPlanningContext::default();
    exprs
        .iter()
        .map(|expr| {
            let expr = simplifier.simplify(expr.clone()).ok()?;
            let physical = create_physical_expr(&expr, schema, &props, &planning).ok()?;
            physical.evaluate(input).ok()?.into_array(input.num_rows()).ok()
        })
        .collect()
}

/// VALUES rows as a batch, if every value is a literal or a bound parameter.
fn values_batch(values: &datafusion::logical_expr::Values, params: Params) -> Result<Option<RecordBatch>> {
    let fields = values.schema.fields();
    let mut columns = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        let mut scalars = Vec::with_capacity(values.values.len());
        for row in &values.values {
            let value = match row.get(i) {
                Some(Expr::Literal(value, _)) => value,
                Some(Expr::Placeholder(placeholder)) => match params.get(placeholder) {
                    Some(value) => value,
                    None => return Ok(None),
                },
                _ => return Ok(None),
            };
            let value = match value.data_type() == *field.data_type() {
                true => value.clone(),
                false => match value.cast_to(field.data_type()) {
                    Ok(value) => value,
                    Err(_) => return Ok(None),
                },
            };
            scalars.push(value);
        }
        columns.push(ScalarValue::iter_to_array(scalars).map_err(from_df)?);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(values.values.len()));
    RecordBatch::try_new_with_options(Arc::clone(values.schema.inner()), columns, &options)
        .map(Some)
        .map_err(|e| CairnError::Internal(e.to_string()))
}

/// The nodes of a direct read, top to bottom.
struct Shape<'p> {
    /// The projection above LIMIT and ORDER BY, naming table columns.
    outer: Option<&'p [Expr]>,
    limit: Option<Count>,
    order_by: Option<&'p [SortExpr]>,
    /// The projection below ORDER BY, whose output the sort names.
    inner: Option<&'p [Expr]>,
    filters: Vec<&'p Expr>,
    scan: &'p datafusion::logical_expr::TableScan,
}

impl<'p> Shape<'p> {
    fn of(plan: &'p LogicalPlan) -> Option<Shape<'p>> {
        let mut shape = Shape { outer: None, limit: None, order_by: None, inner: None, filters: Vec::new(), scan: scan_of(plan)? };
        let mut node = plan;
        // Below the first filter, only filters and the scan: a filter
        // above a LIMIT or a projection would mean something else.
        let mut in_filters = false;
        loop {
            match node {
                LogicalPlan::Filter(filter) => {
                    in_filters = true;
                    shape.filters.push(&filter.predicate);
                    node = &filter.input;
                }
                LogicalPlan::TableScan(scan) => {
                    if scan.fetch.is_some() {
                        return None;
                    }
                    shape.filters.extend(scan.filters.iter());
                    return Some(shape);
                }
                _ if in_filters => return None,
                LogicalPlan::Projection(p) if shape.limit.is_none() && shape.order_by.is_none() && shape.outer.is_none() => {
                    shape.outer = Some(&p.expr);
                    node = &p.input;
                }
                LogicalPlan::Projection(p) if shape.inner.is_none() => {
                    shape.inner = Some(&p.expr);
                    node = &p.input;
                }
                LogicalPlan::Limit(limit) if shape.limit.is_none() && shape.order_by.is_none() && shape.inner.is_none() => {
                    if limit.skip.as_deref().is_some_and(|skip| !is_zero(skip)) {
                        return None;
                    }
                    shape.limit = Some(match limit.fetch.as_deref()? {
                        Expr::Literal(ScalarValue::Int64(Some(n)), _) => Count::Literal(usize::try_from(*n).ok()?),
                        Expr::Placeholder(placeholder) => Count::Parameter(parameter_number(&placeholder.id)? - 1),
                        _ => return None,
                    });
                    node = &limit.input;
                }
                LogicalPlan::Sort(sort) if shape.order_by.is_none() && shape.inner.is_none() && sort.fetch.is_none() => {
                    shape.order_by = Some(&sort.expr);
                    node = &sort.input;
                }
                _ => return None,
            }
        }
    }

    /// The table column (by position) behind each output column; `None`
    /// unless every output is a plain column.
    fn outputs(&self, column_of: &dyn Fn(&str) -> Option<usize>) -> Option<Vec<usize>> {
        let projected = |exprs: &[Expr], names: &dyn Fn(&str) -> Option<usize>| -> Option<Vec<usize>> {
            exprs.iter().map(|e| names(column_name(e)?)).collect()
        };
        let scan_columns = || -> Option<Vec<usize>> {
            let fields = self.scan.projected_schema.fields();
            fields.iter().map(|f| column_of(f.name())).collect()
        };
        let inner = match self.inner {
            Some(exprs) => projected(exprs, column_of)?,
            None => scan_columns()?,
        };
        match self.outer {
            None => Some(inner),
            // Above the inner projection, names are its outputs.
            Some(exprs) if self.inner.is_some() => {
                let inner_exprs = self.inner?;
                let names = |name: &str| -> Option<usize> {
                    let at = inner_exprs.iter().position(|e| output_name(e) == Some(name))?;
                    inner.get(at).copied()
                };
                projected(exprs, &names)
            }
            Some(exprs) => projected(exprs, column_of),
        }
    }
}

fn scan_of(plan: &LogicalPlan) -> Option<&datafusion::logical_expr::TableScan> {
    match plan {
        LogicalPlan::TableScan(scan) => Some(scan),
        LogicalPlan::Projection(_) | LogicalPlan::Limit(_) | LogicalPlan::Sort(_) | LogicalPlan::Filter(_) => {
            scan_of(plan.inputs().first()?)
        }
        _ => None,
    }
}

fn is_zero(expr: &Expr) -> bool {
    matches!(expr, Expr::Literal(ScalarValue::Int64(Some(0)), _))
}

/// The column a plain (maybe aliased) column expression reads.
fn column_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(column) => Some(&column.name),
        Expr::Alias(alias) => column_name(&alias.expr),
        _ => None,
    }
}

/// The name a projection gives an expression's output.
fn output_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(column) => Some(&column.name),
        Expr::Alias(alias) => Some(&alias.name),
        _ => None,
    }
}

/// Whether ORDER BY names the leading key columns in key order, all in one
/// direction: `Some(descending)` if so. (The scan reads in key order, so
/// it needs no sort; a key column is never NULL, so NULLS FIRST/LAST
/// changes nothing.)
fn key_order(
    def: &cairn_types::TableDef,
    sort: &[SortExpr],
    shape: &Shape,
    column_of: &dyn Fn(&str) -> Option<usize>,
) -> Option<bool> {
    let first = sort.first()?;
    for (i, expr) in sort.iter().enumerate() {
        let name = column_name(&expr.expr)?;
        // Below the sort, an inner projection may rename columns.
        let column = match shape.inner {
            Some(inner) => {
                let at = inner.iter().position(|e| output_name(e) == Some(name))?;
                column_of(column_name(&inner[at])?)?
            }
            None => column_of(name)?,
        };
        if expr.asc != first.asc || usize::from(*def.primary_key.get(i)?) != column {
            return None;
        }
    }
    Some(!first.asc)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::logical_expr::{col, lit, table_scan, LogicalPlanBuilder};

    use super::*;

    fn scan() -> LogicalPlanBuilder {
        let schema = Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("body", DataType::Utf8, true)]);
        table_scan(Some("t"), &schema, None).expect("scan")
    }

    fn is_direct(plan: LogicalPlanBuilder) -> bool {
        Shape::of(&plan.build().expect("plan")).is_some()
    }

    #[test]
    fn bound_parameters_in_values_are_literals() {
        // Typed, as a placeholder in INSERT … VALUES is by its target column.
        let field = Arc::new(Field::new("$1", DataType::Int64, true));
        let placeholder = Expr::Placeholder(Placeholder::new_with_field("$1".into(), Some(field)));
        let plan = LogicalPlanBuilder::values(vec![vec![placeholder, lit("x")]])
            .and_then(|b| b.build())
            .expect("values");
        let LogicalPlan::Values(values) = &plan else { panic!("values: {plan}") };
        let params = [ScalarValue::Int64(Some(7))];
        let batch = values_batch(values, Params(&params)).expect("reads").expect("all literals");
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(ScalarValue::try_from_array(batch.column(0), 0).expect("value"), ScalarValue::Int64(Some(7)));
    }

    #[test]
    fn key_read_shapes_are_recognised_and_others_are_not() {
        let point = scan().filter(col("id").eq(lit(5i64))).expect("filter").project(vec![col("body")]).expect("project");
        assert!(is_direct(point));
        let feed = scan()
            .project(vec![col("id"), col("body")])
            .and_then(|b| b.sort(vec![col("id").sort(false, true)]))
            .and_then(|b| b.limit(0, Some(20)))
            .expect("feed");
        assert!(is_direct(feed));
        // A filter above a LIMIT filters the limited rows: not a key read.
        let filtered_after_limit = scan().limit(0, Some(5)).and_then(|b| b.filter(col("id").eq(lit(1i64)))).expect("plan");
        assert!(!is_direct(filtered_after_limit));
        let offset = scan().limit(3, Some(5)).expect("plan");
        assert!(!is_direct(offset));
        let computed = scan().project(vec![col("id") + lit(1i64)]).expect("plan");
        let computed = computed.build().expect("plan");
        let Some(shape) = Shape::of(&computed) else { panic!("a projection over a scan") };
        assert!(shape.outputs(&|name| (name == "id").then_some(0)).is_none(), "an expression is not a column");
        let aggregate = scan().aggregate(vec![col("body")], Vec::<Expr>::new()).expect("plan");
        assert!(!is_direct(aggregate));
    }
}
