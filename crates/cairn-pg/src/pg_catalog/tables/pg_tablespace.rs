use super::*;

/// `pg_tablespace`: PostgreSQL's two, which `pg_class.reltablespace = 0`
/// and `pg_database.dattablespace` refer to. (CairnDB's storages, where
/// cold data goes, are in `system.storages`.)
pub struct PgTablespace;

impl PgTable for PgTablespace {
    const NAME: &'static str = "pg_tablespace";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("spcname", DataType::Utf8),
            ("spcowner", DataType::UInt32),
            ("spcacl", acl_type()),
            ("spcoptions", acl_type()),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = [(1663, "pg_default"), (1664, "pg_global")];
        batch(
            Self::schema(),
            vec![
                oids(&rows, |r| r.0),
                texts(&rows, |r| Some(r.1.into())),
                oids(&rows, |_| owner(catalog)),
                no_acls(&rows),
                no_acls(&rows),
            ],
        )
    }
}
