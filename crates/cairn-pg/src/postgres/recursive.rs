//! The two terms of a recursive CTE made to agree on their columns'
//! metadata. A column read straight from a table carries the table's OID
//! and its position (for RowDescription, see
//! [`cairn_tables::values::SOURCE_TABLE_METADATA`]); DataFusion insists
//! that both terms' columns carry the same metadata as the CTE's, which
//! they do not when one term reads the table and the other computes
//! (`SELECT name … UNION ALL SELECT n.name || '/' || u.path …`). The
//! columns of a recursive CTE name no table column in PostgreSQL either.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};

use cairn_tables::values::{SOURCE_COLUMN_METADATA, SOURCE_TABLE_METADATA};

/// `plan` with each recursive CTE's terms projected through
/// [`WithoutSource`].
pub fn recursive_terms_without_sources(plan: LogicalPlan) -> Result<LogicalPlan> {
    if !plan.exists(|node| Ok(matches!(node, LogicalPlan::RecursiveQuery(_))))? {
        return Ok(plan);
    }
    plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::RecursiveQuery(mut query) = node else { return Ok(Transformed::no(node)) };
        query.static_term = Arc::new(without_sources(Arc::unwrap_or_clone(query.static_term))?);
        query.recursive_term = Arc::new(without_sources(Arc::unwrap_or_clone(query.recursive_term))?);
        LogicalPlan::RecursiveQuery(query).recompute_schema().map(Transformed::yes)
    })
    .map(|t| t.data)
}

fn without_sources(term: LogicalPlan) -> Result<LogicalPlan> {
    let sourced = term.schema().fields().iter().any(|field| is_sourced(field));
    if !sourced {
        return Ok(term);
    }
    let strip = Arc::new(ScalarUDF::from(WithoutSource { signature: Signature::any(1, Volatility::Immutable) }));
    let columns: Vec<Expr> = term
        .schema()
        .columns()
        .into_iter()
        .map(|column| {
            let name = column.name.clone();
            Expr::ScalarFunction(ScalarFunction::new_udf(Arc::clone(&strip), vec![Expr::Column(column)])).alias(name)
        })
        .collect();
    LogicalPlanBuilder::from(term).project(columns)?.build()
}

fn is_sourced(field: &Field) -> bool {
    field.metadata().contains_key(SOURCE_TABLE_METADATA) || field.metadata().contains_key(SOURCE_COLUMN_METADATA)
}

/// Its argument, with the field metadata that names a table column
/// dropped (the PostgreSQL type stays).
#[derive(Debug, PartialEq, Eq, Hash)]
struct WithoutSource {
    signature: Signature,
}

impl ScalarUDFImpl for WithoutSource {
    fn name(&self) -> &str {
        "without_source"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Null))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let Some(field) = args.arg_fields.first() else {
            return datafusion::common::plan_err!("without_source takes one argument");
        };
        let metadata: HashMap<String, String> = field
            .metadata()
            .iter()
            .filter(|(key, _)| key.as_str() != SOURCE_TABLE_METADATA && key.as_str() != SOURCE_COLUMN_METADATA)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(Arc::new(Field::new(self.name(), field.data_type().clone(), field.is_nullable()).with_metadata(metadata)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.into_iter().next() {
            Some(value) => Ok(value),
            None => datafusion::common::exec_err!("without_source takes one argument"),
        }
    }
}
