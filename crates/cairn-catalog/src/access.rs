//! The access rules: who may do what. Every permission check in CairnDB is
//! a call into this module, and `docs/access.md` is its table in prose.
//!
//! | action                                  | user | service | dba | system |
//! |-----------------------------------------|------|---------|-----|--------|
//! | read `system.users`                     | own row | own row | all | all |
//! | read `system.sessions`, `system.live_queries` | own rows | own rows | all | all |
//! | read any other `system.*` table         | no   | no      | all | all    |
//! | create a user of role r                 | no   | no      | r <= dba | any |
//! | change own password                     | yes  | yes     | yes | yes    |
//! | alter or drop another user u            | no   | no      | u.role <= dba | any |
//! | give a user role r                      | no   | no      | r <= dba | any |
//! | drop oneself                            | no   | no      | no  | no     |
//! | create or drop a namespace or a table   | no   | no      | yes | yes    |
//! | `EXECUTE AS USER u` (u's role below own)| no   | yes     | yes | yes    |
//!
//! Table data:
//!
//! | table                        | user      | service   | dba       | system    |
//! |------------------------------|-----------|-----------|-----------|-----------|
//! | USER table                   | own rows  | own rows  | own rows  | own rows  |
//! | SHARED, access PUBLIC        | read      | read/write| read/write| read/write|
//! | SHARED, access PRIVATE       | no        | read/write| read/write| read/write|
//! | SHARED, access RESTRICTED    | no        | read      | read/write| read/write|
//! | SHARED, access DBA           | no        | no        | read/write| read/write|

use cairn_store::Partition;
use cairn_types::{AccessLevel, CairnError, Result, Role, TableDef, TableKind, User, UserId};

/// The authenticated principal a statement runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
}

impl Actor {
    pub fn of(user: &User) -> Actor {
        Actor { user_id: user.id, username: user.username.clone(), role: user.role }
    }
}

/// The built-in system tables, as far as access is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemTable {
    Users,
    Namespaces,
    Tables,
    Columns,
    Storages,
    Jobs,
    LiveQueries,
    Sessions,
}

/// Which rows of a system table an actor may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowScope {
    All,
    /// Only rows that belong to this user.
    OwnedBy(UserId),
}

/// A change to a user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    Password(String),
    Role(Role),
    Email(Option<String>),
}

fn denied(what: impl Into<String>) -> CairnError {
    CairnError::InsufficientPrivilege(what.into())
}

fn is_admin(actor: &Actor) -> bool {
    actor.role >= Role::Dba
}

/// Which rows of `table` `actor` may read, or 42501.
pub fn system_table_scope(actor: &Actor, table: SystemTable) -> Result<RowScope> {
    if is_admin(actor) {
        return Ok(RowScope::All);
    }
    match table {
        SystemTable::Users | SystemTable::Sessions | SystemTable::LiveQueries => {
            Ok(RowScope::OwnedBy(actor.user_id))
        }
        SystemTable::Namespaces
        | SystemTable::Tables
        | SystemTable::Columns
        | SystemTable::Storages
        | SystemTable::Jobs => Err(denied(format!(
            "permission denied for system table: role {} may read only system.users, system.sessions and system.live_queries",
            actor.role
        ))),
    }
}

/// May `actor` create a user with `role`?
pub fn check_create_user(actor: &Actor, role: Role) -> Result<()> {
    if !is_admin(actor) {
        return Err(denied("permission denied to create user: requires role dba or system"));
    }
    if role > actor.role {
        return Err(denied(format!("permission denied to create a user with role {role}")));
    }
    Ok(())
}

/// May `actor` make `change` to `target`?
pub fn check_alter_user(actor: &Actor, target: &User, change: &UserChange) -> Result<()> {
    let is_self = actor.user_id == target.id;
    if is_self && matches!(change, UserChange::Password(_)) {
        return Ok(());
    }
    if !is_admin(actor) {
        return Err(refused(actor, &target.username, UserOp::Alter));
    }
    if target.role > actor.role {
        return Err(denied(format!(
            "permission denied to alter user \"{}\" with role {}",
            target.username, target.role
        )));
    }
    if let UserChange::Role(role) = change {
        if *role > actor.role {
            return Err(denied(format!("permission denied to grant role {role}")));
        }
    }
    Ok(())
}

/// May `actor` create or drop namespaces?
pub fn check_manage_namespaces(actor: &Actor) -> Result<()> {
    if is_admin(actor) {
        Ok(())
    } else {
        Err(denied("permission denied to create or drop a namespace: requires role dba or system"))
    }
}

