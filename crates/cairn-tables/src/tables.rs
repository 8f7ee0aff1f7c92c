//! User and shared tables as DataFusion tables: scans read the caller's
//! partition through one snapshot; INSERT writes one atomic batch, or a
//! bulk load when it is large and the partition empty.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use cairn_catalog::{access, Actor, Catalog, TableOp};
use cairn_store::{encode_primary_key, row_key, KeyRange, Load, LoadRow, Partition, StoredRow, Writer};
use cairn_types::{CairnError, DataType, TableDef, TableKind, Timestamp, Value};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result as DfResult;
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, ScalarUDF, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use futures::StreamExt;

use crate::values::table_schema;
use crate::table_scan::{key_condition, row_path, KeyCondition, Partitions, TableScan, BATCH_ROWS};
use crate::error::to_df;
use crate::conflict::ConflictAction;
use crate::scan_cache::ScanCache;
use crate::scan_exec::ScanExec;
use crate::cancel::WriteGate;
use crate::txn::{with_writes, BlockRow, StatementSnapshot, TxCell, WRITE_INLINE_AT_MOST};
use crate::values::read_value;

pub struct DataTable {
    catalog: Arc<Catalog>,
    scan_cache: Arc<ScanCache>,
    def: Arc<TableDef>,
    actor: Actor,
    schema: SchemaRef,
    defaults: HashMap<String, Expr>,
    transaction: TxCell,
    statement: StatementSnapshot,
    returned: InsertSlot,
}

impl fmt::Debug for DataTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataTable({})", self.def.name)
    }
}

impl DataTable {
    pub fn new(
        catalog: Arc<Catalog>,
        scan_cache: Arc<ScanCache>,
        def: TableDef,
        actor: Actor,
        snowflake: &Arc<ScalarUDF>,
        transaction: TxCell,
        statement: StatementSnapshot,
        returned: InsertSlot,
    ) -> cairn_types::Result<Self> {
        let schema = table_schema(&def)?;
        let mut defaults = HashMap::new();
        for column in &def.columns {
            if let Some(sql) = &column.default {
                defaults.insert(column.name.clone(), crate::defaults::to_expr(sql, &actor.username, snowflake)?);
            }
        }
        Ok(DataTable { catalog, scan_cache, def: Arc::new(def), actor, schema, defaults, transaction, statement, returned })
    }
}

impl DataTable {
    pub fn def(&self) -> &TableDef {
        &self.def
    }

    /// A scan of `projection` answering `filters`, if every filter is a key
    /// condition (the direct path, [`crate::direct`]), reading in key order
    /// (descending if asked) and stopping after `limit` rows.
    pub fn key_scan(
        &self,
        filters: &[&Expr],
        projection: Vec<usize>,
        limit: Option<usize>,
        descending: bool,
    ) -> cairn_types::Result<Option<TableScan>> {
        let mut conditions = Vec::with_capacity(filters.len());
        for filter in filters {
            match key_condition(&self.def, filter) {
                Some(condition) => conditions.push(condition),
                None => return Ok(None),
            }
        }
        self.table_scan(conditions, projection, limit, descending).map(Some)
    }

    /// The scan of `projection` that answers `conditions`, as this session
    /// may read the table.
    pub fn table_scan(
        &self,
        conditions: Vec<KeyCondition>,
        projection: Vec<usize>,
        limit: Option<usize>,
        reverse: bool,
    ) -> cairn_types::Result<TableScan> {
        let schema = Arc::new(self.schema.project(&projection).map_err(|e| CairnError::Internal(e.to_string()))?);
        self.table_scan_as(conditions, projection, limit, reverse, schema)
    }

