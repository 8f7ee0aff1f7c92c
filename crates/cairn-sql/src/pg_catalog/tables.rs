//! The pg_catalog tables, each built from the catalog as the caller may
//! see it. Columns follow PostgreSQL 16 where clients read them; ones
//! CairnDB has no equivalent for hold PostgreSQL's defaults.

use std::sync::Arc;

use cairn_catalog::{Actor, Catalog};
use cairn_types::{CairnError, Namespace, Role, TableDef, User};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Int16Array, Int32Array, RecordBatch, StringArray, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::types::{builtin, type_of, BuiltinType, BUILTIN_TYPES};
use super::{oid, PgTable};
use crate::system::SYSTEM_SCHEMA;

fn schema(fields: &[(&str, DataType)]) -> SchemaRef {
    Arc::new(Schema::new(fields.iter().map(|(name, t)| Field::new(*name, t.clone(), true)).collect::<Vec<_>>()))
}

fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> cairn_types::Result<RecordBatch> {
    RecordBatch::try_new(schema, columns).map_err(|e| CairnError::Internal(e.to_string()))
}

fn oids<R>(rows: &[R], f: impl Fn(&R) -> u32) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(rows.iter().map(f)))
}

fn texts<R>(rows: &[R], f: impl Fn(&R) -> Option<String>) -> ArrayRef {
    Arc::new(StringArray::from_iter(rows.iter().map(f)))
}

/// An all-NULL `text[]` column (the ACLs: CairnDB's access rules are not grants).
fn no_acls<R>(rows: &[R]) -> ArrayRef {
    datafusion::arrow::array::new_null_array(&acl_type(), rows.len())
}

fn acl_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

fn bools<R>(rows: &[R], f: impl Fn(&R) -> bool) -> ArrayRef {
    Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(f(r)))))
}

fn namespaces(catalog: &Catalog) -> cairn_types::Result<Vec<Namespace>> {
    catalog.snapshot().scan::<Namespace>().collect()
}

/// The owner every CairnDB object reports: the first system account (root).
fn owner(catalog: &Catalog) -> u32 {
    catalog
        .snapshot()
        .scan::<User>()
        .filter_map(Result::ok)
        .find(|user| user.role == Role::System)
        .map_or(10, |user| oid::role(user.id))
}

/// `pg_namespace`: CairnDB's namespaces, `system`, and the schemas
/// PostgreSQL clients expect to find.
pub struct PgNamespace;

impl PgTable for PgNamespace {
    const NAME: &'static str = "pg_namespace";

    fn schema() -> SchemaRef {
        schema(&[("oid", DataType::UInt32), ("nspname", DataType::Utf8), ("nspowner", DataType::UInt32), ("nspacl", acl_type())])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let mut rows: Vec<(u32, String)> = vec![
            (oid::PG_CATALOG_NAMESPACE, "pg_catalog".into()),
            (oid::INFORMATION_SCHEMA_NAMESPACE, "information_schema".into()),
            (oid::SYSTEM_NAMESPACE, SYSTEM_SCHEMA.into()),
        ];
        rows.extend(namespaces(catalog)?.into_iter().map(|n| (oid::namespace(n.id), n.name)));
        let owner = owner(catalog);
        batch(
            Self::schema(),
            vec![oids(&rows, |r| r.0), texts(&rows, |r| Some(r.1.clone())), oids(&rows, |_| owner), no_acls(&rows)],
        )
    }
}

/// `pg_class`: the tables (relkind `r`) and the system tables (`v`).
pub struct PgClass;

struct Relation {
    oid: u32,
    name: String,
    namespace: u32,
    kind: &'static str,
    columns: i16,
    has_index: bool,
}