/// May `actor` create, alter or drop tables?
pub fn check_manage_tables(actor: &Actor) -> Result<()> {
    if is_admin(actor) {
        Ok(())
    } else {
        Err(denied("permission denied to create, alter or drop a table: requires role dba or system"))
    }
}

/// Reading or writing table data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableOp {
    Read,
    Write,
}

/// The partition of `table` that `actor` works in for `op`, or 42501.
/// User tables always answer the actor's own partition: that is the
/// isolation guarantee, and it holds for every role.
pub fn table_partition(actor: &Actor, table: &TableDef, op: TableOp) -> Result<Partition> {
    if table.kind == TableKind::User {
        return Ok(Partition::User(actor.user_id));
    }
    let level = table.access_level.unwrap_or(AccessLevel::Private);
    let minimum = match (level, op) {
        (AccessLevel::Public, TableOp::Read) => Role::User,
        (AccessLevel::Public | AccessLevel::Private, _) => Role::Service,
        (AccessLevel::Restricted, TableOp::Read) => Role::Service,
        (AccessLevel::Restricted | AccessLevel::Dba, _) => Role::Dba,
    };
    if actor.role >= minimum {
        Ok(Partition::Shared)
    } else {
        let verb = if op == TableOp::Read { "read" } else { "write" };
        Err(denied(format!(
            "permission denied for table {}: role {} may not {verb} a table with access level {}",
            table.name,
            actor.role,
            level.as_str()
        )))
    }
}

/// May `actor` run a statement as `target` (`EXECUTE AS USER`)? A service
/// or an administrator may act for accounts of a lower role.
pub fn check_execute_as(actor: &Actor, target: &User) -> Result<()> {
    if actor.role >= Role::Service && target.role < actor.role {
        Ok(())
    } else {
        Err(refused(actor, &target.username, UserOp::ExecuteAs))
    }
}

/// What is done to another account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserOp {
    Alter,
    Drop,
    ExecuteAs,
}

/// The 42501 for `op` on `username` by someone who may not do it. It says
/// nothing of the account itself (not even whether it exists), only what
/// the actor's role allows.
fn refused(actor: &Actor, username: &str, op: UserOp) -> CairnError {
    denied(match op {
        UserOp::Alter => format!(
            "permission denied to alter user \"{username}\": a {} may change only its own password",
            actor.role
        ),
        UserOp::Drop => "permission denied to drop user: requires role dba or system".to_owned(),
        UserOp::ExecuteAs => format!(
            "permission denied to execute as user \"{username}\": role {} may act only for accounts of a lower role, and only from role service up",
            actor.role
        ),
    })
}

/// What `actor` is told when no live account `username` exists for `op`:
/// 42704 only for those who may read every account (dba and system).
/// Anyone else gets exactly the 42501 that `op` gives for an account they
/// may not touch, so that user names cannot be probed.
pub fn unknown_user(actor: &Actor, username: &str, op: UserOp) -> CairnError {
    if is_admin(actor) {
        CairnError::UndefinedObject(format!("user \"{username}\" does not exist"))
    } else {
        refused(actor, username, op)
    }
}