    /// As [`DataTable::table_scan`], with the batches' schema given:
    /// `schema` must have the projected columns' types, and no column
    /// that is not nullable where the table's is.
    pub fn table_scan_as(
        &self,
        conditions: Vec<KeyCondition>,
        projection: Vec<usize>,
        limit: Option<usize>,
        reverse: bool,
        schema: SchemaRef,
    ) -> cairn_types::Result<TableScan> {
        let partition = access::table_partition(&self.actor, &self.def, TableOp::Read)?;
        let (path, conditions) = row_path(&self.def, conditions)?;
        Ok(TableScan {
            catalog: Arc::clone(&self.catalog),
            cache: Arc::clone(&self.scan_cache),
            def: Arc::clone(&self.def),
            partition,
            transaction: self.transaction.clone(),
            statement: Some(self.statement.clone()),
            path,
            conditions,
            projection,
            limit,
            at_most: None,
            reverse,
            batch_rows: BATCH_ROWS,
            partitions: Partitions::one(),
            schema,
        })
    }

    /// Inserts `batch` (a column per table column, in table order) as an
    /// INSERT without ON CONFLICT does: every row or none. Returns the count.
    pub async fn insert_batch(&self, batch: &RecordBatch) -> cairn_types::Result<u64> {
        let mut changes = self.changes()?;
        changes.keep_rows = false;
        stage_inserts(&self.def, &mut changes, std::slice::from_ref(batch), expiry(&self.def))?;
        Ok(changes.apply().await?.count)
    }

    fn changes(&self) -> cairn_types::Result<Changes> {
        Ok(Changes {
            catalog: Arc::clone(&self.catalog),
            def: Arc::clone(&self.def),
            partition: access::table_partition(&self.actor, &self.def, TableOp::Write)?,
            transaction: self.transaction.clone(),
            changes: Vec::new(),
            on_conflict: None,
            keep_rows: true,
        })
    }

    /// Fails unless the session may write this table.
    pub fn check_write(&self) -> cairn_types::Result<()> {
        access::table_partition(&self.actor, &self.def, TableOp::Write).map(|_| ())
    }

    /// The full row keys of rows the statement read (in the open
    /// transaction, which every UPDATE and DELETE runs in). With a primary
    /// key they follow from the values; a table without one is read to find
    /// its hidden keys, matching rows by value: rows with equal values are
    /// interchangeable, since any WHERE selects all of them or none.
    fn keys_of(&self, changes: &Changes, rows: &[Vec<Value>]) -> cairn_types::Result<Vec<Vec<u8>>> {
        if !self.def.primary_key.is_empty() {
            return rows.iter().map(|row| changes.key_of(row)).collect();
        }
        let mut transaction = self.transaction.lock();
        let transaction = transaction
            .as_mut()
            .ok_or_else(|| CairnError::Internal("UPDATE or DELETE outside a transaction".into()))?;
        let (table, partition) = (self.def.id, changes.partition);
        let all = KeyRange::all();
        let now = Timestamp::now();
        let (start, end) = all.row_keys(table, partition);
        let writes = transaction.read_range(&start, &end);
        let stored = transaction.snapshot().scan_encoded_rows(table, partition, &all, false);
        // Keys by the row's encoded values, padded to the table's width
        // (rows written before a column was added are shorter), so each
        // selected row finds its key in one lookup.
        let width = self.def.columns.len();
        let by_values_key = |values: &[Value]| -> cairn_types::Result<Vec<u8>> {
            let mut padded = values.to_vec();
            padded.resize(width, Value::Null);
            cairn_store::value::encode_value(&padded)
        };
        let mut by_values: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
        for row in with_writes(stored, &writes, false) {
            let (key, row) = match row? {
                BlockRow::Stored(row) => (row.key().to_vec(), row.to_row()?),
                BlockRow::Written { key, row } => (key.to_vec(), row.clone()),
            };
            if !row.is_expired(now) {
                by_values.entry(by_values_key(&row.values)?).or_default().push(key);
            }
        }
        rows.iter()
            .map(|row| {
                let keys = by_values.get_mut(&by_values_key(row)?);
                keys.and_then(Vec::pop).ok_or(CairnError::SerializationFailure)
            })
            .collect()
    }

