use super::*;
use cairn_types::SessionInfo;

/// `pg_stat_activity`: the open sessions, as `system.sessions` shows them
/// (all to dba and system accounts, one's own to others).
pub struct PgStatActivity;

impl PgTable for PgStatActivity {
    const NAME: &'static str = "pg_stat_activity";

    fn schema() -> SchemaRef {
        schema(&[
            ("datid", DataType::UInt32),
            ("datname", DataType::Utf8),
            ("pid", DataType::Int32),
            ("leader_pid", DataType::Int32),
            ("usesysid", DataType::UInt32),
            ("usename", DataType::Utf8),
            ("application_name", DataType::Utf8),
            ("client_addr", DataType::Utf8),
            ("client_hostname", DataType::Utf8),
            ("client_port", DataType::Int32),
            (
                "backend_start",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ),
            ("state", DataType::Utf8),
            ("query", DataType::Utf8),
            ("backend_type", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let sees_all = matches!(actor.role, Role::Dba | Role::System);
        let rows: Vec<SessionInfo> = catalog
            .sessions()
            .list()
            .into_iter()
            .filter(|s| sees_all || s.user_id == actor.user_id)
            .collect();
        let none = |rows: &[SessionInfo]| texts(rows, |_| None);
        let no_numbers =
            |rows: &[SessionInfo]| Arc::new(Int32Array::new_null(rows.len())) as ArrayRef;
        let (address, port): (Vec<Option<String>>, Vec<Option<i32>>) =
            rows.iter().map(|s| split_address(&s.client_addr)).unzip();
        batch(
            Self::schema(),
            vec![
                oids(&rows, |_| oid::DATABASE),
                texts(&rows, |_| Some("cairn".into())),
                Arc::new(Int32Array::from_iter_values(
                    rows.iter()
                        .map(|s| i32::try_from(s.id.0).unwrap_or(i32::MAX)),
                )),
                no_numbers(&rows),
                oids(&rows, |s| oid::role(s.user_id)),
                texts(&rows, |s| Some(s.username.clone())),
                texts(&rows, |s| {
                    Some(s.application_name.clone().unwrap_or_default())
                }),
                Arc::new(StringArray::from(address)),
                none(&rows),
                Arc::new(Int32Array::from(port)),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(
                        rows.iter().map(|s| s.connected_at.as_micros()),
                    )
                    .with_timezone("UTC"),
                ),
                none(&rows),
                none(&rows),
                texts(&rows, |_| Some("client backend".into())),
            ],
        )
    }
}

/// `127.0.0.1:5000` as the address and the port.
fn split_address(address: &str) -> (Option<String>, Option<i32>) {
    match address.rsplit_once(':') {
        Some((host, port)) => (
            Some(host.trim_matches(['[', ']']).to_owned()),
            port.parse().ok(),
        ),
        None => (Some(address.to_owned()), None),
    }
}
