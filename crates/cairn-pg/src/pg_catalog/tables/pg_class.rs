use super::*;

/// `pg_class`: the tables (relkind `r`), their primary key indexes (`i`)
/// and the system tables (`v`).
pub struct PgClass;

struct Relation {
    oid: u32,
    name: String,
    namespace: u32,
    kind: &'static str,
    columns: i16,
    has_index: bool,
}

impl PgTable for PgClass {
    const NAME: &'static str = "pg_class";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("relname", DataType::Utf8),
            ("relnamespace", DataType::UInt32),
            ("reltype", DataType::UInt32),
            ("reloftype", DataType::UInt32),
            ("relowner", DataType::UInt32),
            ("relam", DataType::UInt32),
            ("relfilenode", DataType::UInt32),
            ("reltablespace", DataType::UInt32),
            ("relpages", DataType::Int32),
            ("reltuples", DataType::Float32),
            ("relallvisible", DataType::Int32),
            ("reltoastrelid", DataType::UInt32),
            ("relhasindex", DataType::Boolean),
            ("relisshared", DataType::Boolean),
            ("relpersistence", DataType::Utf8),
            ("relkind", DataType::Utf8),
            ("relnatts", DataType::Int16),
            ("relchecks", DataType::Int16),
            ("relhasrules", DataType::Boolean),
            ("relhastriggers", DataType::Boolean),
            ("relhassubclass", DataType::Boolean),
            ("relrowsecurity", DataType::Boolean),
            ("relforcerowsecurity", DataType::Boolean),
            ("relispopulated", DataType::Boolean),
            ("relreplident", DataType::Utf8),
            ("relispartition", DataType::Boolean),
            ("relrewrite", DataType::UInt32),
            ("reloptions", acl_type()),
            ("relacl", acl_type()),
            ("relpartbound", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let snapshot = catalog.snapshot();
        let mut rows = Vec::new();
        for namespace in namespaces(catalog)? {
            for table in catalog.tables(&snapshot, namespace.id)? {
                rows.push(relation(&table, oid::namespace(namespace.id)));
                if !table.primary_key.is_empty() {
                    rows.push(Relation {
                        oid: oid::primary_key_index(table.id),
                        name: primary_key_name(&table),
                        namespace: oid::namespace(namespace.id),
                        kind: "i",
                        columns: i16::try_from(table.primary_key.len()).unwrap_or(i16::MAX),
                        has_index: false,
                    });
                }
            }
        }
        for (i, name) in cairn_tables::system::SYSTEM_TABLE_NAMES.iter().enumerate() {
            rows.push(Relation {
                oid: oid::SYSTEM_TABLE_BASE + u32::try_from(i).unwrap_or_default(),
                name: (*name).to_owned(),
                namespace: oid::SYSTEM_NAMESPACE,
                kind: "v",
                columns: 0,
                has_index: false,
            });
        }
        let owner = owner(catalog);
        let zero = |rows: &[Relation]| oids(rows, |_| 0);
        let none = |rows: &[Relation]| texts(rows, |_| None);
        let no = |rows: &[Relation]| bools(rows, |_| false);
        batch(
            Self::schema(),
            vec![
                oids(&rows, |r| r.oid),
                texts(&rows, |r| Some(r.name.clone())),
                oids(&rows, |r| r.namespace),
                zero(&rows),
                zero(&rows),
                oids(&rows, |_| owner),
                oids(&rows, |r| match r.kind {
                    "r" => oid::HEAP_AM,
                    "i" => oid::BTREE_AM,
                    _ => 0,
                }),
                zero(&rows),
                zero(&rows),
                Arc::new(Int32Array::from_iter_values(rows.iter().map(|_| 0))),
                Arc::new(Float32Array::from_iter_values(rows.iter().map(|_| -1.0))),
                Arc::new(Int32Array::from_iter_values(rows.iter().map(|_| 0))),
                zero(&rows),
                bools(&rows, |r| r.has_index),
                no(&rows),
                texts(&rows, |_| Some("p".into())),
                texts(&rows, |r| Some(r.kind.into())),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|r| r.columns))),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|_| 0))),
                no(&rows),
                no(&rows),
                no(&rows),
                no(&rows),
                no(&rows),
                bools(&rows, |_| true),
                texts(&rows, |_| Some("d".into())),
                no(&rows),
                zero(&rows),
                no_acls(&rows),
                no_acls(&rows),
                none(&rows),
            ],
        )
    }
}

fn relation(table: &TableDef, namespace: u32) -> Relation {
    Relation {
        oid: oid::table(table.id),
        name: table.name.clone(),
        namespace,
        kind: "r",
        columns: i16::try_from(table.columns.len()).unwrap_or(i16::MAX),
        has_index: !table.primary_key.is_empty(),
    }
}