impl PgTable for PgClass {
    const NAME: &'static str = "pg_class";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("relname", DataType::Utf8),
            ("relnamespace", DataType::UInt32),
            ("reltype", DataType::UInt32),
            ("reloftype", DataType::UInt32),
            ("relowner", DataType::UInt32),
            ("relam", DataType::UInt32),
            ("relfilenode", DataType::UInt32),
            ("reltablespace", DataType::UInt32),
            ("relpages", DataType::Int32),
            ("reltuples", DataType::Float32),
            ("relallvisible", DataType::Int32),
            ("reltoastrelid", DataType::UInt32),
            ("relhasindex", DataType::Boolean),
            ("relisshared", DataType::Boolean),
            ("relpersistence", DataType::Utf8),
            ("relkind", DataType::Utf8),
            ("relnatts", DataType::Int16),
            ("relchecks", DataType::Int16),
            ("relhasrules", DataType::Boolean),
            ("relhastriggers", DataType::Boolean),
            ("relhassubclass", DataType::Boolean),
            ("relrowsecurity", DataType::Boolean),
            ("relforcerowsecurity", DataType::Boolean),
            ("relispopulated", DataType::Boolean),
            ("relreplident", DataType::Utf8),
            ("relispartition", DataType::Boolean),
            ("relrewrite", DataType::UInt32),
            ("reloptions", DataType::Utf8),
            ("relacl", acl_type()),
            ("relpartbound", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let snapshot = catalog.snapshot();
        let mut rows = Vec::new();
        for namespace in namespaces(catalog)? {
            for table in catalog.tables(&snapshot, namespace.id)? {
                rows.push(relation(&table, oid::namespace(namespace.id)));
            }
        }
        for (i, name) in crate::system::SYSTEM_TABLE_NAMES.iter().enumerate() {
            rows.push(Relation {
                oid: oid::SYSTEM_TABLE_BASE + u32::try_from(i).unwrap_or_default(),
                name: (*name).to_owned(),
                namespace: oid::SYSTEM_NAMESPACE,
                kind: "v",
                columns: 0,
                has_index: false,
            });
        }
        let owner = owner(catalog);
        let zero = |rows: &[Relation]| oids(rows, |_| 0);
        let none = |rows: &[Relation]| texts(rows, |_| None);
        let no = |rows: &[Relation]| bools(rows, |_| false);
        batch(
            Self::schema(),
            vec![
                oids(&rows, |r| r.oid),
                texts(&rows, |r| Some(r.name.clone())),
                oids(&rows, |r| r.namespace),
                zero(&rows),
                zero(&rows),
                oids(&rows, |_| owner),
                oids(&rows, |r| if r.kind == "r" { oid::HEAP_AM } else { 0 }),
                zero(&rows),
                zero(&rows),
                Arc::new(Int32Array::from_iter_values(rows.iter().map(|_| 0))),
                Arc::new(Float32Array::from_iter_values(rows.iter().map(|_| -1.0))),
                Arc::new(Int32Array::from_iter_values(rows.iter().map(|_| 0))),
                zero(&rows),
                bools(&rows, |r| r.has_index),
                no(&rows),
                texts(&rows, |_| Some("p".into())),
                texts(&rows, |r| Some(r.kind.into())),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|r| r.columns))),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|_| 0))),
                no(&rows),
                no(&rows),
                no(&rows),
                no(&rows),
                no(&rows),
                bools(&rows, |_| true),
                texts(&rows, |_| Some("d".into())),
                no(&rows),
                zero(&rows),
                none(&rows),
                no_acls(&rows),
                none(&rows),
            ],
        )
    }
}

fn relation(table: &TableDef, namespace: u32) -> Relation {
    Relation {
        oid: oid::table(table.id),
        name: table.name.clone(),
        namespace,
        kind: "r",
        columns: i16::try_from(table.columns.len()).unwrap_or(i16::MAX),
        has_index: !table.primary_key.is_empty(),
    }
}

