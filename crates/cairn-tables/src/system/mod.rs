//! The `system.*` tables: one module per table, one generic provider.
//!
//! Each table says, in a [`SystemTableDef`], its columns (each with a
//! function that builds its Arrow array from rows, so a scan builds only
//! the projected columns), which columns answer equality exactly, how it
//! picks an access path from those equalities, and how it reads rows for a
//! path. [`SystemTableProvider`] does the rest: `Exact` pushdown, the
//! caller's row scope, LIMIT, and an `EXPLAIN` line that names the path.

mod columns;
mod jobs;
mod live_queries;
mod namespaces;
mod sessions;
mod storages;
mod tables;
mod users;

use std::fmt;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch,
    RecordBatchOptions, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use cairn_catalog::{access, Actor, Catalog, RowScope, SystemTable};
use cairn_store::Snapshot;
use cairn_types::{Timestamp, UserId};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, Session, TableProvider};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;

use crate::equality::{equality, Equality};
use crate::error::to_df;
use crate::txn::ReadView;
use crate::scan_exec::{ScanExec, ScanSource};

/// The schema (namespace) the system tables live in.
pub const SYSTEM_SCHEMA: &str = "system";

/// The system tables' names, in a fixed order (pg_catalog gives them OIDs by it).
pub const SYSTEM_TABLE_NAMES: [&str; 8] =
    ["users", "namespaces", "tables", "columns", "storages", "jobs", "live_queries", "sessions"];

/// Registers every system table, as seen by `actor`, in a fresh schema.
/// Their rows are read as `view` says (a statement's snapshot, or its
/// transaction block's).
pub fn system_schema(catalog: &Arc<Catalog>, actor: &Actor, view: &ReadView) -> DfResult<Arc<dyn SchemaProvider>> {
    let schema = MemorySchemaProvider::new();
    fn add<T: SystemTableDef>(
        schema: &MemorySchemaProvider,
        catalog: &Arc<Catalog>,
        actor: &Actor,
        view: &ReadView,
    ) -> DfResult<()> {
        schema.register_table(T::NAME.to_owned(), Arc::new(SystemTableProvider::<T>::new(catalog, actor, view)))?;
        Ok(())
    }
    add::<users::Users>(&schema, catalog, actor, view)?;
    add::<namespaces::Namespaces>(&schema, catalog, actor, view)?;
    add::<tables::Tables>(&schema, catalog, actor, view)?;
    add::<columns::Columns>(&schema, catalog, actor, view)?;
    add::<storages::Storages>(&schema, catalog, actor, view)?;
    add::<jobs::Jobs>(&schema, catalog, actor, view)?;
    add::<live_queries::LiveQueries>(&schema, catalog, actor, view)?;
    add::<sessions::Sessions>(&schema, catalog, actor, view)?;
    Ok(Arc::new(schema))
}

/// One column of a system table.
pub struct ColumnSpec<R> {
    pub name: &'static str,
    pub data_type: DataType,
    pub nullable: bool,
    /// Builds this column's array for the given rows.
    pub build: fn(&[&R]) -> ArrayRef,
    /// If set, equality on this column is answered exactly: rows are
    /// compared on this value after the access path has read them.
    pub equality: Option<fn(&R) -> ScalarValue>,
}

/// `column = value` or `column IN (values)`, values cast to the column's type.
#[derive(Debug, Clone)]
pub struct Condition {
    pub column: &'static str,
    column_index: usize,
    pub values: Vec<ScalarValue>,
}

/// The conditions pushed into one scan.
#[derive(Debug, Clone, Default)]
pub struct Conditions(Vec<Condition>);

impl Conditions {
    /// The values the first condition on `column` allows.
    pub fn values(&self, column: &str) -> Option<&[ScalarValue]> {
        self.0.iter().find(|c| c.column == column).map(|c| c.values.as_slice())
    }
}

/// How rows are found.
#[derive(Debug, Clone, PartialEq)]
pub enum PathKind {
    /// Gets by primary key.
    PointGet,
    /// Lookups in the named secondary index.
    IndexLookup(&'static str),
    /// Reads everything.
    FullScan,
}

/// An access path: its kind, the columns it keys on, and the keys (one
/// entry per key column per lookup, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessPath {
    pub kind: PathKind,
    pub columns: Vec<&'static str>,
    pub keys: Vec<ScalarValue>,
}

impl AccessPath {
    pub fn full_scan() -> Self {
        AccessPath { kind: PathKind::FullScan, columns: vec![], keys: vec![] }
    }

    pub fn point_get(column: &'static str, keys: &[ScalarValue]) -> Self {
        AccessPath { kind: PathKind::PointGet, columns: vec![column], keys: keys.to_vec() }
    }

    pub fn index(index: &'static str, column: &'static str, keys: &[ScalarValue]) -> Self {
        AccessPath { kind: PathKind::IndexLookup(index), columns: vec![column], keys: keys.to_vec() }
    }
}