    /// DELETE: removes the rows the statement selected (read through the
    /// same partition), all or none.
    pub async fn delete_rows(&self, batches: Vec<RecordBatch>) -> cairn_types::Result<Vec<Vec<Value>>> {
        let mut changes = self.changes()?;
        let rows = batches_to_rows(&self.def, &batches, 0)?;
        let keys = self.keys_of(&changes, &rows)?;
        for (key, row) in keys.into_iter().zip(rows) {
            changes.changes.push(Change::Delete(key, row));
        }
        Ok(changes.apply().await?.into_rows())
    }

    /// UPDATE: each input row holds the new values, then the old ones. A row
    /// whose key changes moves: it is deleted under the old key and inserted
    /// under the new one (23505 if that is taken). All or none.
    pub async fn update_rows(&self, batches: Vec<RecordBatch>) -> cairn_types::Result<Vec<Vec<Value>>> {
        if self.def.kind == TableKind::Stream {
            return Err(CairnError::FeatureNotSupported(
                "stream tables are append-only: UPDATE is not supported on them".into(),
            ));
        }
        let mut changes = self.changes()?;
        let new_rows = batches_to_rows(&self.def, &batches, 0)?;
        let old_rows = batches_to_rows(&self.def, &batches, self.def.columns.len())?;
        let old_keys = self.keys_of(&changes, &old_rows)?;
        let (mut moved_out, mut moved_in) = (Vec::new(), Vec::new());
        for ((values, old_key), old) in new_rows.into_iter().zip(old_keys).zip(old_rows) {
            check_row(&self.def, &values)?;
            let key = match self.def.primary_key.is_empty() {
                true => old_key.clone(),
                false => changes.key_of(&values)?,
            };
            if key == old_key {
                changes.changes.push(Change::Update(key, StoredRow { expires_at: None, values }));
            } else {
                moved_out.push(Change::Delete(old_key, old));
                moved_in.push(Change::Insert(key, StoredRow { expires_at: None, values }));
            }
        }
        // Every old key is freed before any new one is taken, so that
        // `SET k = k + 1` does not collide with itself.
        let (updated, moved) = (changes.changes.len(), moved_in.len());
        changes.changes.extend(moved_out);
        changes.changes.extend(moved_in);
        // The rows written: in place, then moved (not the removals that moved them).
        let mut affected = changes.apply().await?.into_rows();
        let moved_rows = affected.split_off(affected.len().saturating_sub(moved));
        affected.truncate(updated);
        affected.extend(moved_rows);
        Ok(affected)
    }
}

/// One change a statement makes to a row, by full row key.
enum Change {
    /// Fails with 23505 if a live row is there.
    Insert(Vec<u8>, StoredRow),
    Update(Vec<u8>, StoredRow),
    /// Counts only if a live row was there; the values are what it held.
    Delete(Vec<u8>, Vec<Value>),
}

/// From how many changes a write first checks whether the table's
/// partition is empty, so that its inserts need not look for taken keys
/// one by one ([`Writer::expect_inserts_into`]). Below it the seek would
/// cost about as much as the reads it saves.
const BULK_INSERT_AT_LEAST: usize = 1024;

/// A statement's changes to one partition of a table, applied all or none:
/// to the open transaction's write set, or (autocommit) to the store in
/// one atomic batch.
struct Changes {
    catalog: Arc<Catalog>,
    def: Arc<TableDef>,
    partition: Partition,
    transaction: TxCell,
    changes: Vec<Change>,
    /// For INSERT: what to do when a key is taken (None: 23505).
    on_conflict: Option<ConflictAction>,
    /// Whether [`Changes::apply`] returns the rows' values, or only counts
    /// them (a million-row COPY need not copy a million rows to count them).
    keep_rows: bool,
}

/// The rows a statement's changes wrote (for DELETE: removed).
struct Affected {
    count: u64,
    /// Their values, in order, if the statement keeps them.
    rows: Option<Vec<Vec<Value>>>,
}

