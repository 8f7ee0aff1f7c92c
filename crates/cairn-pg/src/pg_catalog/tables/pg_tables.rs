use super::*;

/// `pg_tables`: the tables of every namespace, as the view of that name
/// shows them (tools list a schema's tables from it).
pub struct PgTables;

impl PgTable for PgTables {
    const NAME: &'static str = "pg_tables";

    fn schema() -> SchemaRef {
        schema(&[
            ("schemaname", DataType::Utf8),
            ("tablename", DataType::Utf8),
            ("tableowner", DataType::Utf8),
            ("tablespace", DataType::Utf8),
            ("hasindexes", DataType::Boolean),
            ("hasrules", DataType::Boolean),
            ("hastriggers", DataType::Boolean),
            ("rowsecurity", DataType::Boolean),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let snapshot = catalog.snapshot();
        let mut rows = Vec::new();
        for namespace in namespaces(catalog)? {
            for table in catalog.tables(&snapshot, namespace.id)? {
                rows.push((namespace.name.clone(), table));
            }
        }
        let owner = owning_user(catalog).map(|user| user.username);
        batch(
            Self::schema(),
            vec![
                texts(&rows, |(namespace, _)| Some(namespace.clone())),
                texts(&rows, |(_, table)| Some(table.name.clone())),
                texts(&rows, |_| owner.clone()),
                texts(&rows, |_| None),
                bools(&rows, |(_, table)| !table.primary_key.is_empty()),
                bools(&rows, |_| false),
                bools(&rows, |_| false),
                bools(&rows, |_| false),
            ],
        )
    }
}

/// `pg_indexes`: each table's indexes (its primary key's) with their
/// definitions, as `pg_get_indexdef` writes them.
pub struct PgIndexes;

impl PgTable for PgIndexes {
    const NAME: &'static str = "pg_indexes";

    fn schema() -> SchemaRef {
        schema(&[
            ("schemaname", DataType::Utf8),
            ("tablename", DataType::Utf8),
            ("indexname", DataType::Utf8),
            ("tablespace", DataType::Utf8),
            ("indexdef", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let snapshot = catalog.snapshot();
        let mut rows = Vec::new();
        for namespace in namespaces(catalog)? {
            for table in catalog.tables(&snapshot, namespace.id)? {
                if !table.primary_key.is_empty() {
                    rows.push((namespace.name.clone(), table));
                }
            }
        }
        batch(
            Self::schema(),
            vec![
                texts(&rows, |(namespace, _)| Some(namespace.clone())),
                texts(&rows, |(_, table)| Some(table.name.clone())),
                texts(&rows, |(_, table)| Some(primary_key_name(table))),
                texts(&rows, |_| None),
                texts(&rows, |(namespace, table)| Some(crate::pg_catalog::deparse::primary_key_index(table, namespace, true))),
            ],
        )
    }
}
