//! Correlated scalar and EXISTS subqueries DataFusion cannot turn into
//! joins, run once per outer row, as PostgreSQL runs a SubPlan.
//!
//! DataFusion decorrelates a scalar subquery when its correlation is a set
//! of equalities; what is left over (`oid = ANY(outer.array)`, a
//! `generate_series` over an outer value: psql's `\d` sends both) it cannot
//! execute at all. [`RunPerRow`] replaces each remaining `ScalarSubquery`
//! and `EXISTS` by a call of [`CorrelatedSubquery`], whose arguments are
//! the outer columns the subquery reads. For each row the call puts those values into the
//! subquery's plan as literals, and plans and runs it.
//!
//! Written by hand: DataFusion has no executor for correlated subqueries.
//! It is slow for large outer inputs (a plan per row), which is why it
//! is only the fallback after DataFusion's own decorrelation.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{exec_datafusion_err, Column, Result, ScalarValue};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Subquery, Volatility,
};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use parking_lot::RwLock;

/// The optimizer rule, in two places among DataFusion's: first, for
/// subqueries that read outer columns outside their WHERE, which
/// DataFusion's decorrelation would mistake for uncorrelated ones (a
/// `FROM unnest(outer.array)`); and last, for whatever decorrelation
/// left. Both hold the session's state weakly (the state holds the rules),
/// to plan the subqueries with.
#[derive(Debug)]
pub struct RunPerRow {
    stage: Stage,
    state: Arc<std::sync::OnceLock<Weak<RwLock<SessionState>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    BeforeDecorrelation,
    AfterDecorrelation,
}

impl RunPerRow {
    /// The first and the last rule, then a function to call with the
    /// session's state once it exists.
    pub fn rules() -> (Arc<Self>, Arc<Self>) {
        let state = Arc::new(std::sync::OnceLock::new());
        let rule = |stage| {
            Arc::new(RunPerRow {
                stage,
                state: Arc::clone(&state),
            })
        };
        (
            rule(Stage::BeforeDecorrelation),
            rule(Stage::AfterDecorrelation),
        )
    }

    pub fn attach(&self, state: Weak<RwLock<SessionState>>) {
        let _ = self.state.set(state);
    }

    fn takes(&self, subquery: &Subquery) -> bool {
        match self.stage {
            Stage::AfterDecorrelation => !outer_references(&subquery.subquery, true).is_empty(),
            Stage::BeforeDecorrelation => !outer_references(&subquery.subquery, false).is_empty(),
        }
    }
}

impl OptimizerRule for RunPerRow {
    fn name(&self) -> &str {
        match self.stage {
            Stage::BeforeDecorrelation => "cairn_correlated_subqueries_first",
            Stage::AfterDecorrelation => "cairn_correlated_subqueries_last",
        }
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let Some(state) = self.state.get().and_then(Weak::upgrade) else {
            return Ok(Transformed::no(plan));
        };
        plan.transform_up(|node| {
            node.map_expressions(|expr| {
                expr.transform_up(|expr| match expr {
                    Expr::ScalarSubquery(subquery) if self.takes(&subquery) => {
                        let state = state.read().clone();
                        Ok(Transformed::yes(per_row_call(
                            subquery,
                            Answer::Value,
                            state,
                        )?))
                    }
                    Expr::Exists(exists) if self.takes(&exists.subquery) => {
                        let state = state.read().clone();
                        let call = per_row_call(exists.subquery, Answer::AnyRow, state)?;
                        Ok(Transformed::yes(if exists.negated {
                            datafusion::logical_expr::not(call)
                        } else {
                            call
                        }))
                    }
                    other => Ok(Transformed::no(other)),
                })
            })
        })
    }
}

/// What a subquery's rows answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Answer {
    /// A scalar subquery: its one value, or NULL without rows.
    Value,
    /// `EXISTS`: whether it has a row.
    AnyRow,
}

/// The outer columns a subquery reads anywhere in its plan, or only
/// outside filters (`in_filters` false): DataFusion decorrelates outer
/// references in filters alone.
fn outer_references(plan: &LogicalPlan, in_filters: bool) -> Vec<Column> {
    let mut outer = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if !in_filters && matches!(node, LogicalPlan::Filter(_)) {
            return Ok(TreeNodeRecursion::Continue);
        }
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::OuterReferenceColumn(_, column) = e {
                    if !outer.contains(column) {
                        outer.push(column.clone());
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    outer
}

fn per_row_call(subquery: Subquery, answer: Answer, state: SessionState) -> Result<Expr> {
    let outer = outer_references(&subquery.subquery, true);
    let output = match answer {
        Answer::Value => subquery.subquery.schema().field(0).as_ref().clone(),
        Answer::AnyRow => {
            datafusion::arrow::datatypes::Field::new("exists", DataType::Boolean, false)
        }
    };
    let arguments = outer
        .iter()
        .map(|column| Expr::Column(column.clone()))
        .collect();
    let function = CorrelatedSubquery {
        plan: Arc::clone(&subquery.subquery),
        answer,
        outer,
        output: Arc::new(output.with_nullable(true)),
        state: Arc::new(state),
        signature: Signature::variadic_any(Volatility::Volatile),
    };
    Ok(ScalarUDF::from(function).call(arguments))
}

/// One correlated subquery, called with the outer columns it reads.
struct CorrelatedSubquery {
    plan: Arc<LogicalPlan>,
    answer: Answer,
    outer: Vec<Column>,
    output: FieldRef,
    state: Arc<SessionState>,
    signature: Signature,
}

impl std::fmt::Debug for CorrelatedSubquery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "correlated_subquery({:?})", self.outer)
    }
}

