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
//! | create or drop a namespace              | no   | no      | yes | yes    |

use cairn_types::{CairnError, Result, Role, User, UserId};

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
        return Err(denied(format!(
            "permission denied to alter user \"{}\": a {} may change only its own password",
            target.username, actor.role
        )));
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

/// May `actor` drop `target`?
pub fn check_drop_user(actor: &Actor, target: &User) -> Result<()> {
    if !is_admin(actor) {
        return Err(denied("permission denied to drop user: requires role dba or system"));
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
            assert_eq!(check_manage_namespaces(&me).is_ok(), admin);
        }
        let dba = actor(1, Dba);
        assert!(check_alter_user(&dba, &target(2, User), &UserChange::Role(System)).is_err());
        assert!(check_alter_user(&dba, &target(2, User), &UserChange::Role(Dba)).is_ok());
        let user = actor(1, User);
        assert!(check_alter_user(&user, &target(1, User), &UserChange::Role(Dba)).is_err());
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
