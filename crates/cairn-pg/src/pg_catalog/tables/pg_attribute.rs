use super::*;

/// `pg_attribute`: the columns of every table, numbered from 1.
pub struct PgAttribute;

impl PgTable for PgAttribute {
    const NAME: &'static str = "pg_attribute";

    fn schema() -> SchemaRef {
        schema(&[
            ("attrelid", DataType::UInt32),
            ("attname", DataType::Utf8),
            ("atttypid", DataType::UInt32),
            ("attlen", DataType::Int16),
            ("attnum", DataType::Int16),
            ("attndims", DataType::Int16),
            ("atttypmod", DataType::Int32),
            ("attbyval", DataType::Boolean),
            ("attalign", DataType::Utf8),
            ("attstorage", DataType::Utf8),
            ("attnotnull", DataType::Boolean),
            ("atthasdef", DataType::Boolean),
            ("atthasmissing", DataType::Boolean),
            ("attidentity", DataType::Utf8),
            ("attgenerated", DataType::Utf8),
            ("attisdropped", DataType::Boolean),
            ("attislocal", DataType::Boolean),
            ("attinhcount", DataType::Int16),
            ("attcollation", DataType::UInt32),
            ("attstattarget", DataType::Int16),
            ("attacl", acl_type()),
            ("attoptions", acl_type()),
            ("attcompression", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = attributes(catalog)?;
        let typed: Vec<(u32, i32)> = rows.iter().map(|a| type_of(&a.column.data_type)).collect();
        let length = |type_oid: u32| builtin(type_oid).map_or(-1, |t| t.len);
        let textual = |a: &Attribute| {
            matches!(
                a.column.data_type,
                cairn_types::DataType::Text | cairn_types::DataType::Varchar { .. }
            )
        };
        batch(
            Self::schema(),
            vec![
                oids(&rows, |a| a.table),
                texts(&rows, |a| Some(a.column.name.clone())),
                Arc::new(UInt32Array::from_iter_values(typed.iter().map(|t| t.0))),
                Arc::new(Int16Array::from_iter_values(
                    typed.iter().map(|t| length(t.0)),
                )),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|a| a.number))),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|a| {
                    i16::from(matches!(
                        a.column.data_type,
                        cairn_types::DataType::Array(_)
                    ))
                }))),
                Arc::new(Int32Array::from_iter_values(typed.iter().map(|t| t.1))),
                Arc::new(BooleanArray::from_iter(
                    typed.iter().map(|t| Some((1..=8).contains(&length(t.0)))),
                )),
                texts(&rows, |_| Some("i".into())),
                Arc::new(StringArray::from_iter_values(
                    typed.iter().map(|t| storage(t.0, length(t.0))),
                )),
                bools(&rows, |a| !a.column.nullable),
                bools(&rows, |a| a.column.default.is_some()),
                bools(&rows, |_| false),
                texts(&rows, |_| Some(String::new())),
                texts(&rows, |_| Some(String::new())),
                bools(&rows, |_| false),
                bools(&rows, |_| true),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|_| 0))),
                oids(&rows, |a| if textual(a) { DEFAULT_COLLATION } else { 0 }),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|_| -1))),
                no_acls(&rows),
                no_acls(&rows),
                texts(&rows, |_| Some(String::new())),
            ],
        )
    }
}

/// `attstorage` as PostgreSQL sets it from the type: fixed-length types
/// are stored plain, numeric inline-compressed (main), other variable
/// lengths extended.
pub(super) fn storage(type_oid: u32, length: i16) -> &'static str {
    match (type_oid, length) {
        (1700, _) => "m",
        (_, length) if length > 0 => "p",
        _ => "x",
    }
}
