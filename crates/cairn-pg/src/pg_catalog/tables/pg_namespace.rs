use super::*;

/// `pg_namespace`: CairnDB's namespaces, `system`, and the schemas
/// PostgreSQL clients expect to find.
pub struct PgNamespace;

impl PgTable for PgNamespace {
    const NAME: &'static str = "pg_namespace";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("nspname", DataType::Utf8),
            ("nspowner", DataType::UInt32),
            ("nspacl", acl_type()),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let mut rows: Vec<(u32, String)> = vec![
            (oid::PG_CATALOG_NAMESPACE, "pg_catalog".into()),
            (
                oid::INFORMATION_SCHEMA_NAMESPACE,
                "information_schema".into(),
            ),
            (oid::SYSTEM_NAMESPACE, SYSTEM_SCHEMA.into()),
        ];
        rows.extend(
            namespaces(catalog)?
                .into_iter()
                .map(|n| (oid::namespace(n.id), n.name)),
        );
        let owner = owner(catalog);
        batch(
            Self::schema(),
            vec![
                oids(&rows, |r| r.0),
                texts(&rows, |r| Some(r.1.clone())),
                oids(&rows, |_| owner),
                no_acls(&rows),
            ],
        )
    }
}
