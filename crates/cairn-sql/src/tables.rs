//! User and shared tables as DataFusion tables: scans read the caller's
//! partition through one snapshot; INSERT writes one atomic batch.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use cairn_catalog::{access, Actor, Catalog, TableOp};
use cairn_store::{encode_primary_key, Partition, StoredRow};
use cairn_types::{CairnError, DataType, TableDef, TableKind, Timestamp, Value};
use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result as DfResult;
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, Operator, ScalarUDF, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;

use crate::error::to_df;
use crate::values::{arrow_type, build_column, read_value};

/// The Arrow schema of a table definition. Every field is nullable as far
/// as DataFusion knows: NOT NULL is enforced by [`RowSink`], which can name
/// the column and answer 23502 (DataFusion's own check cannot).
pub fn table_schema(def: &TableDef) -> cairn_types::Result<SchemaRef> {
    let fields = def
        .columns
        .iter()
        .map(|c| Ok(Field::new(&c.name, arrow_type(&c.data_type)?, true)))
        .collect::<cairn_types::Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

pub(crate) struct DataTable {
    catalog: Arc<Catalog>,
    def: Arc<TableDef>,
    actor: Actor,
    schema: SchemaRef,
    defaults: HashMap<String, Expr>,
}

impl fmt::Debug for DataTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataTable({})", self.def.name)
    }
}

impl DataTable {
    pub fn new(catalog: Arc<Catalog>, def: TableDef, actor: Actor, snowflake: &Arc<ScalarUDF>) -> cairn_types::Result<Self> {
        let schema = table_schema(&def)?;
        let mut defaults = HashMap::new();
        for column in &def.columns {
            if let Some(sql) = &column.default {
                defaults.insert(column.name.clone(), crate::defaults::to_expr(sql, &actor.username, snowflake)?);
            }
        }
        Ok(DataTable { catalog, def: Arc::new(def), actor, schema, defaults })
    }
}

impl DataTable {
    pub fn def(&self) -> &TableDef {
        &self.def
    }

    fn writer(&self) -> cairn_types::Result<RowWriter> {
        if self.def.primary_key.is_empty() {
            return Err(CairnError::FeatureNotSupported(format!(
                "UPDATE and DELETE need a primary key; table \"{}\" has none",
                self.def.name
            )));
        }
        Ok(RowWriter {
            catalog: Arc::clone(&self.catalog),
            def: Arc::clone(&self.def),
            partition: access::table_partition(&self.actor, &self.def, TableOp::Write)?,
        })
    }

    /// DELETE: removes the rows the statement selected (read through the
    /// same partition), by primary key, in one atomic batch.
    pub async fn delete_rows(&self, batches: Vec<RecordBatch>) -> cairn_types::Result<u64> {
        let writer = self.writer()?;
        let keys = batches_to_rows(&self.def, &batches)?
            .iter()
            .map(|row| writer.primary_key(row))
            .collect::<cairn_types::Result<Vec<_>>>()?;
        writer
            .write(move |w, def, partition| {
                let mut deleted = 0;
                for key in &keys {
                    deleted += u64::from(w.delete_row(def.id, partition, key)?);
                }
                Ok(deleted)
            })
            .await
    }

    /// UPDATE: writes the new versions of the selected rows (their primary
    /// key unchanged), in one atomic batch.
    pub async fn update_rows(&self, batches: Vec<RecordBatch>) -> cairn_types::Result<u64> {
        if self.def.kind == TableKind::Stream {
            return Err(CairnError::FeatureNotSupported(
                "stream tables are append-only: UPDATE is not supported on them".into(),
            ));
        }
        let writer = self.writer()?;
        let rows = batches_to_rows(&self.def, &batches)?;
        for row in &rows {
            check_row(&self.def, row)?;
        }
        let keyed = rows
            .into_iter()
            .map(|row| Ok((writer.primary_key(&row)?, row)))
            .collect::<cairn_types::Result<Vec<_>>>()?;
        writer
            .write(move |w, def, partition| {
                for (key, values) in &keyed {
                    w.put_row(def.id, partition, key, &StoredRow { expires_at: None, values: values.clone() })?;
                }
                Ok(keyed.len() as u64)
            })
            .await
    }
}

/// Writes into one partition of a table with a primary key.
struct RowWriter {
    catalog: Arc<Catalog>,
    def: Arc<TableDef>,
    partition: Partition,
}

impl RowWriter {
    fn primary_key(&self, row: &[Value]) -> cairn_types::Result<Vec<u8>> {
        let values: Vec<&Value> = self.def.primary_key.iter().map(|&i| &row[usize::from(i)]).collect();
        encode_primary_key(&values)
    }

