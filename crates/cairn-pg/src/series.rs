//! `generate_series` in FROM, as DataFusion has it, except that a call
//! whose bounds come from an outer query (psql's `\d` has one, over
//! `pg_publication_rel`, which is always empty in CairnDB) plans: it
//! fails with 0A000 if it ever runs, instead of failing the whole query
//! at planning because DataFusion needs its bounds as constants.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::functions_table::generate_series::GenerateSeriesFunc;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

#[derive(Debug)]
pub struct GenerateSeries;

impl TableFunctionImpl for GenerateSeries {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if args.exprs().iter().any(Expr::contains_outer) {
            return Ok(Arc::new(CorrelatedSeries));
        }
        GenerateSeriesFunc {}.call_with_args(args)
    }
}

/// A series over values of an outer row.
#[derive(Debug)]
struct CorrelatedSeries;

#[async_trait]
impl TableProvider for CorrelatedSeries {
    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new(
            "value",
            DataType::Int64,
            false,
        )]))
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Err(datafusion::error::DataFusionError::External(Box::new(
            cairn_types::CairnError::FeatureNotSupported(
                "generate_series with bounds from an outer query is not supported".into(),
            ),
        )))
    }
}
