use super::*;

/// `pg_database`: one database, `cairn`. (Every name a client connects
/// with reaches the same data; `current_database()` reports the name used.)
pub struct PgDatabase;

impl PgTable for PgDatabase {
    const NAME: &'static str = "pg_database";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("datname", DataType::Utf8),
            ("datdba", DataType::UInt32),
            ("encoding", DataType::Int32),
            ("datlocprovider", DataType::Utf8),
            ("datistemplate", DataType::Boolean),
            ("datallowconn", DataType::Boolean),
            ("datconnlimit", DataType::Int32),
            ("dattablespace", DataType::UInt32),
            ("datcollate", DataType::Utf8),
            ("datctype", DataType::Utf8),
            ("daticulocale", DataType::Utf8),
            ("daticurules", DataType::Utf8),
            ("datcollversion", DataType::Utf8),
            ("datacl", acl_type()),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = [()];
        batch(
            Self::schema(),
            vec![
                oids(&rows, |_| oid::DATABASE),
                texts(&rows, |_| Some("cairn".into())),
                oids(&rows, |_| owner(catalog)),
                Arc::new(Int32Array::from(vec![6])),
                texts(&rows, |_| Some("c".into())),
                bools(&rows, |_| false),
                bools(&rows, |_| true),
                Arc::new(Int32Array::from(vec![-1])),
                oids(&rows, |_| 1663),
                texts(&rows, |_| Some("C".into())),
                texts(&rows, |_| Some("C".into())),
                texts(&rows, |_| None),
                texts(&rows, |_| None),
                texts(&rows, |_| None),
                no_acls(&rows),
            ],
        )
    }
}
