//! What INSERT … ON CONFLICT does with a row whose key is taken, as the
//! write path carries it out; `cairn-sql` plans it from the statement.

use std::sync::Arc;

use cairn_types::{CairnError, Result, TableDef, Value};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;

use crate::error::from_df;
use crate::values::{build_column, read_value};

/// What INSERT does with a row whose key is taken.
#[derive(Debug, Clone)]
pub enum ConflictAction {
    DoNothing,
    DoUpdate(Arc<ConflictUpdate>),
}

/// `DO UPDATE SET col = expr, … [WHERE cond]`: expressions over the
/// existing row (by the table's name) and `excluded` (the row that was to
/// be inserted), planned once and evaluated per conflicting row.
#[derive(Debug)]
pub struct ConflictUpdate {
    pub def: TableDef,
    /// The existing row's columns, then the excluded row's.
    pub schema: SchemaRef,
    /// Target column, and its new value's expression.
    pub assignments: Vec<(usize, Arc<dyn PhysicalExpr>)>,
    pub condition: Option<Arc<dyn PhysicalExpr>>,
}

impl ConflictUpdate {
    /// The updated row, or `None` when the WHERE condition does not hold
    /// (the row is then left alone, as with DO NOTHING).
    pub fn apply(&self, existing: &[Value], excluded: &[Value]) -> Result<Option<Vec<Value>>> {
        let width = self.def.columns.len();
        let row: Vec<Value> = (0..width)
            .map(|i| existing.get(i).cloned().unwrap_or(Value::Null))
            .chain(excluded.iter().cloned())
            .collect();
        let arrays = self
            .def
            .columns
            .iter()
            .chain(self.def.columns.iter())
            .enumerate()
            .map(|(i, column)| build_column(&column.name, &column.data_type, std::slice::from_ref(&row), i))
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays).map_err(|e| CairnError::Internal(e.to_string()))?;
        let evaluate = |expr: &Arc<dyn PhysicalExpr>| -> Result<ArrayRef> {
            expr.evaluate(&batch).and_then(|value| value.into_array(1)).map_err(from_df)
        };
        if let Some(condition) = &self.condition {
            let holds = evaluate(condition)?;
            if !holds.as_boolean_opt().is_some_and(|b| b.is_valid(0) && b.value(0)) {
                return Ok(None);
            }
        }
        let mut values = row[..width].to_vec();
        for (target, expr) in &self.assignments {
            values[*target] = read_value(&evaluate(expr)?, &self.def.columns[*target].data_type, 0)?;
        }
        Ok(Some(values))
    }
}

