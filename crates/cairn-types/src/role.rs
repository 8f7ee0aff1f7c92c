use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::CairnError;

/// A user's role. The order of the variants is the order of privilege:
/// `User < Service < Dba < System`, so roles compare with `<` and `>=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// An application end user: sees only its own rows and its own account.
    User,
    /// A backend service: may act for users (`EXECUTE AS USER`, later).
    Service,
    /// An administrator: manages users and reads every system table.
    Dba,
    /// The built-in superuser (`root`).
    System,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::User, Role::Service, Role::Dba, Role::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Service => "service",
            Role::Dba => "dba",
            Role::System => "system",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = CairnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                CairnError::InvalidParameterValue(format!(
                    "invalid role \"{s}\": expected one of user, service, dba, system"
                ))
            })
    }
}

/// Who may read and write a shared table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccessLevel {
    Public,
    Private,
    Restricted,
    Dba,
}

impl AccessLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Public => "public",
            AccessLevel::Private => "private",
            AccessLevel::Restricted => "restricted",
            AccessLevel::Dba => "dba",
        }
    }
}

/// How a table's rows are partitioned and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TableKind {
    /// Rows partitioned by user id; each user sees only its own.
    User,
    /// One partition, guarded by an [`AccessLevel`].
    Shared,
    /// Append-mostly rows that expire after a TTL.
    Stream,
    /// Built in and read-only (`system.*`).
    System,
}

impl TableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::User => "user",
            TableKind::Shared => "shared",
            TableKind::Stream => "stream",
            TableKind::System => "system",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_privilege() {
        assert!(Role::User < Role::Service);
        assert!(Role::Service < Role::Dba);
        assert!(Role::Dba < Role::System);
    }

    #[test]
    fn roles_parse_case_insensitively_and_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
            assert_eq!(role.as_str().to_uppercase().parse::<Role>().ok(), Some(role));
        }
        assert!("admin".parse::<Role>().is_err());
    }
}