impl Affected {
    fn new(keep_rows: bool, capacity: usize) -> Affected {
        Affected { count: 0, rows: keep_rows.then(|| Vec::with_capacity(capacity)) }
    }

    fn push(&mut self, values: &[Value]) {
        self.count += 1;
        if let Some(rows) = &mut self.rows {
            rows.push(values.to_vec());
        }
    }

    /// The rows kept (none if the statement did not keep them).
    fn into_rows(self) -> Vec<Vec<Value>> {
        self.rows.unwrap_or_default()
    }
}

impl Changes {
    /// The full row key of a row: its primary key, or a new hidden one.
    fn key_of(&self, row: &[Value]) -> cairn_types::Result<Vec<u8>> {
        let primary_key = if self.def.primary_key.is_empty() {
            encode_primary_key(&[&Value::Int64(crate::snowflake::next_id())])?
        } else {
            let values: Vec<&Value> = self.def.primary_key.iter().map(|&i| &row[usize::from(i)]).collect();
            encode_primary_key(&values)?
        };
        Ok(row_key(self.def.id, self.partition, &primary_key))
    }

    fn constraint(&self) -> String {
        format!("{}_pkey", self.def.name)
    }

    /// 23505 for inserting `row`, its DETAIL naming the key as PostgreSQL's does.
    fn duplicate(&self, row: &[Value]) -> CairnError {
        CairnError::UniqueViolation { constraint: self.constraint(), detail: describe_key(&self.def, row) }
    }

    /// What an INSERT of `row` writes, given the live row already under its
    /// key (`first`: whether this statement meets the key for the first
    /// time). `None`: nothing (DO NOTHING).
    fn resolve_conflict(
        &self,
        first: bool,
        existing: Option<StoredRow>,
        row: &StoredRow,
    ) -> cairn_types::Result<Option<StoredRow>> {
        let Some(existing) = existing else {
            return Ok(Some(row.clone()));
        };
        match &self.on_conflict {
            None => Err(self.duplicate(&row.values)),
            Some(ConflictAction::DoNothing) => Ok(None),
            Some(ConflictAction::DoUpdate(_)) if !first => Err(CairnError::CardinalityViolation(
                "ON CONFLICT DO UPDATE command cannot affect row a second time".into(),
            )),
            Some(ConflictAction::DoUpdate(update)) => match update.apply(&existing.values, &row.values)? {
                Some(values) => {
                    check_row(&self.def, &values)?;
                    Ok(Some(StoredRow { expires_at: existing.expires_at, values }))
                }
                // The WHERE did not hold: the existing row stays, uncounted.
                None => Ok(None),
            },
        }
    }

    /// Applies the changes; returns the rows they wrote (for DELETE, the
    /// rows they removed), for the row count and RETURNING.
    async fn apply(self) -> cairn_types::Result<Affected> {
        if let Some(transaction) = self.transaction.lock().as_mut() {
            return self.stage(transaction);
        }
        if self.changes.len() <= WRITE_INLINE_AT_MOST {
            let store = self.catalog.store().clone();
            return store.write_async(|w| self.write_changes(w)).await;
        }
        tokio::task::spawn_blocking(move || {
            let affected = self.catalog.store().write(|w| self.write_changes(w))?;
            // A million rows take a tenth of a second to free: not before
            // the statement answers.
            tokio::task::spawn_blocking(move || drop(self));
            Ok(affected)
        })
        .await
        .map_err(|e| CairnError::Internal(format!("write task failed: {e}")))?
    }

