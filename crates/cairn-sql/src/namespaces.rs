//! The DataFusion catalog every session sees: `system` plus one schema per
//! namespace, read live from the CairnDB catalog, so a namespace or table
//! created by another session is visible at once and a dropped one is gone.

use std::sync::Arc;

use async_trait::async_trait;
use cairn_catalog::{Actor, Catalog};
use cairn_types::Namespace;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::ScalarUDF;

use cairn_tables::error::to_df;
use cairn_tables::scan_cache::ScanCache;
use cairn_tables::system::SYSTEM_SCHEMA;
use cairn_tables::tables::{DataTable, InsertSlot};
use cairn_tables::txn::{StatementSnapshot, TxCell};

/// What a session's schemas need to build table providers.
#[derive(Clone)]
pub(crate) struct SchemaContext {
    pub catalog: Arc<Catalog>,
    pub scan_cache: Arc<ScanCache>,
    pub actor: Actor,
    pub snowflake: Arc<ScalarUDF>,
    /// The session's open transaction, read and written by its tables.
    pub transaction: TxCell,
    /// Outside a transaction block, the running statement's snapshot.
    pub statement: StatementSnapshot,
    /// ON CONFLICT for the next INSERT, and the rows it returns.
    pub returned: InsertSlot,
}

pub(crate) struct NamespaceCatalog {
    context: SchemaContext,
    system: Arc<dyn SchemaProvider>,
    pg_catalog: Arc<dyn SchemaProvider>,
    information_schema: Arc<dyn SchemaProvider>,
}

impl std::fmt::Debug for NamespaceCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamespaceCatalog")
    }
}

impl NamespaceCatalog {
    pub fn new(
        context: SchemaContext,
        system: Arc<dyn SchemaProvider>,
        pg_catalog: Arc<dyn SchemaProvider>,
        information_schema: Arc<dyn SchemaProvider>,
    ) -> Self {
        NamespaceCatalog { context, system, pg_catalog, information_schema }
    }
}

impl CatalogProvider for NamespaceCatalog {
    fn schema_names(&self) -> Vec<String> {
        let snapshot = self.context.catalog.snapshot();
        let mut names = vec![
            SYSTEM_SCHEMA.to_owned(),
            cairn_pg::pg_catalog::PG_CATALOG.to_owned(),
            cairn_pg::pg_catalog::INFORMATION_SCHEMA.to_owned(),
        ];
        names.extend(snapshot.scan::<Namespace>().filter_map(|n| n.ok()).map(|n| n.name));
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name == SYSTEM_SCHEMA {
            return Some(Arc::clone(&self.system));
        }
        if name == cairn_pg::pg_catalog::PG_CATALOG {
            return Some(Arc::clone(&self.pg_catalog));
        }
        if name == cairn_pg::pg_catalog::INFORMATION_SCHEMA {
            return Some(Arc::clone(&self.information_schema));
        }
        let catalog = &self.context.catalog;
        match catalog.namespace(&catalog.snapshot(), name) {
            Ok(Some(namespace)) => Some(Arc::new(NamespaceSchema { context: self.context.clone(), namespace })),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(%error, "reading namespace {name}");
                None
            }
        }
    }

    fn register_schema(
        &self,
        _name: &str,
        _schema: Arc<dyn SchemaProvider>,
    ) -> Result<Option<Arc<dyn SchemaProvider>>> {
        Err(DataFusionError::NotImplemented("schemas are CairnDB namespaces: use CREATE NAMESPACE".into()))
    }
}

/// The tables of one namespace.
struct NamespaceSchema {
    context: SchemaContext,
    namespace: Namespace,
}

impl std::fmt::Debug for NamespaceSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NamespaceSchema({})", self.namespace.name)
    }
}

#[async_trait]
impl SchemaProvider for NamespaceSchema {
    fn table_names(&self) -> Vec<String> {
        let catalog = &self.context.catalog;
        match catalog.tables(&catalog.snapshot(), self.namespace.id) {
            Ok(tables) => tables.into_iter().map(|t| t.name).collect(),
            Err(error) => {
                tracing::error!(%error, "listing tables of {}", self.namespace.name);
                Vec::new()
            }
        }
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let catalog = &self.context.catalog;
        let Some(def) = catalog.table(&catalog.snapshot(), &self.namespace.name, name).map_err(to_df)? else {
            return Ok(None);
        };
        let table = DataTable::new(
            Arc::clone(catalog),
            Arc::clone(&self.context.scan_cache),
            def,
            self.context.actor.clone(),
            &self.context.snowflake,
            self.context.transaction.clone(),
            self.context.statement.clone(),
            Arc::clone(&self.context.returned),
        )
        .map_err(to_df)?;
        Ok(Some(Arc::new(table)))
    }

    fn table_exist(&self, name: &str) -> bool {
        let catalog = &self.context.catalog;
        matches!(catalog.table(&catalog.snapshot(), &self.namespace.name, name), Ok(Some(_)))
    }
}
