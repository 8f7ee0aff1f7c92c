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