    /// Inserts `batches` (a column per table column, in table order) as a
    /// bulk load ([`cairn_store::Store::load`]) if they are large, the
    /// partition is empty, and the statement is a plain INSERT or COPY
    /// outside a transaction. The rows go from Arrow to their stored bytes
    /// in one pass, on every core. `None`, having written nothing, when it
    /// cannot be a load; then insert through a batch, which also names the
    /// row that repeats a key, as PostgreSQL would.
    async fn load(&self, batches: &[RecordBatch], expires_at: Option<Timestamp>) -> cairn_types::Result<Option<u64>> {
        let store = self.catalog.store();
        // The rows' own bytes: a batch sliced from a larger one would
        // report the whole buffer from get_array_memory_size.
        let bytes = || -> usize {
            batches.iter().flat_map(RecordBatch::columns).map(|column| column.to_data().get_slice_memory_size().unwrap_or(0)).sum()
        };
        let may_load = self.on_conflict.is_none()
            && !self.keep_rows
            && self.transaction.lock().is_none()
            && bytes() >= LOAD_AT_LEAST_BYTES
            && store.partition_is_empty(self.def.id, self.partition)?;
        if !may_load {
            return Ok(None);
        }
        let rows = convert_inserts(&self.def, self, batches, expires_at, |key, row| LoadRow::new(&key, row))?;
        let count = rows.len() as u64;
        let (store, def, partition) = (store.clone(), Arc::clone(&self.def), self.partition);
        let loaded = tokio::task::spawn_blocking(move || store.load(&def, partition, rows))
            .await
            .map_err(|e| CairnError::Internal(format!("load task failed: {e}")))??;
        tracing::debug!(table = %self.def.name, rows = count, outcome = ?loaded, "bulk load");
        match loaded {
            Load::Loaded => Ok(Some(count)),
            Load::PartitionNotEmpty | Load::KeyRepeats => Ok(None),
            Load::DefinitionChanged => Err(self.altered()),
        }
    }

    /// Rows are positional: they must be written with the definition they
    /// were built for. (In a transaction, the ALTER's touch of the table
    /// fails the COMMIT instead.)
    fn altered(&self) -> CairnError {
        CairnError::FeatureNotSupported(format!(
            "table \"{}\" was altered or dropped since this statement was planned; run or prepare it again",
            self.def.name
        ))
    }

    fn write_changes(&self, w: &mut Writer) -> cairn_types::Result<Affected> {
        let constraint = self.constraint();
        if w.get::<TableDef>(&self.def.id)?.as_ref() != Some(&*self.def) {
            return Err(self.altered());
        }
        if self.on_conflict.is_none() && self.changes.len() >= BULK_INSERT_AT_LEAST {
            w.expect_inserts_into(self.def.id, self.partition);
        }
        let now = Timestamp::now();
        let mut affected = Affected::new(self.keep_rows, self.changes.len());
        let mut claimed: HashMap<Vec<u8>, StoredRow> = HashMap::new();
        for change in &self.changes {
            match change {
                Change::Insert(key, row) if self.on_conflict.is_none() => {
                    w.insert_row_at(key, row, &constraint).map_err(|e| match e {
                        CairnError::UniqueViolation { .. } => self.duplicate(&row.values),
                        other => other,
                    })?;
                    affected.push(&row.values);
                }
                Change::Insert(key, row) => {
                    // A row this statement already wrote counts as taken.
                    let first = !claimed.contains_key(key);
                    let existing = match claimed.get(key) {
                        Some(written) => Some(StoredRow::clone(written)),
                        None => w.get_row_at(key)?.filter(|row| !row.is_expired(now)),
                    };
                    if let Some(written) = self.resolve_conflict(first, existing, row)? {
                        w.set_row_at(key, Some(&written))?;
                        affected.push(&written.values);
                        claimed.insert(key.clone(), written);
                    }
                }
                Change::Update(key, row) => {
                    w.set_row_at(key, Some(row))?;
                    affected.push(&row.values);
                }
                Change::Delete(key, values) => {
                    if w.get_row_at(key)?.is_some_and(|row| !row.is_expired(now)) {
                        w.set_row_at(key, None)?;
                        affected.push(values);
                    }
                }
            }
        }
        Ok(affected)
    }

