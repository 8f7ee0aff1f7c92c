//! `a.b` where `a` resolves to a column rather than a relation: field
//! access, which only a composite value has. DataFusion plans `get_field`
//! whatever the column's type and fails when typing it with an internal
//! error ("type Int64 is not Struct"); PostgreSQL reads `a.b` as column `b`
//! of relation `a` and says that does not exist (42703). The typical case
//! is `SELECT a.value FROM generate_series(1, 3) a`, whose one column is
//! named `a`, as in PostgreSQL.

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Column, Result, TableReference};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult};
use datafusion::logical_expr::Expr;

/// Plans field access on a non-composite column as the column `a.b`,
/// which does not exist, so planning fails with PostgreSQL's 42703.
/// Composite values (structs, maps) are left to DataFusion's planner,
/// which this one must come before.
#[derive(Debug)]
pub struct NonCompositeFieldAccess;

impl ExprPlanner for NonCompositeFieldAccess {
    fn plan_compound_identifier(
        &self,
        field: &Field,
        _qualifier: Option<&TableReference>,
        nested_names: &[String],
    ) -> Result<PlannerResult<Vec<Expr>>> {
        if matches!(field.data_type(), DataType::Struct(_) | DataType::Map(..) | DataType::Null) {
            return Ok(PlannerResult::Original(Vec::new()));
        }
        let missing = Column::new(Some(field.name().as_str()), nested_names.join("."));
        Ok(PlannerResult::Planned(Expr::Column(missing)))
    }
}
