//! The one leaf `ExecutionPlan` behind every CairnDB scan: it asks its
//! source for a batch when executed. The sources (system tables, user and
//! shared tables) say how rows are found and how `EXPLAIN` shows it.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result as DfResult;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, SendableRecordBatchStream,
};

use crate::error::to_df;

/// What a scan reads.
pub(crate) trait ScanSource: Send + Sync + 'static {
    /// The plan node's name in `EXPLAIN`.
    const NAME: &'static str;

    /// The rest of the `EXPLAIN` line: table, access path, projection, limit.
    fn describe(&self, f: &mut fmt::Formatter) -> fmt::Result;

    /// Reads the rows, projected, at execution time.
    fn read(&self) -> cairn_types::Result<RecordBatch>;
}

pub(crate) struct ScanExec<S> {
    source: S,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl<S: ScanSource> ScanExec<S> {
    pub fn new(source: S, schema: SchemaRef) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        ScanExec { source, schema, properties: Arc::new(properties) }
    }
}

impl<S: ScanSource> fmt::Debug for ScanExec<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(S::NAME)
    }
}

impl<S: ScanSource> DisplayAs for ScanExec<S> {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: ", S::NAME)?;
        self.source.describe(f)
    }
}

impl<S: ScanSource> ExecutionPlan for ScanExec<S> {
    fn name(&self) -> &str {
        S::NAME
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, _partition: usize, _context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let batch = self.source.read().map_err(to_df)?;
        Ok(Box::pin(MemoryStream::try_new(vec![batch], Arc::clone(&self.schema), None)?))
    }
}
