//! `system.sessions`: connected clients, from the in-memory registry.

use cairn_catalog::{Catalog, SystemTable};
use cairn_store::Snapshot;
use cairn_types::{SessionInfo, UserId};
use datafusion::arrow::datatypes::DataType;

use super::*;

pub struct Sessions;

impl SystemTableDef for Sessions {
    type Row = SessionInfo;
    const NAME: &'static str = "sessions";
    const ACCESS: SystemTable = SystemTable::Sessions;

    fn columns() -> Vec<ColumnSpec<SessionInfo>> {
        vec![
            ColumnSpec {
                name: "session_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |s: &SessionInfo| Some(id_value(s.id.0))),
                equality: Some(|s| int64_value(Some(id_value(s.id.0)))),
            },
            ColumnSpec {
                name: "user_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |s: &SessionInfo| Some(id_value(s.user_id.0))),
                equality: Some(|s| int64_value(Some(id_value(s.user_id.0)))),
            },
            ColumnSpec {
                name: "username",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |s: &SessionInfo| Some(s.username.as_str())),
                equality: Some(|s| text_value(Some(&s.username))),
            },
            ColumnSpec {
                name: "client_addr",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |s: &SessionInfo| Some(s.client_addr.as_str())),
                equality: None,
            },
            ColumnSpec {
                name: "application_name",
                data_type: DataType::Utf8,
                nullable: true,
                build: |rows| text_column(rows, |s: &SessionInfo| s.application_name.as_deref()),
                equality: None,
            },
            ColumnSpec {
                name: "connected_at",
                data_type: timestamp_type(),
                nullable: false,
                build: |rows| timestamp_column(rows, |s: &SessionInfo| Some(s.connected_at)),
                equality: None,
            },
        ]
    }

    fn owner(row: &SessionInfo) -> Option<UserId> {
        Some(row.user_id)
    }

    /// Sessions live in memory: every filter is evaluated over the list.
    fn choose_path(_: &Conditions) -> AccessPath {
        AccessPath::full_scan()
    }

    fn fetch<'a>(catalog: &'a Catalog, _: &'a Snapshot, _: &'a AccessPath) -> RowIter<'a, SessionInfo> {
        Box::new(catalog.sessions().list().into_iter().map(Ok))
    }
}
