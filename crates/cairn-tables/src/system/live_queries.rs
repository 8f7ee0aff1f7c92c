//! `system.live_queries`: active subscriptions.

use cairn_catalog::{Catalog, SystemTable};
use cairn_store::Snapshot;
use cairn_types::{LiveQuery, LiveQueryId, UserId};
use datafusion::arrow::datatypes::DataType;

use super::*;

pub struct LiveQueries;

impl SystemTableDef for LiveQueries {
    type Row = LiveQuery;
    const NAME: &'static str = "live_queries";
    const ACCESS: SystemTable = SystemTable::LiveQueries;

    fn columns() -> Vec<ColumnSpec<LiveQuery>> {
        vec![
            ColumnSpec {
                name: "live_query_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |l: &LiveQuery| Some(id_value(l.id.0))),
                equality: Some(|l| int64_value(Some(id_value(l.id.0)))),
            },
            ColumnSpec {
                name: "user_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |l: &LiveQuery| Some(id_value(l.user_id.0))),
                equality: Some(|l| int64_value(Some(id_value(l.user_id.0)))),
            },
            ColumnSpec {
                name: "session_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |l: &LiveQuery| Some(id_value(l.session_id.0))),
                equality: None,
            },
            ColumnSpec {
                name: "query",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |l: &LiveQuery| Some(l.query.as_str())),
                equality: None,
            },
            ColumnSpec {
                name: "created_at",
                data_type: timestamp_type(),
                nullable: false,
                build: |rows| timestamp_column(rows, |l: &LiveQuery| Some(l.created_at)),
                equality: None,
            },
        ]
    }

    fn owner(row: &LiveQuery) -> Option<UserId> {
        Some(row.user_id)
    }

    fn choose_path(conditions: &Conditions) -> AccessPath {
        match conditions.values("live_query_id") {
            Some(keys) => AccessPath::point_get("live_query_id", keys),
            None => AccessPath::full_scan(),
        }
    }

    fn fetch<'a>(_: &'a Catalog, snapshot: &'a Snapshot, path: &'a AccessPath) -> RowIter<'a, LiveQuery> {
        match path.kind {
            PathKind::PointGet => point_gets(snapshot, &path.keys, LiveQueryId),
            _ => Box::new(snapshot.scan::<LiveQuery>()),
        }
    }
}