/// May `actor` drop `target`?
pub fn check_drop_user(actor: &Actor, target: &User) -> Result<()> {
    if !is_admin(actor) {
        return Err(refused(actor, &target.username, UserOp::Drop));
    }
    if actor.user_id == target.id {
        return Err(CairnError::ObjectInUse("current user cannot be dropped".into()));
    }
    if target.role > actor.role {
        return Err(denied(format!(
            "permission denied to drop user \"{}\" with role {}",
            target.username, target.role
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_types::Timestamp;

    fn actor(id: u64, role: Role) -> Actor {
        Actor { user_id: UserId(id), username: format!("u{id}"), role }
    }

    fn target(id: u64, role: Role) -> User {
        User {
            id: UserId(id),
            username: format!("u{id}"),
            password_hash: String::new(),
            role,
            email: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            deleted_at: None,
        }
    }

    /// The whole matrix of the module docs, row by row.
    #[test]
    fn an_unknown_user_looks_like_a_forbidden_one_below_dba() {
        for role in Role::ALL {
            for op in [UserOp::Alter, UserOp::Drop, UserOp::ExecuteAs] {
                let me = actor(1, role);
                let unknown = unknown_user(&me, "u9", op);
                if role >= Role::Dba {
                    assert_eq!(unknown.code().as_str(), "42704");
                    continue;
                }
                let forbidden = match op {
                    UserOp::Alter => check_alter_user(&me, &target(9, Role::System), &UserChange::Role(Role::User)),
                    UserOp::Drop => check_drop_user(&me, &target(9, Role::System)),
                    UserOp::ExecuteAs => check_execute_as(&me, &target(9, Role::System)),
                };
                assert_eq!(forbidden.expect_err("forbidden"), unknown, "{role:?} {op:?}");
            }
        }
    }

    #[test]
    fn the_documented_matrix_holds() {
        use Role::*;
        for role in Role::ALL {
            let me = actor(1, role);
            let admin = role >= Dba;
            assert_eq!(
                system_table_scope(&me, SystemTable::Users).ok(),
                Some(if admin { RowScope::All } else { RowScope::OwnedBy(UserId(1)) })
            );
            assert_eq!(system_table_scope(&me, SystemTable::Jobs).is_ok(), admin);
            assert_eq!(system_table_scope(&me, SystemTable::Namespaces).is_ok(), admin);
            for new_role in Role::ALL {
                assert_eq!(check_create_user(&me, new_role).is_ok(), admin && new_role <= role);
            }
            let change = UserChange::Password("x".into());
            assert!(check_alter_user(&me, &target(1, role), &change).is_ok());
            for other_role in Role::ALL {
                let other = target(2, other_role);
                assert_eq!(
                    check_alter_user(&me, &other, &change).is_ok(),
                    admin && other_role <= role
                );
                assert_eq!(check_drop_user(&me, &other).is_ok(), admin && other_role <= role);
            }
            assert!(check_drop_user(&me, &target(1, role)).is_err());
            for other_role in Role::ALL {
                assert_eq!(
                    check_execute_as(&me, &target(2, other_role)).is_ok(),
                    role >= Role::Service && other_role < role
                );
            }
            assert_eq!(check_manage_namespaces(&me).is_ok(), admin);
            assert_eq!(check_manage_tables(&me).is_ok(), admin);
        }
        let dba = actor(1, Dba);
        assert!(check_alter_user(&dba, &target(2, User), &UserChange::Role(System)).is_err());
        assert!(check_alter_user(&dba, &target(2, User), &UserChange::Role(Dba)).is_ok());
        let user = actor(1, User);
        assert!(check_alter_user(&user, &target(1, User), &UserChange::Role(Dba)).is_err());
    }

    #[test]
    fn table_access_follows_kind_and_level() {
        use cairn_types::{StorageId, TableId, Timestamp};
        let table = |kind, level| TableDef {
            id: TableId(1000),
            namespace_id: cairn_types::NamespaceId(1),
            name: "t".into(),
            kind,
            access_level: level,
            ttl_seconds: None,
            storage_id: StorageId(1),
            columns: vec![],
            primary_key: vec![],
            created_at: Timestamp(0),
        };
        let user_table = table(TableKind::User, None);
        for role in Role::ALL {
            let me = actor(7, role);
            for op in [TableOp::Read, TableOp::Write] {
                assert_eq!(table_partition(&me, &user_table, op).ok(), Some(Partition::User(UserId(7))));
            }
        }
        let expect = |level, role: Role, op| {
            table_partition(&actor(1, role), &table(TableKind::Shared, Some(level)), op).is_ok()
        };
        use AccessLevel::*;
        use TableOp::*;
        assert!(expect(Public, Role::User, Read) && !expect(Public, Role::User, Write));
        assert!(expect(Public, Role::Service, Write));
        assert!(!expect(Private, Role::User, Read) && expect(Private, Role::Service, Write));
        assert!(expect(Restricted, Role::Service, Read) && !expect(Restricted, Role::Service, Write));
        assert!(expect(Restricted, Role::Dba, Write));
        assert!(!expect(Dba, Role::Service, Read) && expect(Dba, Role::Dba, Write));
        assert!(expect(Dba, Role::System, Write));
        // No level: PRIVATE.
        assert!(table_partition(&actor(1, Role::User), &table(TableKind::Shared, None), Read).is_err());
    }

    #[test]
    fn denials_carry_42501_and_self_drop_55006() {
        let user = actor(1, Role::User);
        let error = check_create_user(&user, Role::User).expect_err("denied");
        assert_eq!(error.code().as_str(), "42501");
        let dba = actor(1, Role::Dba);
        let error = check_drop_user(&dba, &target(1, Role::Dba)).expect_err("self");
        assert_eq!(error.code().as_str(), "55006");
    }
}