impl PartialEq for CorrelatedSubquery {
    fn eq(&self, other: &Self) -> bool {
        self.plan == other.plan && self.answer == other.answer && self.outer == other.outer
    }
}

impl Eq for CorrelatedSubquery {}

impl Hash for CorrelatedSubquery {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.plan.hash(state);
        self.answer.hash(state);
        self.outer.hash(state);
    }
}

impl ScalarUDFImpl for CorrelatedSubquery {
    fn name(&self) -> &str {
        "subquery"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.output.data_type().clone())
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::clone(&self.output))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let columns = ColumnarValue::values_to_arrays(&args.args)?;
        // The subquery runs on a runtime of its own, on a thread of its
        // own: this call is inside a stream being polled, which must not
        // block its runtime's workers.
        let values = std::thread::scope(|scope| {
            scope
                .spawn(|| -> Result<Vec<ScalarValue>> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| {
                            exec_datafusion_err!("cannot start a runtime for a subquery: {e}")
                        })?;
                    (0..rows)
                        .map(|row| runtime.block_on(self.run_for(&columns, row)))
                        .collect()
                })
                .join()
                .map_err(|_| exec_datafusion_err!("a correlated subquery failed"))?
        })?;
        let array: ArrayRef = match values.is_empty() {
            true => datafusion::arrow::array::new_empty_array(self.output.data_type()),
            false => ScalarValue::iter_to_array(values)?,
        };
        Ok(ColumnarValue::Array(array))
    }
}

impl CorrelatedSubquery {
    /// The subquery's answer for the outer row `row`. A scalar subquery
    /// without rows is NULL; with more than one it is an error (SQLSTATE
    /// 21000, as PostgreSQL).
    async fn run_for(&self, columns: &[ArrayRef], row: usize) -> Result<ScalarValue> {
        let values: Vec<(Column, ScalarValue)> = self
            .outer
            .iter()
            .zip(columns)
            .map(|(column, array)| Ok((column.clone(), ScalarValue::try_from_array(array, row)?)))
            .collect::<Result<_>>()?;
        let plan = Arc::unwrap_or_clone(Arc::clone(&self.plan))
            .transform_up_with_subqueries(|node| {
                node.map_expressions(|expr| {
                    expr.transform_up(|expr| match &expr {
                        Expr::OuterReferenceColumn(field, column) => {
                            match values.iter().find(|(c, _)| c == column) {
                                Some((_, value)) => {
                                    let value = value.cast_to(field.data_type())?;
                                    Ok(Transformed::yes(Expr::Literal(value, None)))
                                }
                                None => Ok(Transformed::no(expr)),
                            }
                        }
                        _ => Ok(Transformed::no(expr)),
                    })
                })
            })?
            .data;
        // With the outer values in place, a subquery in FROM that read
        // them (`FROM unnest(outer.array)`) is an ordinary relation.
        let plan = plan
            .transform_up(|node| match node {
                LogicalPlan::Subquery(subquery) => {
                    Ok(Transformed::yes(Arc::unwrap_or_clone(subquery.subquery)))
                }
                other => Ok(Transformed::no(other)),
            })?
            .data;
        let physical = self.state.create_physical_plan(&plan).await?;
        let batches = datafusion::physical_plan::collect(physical, self.state.task_ctx()).await?;
        if self.answer == Answer::AnyRow {
            return Ok(ScalarValue::Boolean(Some(
                batches.iter().any(|b| b.num_rows() > 0),
            )));
        }
        let mut found = batches.iter().filter(|b| b.num_rows() > 0);
        let Some(batch) = found.next() else {
            return ScalarValue::try_from(self.output.data_type());
        };
        if batch.num_rows() > 1 || found.next().is_some() {
            return Err(datafusion::error::DataFusionError::External(Box::new(
                cairn_types::CairnError::CardinalityViolation(
                    "more than one row returned by a subquery used as an expression".into(),
                ),
            )));
        }
        ScalarValue::try_from_array(batch.column(0), 0)
    }
}
