use super::*;

/// `pg_am`: the access methods pg_class refers to.
pub struct PgAm;

impl PgTable for PgAm {
    const NAME: &'static str = "pg_am";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("amname", DataType::Utf8),
            ("amhandler", DataType::UInt32),
            ("amtype", DataType::Utf8),
        ])
    }

    fn batch(_catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = [(oid::HEAP_AM, "heap", "t"), (oid::BTREE_AM, "btree", "i")];
        batch(
            Self::schema(),
            vec![
                oids(&rows, |r| r.0),
                texts(&rows, |r| Some(r.1.into())),
                oids(&rows, |_| 0),
                texts(&rows, |r| Some(r.2.into())),
            ],
        )
    }
}