    async fn write<T: Send + 'static>(
        self,
        work: impl FnOnce(&mut cairn_store::Writer, &TableDef, Partition) -> cairn_types::Result<T> + Send + 'static,
    ) -> cairn_types::Result<T> {
        tokio::task::spawn_blocking(move || {
            self.catalog.store().write(|w| work(w, &self.def, self.partition))
        })
        .await
        .map_err(|e| CairnError::Internal(format!("write task failed: {e}")))?
    }
}

/// The rows of query results shaped like the table.
fn batches_to_rows(def: &TableDef, batches: &[RecordBatch]) -> cairn_types::Result<Vec<Vec<Value>>> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                def.columns
                    .iter()
                    .zip(batch.columns())
                    .map(|(column, array)| read_value(array, &column.data_type, row))
                    .collect::<cairn_types::Result<Vec<_>>>()?,
            );
        }
    }
    Ok(rows)
}

/// NOT NULL and varchar(n), checked before anything is written.
fn check_row(def: &TableDef, row: &[Value]) -> cairn_types::Result<()> {
    for (column, value) in def.columns.iter().zip(row) {
        match (value, &column.data_type) {
            (Value::Null, _) if !column.nullable => {
                return Err(CairnError::NotNullViolation { column: column.name.clone() })
            }
            (Value::Text(text), DataType::Varchar { max_len: Some(max) }) if text.chars().count() > *max as usize => {
                return Err(CairnError::StringDataRightTruncation(format!(
                    "value too long for type character varying({max})"
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

#[async_trait]
impl TableProvider for DataTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.defaults.get(column)
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|filter| match self.key_condition(filter) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let partition = access::table_partition(&self.actor, &self.def, TableOp::Read).map_err(to_df)?;
        let conditions: Vec<KeyCondition> = filters.iter().filter_map(|f| self.key_condition(f)).collect();
        let path = row_path(&self.def, &conditions).map_err(to_df)?;
        let projection: Vec<usize> = match projection {
            Some(projection) => projection.clone(),
            None => (0..self.def.columns.len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&projection)?);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Arc::new(TableScanExec {
            catalog: Arc::clone(&self.catalog),
            def: Arc::clone(&self.def),
            partition,
            path,
            conditions,
            projection,
            limit,
            schema,
            properties: Arc::new(properties),
        }))
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if insert_op != InsertOp::Append {
            return Err(to_df(CairnError::FeatureNotSupported(format!("{insert_op} is not supported"))));
        }
        let partition = access::table_partition(&self.actor, &self.def, TableOp::Write).map_err(to_df)?;
        let sink = RowSink {
            catalog: Arc::clone(&self.catalog),
            def: Arc::clone(&self.def),
            partition,
            schema: Arc::clone(&self.schema),
        };
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }
}

/// Equality on one primary-key column: `k = v`, `k IN (…)`, or an OR of
/// equalities (as DataFusion rewrites short IN lists).
#[derive(Debug, Clone)]
pub(crate) struct KeyCondition {
    /// Position in the primary key.
    key_position: usize,
    values: Vec<Value>,
}

impl DataTable {
    fn key_condition(&self, filter: &Expr) -> Option<KeyCondition> {
        match filter {
            Expr::BinaryExpr(binary) if binary.op == Operator::Or => {
                let mut left = self.key_condition(&binary.left)?;
                let right = self.key_condition(&binary.right)?;
                if left.key_position != right.key_position {
                    return None;
                }
                left.values.extend(right.values);
                Some(left)
            }
            Expr::BinaryExpr(binary) if binary.op == Operator::Eq => match (binary.left.as_ref(), binary.right.as_ref()) {
                (Expr::Column(column), Expr::Literal(value, _)) | (Expr::Literal(value, _), Expr::Column(column)) => {
                    self.key_values(&column.name, std::slice::from_ref(value))
                }
                _ => None,
            },
            Expr::InList(in_list) if !in_list.negated => {
                let Expr::Column(column) = in_list.expr.as_ref() else { return None };
                let values = in_list
                    .list
                    .iter()
                    .map(|e| match e {
                        Expr::Literal(value, _) => Some(value.clone()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                self.key_values(&column.name, &values)
            }
            _ => None,
        }
    }

    /// The literals, as stored values of key column `name` (NULL matches nothing).
    fn key_values(&self, name: &str, literals: &[ScalarValue]) -> Option<KeyCondition> {
        let key_position = self
            .def
            .primary_key
            .iter()
            .position(|&i| self.def.columns[usize::from(i)].name == name)?;
        let column = &self.def.columns[usize::from(self.def.primary_key[key_position])];
        let target = arrow_type(&column.data_type).ok()?;
        let mut values = Vec::with_capacity(literals.len());
        for literal in literals {
            if literal.is_null() {
                continue;
            }
            let array = literal.cast_to(&target).ok()?.to_array().ok()?;
            values.push(read_value(&array, &column.data_type, 0).ok()?);
        }
        Some(KeyCondition { key_position, values })
    }
}

/// The most point-gets or prefix scans one scan will issue before it falls
/// back to scanning the partition.
const MAX_KEY_LOOKUPS: usize = 1024;

/// How a scan finds its rows.
#[derive(Debug, Clone)]
enum RowPath {
    /// Every row of the partition.
    FullScan,
    /// Gets by full primary key.
    PointGet(Vec<Vec<u8>>),
    /// Scans of the rows whose leading key columns have these values.
    PrefixScan(Vec<Vec<u8>>),
}

/// Chooses a path from the key conditions: equality on every key column is
/// a set of point gets; on the leading ones, a set of prefix scans.
fn row_path(def: &TableDef, conditions: &[KeyCondition]) -> cairn_types::Result<RowPath> {
    let mut combinations: Vec<Vec<&Value>> = vec![vec![]];
    let mut leading = 0;
    for position in 0..def.primary_key.len() {
        let Some(condition) = conditions.iter().find(|c| c.key_position == position) else { break };
        let next: Vec<Vec<&Value>> = combinations
            .iter()
            .flat_map(|prefix| {
                condition.values.iter().map(move |value| {
                    let mut combination = prefix.clone();
                    combination.push(value);
                    combination
                })
            })
            .collect();
        if next.len() > MAX_KEY_LOOKUPS {
            break;
        }
        combinations = next;
        leading += 1;
    }
    if leading == 0 {
        return Ok(RowPath::FullScan);
    }
    let mut keys = combinations
        .iter()
        .map(|values| encode_primary_key(values))
        .collect::<cairn_types::Result<Vec<_>>>()?;
    // `k IN (1, 1)` must not read the row twice; sorted keys also read in key order.
    keys.sort();
    keys.dedup();
    Ok(if leading == def.primary_key.len() { RowPath::PointGet(keys) } else { RowPath::PrefixScan(keys) })
}

/// Reads one partition of a table at execution time.
struct TableScanExec {
    catalog: Arc<Catalog>,
    def: Arc<TableDef>,
    partition: Partition,
    path: RowPath,
    /// Pushed-down key conditions, all re-checked on every row read.
    conditions: Vec<KeyCondition>,
    projection: Vec<usize>,
    limit: Option<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for TableScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TableScanExec({})", self.def.name)
    }
}

impl DisplayAs for TableScanExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let columns: Vec<&str> = self.projection.iter().map(|&i| self.def.columns[i].name.as_str()).collect();
        let partition = match self.partition {
            Partition::Shared => "shared".to_owned(),
            Partition::User(user) => format!("user {user}"),
        };
        let keys: Vec<&str> =
            self.def.primary_key.iter().map(|&i| self.def.columns[usize::from(i)].name.as_str()).collect();
        let access = match &self.path {
            RowPath::FullScan => "FullScan".to_owned(),
            RowPath::PointGet(keys_) => format!("PointGet({}: {} keys)", keys.join(", "), keys_.len()),
            RowPath::PrefixScan(prefixes) => format!("PrefixScan({}: {} prefixes)", keys.join(", "), prefixes.len()),
        };
        write!(
            f,
            "TableScanExec: table={}, partition={partition}, access={access}, projection=[{}]",
            self.def.name,
            columns.join(", ")
        )?;
        if let Some(limit) = self.limit {
            write!(f, ", limit={limit}")?;
        }
        Ok(())
    }
}

impl TableScanExec {
    fn read(&self) -> cairn_types::Result<RecordBatch> {
        let snapshot = self.catalog.snapshot();
        let (table, partition) = (self.def.id, self.partition);
        let found: Box<dyn Iterator<Item = cairn_types::Result<StoredRow>> + '_> = match &self.path {
            RowPath::FullScan => Box::new(snapshot.scan_rows(table, partition)),
            RowPath::PointGet(keys) => {
                Box::new(keys.iter().filter_map(|key| snapshot.get_row(table, partition, key).transpose()))
            }
            RowPath::PrefixScan(prefixes) => Box::new(
                prefixes.iter().flat_map(|prefix| snapshot.scan_rows_by_key_prefix(table, partition, prefix)),
            ),
        };
        let now = Timestamp::now();
        let mut rows: Vec<Vec<Value>> = Vec::new();
        for row in found {
            if self.limit.is_some_and(|limit| rows.len() >= limit) {
                break;
            }
            let row = row?;
            if !row.is_expired(now) && self.matches(&row.values) {
                rows.push(row.values);
            }
        }
        let arrays = self
            .projection
            .iter()
            .map(|&i| {
                let column = &self.def.columns[i];
                build_column(&column.name, &column.data_type, &rows, i)
            })
            .collect::<cairn_types::Result<Vec<ArrayRef>>>()?;
        RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )
        .map_err(|e| CairnError::Internal(e.to_string()))
    }
}

impl TableScanExec {
    fn matches(&self, row: &[Value]) -> bool {
        self.conditions.iter().all(|condition| {
            let column = usize::from(self.def.primary_key[condition.key_position]);
            row.get(column).is_some_and(|value| condition.values.contains(value))
        })
    }
}

impl ExecutionPlan for TableScanExec {
    fn name(&self) -> &str {
        "TableScanExec"
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
        let batch = self.read().map_err(to_df)?;
        Ok(Box::pin(MemoryStream::try_new(vec![batch], Arc::clone(&self.schema), None)?))
    }
}

/// Writes inserted rows: all of a statement's rows in one atomic batch, so
/// a duplicate key or a NULL in a NOT NULL column writes nothing.
struct RowSink {
    catalog: Arc<Catalog>,
    def: Arc<TableDef>,
    partition: Partition,
    schema: SchemaRef,
}

impl fmt::Debug for RowSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RowSink({})", self.def.name)
    }
}