    /// Inside a transaction: check against what the transaction sees, then
    /// add to its write set (nothing is added if any change fails).
    fn stage(&self, transaction: &mut crate::txn::Transaction) -> cairn_types::Result<Affected> {
        let now = Timestamp::now();
        let mut staged = Staged::with_capacity(self.changes.len());
        let mut inserted = std::collections::HashSet::new();
        let mut affected = Affected::new(self.keep_rows, self.changes.len());
        for change in &self.changes {
            match change {
                Change::Insert(key, row) => {
                    let first = inserted.insert(key.clone());
                    // A row this statement already wrote counts as taken.
                    let existing = match staged.newest(key) {
                        Some(written) => written.clone(),
                        None => transaction.get(key)?,
                    }
                    .filter(|row| !row.is_expired(now));
                    if let Some(written) = self.resolve_conflict(first, existing, row)? {
                        affected.push(&written.values);
                        staged.push(key, Some(written));
                    }
                }
                Change::Update(key, row) => {
                    staged.push(key, Some(row.clone()));
                    affected.push(&row.values);
                }
                Change::Delete(key, values) => {
                    if transaction.live(key, now)? {
                        staged.push(key, None);
                        affected.push(values);
                    }
                }
            }
        }
        transaction.apply(staged.writes);
        Ok(affected)
    }
}

/// A statement's writes in a block, in order, with where each key's
/// newest one is: finding it by a scan of the writes made a large INSERT
/// in a block quadratic (40,000 rows took 12 s, a million hours).
struct Staged {
    writes: Vec<(Vec<u8>, Option<StoredRow>)>,
    newest: std::collections::HashMap<Vec<u8>, usize>,
}

impl Staged {
    fn with_capacity(capacity: usize) -> Staged {
        Staged { writes: Vec::with_capacity(capacity), newest: std::collections::HashMap::with_capacity(capacity) }
    }

    fn push(&mut self, key: &[u8], row: Option<StoredRow>) {
        self.newest.insert(key.to_vec(), self.writes.len());
        self.writes.push((key.to_vec(), row));
    }

    /// The newest row this statement wrote under `key` (`Some(None)`: it
    /// deleted it), if it wrote one.
    fn newest(&self, key: &[u8]) -> Option<&Option<StoredRow>> {
        self.newest.get(key).map(|&at| &self.writes[at].1)
    }
}

/// The rows of query results shaped like the table, from the columns
/// starting at `offset`.
fn batches_to_rows(def: &TableDef, batches: &[RecordBatch], offset: usize) -> cairn_types::Result<Vec<Vec<Value>>> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                def.columns
                    .iter()
                    .zip(batch.columns().iter().skip(offset))
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
                return Err(CairnError::NotNullViolation {
                    table: def.name.clone(),
                    column: column.name.clone(),
                    detail: failing_row(row),
                })
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
            .map(|filter| match key_condition(&self.def, filter) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let conditions: Vec<KeyCondition> = filters.iter().filter_map(|f| key_condition(&self.def, f)).collect();
        let projection: Vec<usize> = match projection {
            Some(projection) => projection.clone(),
            None => (0..self.def.columns.len()).collect(),
        };
        let mut scan = self.table_scan(conditions, projection, limit, false).map_err(to_df)?;
        scan.batch_rows = state.config().batch_size();
        let scan = scan.split_into(state.config().target_partitions());
        let schema = Arc::clone(&scan.schema);
        Ok(Arc::new(ScanExec::new(scan, schema)))
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
        let template = self.changes().map_err(to_df)?;
        let (catalog, def, partition, transaction) =
            (template.catalog, template.def, template.partition, template.transaction);
        let sink = RowSink {
            def: Arc::clone(&def),
            schema: Arc::clone(&self.schema),
            changes: Box::new(move || Changes {
                catalog: Arc::clone(&catalog),
                def: Arc::clone(&def),
                partition,
                transaction: transaction.clone(),
                changes: Vec::new(),
                on_conflict: None,
                keep_rows: true,
            }),
            returned: Arc::clone(&self.returned),
        };
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }
}