fn roles_schema(name_column: &str, oid_column: &str) -> SchemaRef {
    schema(&[
        (name_column, DataType::Utf8),
        ("rolsuper", DataType::Boolean),
        ("rolinherit", DataType::Boolean),
        ("rolcreaterole", DataType::Boolean),
        ("rolcreatedb", DataType::Boolean),
        ("rolcanlogin", DataType::Boolean),
        ("rolreplication", DataType::Boolean),
        ("rolconnlimit", DataType::Int32),
        ("rolpassword", DataType::Utf8),
        ("rolvaliduntil", DataType::Utf8),
        ("rolbypassrls", DataType::Boolean),
        ("rolconfig", DataType::Utf8),
        (oid_column, DataType::UInt32),
    ])
}

/// Live users the caller may see: everyone for a dba or system account,
/// oneself otherwise (as `system.users`).
fn visible_users(catalog: &Catalog, actor: &Actor) -> cairn_types::Result<Vec<User>> {
    let users: Vec<User> = catalog.snapshot().scan::<User>().collect::<cairn_types::Result<_>>()?;
    let sees_all = matches!(actor.role, Role::Dba | Role::System);
    Ok(users.into_iter().filter(|u| !u.is_deleted() && (sees_all || u.id == actor.user_id)).collect())
}

fn roles_batch(schema: SchemaRef, users: &[User]) -> cairn_types::Result<RecordBatch> {
    let admin = |u: &User| matches!(u.role, Role::System | Role::Dba);
    batch(
        schema,
        vec![
            texts(users, |u| Some(u.username.clone())),
            bools(users, |u| u.role == Role::System),
            bools(users, |_| true),
            bools(users, admin),
            bools(users, admin),
            bools(users, |_| true),
            bools(users, |_| false),
            Arc::new(Int32Array::from_iter_values(users.iter().map(|_| -1))),
            texts(users, |_| Some("********".into())),
            texts(users, |_| None),
            bools(users, |u| u.role == Role::System),
            texts(users, |_| None),
            oids(users, |u| oid::role(u.id)),
        ],
    )
}

/// `pg_roles`: CairnDB's users as roles; `system` accounts are superusers,
/// `dba` accounts may create roles and databases (tables, here).
pub struct PgRoles;

impl PgTable for PgRoles {
    const NAME: &'static str = "pg_roles";

    fn schema() -> SchemaRef {
        roles_schema("rolname", "oid")
    }

    fn batch(catalog: &Catalog, actor: &Actor) -> cairn_types::Result<RecordBatch> {
        roles_batch(Self::schema(), &visible_users(catalog, actor)?)
    }
}

/// `pg_user`: the same rows, with pg_user's column names where they differ.
pub struct PgUser;

impl PgTable for PgUser {
    const NAME: &'static str = "pg_user";

