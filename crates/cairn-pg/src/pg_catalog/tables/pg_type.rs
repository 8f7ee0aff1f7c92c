use super::*;

/// `pg_type`: the built-in types CairnDB's columns use.
pub struct PgType;

impl PgTable for PgType {
    const NAME: &'static str = "pg_type";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("typname", DataType::Utf8),
            ("typnamespace", DataType::UInt32),
            ("typowner", DataType::UInt32),
            ("typlen", DataType::Int16),
            ("typbyval", DataType::Boolean),
            ("typtype", DataType::Utf8),
            ("typcategory", DataType::Utf8),
            ("typispreferred", DataType::Boolean),
            ("typisdefined", DataType::Boolean),
            ("typdelim", DataType::Utf8),
            ("typrelid", DataType::UInt32),
            ("typsubscript", DataType::UInt32),
            ("typelem", DataType::UInt32),
            ("typarray", DataType::UInt32),
            ("typinput", DataType::Utf8),
            ("typoutput", DataType::Utf8),
            ("typreceive", DataType::Utf8),
            ("typsend", DataType::Utf8),
            ("typalign", DataType::Utf8),
            ("typstorage", DataType::Utf8),
            ("typnotnull", DataType::Boolean),
            ("typbasetype", DataType::UInt32),
            ("typtypmod", DataType::Int32),
            ("typndims", DataType::Int32),
            ("typcollation", DataType::UInt32),
            ("typdefault", DataType::Utf8),
            ("typacl", acl_type()),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = BUILTIN_TYPES;
        let owner = owner(catalog);
        let textual = |t: &BuiltinType| matches!(t.oid, 18 | 19 | 25 | 1043);
        batch(
            Self::schema(),
            vec![
                oids(rows, |t| t.oid),
                texts(rows, |t| Some(t.name.into())),
                oids(rows, |_| oid::PG_CATALOG_NAMESPACE),
                oids(rows, |_| owner),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|t| t.len))),
                bools(rows, |t| (1..=8).contains(&t.len)),
                texts(rows, |_| Some("b".into())),
                texts(rows, |t| Some(t.category.into())),
                bools(rows, |t| matches!(t.oid, 16 | 25 | 701 | 1184)),
                bools(rows, |_| true),
                texts(rows, |_| Some(",".into())),
                oids(rows, |_| 0),
                oids(rows, |t| if t.element != 0 { 1 } else { 0 }),
                oids(rows, |t| t.element),
                oids(rows, |t| t.array),
                texts(rows, |t| {
                    Some(if t.element != 0 {
                        "array_in".into()
                    } else {
                        format!("{}in", t.name)
                    })
                }),
                texts(rows, |t| {
                    Some(if t.element != 0 {
                        "array_out".into()
                    } else {
                        format!("{}out", t.name)
                    })
                }),
                texts(rows, |t| {
                    Some(if t.element != 0 {
                        "array_recv".into()
                    } else {
                        format!("{}recv", t.name)
                    })
                }),
                texts(rows, |t| {
                    Some(if t.element != 0 {
                        "array_send".into()
                    } else {
                        format!("{}send", t.name)
                    })
                }),
                texts(rows, |t| {
                    Some(
                        match t.len {
                            1 => "c",
                            2 => "s",
                            8 => "d",
                            _ => "i",
                        }
                        .into(),
                    )
                }),
                texts(rows, |t| {
                    Some(super::pg_attribute::storage(t.oid, t.len).into())
                }),
                bools(rows, |_| false),
                oids(rows, |_| 0),
                Arc::new(Int32Array::from_iter_values(rows.iter().map(|_| -1))),
                Arc::new(Int32Array::from_iter_values(rows.iter().map(|_| 0))),
                oids(rows, |t| if textual(t) { DEFAULT_COLLATION } else { 0 }),
                texts(rows, |_| None),
                no_acls(rows),
            ],
        )
    }
}