/// Writes inserted rows: all of a statement's rows or none, so a duplicate
/// key or a NULL in a NOT NULL column writes nothing.
struct RowSink {
    def: Arc<TableDef>,
    schema: SchemaRef,
    /// Builds the statement's changes (partition and transaction decided at planning).
    changes: Box<dyn Fn() -> Changes + Send + Sync>,
    /// Where the inserted rows go when the statement has RETURNING.
    returned: InsertSlot,
}

/// What a session tells its next INSERT, and what the INSERT hands back:
/// the ON CONFLICT action, and (when `Some`) the rows written, for RETURNING.
#[derive(Default)]
pub struct InsertOptions {
    pub on_conflict: Option<ConflictAction>,
    pub returned: Option<Vec<Vec<Value>>>,
    /// Shared with the statement's guard: see [`WriteGate`].
    pub gate: WriteGate,
}

/// Shared between a session and its tables.
pub type InsertSlot = Arc<std::sync::Mutex<InsertOptions>>;

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

/// When rows inserted now expire (stream tables).
fn expiry(def: &TableDef) -> Option<Timestamp> {
    def.ttl_seconds.map(|ttl| Timestamp::now().saturating_add(std::time::Duration::from_secs(ttl)))
}

/// Checks and converts each row of `batches` (a column per table column,
/// in table order) and adds it to `changes` as an insert.
fn stage_inserts(
    def: &TableDef,
    changes: &mut Changes,
    batches: &[RecordBatch],
    expires_at: Option<Timestamp>,
) -> cairn_types::Result<()> {
    let staged = convert_inserts(def, changes, batches, expires_at, |key, row| {
        Ok(Change::Insert(key, StoredRow { expires_at: row.expires_at, values: std::mem::take(&mut row.values) }))
    })?;
    match changes.changes.is_empty() {
        true => changes.changes = staged,
        false => changes.changes.extend(staged),
    }
    Ok(())
}

/// Reads each row of `batches` (a column per table column, in table
/// order), checks it and works out its key, and hands both to `convert`
/// (which may take the row's values). Returns what `convert` made, in
/// row order.
///
/// Many rows are converted in contiguous parts, one per core, and the
/// parts appended in order, so the results and the first error are those
/// of a conversion row by row. (For a COPY of 1M rows this was as long as
/// the write itself, on one core.)
fn convert_inserts<T: Send>(
    def: &TableDef,
    changes: &Changes,
    batches: &[RecordBatch],
    expires_at: Option<Timestamp>,
    convert: impl Fn(Vec<u8>, &mut StoredRow) -> cairn_types::Result<T> + Sync,
) -> cairn_types::Result<Vec<T>> {
    let pieces: Vec<(&RecordBatch, std::ops::Range<usize>)> = batches
        .iter()
        .flat_map(|batch| {
            let rows = batch.num_rows();
            (0..rows).step_by(STAGING_PIECE_ROWS).map(move |start| (batch, start..(start + STAGING_PIECE_ROWS).min(rows)))
        })
        .collect();
    let convert_pieces = |pieces: &[(&RecordBatch, std::ops::Range<usize>)]| {
        let mut converted = Vec::with_capacity(pieces.iter().map(|(_, range)| range.len()).sum());
        let mut row = StoredRow { expires_at, values: Vec::new() };
        for (batch, range) in pieces {
            for index in range.clone() {
                row.values.clear();
                row.values.reserve(def.columns.len());
                for (column, array) in def.columns.iter().zip(batch.columns()) {
                    row.values.push(read_value(array, &column.data_type, index)?);
                }
                check_row(def, &row.values)?;
                let key = changes.key_of(&row.values)?;
                converted.push(convert(key, &mut row)?);
            }
        }
        Ok(converted)
    };
    match batches.iter().map(RecordBatch::num_rows).sum::<usize>() < STAGE_IN_PARALLEL_AT_LEAST {
        true => convert_pieces(&pieces),
        false => in_parts(&pieces, convert_pieces),
    }
}