    fn schema() -> SchemaRef {
        schema(&[
            ("usename", DataType::Utf8),
            ("usesysid", DataType::UInt32),
            ("usecreatedb", DataType::Boolean),
            ("usesuper", DataType::Boolean),
            ("userepl", DataType::Boolean),
            ("usebypassrls", DataType::Boolean),
            ("passwd", DataType::Utf8),
            ("valuntil", DataType::Utf8),
            ("useconfig", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let users = visible_users(catalog, actor)?;
        batch(
            Self::schema(),
            vec![
                texts(&users, |u| Some(u.username.clone())),
                oids(&users, |u| oid::role(u.id)),
                bools(&users, |u| matches!(u.role, Role::System | Role::Dba)),
                bools(&users, |u| u.role == Role::System),
                bools(&users, |_| false),
                bools(&users, |u| u.role == Role::System),
                texts(&users, |_| Some("********".into())),
                texts(&users, |_| None),
                texts(&users, |_| None),
            ],
        )
    }
}

/// `pg_database`: one database, `cairn`. (Every name a client connects
/// with reaches the same data; `current_database()` reports the name used.)
pub struct PgDatabase;

impl PgTable for PgDatabase {
    const NAME: &'static str = "pg_database";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("datname", DataType::Utf8),
            ("datdba", DataType::UInt32),
            ("encoding", DataType::Int32),
            ("datlocprovider", DataType::Utf8),
            ("datistemplate", DataType::Boolean),
            ("datallowconn", DataType::Boolean),
            ("datconnlimit", DataType::Int32),
            ("dattablespace", DataType::UInt32),
            ("datcollate", DataType::Utf8),
            ("datctype", DataType::Utf8),
            ("daticulocale", DataType::Utf8),
            ("daticurules", DataType::Utf8),
            ("datcollversion", DataType::Utf8),
            ("datacl", acl_type()),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = [()];
        batch(
            Self::schema(),
            vec![
                oids(&rows, |_| oid::DATABASE),
                texts(&rows, |_| Some("cairn".into())),
                oids(&rows, |_| owner(catalog)),
                Arc::new(Int32Array::from(vec![6])),
                texts(&rows, |_| Some("c".into())),
                bools(&rows, |_| false),
                bools(&rows, |_| true),
                Arc::new(Int32Array::from(vec![-1])),
                oids(&rows, |_| 1663),
                texts(&rows, |_| Some("C".into())),
                texts(&rows, |_| Some("C".into())),
                texts(&rows, |_| None),
                texts(&rows, |_| None),
                texts(&rows, |_| None),
                no_acls(&rows),
            ],
        )
    }
}

/// `pg_am`: the access methods pg_class refers to.
pub struct PgAm;

impl PgTable for PgAm {
    const NAME: &'static str = "pg_am";

    fn schema() -> SchemaRef {
        schema(&[("oid", DataType::UInt32), ("amname", DataType::Utf8), ("amhandler", DataType::UInt32), ("amtype", DataType::Utf8)])
    }

    fn batch(_catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = [(oid::HEAP_AM, "heap", "t"), (oid::BTREE_AM, "btree", "i")];
        batch(
            Self::schema(),
            vec![
                oids(&rows, |r| r.0),
                texts(&rows, |r| Some(r.1.into())),
                oids(&rows, |_| 0),
                texts(&rows, |r| Some(r.2.into())),
            ],
        )
    }
}

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
                texts(rows, |t| Some(if t.element != 0 { "array_in".into() } else { format!("{}in", t.name) })),
                texts(rows, |t| Some(if t.element != 0 { "array_out".into() } else { format!("{}out", t.name) })),
                texts(rows, |t| Some(if t.element != 0 { "array_recv".into() } else { format!("{}recv", t.name) })),
                texts(rows, |t| Some(if t.element != 0 { "array_send".into() } else { format!("{}send", t.name) })),
                texts(rows, |t| Some(match t.len { 1 => "c", 2 => "s", 8 => "d", _ => "i" }.into())),
                texts(rows, |t| Some(if t.len == -1 { "x" } else { "p" }.into())),
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

const DEFAULT_COLLATION: u32 = 100;

/// One column of a table, as pg_attribute and pg_attrdef show it.
struct Attribute {
    table: u32,
    number: i16,
    column: cairn_types::ColumnDef,
}

fn attributes(catalog: &Catalog) -> cairn_types::Result<Vec<Attribute>> {
    let snapshot = catalog.snapshot();
    let mut rows = Vec::new();
    for namespace in namespaces(catalog)? {
        for table in catalog.tables(&snapshot, namespace.id)? {
            for (i, column) in table.columns.iter().enumerate() {
                rows.push(Attribute {
                    table: oid::table(table.id),
                    number: i16::try_from(i + 1).unwrap_or(i16::MAX),
                    column: column.clone(),
                });
            }
        }
    }
    Ok(rows)
}

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
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = attributes(catalog)?;
        let typed: Vec<(u32, i32)> = rows.iter().map(|a| type_of(&a.column.data_type)).collect();
        let length = |type_oid: u32| builtin(type_oid).map_or(-1, |t| t.len);
        let textual = |a: &Attribute| {
            matches!(a.column.data_type, cairn_types::DataType::Text | cairn_types::DataType::Varchar { .. })
        };
        batch(
            Self::schema(),
            vec![
                oids(&rows, |a| a.table),
                texts(&rows, |a| Some(a.column.name.clone())),
                Arc::new(UInt32Array::from_iter_values(typed.iter().map(|t| t.0))),
                Arc::new(Int16Array::from_iter_values(typed.iter().map(|t| length(t.0)))),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|a| a.number))),
                Arc::new(Int16Array::from_iter_values(
                    rows.iter().map(|a| i16::from(matches!(a.column.data_type, cairn_types::DataType::Array(_)))),
                )),
                Arc::new(Int32Array::from_iter_values(typed.iter().map(|t| t.1))),
                Arc::new(BooleanArray::from_iter(typed.iter().map(|t| Some((1..=8).contains(&length(t.0)))))),
                texts(&rows, |_| Some("i".into())),
                texts(&rows, |_| Some("x".into())),
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
            ],
        )
    }
}

