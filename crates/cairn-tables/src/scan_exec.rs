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
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{EquivalenceProperties, LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, SendableRecordBatchStream,
    SortOrderPushdownResult,
};

use crate::error::to_df;

/// What a scan reads.
pub trait ScanSource: Send + Sync + 'static {
    /// The plan node's name in `EXPLAIN`.
    const NAME: &'static str;

    /// The rest of the `EXPLAIN` line: table, access path, projection, limit.
    fn describe(&self, f: &mut fmt::Formatter) -> fmt::Result;

    /// Reads the rows, projected, at execution time, in one batch or more.
    fn read(&self) -> cairn_types::Result<Vec<RecordBatch>>;

    /// How many DataFusion partitions the scan's rows come in.
    fn partitions(&self) -> usize {
        1
    }

    /// The rows of one partition as a stream, for a plan's execution: read
    /// as the stream is polled where the source can, else all at once.
    fn execute(&self, _partition: usize, schema: SchemaRef) -> cairn_types::Result<SendableRecordBatchStream> {
        in_memory(self.read()?, schema)
    }

    /// The positions, in the scan's output, of the columns its rows are
    /// ordered by (the leading key columns it projects).
    fn key_columns(&self) -> Vec<usize> {
        Vec::new()
    }

    /// The same scan, reading in key order, ascending or descending.
    fn ordered(&self, _descending: bool) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }

    /// The same scan, stopping after `limit` rows.
    fn with_limit(&self, _limit: usize) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// Batches already read, as a stream.
pub fn in_memory(batches: Vec<RecordBatch>, schema: SchemaRef) -> cairn_types::Result<SendableRecordBatchStream> {
    Ok(Box::pin(MemoryStream::try_new(batches, schema, None).map_err(crate::error::from_df)?))
}

pub struct ScanExec<S> {
    source: S,
    schema: SchemaRef,
    /// The order the rows come in, when the source was asked for one.
    ordering: Option<LexOrdering>,
    properties: Arc<PlanProperties>,
}

impl<S: ScanSource> ScanExec<S> {
    pub fn new(source: S, schema: SchemaRef) -> Self {
        Self::with_ordering(source, schema, None)
    }

    /// A scan that promises its rows in `ordering` (so DataFusion drops
    /// the sort above it).
    fn with_ordering(source: S, schema: SchemaRef, ordering: Option<LexOrdering>) -> Self {
        let equivalence = match &ordering {
            Some(ordering) => EquivalenceProperties::new_with_orderings(Arc::clone(&schema), [ordering.clone()]),
            None => EquivalenceProperties::new(Arc::clone(&schema)),
        };
        let properties = PlanProperties::new(
            equivalence,
            Partitioning::UnknownPartitioning(source.partitions()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        ScanExec { source, schema, ordering, properties: Arc::new(properties) }
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

    /// `ORDER BY` the leading key columns, all ascending or all
    /// descending: the scan reads in that order and the sort goes.
    fn try_pushdown_sort(&self, order: &[PhysicalSortExpr]) -> DfResult<SortOrderPushdownResult<Arc<dyn ExecutionPlan>>> {
        let keys = self.source.key_columns();
        let Some(first) = order.first() else { return Ok(SortOrderPushdownResult::Unsupported) };
        let descending = first.options.descending;
        let follows_key = order.len() <= keys.len()
            && order.iter().zip(&keys).all(|(sort, &key)| {
                sort.options.descending == descending
                    && sort.expr.downcast_ref::<Column>().is_some_and(|column| column.index() == key)
            });
        match self.source.ordered(descending) {
            Some(source) if follows_key => Ok(SortOrderPushdownResult::Exact {
                inner: Arc::new(ScanExec::with_ordering(source, Arc::clone(&self.schema), LexOrdering::new(order.to_vec()))),
            }),
            _ => Ok(SortOrderPushdownResult::Unsupported),
        }
    }

    fn with_fetch(&self, limit: Option<usize>) -> Option<Arc<dyn ExecutionPlan>> {
        let source = self.source.with_limit(limit?)?;
        Some(Arc::new(ScanExec::with_ordering(source, Arc::clone(&self.schema), self.ordering.clone())))
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        self.source.execute(partition, Arc::clone(&self.schema)).map_err(to_df)
    }
}
