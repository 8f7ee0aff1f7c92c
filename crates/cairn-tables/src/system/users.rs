//! `system.users`: every account, dropped ones included (`deleted_at`).
//! `password_hash` is not a column: it never leaves the server.

use cairn_catalog::{Catalog, SystemTable};
use cairn_store::entity::{USERS_BY_DELETED_AT, USERS_BY_ROLE, USERS_BY_USERNAME};
use cairn_store::Snapshot;
use cairn_types::{Role, Timestamp, User, UserId};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;

use super::*;

pub struct Users;

impl SystemTableDef for Users {
    type Row = User;
    const NAME: &'static str = "users";
    const ACCESS: SystemTable = SystemTable::Users;

    fn columns() -> Vec<ColumnSpec<User>> {
        vec![
            ColumnSpec {
                name: "user_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |u: &User| Some(id_value(u.id.0))),
                equality: Some(|u| int64_value(Some(id_value(u.id.0)))),
            },
            ColumnSpec {
                name: "username",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |u: &User| Some(u.username.as_str())),
                equality: Some(|u| text_value(Some(&u.username))),
            },
            ColumnSpec {
                name: "role",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |u: &User| Some(u.role.as_str())),
                equality: Some(|u| text_value(Some(u.role.as_str()))),
            },
            ColumnSpec {
                name: "email",
                data_type: DataType::Utf8,
                nullable: true,
                build: |rows| text_column(rows, |u: &User| u.email.as_deref()),
                equality: None,
            },
            ColumnSpec {
                name: "created_at",
                data_type: timestamp_type(),
                nullable: false,
                build: |rows| timestamp_column(rows, |u: &User| Some(u.created_at)),
                equality: None,
            },
            ColumnSpec {
                name: "updated_at",
                data_type: timestamp_type(),
                nullable: false,
                build: |rows| timestamp_column(rows, |u: &User| Some(u.updated_at)),
                equality: None,
            },
            ColumnSpec {
                name: "deleted_at",
                data_type: timestamp_type(),
                nullable: true,
                build: |rows| timestamp_column(rows, |u: &User| u.deleted_at),
                equality: Some(|u| timestamp_value(u.deleted_at)),
            },
        ]
    }

    fn owner(row: &User) -> Option<UserId> {
        Some(row.id)
    }

    fn choose_path(conditions: &Conditions) -> AccessPath {
        if let Some(keys) = conditions.values("user_id") {
            AccessPath::point_get("user_id", keys)
        } else if let Some(keys) = conditions.values("username") {
            AccessPath::index(USERS_BY_USERNAME.name, "username", keys)
        } else if let Some(keys) = conditions.values("deleted_at") {
            AccessPath::index(USERS_BY_DELETED_AT.name, "deleted_at", keys)
        } else if let Some(keys) = conditions.values("role") {
            AccessPath::index(USERS_BY_ROLE.name, "role", keys)
        } else {
            AccessPath::full_scan()
        }
    }

    fn fetch<'a>(_: &'a Catalog, snapshot: &'a Snapshot, path: &'a AccessPath) -> RowIter<'a, User> {
        let keys = path.keys.iter();
        match path.kind {
            PathKind::PointGet => point_gets(snapshot, &path.keys, UserId),
            PathKind::IndexLookup(index) if index == USERS_BY_USERNAME.name => {
                Box::new(keys.filter_map(key_str).flat_map(move |name| {
                    snapshot.lookup(&USERS_BY_USERNAME, &name.to_owned())
                }))
            }
            PathKind::IndexLookup(index) if index == USERS_BY_ROLE.name => Box::new(
                keys.filter_map(|k| key_str(k)?.parse::<Role>().ok())
                    .flat_map(move |role| snapshot.lookup(&USERS_BY_ROLE, &role)),
            ),
            PathKind::IndexLookup(index) if index == USERS_BY_DELETED_AT.name => {
                Box::new(keys.filter_map(deleted_at_key).flat_map(move |at| {
                    snapshot.lookup(&USERS_BY_DELETED_AT, &at)
                }))
            }
            _ => Box::new(snapshot.scan::<User>()),
        }
    }
}

fn deleted_at_key(key: &ScalarValue) -> Option<Option<Timestamp>> {
    match key {
        ScalarValue::TimestampMicrosecond(micros, _) => Some(micros.map(Timestamp)),
        _ => None,
    }
}
