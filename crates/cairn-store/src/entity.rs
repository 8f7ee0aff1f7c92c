//! Typed entities and their secondary indexes.
//!
//! An [`Entity`] names its key type and its indexes. The store lays them out
//! as:
//!
//! ```text
//! meta keyspace:   [kind] [entity key]                          -> value
//! index keyspace:  [kind] [index id] [index key] [entity key]   -> (empty)
//! ```
//!
//! Because every key part is self-delimiting, `[kind][index id][index key]`
//! is a prefix of exactly the entries for that index value.

use cairn_types::{DroppedTable, Job, JobStatus, LiveQuery, Namespace, Role, Storage, TableDef, Timestamp, User};
use serde::{de::DeserializeOwned, Serialize};

use crate::key::KeyCodec;

/// The first byte of every key in the meta and index keyspaces. Explicit
/// numbers: they are on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntityKind {
    Sequence = 1,
    User = 2,
    Namespace = 3,
    Table = 4,
    Storage = 5,
    Job = 6,
    LiveQuery = 7,
    DroppedTable = 8,
}

/// A record kept in the meta keyspace under a typed key.
pub trait Entity: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: EntityKind;
    type Key: KeyCodec + Clone + PartialEq + Send + Sync;

    fn key(&self) -> Self::Key;

    /// The secondary indexes kept in the same atomic write as the entity.
    fn indexes() -> &'static [&'static dyn Index<Self>] {
        &[]
    }
}

/// A secondary index over entities of type `E`, without its key type: the
/// store needs only this to maintain it.
pub trait Index<E>: Sync {
    fn id(&self) -> u8;
    fn name(&self) -> &'static str;
    fn is_unique(&self) -> bool;
    /// The encoded index key of `entity`, or `None` if the entity is not in
    /// this (partial) index.
    fn encoded_key_of(&self, entity: &E) -> Option<Vec<u8>>;
    /// How a duplicate is described to the client: `Key (col)=(value)`.
    fn describe(&self, entity: &E) -> String;
}

/// A typed index definition: `key_of` extracts the indexed value.
pub struct IndexDef<E, K> {
    pub id: u8,
    pub name: &'static str,
    /// The indexed column(s), for messages.
    pub columns: &'static str,
    pub unique: bool,
    pub key_of: fn(&E) -> Option<K>,
}

impl<E, K> Index<E> for IndexDef<E, K>
where
    K: KeyCodec + std::fmt::Debug,
{
    fn id(&self) -> u8 {
        self.id
    }
    fn name(&self) -> &'static str {
        self.name
    }
    fn is_unique(&self) -> bool {
        self.unique
    }
    fn encoded_key_of(&self, entity: &E) -> Option<Vec<u8>> {
        (self.key_of)(entity).map(|key| key.to_key_bytes())
    }
    fn describe(&self, entity: &E) -> String {
        let value = match (self.key_of)(entity) {
            Some(key) => format!("{key:?}"),
            None => "NULL".into(),
        };
        format!("Key ({})=({}) already exists.", self.columns, value.trim_matches('"'))
    }
}

// --- the system entities -------------------------------------------------

pub static USERS_BY_LIVE_USERNAME: IndexDef<User, String> = IndexDef {
    id: 1,
    name: "users_username_key",
    columns: "username",
    unique: true,
    // Partial: a dropped user frees its name for a new account.
    key_of: |user| (!user.is_deleted()).then(|| user.username.clone()),
};
pub static USERS_BY_USERNAME: IndexDef<User, String> = IndexDef {
    id: 2,
    name: "users_username_idx",
    columns: "username",
    unique: false,
    key_of: |user| Some(user.username.clone()),
};
pub static USERS_BY_ROLE: IndexDef<User, Role> = IndexDef {
    id: 3,
    name: "users_role_idx",
    columns: "role",
    unique: false,
    key_of: |user| Some(user.role),
};
pub static USERS_BY_DELETED_AT: IndexDef<User, Option<Timestamp>> = IndexDef {
    id: 4,
    name: "users_deleted_at_idx",
    columns: "deleted_at",
    unique: false,
    key_of: |user| Some(user.deleted_at),
};

