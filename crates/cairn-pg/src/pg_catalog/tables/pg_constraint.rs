use super::*;

/// `pg_constraint`: primary keys. NOT NULL is a column property
/// (`pg_attribute.attnotnull`), as in PostgreSQL 16; CairnDB refuses the
/// other kinds (FOREIGN KEY, CHECK, UNIQUE) when a table is created.
pub struct PgConstraint;

impl PgTable for PgConstraint {
    const NAME: &'static str = "pg_constraint";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("conname", DataType::Utf8),
            ("connamespace", DataType::UInt32),
            ("contype", DataType::Utf8),
            ("condeferrable", DataType::Boolean),
            ("condeferred", DataType::Boolean),
            ("convalidated", DataType::Boolean),
            ("conrelid", DataType::UInt32),
            ("contypid", DataType::UInt32),
            ("conindid", DataType::UInt32),
            ("conparentid", DataType::UInt32),
            ("confrelid", DataType::UInt32),
            ("confupdtype", DataType::Utf8),
            ("confdeltype", DataType::Utf8),
            ("confmatchtype", DataType::Utf8),
            ("conislocal", DataType::Boolean),
            ("coninhcount", DataType::Int16),
            ("connoinherit", DataType::Boolean),
            ("conkey", int2_array_type()),
            ("confkey", int2_array_type()),
            ("conbin", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows: Vec<(u32, TableDef)> = all_tables(catalog)?
            .into_iter()
            .filter(|(_, t)| !t.primary_key.is_empty())
            .collect();
        let no = |rows: &[(u32, TableDef)]| bools(rows, |_| false);
        let zero = |rows: &[(u32, TableDef)]| oids(rows, |_| 0);
        let blank = |rows: &[(u32, TableDef)]| texts(rows, |_| Some(" ".into()));
        batch(
            Self::schema(),
            vec![
                oids(&rows, |(_, t)| oid::primary_key_constraint(t.id)),
                texts(&rows, |(_, t)| Some(primary_key_name(t))),
                oids(&rows, |(namespace, _)| *namespace),
                texts(&rows, |_| Some("p".into())),
                no(&rows),
                no(&rows),
                bools(&rows, |_| true),
                oids(&rows, |(_, t)| oid::table(t.id)),
                zero(&rows),
                oids(&rows, |(_, t)| oid::primary_key_index(t.id)),
                zero(&rows),
                zero(&rows),
                blank(&rows),
                blank(&rows),
                blank(&rows),
                bools(&rows, |_| true),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|_| 0))),
                bools(&rows, |_| true),
                int2_arrays(&rows, |(_, t)| key_attnums(t)),
                Arc::new(datafusion::arrow::array::new_null_array(
                    &int2_array_type(),
                    rows.len(),
                )),
                texts(&rows, |_| None),
            ],
        )
    }
}
