use super::*;

/// `pg_attrdef`: column defaults; `adbin` holds the default as
/// PostgreSQL prints it (`'lobby'::text`), which `pg_get_expr` returns.
pub struct PgAttrdef;

impl PgTable for PgAttrdef {
    const NAME: &'static str = "pg_attrdef";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("adrelid", DataType::UInt32),
            ("adnum", DataType::Int16),
            ("adbin", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows: Vec<Attribute> = attributes(catalog)?
            .into_iter()
            .filter(|a| a.column.default.is_some())
            .collect();
        batch(
            Self::schema(),
            vec![
                // Unique per (table, column); no CairnDB object has these OIDs.
                oids(&rows, |a| {
                    a.table.wrapping_mul(64).wrapping_add(a.number as u32)
                }),
                oids(&rows, |a| a.table),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|a| a.number))),
                texts(&rows, |a| {
                    super::super::deparse::default_expression(&a.column)
                }),
            ],
        )
    }
}
