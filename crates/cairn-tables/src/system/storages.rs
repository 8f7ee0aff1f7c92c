//! `system.storages`: where the cold tier writes.

use cairn_catalog::{Catalog, SystemTable};
use cairn_store::entity::STORAGES_BY_NAME;
use cairn_store::Snapshot;
use cairn_types::{Storage, StorageId, UserId};
use datafusion::arrow::datatypes::DataType;

use super::*;

pub struct Storages;

impl SystemTableDef for Storages {
    type Row = Storage;
    const NAME: &'static str = "storages";
    const ACCESS: SystemTable = SystemTable::Storages;

    fn columns() -> Vec<ColumnSpec<Storage>> {
        vec![
            ColumnSpec {
                name: "storage_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |s: &Storage| Some(id_value(s.id.0))),
                equality: Some(|s| int64_value(Some(id_value(s.id.0)))),
            },
            ColumnSpec {
                name: "name",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |s: &Storage| Some(s.name.as_str())),
                equality: Some(|s| text_value(Some(&s.name))),
            },
            ColumnSpec {
                name: "storage_type",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |s: &Storage| Some(s.kind.type_name())),
                equality: None,
            },
            ColumnSpec {
                name: "location",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| owned_text_column(rows, |s: &Storage| Some(s.kind.location())),
                equality: None,
            },
            ColumnSpec {
                name: "created_at",
                data_type: timestamp_type(),
                nullable: false,
                build: |rows| timestamp_column(rows, |s: &Storage| Some(s.created_at)),
                equality: None,
            },
        ]
    }

    fn owner(_: &Storage) -> Option<UserId> {
        None
    }

    fn choose_path(conditions: &Conditions) -> AccessPath {
        if let Some(keys) = conditions.values("storage_id") {
            AccessPath::point_get("storage_id", keys)
        } else if let Some(keys) = conditions.values("name") {
            AccessPath::index(STORAGES_BY_NAME.name, "name", keys)
        } else {
            AccessPath::full_scan()
        }
    }

    fn fetch<'a>(_: &'a Catalog, snapshot: &'a Snapshot, path: &'a AccessPath) -> RowIter<'a, Storage> {
        match path.kind {
            PathKind::PointGet => point_gets(snapshot, &path.keys, StorageId),
            PathKind::IndexLookup(_) => Box::new(
                path.keys
                    .iter()
                    .filter_map(key_str)
                    .flat_map(move |name| snapshot.lookup(&STORAGES_BY_NAME, &name.to_owned())),
            ),
            PathKind::FullScan => Box::new(snapshot.scan::<Storage>()),
        }
    }
}
