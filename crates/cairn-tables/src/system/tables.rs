//! `system.tables`: every table definition, with its kind, access level,
//! TTL and storage.

use cairn_catalog::{Catalog, SystemTable};
use cairn_store::entity::{NAMESPACES_BY_NAME, TABLES_BY_NAME, TABLES_BY_NAMESPACE};
use cairn_store::Snapshot;
use cairn_types::{Namespace, Storage, TableDef, TableId, UserId};
use datafusion::arrow::datatypes::DataType;

use super::*;

/// A table definition with the names its ids point to.
pub struct TableRow {
    pub def: TableDef,
    pub namespace: String,
    pub storage: String,
}

impl TableRow {
    /// Resolves the names; a dangling id shows as its number.
    pub fn resolve(snapshot: &Snapshot, def: TableDef) -> cairn_types::Result<TableRow> {
        let namespace = snapshot
            .get::<Namespace>(&def.namespace_id)?
            .map_or_else(|| def.namespace_id.to_string(), |n| n.name);
        let storage = snapshot
            .get::<Storage>(&def.storage_id)?
            .map_or_else(|| def.storage_id.to_string(), |s| s.name);
        Ok(TableRow { def, namespace, storage })
    }

    pub fn primary_key(&self) -> String {
        self.def
            .primary_key
            .iter()
            .filter_map(|&i| self.def.columns.get(usize::from(i)).map(|c| c.name.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub struct Tables;

impl SystemTableDef for Tables {
    type Row = TableRow;
    const NAME: &'static str = "tables";
    const ACCESS: SystemTable = SystemTable::Tables;

    fn columns() -> Vec<ColumnSpec<TableRow>> {
        vec![
            ColumnSpec {
                name: "table_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |t: &TableRow| Some(id_value(t.def.id.0))),
                equality: Some(|t| int64_value(Some(id_value(t.def.id.0)))),
            },
            ColumnSpec {
                name: "namespace",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |t: &TableRow| Some(t.namespace.as_str())),
                equality: Some(|t| text_value(Some(&t.namespace))),
            },
            ColumnSpec {
                name: "name",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |t: &TableRow| Some(t.def.name.as_str())),
                equality: Some(|t| text_value(Some(&t.def.name))),
            },
            ColumnSpec {
                name: "kind",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |t: &TableRow| Some(t.def.kind.as_str())),
                equality: Some(|t| text_value(Some(t.def.kind.as_str()))),
            },
            ColumnSpec {
                name: "access_level",
                data_type: DataType::Utf8,
                nullable: true,
                build: |rows| text_column(rows, |t: &TableRow| t.def.access_level.map(|a| a.as_str())),
                equality: None,
            },
            ColumnSpec {
                name: "ttl_seconds",
                data_type: DataType::Int64,
                nullable: true,
                build: |rows| {
                    int64_column(rows, |t: &TableRow| t.def.ttl_seconds.map(id_value))
                },
                equality: None,
            },
            ColumnSpec {
                name: "storage",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |t: &TableRow| Some(t.storage.as_str())),
                equality: None,
            },
            ColumnSpec {
                name: "primary_key",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| owned_text_column(rows, |t: &TableRow| Some(t.primary_key())),
                equality: None,
            },
            ColumnSpec {
                name: "column_count",
                data_type: DataType::Int32,
                nullable: false,
                build: |rows| {
                    int32_column(rows, |t: &TableRow| i32::try_from(t.def.columns.len()).ok())
                },
                equality: None,
            },
            ColumnSpec {
                name: "created_at",
                data_type: timestamp_type(),
                nullable: false,
                build: |rows| timestamp_column(rows, |t: &TableRow| Some(t.def.created_at)),
                equality: None,
            },
        ]
    }

    fn owner(_: &TableRow) -> Option<UserId> {
        None
    }

    fn choose_path(conditions: &Conditions) -> AccessPath {
        table_path(conditions, "name")
    }

    fn fetch<'a>(_: &'a Catalog, snapshot: &'a Snapshot, path: &'a AccessPath) -> RowIter<'a, TableRow> {
        let defs: RowIter<'a, TableDef> = table_defs(snapshot, path);
        Box::new(defs.map(move |def| TableRow::resolve(snapshot, def?)))
    }
}

/// The path to table definitions from conditions on `table_id`,
/// `namespace` and the table-name column; shared with `system.columns`.
pub fn table_path(conditions: &Conditions, name_column: &'static str) -> AccessPath {
    if let Some(keys) = conditions.values("table_id") {
        return AccessPath::point_get("table_id", keys);
    }
    match (conditions.values("namespace"), conditions.values(name_column)) {
        (Some([namespace]), Some([name])) => AccessPath {
            kind: PathKind::IndexLookup(TABLES_BY_NAME.name),
            columns: vec!["namespace", name_column],
            keys: vec![namespace.clone(), name.clone()],
        },
        (Some(keys), _) => AccessPath::index(TABLES_BY_NAMESPACE.name, "namespace", keys),
        _ => AccessPath::full_scan(),
    }
}

/// The table definitions an access path selects; shared with `system.columns`.
pub fn table_defs<'a>(snapshot: &'a Snapshot, path: &'a AccessPath) -> RowIter<'a, TableDef> {
    let namespace_id = move |name: &str| -> Option<cairn_types::NamespaceId> {
        match snapshot.lookup(&NAMESPACES_BY_NAME, &name.to_owned()).next()? {
            Ok(namespace) => Some(namespace.id),
            Err(_) => None,
        }
    };
    match path.kind {
        PathKind::PointGet => point_gets(snapshot, &path.keys, TableId),
        PathKind::IndexLookup(index) if index == TABLES_BY_NAME.name => {
            let (Some(namespace), Some(name)) =
                (path.keys.first().and_then(key_str), path.keys.get(1).and_then(key_str))
            else {
                return Box::new(std::iter::empty());
            };
            let Some(id) = namespace_id(namespace) else {
                return Box::new(std::iter::empty());
            };
            Box::new(snapshot.lookup(&TABLES_BY_NAME, &(id, name.to_owned())))
        }
        PathKind::IndexLookup(_) => Box::new(
            path.keys
                .iter()
                .filter_map(key_str)
                .filter_map(namespace_id)
                .flat_map(move |id| snapshot.lookup(&TABLES_BY_NAMESPACE, &id)),
        ),
        PathKind::FullScan => Box::new(snapshot.scan::<TableDef>()),
    }
}