/// `f` over contiguous parts of `items`, one part per core, its results
/// appended in the order of the items; the error of the earliest part
/// that fails wins, as it would one item at a time.
fn in_parts<T: Sync, U: Send>(
    items: &[T],
    f: impl Fn(&[T]) -> cairn_types::Result<Vec<U>> + Sync,
) -> cairn_types::Result<Vec<U>> {
    let threads = crate::cores().min(MAX_STAGING_THREADS);
    if threads < 2 || items.len() < 2 {
        return f(items);
    }
    let f = &f;
    let parts: Vec<cairn_types::Result<Vec<U>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items.chunks(items.len().div_ceil(threads)).map(|part| scope.spawn(move || f(part))).collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|_| Err(CairnError::Internal("converting rows panicked".into()))))
            .collect()
    });
    let parts = parts.into_iter().collect::<cairn_types::Result<Vec<_>>>()?;
    let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        all.extend(part);
    }
    Ok(all)
}

/// From how many rows an insert is converted on more than one thread.
const STAGE_IN_PARALLEL_AT_LEAST: usize = 16 * 1024;

/// The rows converted as one piece; a thread takes contiguous pieces.
const STAGING_PIECE_ROWS: usize = 8192;

/// The most threads one insert is converted on.
const MAX_STAGING_THREADS: usize = 8;

/// From how much data (as Arrow holds it) a plain insert into an empty
/// partition is written as a bulk load: a quarter of fjall's 64 MiB
/// memtable. Less goes through a batch, which costs a little more to
/// write but leaves the rows in the memtable, where a point read cost
/// about 13% less than from a table file (measured on 2026-12-04 with
/// 100k rows, 3.5 MB); more would soon be flushed to a file anyway.
const LOAD_AT_LEAST_BYTES: usize = 16 * 1024 * 1024;

/// `Key (a, b)=(1, x) already exists.`, as PostgreSQL words it.
fn describe_key(def: &TableDef, row: &[Value]) -> String {
    let columns: Vec<&str> = def.primary_key.iter().map(|&i| def.columns[usize::from(i)].name.as_str()).collect();
    let values: Vec<String> = def.primary_key.iter().map(|&i| crate::pg_text::value(&row[usize::from(i)])).collect();
    format!("Key ({})=({}) already exists.", columns.join(", "), values.join(", "))
}

/// `Failing row contains (null, 3).`, as PostgreSQL words it.
fn failing_row(row: &[Value]) -> String {
    let values: Vec<String> = row.iter().map(crate::pg_text::value).collect();
    format!("Failing row contains ({}).", values.join(", "))
}

#[async_trait]
impl DataSink for RowSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(&self, mut data: SendableRecordBatchStream, _context: &Arc<TaskContext>) -> DfResult<u64> {
        let mut changes = (self.changes)();
        let gate = {
            let slot = self.returned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            changes.on_conflict = slot.on_conflict.clone();
            changes.keep_rows = slot.returned.is_some();
            slot.gate.clone()
        };
        // All of them first, so that a large insert is converted on every core.
        let mut batches = Vec::new();
        while let Some(batch) = data.next().await {
            batches.push(batch?);
        }
        // From here the rows are written whatever happens to the statement.
        gate.begin_write().map_err(to_df)?;
        let expires_at = expiry(&self.def);
        if let Some(count) = changes.load(&batches, expires_at).await.map_err(to_df)? {
            return Ok(count);
        }
        stage_inserts(&self.def, &mut changes, &batches, expires_at).map_err(to_df)?;
        let affected = changes.apply().await.map_err(to_df)?;
        let count = affected.count;
        if let Some(returned) = self.returned.lock().unwrap_or_else(std::sync::PoisonError::into_inner).returned.as_mut() {
            returned.extend(affected.into_rows());
        }
        Ok(count)
    }
}
