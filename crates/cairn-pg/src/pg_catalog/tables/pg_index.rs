use super::*;

/// `pg_index`: each table's primary key, the only index CairnDB keeps
/// (rows are stored in key order, so the key is the table's btree).
pub struct PgIndex;

impl PgTable for PgIndex {
    const NAME: &'static str = "pg_index";

    fn schema() -> SchemaRef {
        schema(&[
            ("indexrelid", DataType::UInt32),
            ("indrelid", DataType::UInt32),
            ("indnatts", DataType::Int16),
            ("indnkeyatts", DataType::Int16),
            ("indisunique", DataType::Boolean),
            ("indnullsnotdistinct", DataType::Boolean),
            ("indisprimary", DataType::Boolean),
            ("indisexclusion", DataType::Boolean),
            ("indimmediate", DataType::Boolean),
            ("indisclustered", DataType::Boolean),
            ("indisvalid", DataType::Boolean),
            ("indcheckxmin", DataType::Boolean),
            ("indisready", DataType::Boolean),
            ("indislive", DataType::Boolean),
            ("indisreplident", DataType::Boolean),
            ("indkey", int2_array_type()),
            ("indcollation", int2_array_type()),
            ("indclass", int2_array_type()),
            ("indoption", int2_array_type()),
            ("indexprs", DataType::Utf8),
            ("indpred", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows: Vec<TableDef> = all_tables(catalog)?
            .into_iter()
            .map(|(_, t)| t)
            .filter(|t| !t.primary_key.is_empty())
            .collect();
        let key_count = |t: &TableDef| i16::try_from(t.primary_key.len()).unwrap_or(i16::MAX);
        let yes = |rows: &[TableDef]| bools(rows, |_| true);
        let no = |rows: &[TableDef]| bools(rows, |_| false);
        batch(
            Self::schema(),
            vec![
                oids(&rows, |t| oid::primary_key_index(t.id)),
                oids(&rows, |t| oid::table(t.id)),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(key_count))),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(key_count))),
                yes(&rows),
                no(&rows),
                yes(&rows),
                no(&rows),
                yes(&rows),
                no(&rows),
                yes(&rows),
                no(&rows),
                yes(&rows),
                yes(&rows),
                no(&rows),
                int2_arrays(&rows, key_attnums),
                int2_arrays(&rows, |t| vec![0; t.primary_key.len()]),
                int2_arrays(&rows, |t| vec![0; t.primary_key.len()]),
                int2_arrays(&rows, |t| vec![0; t.primary_key.len()]),
                texts(&rows, |_| None),
                texts(&rows, |_| None),
            ],
        )
    }
}
