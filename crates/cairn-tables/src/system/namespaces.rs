//! `system.namespaces`: the namespaces (schemas).

use cairn_catalog::{Catalog, SystemTable};
use cairn_store::entity::NAMESPACES_BY_NAME;
use cairn_store::Snapshot;
use cairn_types::{Namespace, NamespaceId, UserId};
use datafusion::arrow::datatypes::DataType;

use super::*;

pub struct Namespaces;

impl SystemTableDef for Namespaces {
    type Row = Namespace;
    const NAME: &'static str = "namespaces";
    const ACCESS: SystemTable = SystemTable::Namespaces;

    fn columns() -> Vec<ColumnSpec<Namespace>> {
        vec![
            ColumnSpec {
                name: "namespace_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |n: &Namespace| Some(id_value(n.id.0))),
                equality: Some(|n| int64_value(Some(id_value(n.id.0)))),
            },
            ColumnSpec {
                name: "name",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |n: &Namespace| Some(n.name.as_str())),
                equality: Some(|n| text_value(Some(&n.name))),
            },
            ColumnSpec {
                name: "created_at",
                data_type: timestamp_type(),
                nullable: false,
                build: |rows| timestamp_column(rows, |n: &Namespace| Some(n.created_at)),
                equality: None,
            },
        ]
    }

    fn owner(_: &Namespace) -> Option<UserId> {
        None
    }

    fn choose_path(conditions: &Conditions) -> AccessPath {
        if let Some(keys) = conditions.values("namespace_id") {
            AccessPath::point_get("namespace_id", keys)
        } else if let Some(keys) = conditions.values("name") {
            AccessPath::index(NAMESPACES_BY_NAME.name, "name", keys)
        } else {
            AccessPath::full_scan()
        }
    }

    fn fetch<'a>(_: &'a Catalog, snapshot: &'a Snapshot, path: &'a AccessPath) -> RowIter<'a, Namespace> {
        match path.kind {
            PathKind::PointGet => point_gets(snapshot, &path.keys, NamespaceId),
            PathKind::IndexLookup(_) => Box::new(
                path.keys
                    .iter()
                    .filter_map(key_str)
                    .flat_map(move |name| snapshot.lookup(&NAMESPACES_BY_NAME, &name.to_owned())),
            ),
            PathKind::FullScan => Box::new(snapshot.scan::<Namespace>()),
        }
    }
}