impl fmt::Display for AccessPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = || {
            self.keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
        };
        match &self.kind {
            PathKind::FullScan => f.write_str("FullScan"),
            PathKind::PointGet => write!(f, "PointGet({} IN ({}))", self.columns.join(", "), keys()),
            PathKind::IndexLookup(index) => {
                write!(f, "IndexLookup({index}: ({}) = ({}))", self.columns.join(", "), keys())
            }
        }
    }
}

/// Rows produced by a table for one access path, read lazily.
pub type RowIter<'a, R> = Box<dyn Iterator<Item = cairn_types::Result<R>> + 'a>;

/// What one system table is.
pub trait SystemTableDef: Send + Sync + 'static {
    type Row: Send + Sync + 'static;
    const NAME: &'static str;
    /// Which access rule applies.
    const ACCESS: SystemTable;

    fn columns() -> Vec<ColumnSpec<Self::Row>>;

    /// The user a row belongs to, for callers who may see only their own rows.
    fn owner(row: &Self::Row) -> Option<UserId>;

    fn choose_path(conditions: &Conditions) -> AccessPath;

    fn fetch<'a>(
        catalog: &'a Catalog,
        snapshot: &'a Snapshot,
        path: &'a AccessPath,
    ) -> RowIter<'a, Self::Row>;
}

pub struct SystemTableProvider<T: SystemTableDef> {
    catalog: Arc<Catalog>,
    actor: Actor,
    view: ReadView,
    columns: Arc<Vec<ColumnSpec<T::Row>>>,
    schema: SchemaRef,
}

impl<T: SystemTableDef> fmt::Debug for SystemTableProvider<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SystemTableProvider({})", T::NAME)
    }
}

impl<T: SystemTableDef> SystemTableProvider<T> {
    fn new(catalog: &Arc<Catalog>, actor: &Actor, view: &ReadView) -> Self {
        let columns = T::columns();
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| Field::new(c.name, c.data_type.clone(), c.nullable))
                .collect::<Vec<_>>(),
        ));
        SystemTableProvider {
            catalog: Arc::clone(catalog),
            actor: actor.clone(),
            view: view.clone(),
            columns: Arc::new(columns),
            schema,
        }
    }

    /// The condition `filter` expresses, if it is one this table answers exactly.
    fn condition(&self, filter: &Expr) -> Option<Condition> {
        let Equality { column, values: literals } = equality(filter)?;
        let column_index = self.columns.iter().position(|c| c.name == column)?;
        let spec = &self.columns[column_index];
        spec.equality?;
        let mut values = Vec::with_capacity(literals.len());
        for literal in literals {
            match literal {
                // IS NULL: the typed NULL, which compares equal to NULL rows.
                None => values.push(ScalarValue::try_from(&spec.data_type).ok()?),
                // `= NULL` is never true: leave it out.
                Some(value) if value.is_null() => {}
                Some(value) => values.push(value.cast_to(&spec.data_type).ok()?),
            }
        }
        Some(Condition { column: spec.name, column_index, values })
    }
}

#[async_trait]
impl<T: SystemTableDef> TableProvider for SystemTableProvider<T> {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|filter| match self.condition(filter) {
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
        let scope = access::system_table_scope(&self.actor, T::ACCESS).map_err(to_df)?;
        let conditions = Conditions(filters.iter().filter_map(|f| self.condition(f)).collect());
        let path = T::choose_path(&conditions);
        let projection: Vec<usize> = match projection {
            Some(projection) => projection.clone(),
            None => (0..self.columns.len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&projection)?);
        let scan = SystemScan::<T> {
            catalog: Arc::clone(&self.catalog),
            view: self.view.clone(),
            columns: Arc::clone(&self.columns),
            scope,
            path,
            conditions,
            projection,
            limit,
            schema: Arc::clone(&schema),
        };
        Ok(Arc::new(ScanExec::new(scan, schema)))
    }
}

impl<T: SystemTableDef> SystemScan<T> {
    /// The rows the caller may see that match the conditions, up to the LIMIT.
    fn rows(&self, snapshot: &cairn_store::Snapshot) -> cairn_types::Result<Vec<T::Row>> {
        let mut rows = Vec::new();
        for row in T::fetch(&self.catalog, snapshot, &self.path) {
            if self.limit.is_some_and(|limit| rows.len() >= limit) {
                break;
            }
            let row = row?;
            let visible = match self.scope {
                RowScope::All => true,
                RowScope::OwnedBy(user) => T::owner(&row) == Some(user),
            };
            if visible && self.matches(&row) {
                rows.push(row);
            }
        }
        Ok(rows)
    }
}

/// Reads a system table through one access path at execution time.
pub struct SystemScan<T: SystemTableDef> {
    catalog: Arc<Catalog>,
    view: ReadView,
    columns: Arc<Vec<ColumnSpec<T::Row>>>,
    scope: RowScope,
    path: AccessPath,
    conditions: Conditions,
    projection: Vec<usize>,
    limit: Option<usize>,
    schema: SchemaRef,
}