impl DisplayAs for RowSink {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "RowSink: table={}", self.def.name)
    }
}

impl RowSink {
    /// Checks and converts one input row.
    fn row(&self, batch: &RecordBatch, row: usize) -> cairn_types::Result<Vec<Value>> {
        let values = self
            .def
            .columns
            .iter()
            .zip(batch.columns())
            .map(|(column, array)| read_value(array, &column.data_type, row))
            .collect::<cairn_types::Result<Vec<_>>>()?;
        check_row(&self.def, &values)?;
        Ok(values)
    }

    fn primary_key(&self, row: &[Value]) -> cairn_types::Result<Vec<u8>> {
        if self.def.primary_key.is_empty() {
            return encode_primary_key(&[&Value::Int64(crate::snowflake::next_id())]);
        }
        let values: Vec<&Value> = self.def.primary_key.iter().map(|&i| &row[usize::from(i)]).collect();
        encode_primary_key(&values)
    }
}

/// `Key (a, b)=(1, x) already exists.`, as PostgreSQL words it.
fn describe_key(def: &TableDef, row: &[Value]) -> String {
    let columns: Vec<&str> = def.primary_key.iter().map(|&i| def.columns[usize::from(i)].name.as_str()).collect();
    let values: Vec<String> = def
        .primary_key
        .iter()
        .map(|&i| match &row[usize::from(i)] {
            Value::Text(text) => text.clone(),
            Value::Int16(v) => v.to_string(),
            Value::Int32(v) => v.to_string(),
            Value::Int64(v) => v.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    format!("Key ({})=({}) already exists.", columns.join(", "), values.join(", "))
}

#[async_trait]
impl DataSink for RowSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(&self, mut data: SendableRecordBatchStream, _context: &Arc<TaskContext>) -> DfResult<u64> {
        let mut rows = Vec::new();
        while let Some(batch) = data.next().await {
            let batch = batch?;
            for row in 0..batch.num_rows() {
                let values = self.row(&batch, row).map_err(to_df)?;
                let key = self.primary_key(&values).map_err(to_df)?;
                rows.push((key, values));
            }
        }
        let count = rows.len() as u64;
        let expires_at = self.def.ttl_seconds.map(|ttl| Timestamp::now().saturating_add(std::time::Duration::from_secs(ttl)));
        let (catalog, def, partition) = (Arc::clone(&self.catalog), Arc::clone(&self.def), self.partition);
        let constraint = format!("{}_pkey", def.name);
        tokio::task::spawn_blocking(move || {
            catalog.store().write(|w| {
                for (key, values) in rows {
                    let detail = describe_key(&def, &values);
                    let row = StoredRow { expires_at, values };
                    w.insert_row(def.id, partition, &key, &row, &constraint).map_err(|error| match error {
                        CairnError::UniqueViolation { constraint, .. } => CairnError::UniqueViolation { constraint, detail },
                        other => other,
                    })?;
                }
                Ok(())
            })
        })
        .await
        .map_err(|e| to_df(CairnError::Internal(format!("insert task failed: {e}"))))?
        .map_err(to_df)?;
        Ok(count)
    }
}
