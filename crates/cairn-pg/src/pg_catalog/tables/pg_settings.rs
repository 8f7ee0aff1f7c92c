use super::*;

/// `pg_settings`: the parameters CairnDB knows, at their defaults.
/// (A session's own values are read with `SHOW` or `current_setting`.)
pub struct PgSettings;

impl PgTable for PgSettings {
    const NAME: &'static str = "pg_settings";

    fn schema() -> SchemaRef {
        schema(&[
            ("name", DataType::Utf8),
            ("setting", DataType::Utf8),
            ("unit", DataType::Utf8),
            ("category", DataType::Utf8),
            ("short_desc", DataType::Utf8),
            ("extra_desc", DataType::Utf8),
            ("context", DataType::Utf8),
            ("vartype", DataType::Utf8),
            ("source", DataType::Utf8),
            ("min_val", DataType::Utf8),
            ("max_val", DataType::Utf8),
            ("enumvals", acl_type()),
            ("boot_val", DataType::Utf8),
            ("reset_val", DataType::Utf8),
            ("sourcefile", DataType::Utf8),
            ("sourceline", DataType::Int32),
            ("pending_restart", DataType::Boolean),
        ])
    }

    fn batch(_catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = crate::settings::Settings::default().all();
        let none = |rows: &[(String, String, String)]| texts(rows, |_| None);
        batch(
            Self::schema(),
            vec![
                texts(&rows, |r| Some(r.0.clone())),
                texts(&rows, |r| Some(r.1.clone())),
                none(&rows),
                texts(&rows, |_| Some("Client Connection Defaults".into())),
                texts(&rows, |r| Some(r.2.clone())),
                none(&rows),
                texts(&rows, |_| Some("user".into())),
                texts(&rows, |_| Some("string".into())),
                texts(&rows, |_| Some("default".into())),
                none(&rows),
                none(&rows),
                no_acls(&rows),
                texts(&rows, |r| Some(r.1.clone())),
                texts(&rows, |r| Some(r.1.clone())),
                none(&rows),
                Arc::new(Int32Array::new_null(rows.len())),
                bools(&rows, |_| false),
            ],
        )
    }
}