/// `pg_attrdef`: column defaults; `adbin` holds the default's SQL text,
/// which `pg_get_expr` returns as it is.
pub struct PgAttrdef;

impl PgTable for PgAttrdef {
    const NAME: &'static str = "pg_attrdef";

    fn schema() -> SchemaRef {
        schema(&[("oid", DataType::UInt32), ("adrelid", DataType::UInt32), ("adnum", DataType::Int16), ("adbin", DataType::Utf8)])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows: Vec<Attribute> = attributes(catalog)?.into_iter().filter(|a| a.column.default.is_some()).collect();
        batch(
            Self::schema(),
            vec![
                // Unique per (table, column); no CairnDB object has these OIDs.
                oids(&rows, |a| a.table.wrapping_mul(64).wrapping_add(a.number as u32)),
                oids(&rows, |a| a.table),
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|a| a.number))),
                texts(&rows, |a| a.column.default.clone()),
            ],
        )
    }
}

/// `pg_collation`: `default` and `C`, both bytewise in CairnDB.
pub struct PgCollation;

impl PgTable for PgCollation {
    const NAME: &'static str = "pg_collation";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("collname", DataType::Utf8),
            ("collnamespace", DataType::UInt32),
            ("collprovider", DataType::Utf8),
            ("collisdeterministic", DataType::Boolean),
            ("collencoding", DataType::Int32),
            ("collcollate", DataType::Utf8),
            ("collctype", DataType::Utf8),
        ])
    }

    fn batch(_catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let rows = [(DEFAULT_COLLATION, "default", "d"), (950, "C", "c")];
        batch(
            Self::schema(),
            vec![
                oids(&rows, |r| r.0),
                texts(&rows, |r| Some(r.1.into())),
                oids(&rows, |_| oid::PG_CATALOG_NAMESPACE),
                texts(&rows, |r| Some(r.2.into())),
                bools(&rows, |_| true),
                Arc::new(Int32Array::from(vec![-1, -1])),
                texts(&rows, |_| Some("C".into())),
                texts(&rows, |_| Some("C".into())),
            ],
        )
    }
}

/// `pg_auth_members`: empty. CairnDB roles are levels, not memberships.
pub struct PgAuthMembers;

impl PgTable for PgAuthMembers {
    const NAME: &'static str = "pg_auth_members";

    fn schema() -> SchemaRef {
        schema(&[
            ("oid", DataType::UInt32),
            ("roleid", DataType::UInt32),
            ("member", DataType::UInt32),
            ("grantor", DataType::UInt32),
            ("admin_option", DataType::Boolean),
            ("inherit_option", DataType::Boolean),
            ("set_option", DataType::Boolean),
        ])
    }

    fn batch(_catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        Ok(RecordBatch::new_empty(Self::schema()))
    }
}
