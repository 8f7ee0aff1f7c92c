//! The DataFusion catalog every session sees: `system` plus one schema per
//! namespace, read live from the CairnDB catalog, so a namespace created by
//! another session is visible at once and a dropped one is gone.

use std::sync::Arc;

use cairn_catalog::Catalog;
use cairn_types::Namespace;
use datafusion::catalog::{CatalogProvider, MemorySchemaProvider, SchemaProvider};
use datafusion::error::{DataFusionError, Result};

use crate::system::SYSTEM_SCHEMA;

pub(crate) struct NamespaceCatalog {
    catalog: Arc<Catalog>,
    system: Arc<dyn SchemaProvider>,
}

impl std::fmt::Debug for NamespaceCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamespaceCatalog")
    }
}

impl NamespaceCatalog {
    pub fn new(catalog: Arc<Catalog>, system: Arc<dyn SchemaProvider>) -> Self {
        NamespaceCatalog { catalog, system }
    }
}

impl CatalogProvider for NamespaceCatalog {
    fn schema_names(&self) -> Vec<String> {
        let snapshot = self.catalog.snapshot();
        let mut names = vec![SYSTEM_SCHEMA.to_owned()];
        names.extend(snapshot.scan::<Namespace>().filter_map(|n| n.ok()).map(|n| n.name));
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name == SYSTEM_SCHEMA {
            return Some(Arc::clone(&self.system));
        }
        let snapshot = self.catalog.snapshot();
        match self.catalog.namespace(&snapshot, name) {
            // Namespaces hold no tables yet: an empty schema, so that
            // names in it resolve to "does not exist" rather than to
            // "no such schema".
            Ok(Some(_)) => Some(Arc::new(MemorySchemaProvider::new())),
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
        Err(DataFusionError::NotImplemented(
            "schemas are CairnDB namespaces: use CREATE NAMESPACE".into(),
        ))
    }
}