impl Entity for User {
    const KIND: EntityKind = EntityKind::User;
    type Key = cairn_types::UserId;
    fn key(&self) -> Self::Key {
        self.id
    }
    fn indexes() -> &'static [&'static dyn Index<Self>] {
        &USER_INDEXES
    }
}

pub static NAMESPACES_BY_NAME: IndexDef<Namespace, String> = IndexDef {
    id: 1,
    name: "namespaces_name_key",
    columns: "name",
    unique: true,
    key_of: |namespace| Some(namespace.name.clone()),
};

impl Entity for Namespace {
    const KIND: EntityKind = EntityKind::Namespace;
    type Key = cairn_types::NamespaceId;
    fn key(&self) -> Self::Key {
        self.id
    }
    fn indexes() -> &'static [&'static dyn Index<Self>] {
        &NAMESPACE_INDEXES
    }
}

pub static TABLES_BY_NAMESPACE: IndexDef<TableDef, cairn_types::NamespaceId> = IndexDef {
    id: 1,
    name: "tables_namespace_idx",
    columns: "namespace_id",
    unique: false,
    key_of: |table| Some(table.namespace_id),
};
pub static TABLES_BY_NAME: IndexDef<TableDef, (cairn_types::NamespaceId, String)> = IndexDef {
    id: 2,
    name: "tables_namespace_name_key",
    columns: "namespace_id, name",
    unique: true,
    key_of: |table| Some((table.namespace_id, table.name.clone())),
};

impl Entity for TableDef {
    const KIND: EntityKind = EntityKind::Table;
    type Key = cairn_types::TableId;
    fn key(&self) -> Self::Key {
        self.id
    }
    fn indexes() -> &'static [&'static dyn Index<Self>] {
        &TABLE_INDEXES
    }
}

pub static STORAGES_BY_NAME: IndexDef<Storage, String> = IndexDef {
    id: 1,
    name: "storages_name_key",
    columns: "name",
    unique: true,
    key_of: |storage| Some(storage.name.clone()),
};

impl Entity for Storage {
    const KIND: EntityKind = EntityKind::Storage;
    type Key = cairn_types::StorageId;
    fn key(&self) -> Self::Key {
        self.id
    }
    fn indexes() -> &'static [&'static dyn Index<Self>] {
        &STORAGE_INDEXES
    }
}

pub static JOBS_BY_STATUS: IndexDef<Job, JobStatus> = IndexDef {
    id: 1,
    name: "jobs_status_idx",
    columns: "status",
    unique: false,
    key_of: |job| Some(job.status),
};

impl Entity for Job {
    const KIND: EntityKind = EntityKind::Job;
    type Key = cairn_types::JobId;
    fn key(&self) -> Self::Key {
        self.id
    }
    fn indexes() -> &'static [&'static dyn Index<Self>] {
        &JOB_INDEXES
    }
}

impl Entity for LiveQuery {
    const KIND: EntityKind = EntityKind::LiveQuery;
    type Key = cairn_types::LiveQueryId;
    fn key(&self) -> Self::Key {
        self.id
    }
}

impl Entity for DroppedTable {
    const KIND: EntityKind = EntityKind::DroppedTable;
    type Key = cairn_types::TableId;
    fn key(&self) -> Self::Key {
        self.id
    }
}

static USER_INDEXES: [&dyn Index<User>; 4] = [&USERS_BY_LIVE_USERNAME, &USERS_BY_USERNAME, &USERS_BY_ROLE, &USERS_BY_DELETED_AT];

static NAMESPACE_INDEXES: [&dyn Index<Namespace>; 1] = [&NAMESPACES_BY_NAME];

static TABLE_INDEXES: [&dyn Index<TableDef>; 2] = [&TABLES_BY_NAMESPACE, &TABLES_BY_NAME];

static STORAGE_INDEXES: [&dyn Index<Storage>; 1] = [&STORAGES_BY_NAME];

static JOB_INDEXES: [&dyn Index<Job>; 1] = [&JOBS_BY_STATUS];
