//! `pg_catalog`: the PostgreSQL catalog tables clients read to discover
//! the server, built from the live CairnDB catalog at each scan, so a table
//! created a moment ago is there. One module per catalog table; the OIDs
//! of CairnDB objects are derived from their ids (see [`oid`]), so they are
//! the same in every session and across restarts.
//!
//! The tables of features CairnDB lacks (triggers, publications, …)
//! exist with no rows, so client queries that join them plan and run.

mod deparse;
mod functions;
mod tables;
pub mod types;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use cairn_catalog::{Actor, Catalog};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, Session, TableProvider};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use cairn_tables::scan_exec::{ScanExec, ScanSource};

pub use functions::{catalog_functions, REGCLASS_FUNCTION};

/// The schema name.
pub const PG_CATALOG: &str = "pg_catalog";
/// The SQL standard's catalog views (`tables::information_schema`).
pub const INFORMATION_SCHEMA: &str = "information_schema";

/// OIDs: PostgreSQL's own for built-in objects, and fixed offsets from
/// CairnDB ids for CairnDB's, in ranges that do not overlap.
pub mod oid {
    use cairn_types::{NamespaceId, TableId, UserId};

    pub const PG_CATALOG_NAMESPACE: u32 = 11;
    pub const INFORMATION_SCHEMA_NAMESPACE: u32 = 13_000;
    pub const SYSTEM_NAMESPACE: u32 = 16_383;
    pub const DATABASE: u32 = 16_384;
    /// System tables: this plus their position in `SYSTEM_TABLE_NAMES`.
    pub const SYSTEM_TABLE_BASE: u32 = 17_000;
    pub const HEAP_AM: u32 = 2;
    pub const BTREE_AM: u32 = 403;
    const NAMESPACE_BASE: u64 = 20_000;
    const ROLE_BASE: u64 = 100_000;
    const TABLE_BASE: u64 = 1_000_000;
    /// A table's primary key index (`<table>_pkey` in pg_class, pg_index).
    const PRIMARY_KEY_INDEX_BASE: u64 = 1_500_000_000;
    /// A table's primary key constraint (pg_constraint).
    const PRIMARY_KEY_CONSTRAINT_BASE: u64 = 2_500_000_000;

    pub fn namespace(id: NamespaceId) -> u32 {
        u32::try_from(NAMESPACE_BASE + id.0).unwrap_or(u32::MAX)
    }

    pub fn role(id: UserId) -> u32 {
        u32::try_from(ROLE_BASE + id.0).unwrap_or(u32::MAX)
    }

    pub fn user_of(oid: u32) -> Option<UserId> {
        u64::from(oid)
            .checked_sub(ROLE_BASE)
            .filter(|id| *id < TABLE_BASE - ROLE_BASE)
            .map(UserId)
    }

    pub fn table(id: TableId) -> u32 {
        u32::try_from(TABLE_BASE + id.0).unwrap_or(u32::MAX)
    }

    pub fn table_of(oid: u32) -> Option<TableId> {
        in_range(oid, TABLE_BASE, PRIMARY_KEY_INDEX_BASE)
    }

    pub fn primary_key_index(id: TableId) -> u32 {
        u32::try_from(PRIMARY_KEY_INDEX_BASE + id.0).unwrap_or(u32::MAX)
    }

    /// The table whose primary key index has this OID.
    pub fn table_of_primary_key_index(oid: u32) -> Option<TableId> {
        in_range(oid, PRIMARY_KEY_INDEX_BASE, PRIMARY_KEY_CONSTRAINT_BASE)
    }

    pub fn primary_key_constraint(id: TableId) -> u32 {
        u32::try_from(PRIMARY_KEY_CONSTRAINT_BASE + id.0).unwrap_or(u32::MAX)
    }

    /// The table whose primary key constraint has this OID.
    pub fn table_of_primary_key_constraint(oid: u32) -> Option<TableId> {
        in_range(oid, PRIMARY_KEY_CONSTRAINT_BASE, u64::from(u32::MAX))
    }

    fn in_range(oid: u32, base: u64, end: u64) -> Option<TableId> {
        let oid = u64::from(oid);
        (base..end).contains(&oid).then(|| TableId(oid - base))
    }
}

/// One catalog table: its columns and how its rows are built.
pub trait PgTable: Send + Sync + 'static {
    /// The schema it is in.
    const SCHEMA: &'static str = PG_CATALOG;
    const NAME: &'static str;
    fn schema() -> SchemaRef;
    fn batch(catalog: &Catalog, actor: &Actor) -> cairn_types::Result<RecordBatch>;
}

/// Declares the pg_catalog tables once: their names (for
/// [`is_catalog_table`]) and their registration in the schema.
macro_rules! catalog_tables {
    ($($table:ty),* $(,)?) => {
        const TABLE_NAMES: &[&str] = &[$(<$table as PgTable>::NAME),*];

        fn register_tables(schema: &MemorySchemaProvider, catalog: &Arc<Catalog>, actor: &Actor) -> DfResult<()> {
            $(register::<$table>(schema, catalog, actor)?;)*
            Ok(())
        }
    };
}

