use super::*;

/// `pg_collation`: `default` and `C`, both bytewise in CairnDB.
pub struct PgCollation;

impl PgTable for PgCollation {
    const NAME: &'static str = "pg_collation";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("collname", DataType::Utf8),
            ("collnamespace", DataType::UInt32),
            ("collprovider", DataType::Utf8),
            ("collisdeterministic", DataType::Boolean),
            ("collencoding", DataType::Int32),
            ("collcollate", DataType::Utf8),
            ("collctype", DataType::Utf8),
        ])
    }

    fn batch(_catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = [(DEFAULT_COLLATION, "default", "d"), (950, "C", "c")];
        batch(
            Self::schema(),
            vec![
                oids(&rows, |r| r.0),
                texts(&rows, |r| Some(r.1.into())),
                oids(&rows, |_| oid::PG_CATALOG_NAMESPACE),
                texts(&rows, |r| Some(r.2.into())),
                bools(&rows, |_| true),
                Arc::new(Int32Array::from(vec![-1, -1])),
                texts(&rows, |_| Some("C".into())),
                texts(&rows, |_| Some("C".into())),
            ],
        )
    }
}
