use super::*;

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
    let users: Vec<User> = catalog
        .snapshot()
        .scan::<User>()
        .collect::<cairn_types::Result<_>>()?;
    let sees_all = matches!(actor.role, Role::Dba | Role::System);
    Ok(users
        .into_iter()
        .filter(|u| !u.is_deleted() && (sees_all || u.id == actor.user_id))
        .collect())
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