catalog_tables!(
    tables::PgNamespace,
    tables::PgClass,
    tables::PgRoles,
    tables::PgUser,
    tables::PgAuthMembers,
    tables::PgDatabase,
    tables::PgAm,
    tables::PgType,
    tables::PgAttribute,
    tables::PgAttrdef,
    tables::PgCollation,
    tables::PgIndex,
    tables::PgConstraint,
    tables::PgTablespace,
    tables::PgSettings,
    tables::PgStatActivity,
    tables::PgPolicy,
    tables::PgStatisticExt,
    tables::PgPublication,
    tables::PgPublicationNamespace,
    tables::PgPublicationRel,
    tables::PgInherits,
    tables::PgDescription,
    tables::PgShdescription,
    tables::PgEnum,
    tables::PgRange,
    tables::PgTrigger,
    tables::PgRewrite,
    tables::PgProc,
    tables::PgSequence,
    tables::PgDepend,
    tables::PgForeignTable,
    tables::PgPartitionedTable,
    tables::PgExtension,
    tables::PgEventTrigger,
    tables::PgOpclass,
    tables::PgTables,
    tables::PgIndexes,
);

fn register<T: PgTable>(
    schema: &MemorySchemaProvider,
    catalog: &Arc<Catalog>,
    actor: &Actor,
) -> DfResult<()> {
    let provider = PgTableProvider::<T> {
        catalog: Arc::clone(catalog),
        actor: actor.clone(),
        _table: Default::default(),
    };
    schema.register_table(T::NAME.to_owned(), Arc::new(provider))?;
    Ok(())
}

/// Whether `name` is a pg_catalog table (found without the schema, as in
/// PostgreSQL, which searches pg_catalog first).
pub fn is_catalog_table(name: &str) -> bool {
    TABLE_NAMES.contains(&name) || name == CURSORS_TABLE
}

/// `pg_cursors`: kept by the session itself, which alone knows its cursors.
pub const CURSORS_TABLE: &str = "pg_cursors";

/// The information_schema views, as `actor` sees them.
pub fn information_schema(catalog: &Arc<Catalog>, actor: &Actor) -> DfResult<Arc<dyn SchemaProvider>> {
    use tables::information_schema::{Columns, KeyColumnUsage, Schemata, TableConstraints, Tables, Views};
    let schema = MemorySchemaProvider::new();
    register::<Schemata>(&schema, catalog, actor)?;
    register::<Tables>(&schema, catalog, actor)?;
    register::<Columns>(&schema, catalog, actor)?;
    register::<TableConstraints>(&schema, catalog, actor)?;
    register::<KeyColumnUsage>(&schema, catalog, actor)?;
    register::<Views>(&schema, catalog, actor)?;
    Ok(Arc::new(schema))
}

/// Every pg_catalog table, as `actor` sees it.
pub fn pg_catalog_schema(
    catalog: &Arc<Catalog>,
    actor: &Actor,
) -> DfResult<Arc<dyn SchemaProvider>> {
    let schema = MemorySchemaProvider::new();
    register_tables(&schema, catalog, actor)?;
    Ok(Arc::new(schema))
}

struct PgTableProvider<T> {
    catalog: Arc<Catalog>,
    actor: Actor,
    _table: std::marker::PhantomData<T>,
}

impl<T: PgTable> fmt::Debug for PgTableProvider<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", T::SCHEMA, T::NAME)
    }
}

#[async_trait]
impl<T: PgTable> TableProvider for PgTableProvider<T> {
    fn schema(&self) -> SchemaRef {
        T::schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let schema = match projection {
            Some(projection) => Arc::new(T::schema().project(projection)?),
            None => T::schema(),
        };
        let source = PgScan::<T> {
            catalog: Arc::clone(&self.catalog),
            actor: self.actor.clone(),
            projection: projection.cloned(),
            _table: Default::default(),
        };
        Ok(Arc::new(ScanExec::new(source, schema)))
    }
}

/// Builds the whole (small) table at execution time, then projects it.
struct PgScan<T> {
    catalog: Arc<Catalog>,
    actor: Actor,
    projection: Option<Vec<usize>>,
    _table: std::marker::PhantomData<T>,
}

impl<T: PgTable> ScanSource for PgScan<T> {
    const NAME: &'static str = "PgCatalogScanExec";

    fn describe(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "table={}.{}", T::SCHEMA, T::NAME)
    }

    fn read(&self) -> cairn_types::Result<Vec<RecordBatch>> {
        let batch = T::batch(&self.catalog, &self.actor)?;
        let batch = match &self.projection {
            Some(projection) => batch
                .project(projection)
                .map_err(|e| cairn_types::CairnError::Internal(e.to_string()))?,
            None => batch,
        };
        Ok(vec![batch])
    }
}