impl<T: SystemTableDef> ScanSource for SystemScan<T> {
    const NAME: &'static str = "SystemScanExec";

    fn describe(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let columns: Vec<&str> = self.projection.iter().map(|&i| self.columns[i].name).collect();
        write!(f, "table=system.{}, access={}", T::NAME, self.path)?;
        write!(f, ", projection=[{}]", columns.join(", "))?;
        if let Some(limit) = self.limit {
            write!(f, ", limit={limit}")?;
        }
        Ok(())
    }

    fn read(&self) -> cairn_types::Result<Vec<RecordBatch>> {
        let rows = self.view.read(self.catalog.store(), |snapshot| self.rows(snapshot))?;
        let refs: Vec<&T::Row> = rows.iter().collect();
        let arrays: Vec<ArrayRef> =
            self.projection.iter().map(|&i| (self.columns[i].build)(&refs)).collect();
        let batch = RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(refs.len())),
        )
        .map_err(|e| cairn_types::CairnError::Internal(e.to_string()))?;
        Ok(vec![batch])
    }
}

impl<T: SystemTableDef> SystemScan<T> {
    /// Every pushed condition holds (the access path may over-approximate).
    fn matches(&self, row: &T::Row) -> bool {
        self.conditions.0.iter().all(|condition| {
            let Some(value_of) = self.columns[condition.column_index].equality else {
                return false;
            };
            let value = value_of(row);
            condition.values.contains(&value)
        })
    }
}

// --- column builders shared by the tables ---------------------------------

pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Ids are u64 inside, BIGINT outside; they never come near i64::MAX.
pub fn id_value(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

pub fn int64_column<R>(rows: &[&R], f: impl Fn(&R) -> Option<i64>) -> ArrayRef {
    Arc::new(rows.iter().map(|r| f(r)).collect::<Int64Array>())
}

pub fn int32_column<R>(rows: &[&R], f: impl Fn(&R) -> Option<i32>) -> ArrayRef {
    Arc::new(rows.iter().map(|r| f(r)).collect::<Int32Array>())
}

pub fn float64_column<R>(rows: &[&R], f: impl Fn(&R) -> Option<f64>) -> ArrayRef {
    Arc::new(rows.iter().map(|r| f(r)).collect::<Float64Array>())
}

pub fn bool_column<R>(rows: &[&R], f: impl Fn(&R) -> Option<bool>) -> ArrayRef {
    Arc::new(rows.iter().map(|r| f(r)).collect::<BooleanArray>())
}

pub fn text_column<'r, R: 'r>(
    rows: &[&'r R],
    f: impl Fn(&'r R) -> Option<&'r str>,
) -> ArrayRef {
    Arc::new(rows.iter().map(|r| f(r)).collect::<StringArray>())
}

pub fn owned_text_column<R>(rows: &[&R], f: impl Fn(&R) -> Option<String>) -> ArrayRef {
    Arc::new(rows.iter().map(|r| f(r)).collect::<StringArray>())
}

pub fn timestamp_column<R>(rows: &[&R], f: impl Fn(&R) -> Option<Timestamp>) -> ArrayRef {
    let array: TimestampMicrosecondArray = rows.iter().map(|r| f(r).map(Timestamp::as_micros)).collect();
    Arc::new(array.with_timezone("UTC"))
}

pub fn int64_value(v: Option<i64>) -> ScalarValue {
    ScalarValue::Int64(v)
}

pub fn text_value(v: Option<&str>) -> ScalarValue {
    ScalarValue::Utf8(v.map(str::to_owned))
}

pub fn timestamp_value(v: Option<Timestamp>) -> ScalarValue {
    ScalarValue::TimestampMicrosecond(v.map(Timestamp::as_micros), Some("UTC".into()))
}

/// The i64 inside an Int64 key, if that is what it is.
pub fn key_i64(key: &ScalarValue) -> Option<i64> {
    match key {
        ScalarValue::Int64(v) => *v,
        _ => None,
    }
}

/// The text inside a Utf8 key.
pub fn key_str(key: &ScalarValue) -> Option<&str> {
    match key {
        ScalarValue::Utf8(v) => v.as_deref(),
        _ => None,
    }
}

/// Reads entities by id keys, skipping ids that do not exist or do not fit.
pub fn point_gets<'a, E: cairn_store::entity::Entity>(
    snapshot: &'a Snapshot,
    keys: &'a [ScalarValue],
    to_key: fn(u64) -> E::Key,
) -> RowIter<'a, E> {
    Box::new(keys.iter().filter_map(move |key| {
        let id = u64::try_from(key_i64(key)?).ok()?;
        snapshot.get::<E>(&to_key(id)).transpose()
    }))
}
