//! The catalog service: every change to users, namespaces, storages, jobs
//! and live-query records goes through here, checked by [`crate::access`].
//!
//! Methods that write or hash passwords block (fsync, scrypt): async callers
//! run them on a blocking thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use cairn_store::entity::{
    NAMESPACES_BY_NAME, STORAGES_BY_NAME, TABLES_BY_NAME, TABLES_BY_NAMESPACE, USERS_BY_LIVE_USERNAME,
};
use cairn_store::{Sequence, Snapshot, Store, Writer};
use cairn_types::{
    AccessLevel, CairnError, ColumnDef, TableKind, Job, JobId, JobStatus, JobType, LiveQuery, LiveQueryId, Namespace, NamespaceId,
    Result, Role, SessionId, SqlState, Storage, StorageId, StorageKind, TableDef, TableId, Timestamp, User, UserId,
};

use crate::access::{self, Actor, UserChange};
use crate::logins::{LockoutPolicy, LoginGuard};
use crate::password::{hash_password, verify_password, HashCost};
use crate::sessions::Sessions;

/// The account created at first start.
pub const ROOT_USERNAME: &str = "root";
/// The namespace created at first start: `public`, the schema every
/// PostgreSQL client assumes (`search_path` defaults to `"$user", public`).
pub const DEFAULT_NAMESPACE: &str = "public";
/// The storage created at first start: a directory under the data directory.
pub const LOCAL_STORAGE: &str = "local";

/// Namespace names that are taken by the system or by PostgreSQL clients'
/// expectations (plus every name starting with `pg_`).
pub const RESERVED_NAMESPACES: &[&str] = &["system", "pg_catalog", "information_schema"];

/// PostgreSQL truncates identifiers at 63 bytes; CairnDB refuses longer ones.
const MAX_NAME_LEN: usize = 63;

#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogOptions {
    pub hash_cost: HashCost,
    pub lockout: LockoutPolicy,
}

/// What [`Catalog::user_is_current`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityCheck {
    Current,
    /// Dropped (or dropped and its name given to a new user).
    Dropped,
    RoleChanged(Role),
}

/// Table ids below this are reserved for built-in tables.
pub const FIRST_TABLE_ID: u64 = 1000;

/// A request to create a table.
#[derive(Debug, Clone)]
pub struct NewTable {
    pub namespace: String,
    pub name: String,
    pub kind: TableKind,
    pub access_level: Option<AccessLevel>,
    pub ttl_seconds: Option<u64>,
    pub columns: Vec<ColumnDef>,
    /// Positions into `columns`; empty for a hidden row key.
    pub primary_key: Vec<u16>,
}

/// A request to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub email: Option<String>,
}

pub struct Catalog {
    store: Store,
    sessions: Sessions,
    logins: LoginGuard,
    options: CatalogOptions,
    /// A hash verified when the user does not exist, so that an unknown
    /// user costs as much time as a wrong password.
    decoy_hash: OnceLock<String>,
    /// Bumped after every committed change to a user, so that open
    /// sessions notice a drop or a role change with one atomic load per
    /// statement instead of a lookup.
    users_version: AtomicU64,
    /// Bumped after every committed change to a namespace or a table, so
    /// that plans kept by sessions are made again once it moves.
    schema_version: AtomicU64,
}

fn validate_name(kind: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(CairnError::InvalidParameterValue(format!("{kind} name must not be empty")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(CairnError::InvalidParameterValue(format!(
            "{kind} name \"{name}\" is longer than {MAX_NAME_LEN} bytes"
        )));
    }
    Ok(())
}

/// Names PostgreSQL tools treat as theirs, and CairnDB's own `system`.
fn validate_namespace_name(name: &str) -> Result<()> {
    validate_name("namespace", name)?;
    let lower = name.to_ascii_lowercase();
    if RESERVED_NAMESPACES.contains(&lower.as_str()) || lower.starts_with("pg_") {
        return Err(CairnError::ReservedName(format!(
            "namespace name \"{name}\" is reserved"
        )));
    }
    Ok(())
}

fn validate_email(email: &Option<String>) -> Result<()> {
    match email {
        Some(email) if !email.contains('@') => Err(CairnError::InvalidParameterValue(format!(
            "invalid email address \"{email}\""
        ))),
        _ => Ok(()),
    }
}

fn validate_password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(CairnError::InvalidParameterValue("password must not be empty".into()));
    }
    Ok(())
}

impl Catalog {
    pub fn new(store: Store, options: CatalogOptions) -> Catalog {
        Catalog {
            store,
            sessions: Sessions::default(),
            logins: LoginGuard::new(options.lockout),
            options,
            decoy_hash: OnceLock::new(),
            users_version: AtomicU64::new(0),
            schema_version: AtomicU64::new(0),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn snapshot(&self) -> Snapshot {
        self.store.snapshot()
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Creates what a new data directory needs: the `root` user, the
    /// `public` namespace and the `local` storage. Idempotent. Returns the
    /// root password if it was generated here (print it once).
    pub fn bootstrap(&self, root_password: Option<&str>) -> Result<Option<String>> {
        // First start means no user at all: root, the default namespace and
        // the local storage are created together, in one atomic write. After
        // that the administrators own them (a dropped `public` stays dropped).
        if self.snapshot().scan::<User>().next().is_some() {
            return Ok(None);
        }
        let (password, generated) = match root_password {
            Some(password) => (password.to_owned(), None),
            None => {
                let password = generate_password();
                (password.clone(), Some(password))
            }
        };
        validate_password(&password)?;
        let hash = hash_password(&password, self.options.hash_cost)?;
        self.store.write(|w| {
            insert_user(w, ROOT_USERNAME.into(), hash, Role::System, None)?;
            let id = NamespaceId(w.next_id(Sequence::Namespace, 1)?);
            w.put(&Namespace { id, name: DEFAULT_NAMESPACE.into(), created_at: Timestamp::now() })?;
            let id = StorageId(w.next_id(Sequence::Storage, 1)?);
            w.put(&Storage {
                id,
                name: LOCAL_STORAGE.into(),
                kind: StorageKind::Local { path: "storage".into() },
                created_at: Timestamp::now(),
            })
        })?;
        Ok(generated)
    }

    /// The namespace with this name.
    pub fn namespace(&self, snapshot: &Snapshot, name: &str) -> Result<Option<Namespace>> {
        snapshot.lookup(&NAMESPACES_BY_NAME, &name.to_owned()).next().transpose()
    }

    /// `CREATE NAMESPACE`. Returns false if it existed and `if_not_exists`.
    pub fn create_namespace(&self, actor: &Actor, name: &str, if_not_exists: bool) -> Result<bool> {
        access::check_manage_namespaces(actor)?;
        validate_namespace_name(name)?;
        let created = self.store.write(|w| {
            if self.namespace(&self.snapshot(), name)?.is_some() {
                return if if_not_exists {
                    Ok(false)
                } else {
                    Err(CairnError::DuplicateSchema(format!("schema \"{name}\" already exists")))
                };
            }
            let id = NamespaceId(w.next_id(Sequence::Namespace, 1)?);
            w.put(&Namespace { id, name: name.to_owned(), created_at: Timestamp::now() })?;
            Ok(true)
        })?;
        if created {
            tracing::info!(actor = %actor.username, namespace = name, "namespace created");
            self.schema_changed();
        }
        Ok(created)
    }

    /// `DROP NAMESPACE`. Without `cascade` a namespace that still holds
    /// tables is refused (2BP01); with it, its tables go too, in the same
    /// atomic write. Returns false if it did not exist and `if_exists`.
    pub fn drop_namespace(&self, actor: &Actor, name: &str, if_exists: bool, cascade: bool) -> Result<bool> {
        access::check_manage_namespaces(actor)?;
        let dropped = self.store.write(|w| {
            let snapshot = self.snapshot();
            let Some(namespace) = self.namespace(&snapshot, name)? else {
                return if if_exists {
                    Ok(false)
                } else {
                    Err(CairnError::UndefinedObject(format!("namespace \"{name}\" does not exist")))
                };
            };
            let tables: Vec<TableDef> =
                snapshot.lookup(&TABLES_BY_NAMESPACE, &namespace.id).collect::<Result<_>>()?;
            if !tables.is_empty() && !cascade {
                return Err(CairnError::DependentObjectsStillExist(format!(
                    "cannot drop namespace \"{name}\" because {} table(s) depend on it; use DROP NAMESPACE {name} CASCADE",
                    tables.len()
                )));
            }
            for table in &tables {
                w.drop_table_rows(table.id)?;
                w.delete::<TableDef>(&table.id)?;
            }
            w.delete::<Namespace>(&namespace.id)?;
            Ok(true)
        })?;
        if dropped {
            tracing::info!(actor = %actor.username, namespace = name, "namespace dropped");
            self.schema_changed();
            self.remove_dropped_rows();
        }
        Ok(dropped)
    }

    /// Changes whenever a user is altered or dropped (see [`Catalog::user_is_current`]).
    pub fn users_version(&self) -> u64 {
        self.users_version.load(Ordering::Acquire)
    }

    /// Whether `actor` is still who its session logged in as: the same
    /// user, not dropped, with the same role. Sessions ask this when
    /// [`Catalog::users_version`] moved since they last did.
    pub fn user_is_current(&self, actor: &Actor) -> Result<IdentityCheck> {
        Ok(match self.live_user(&self.snapshot(), &actor.username)? {
            Some(user) if user.id != actor.user_id => IdentityCheck::Dropped,
            Some(user) if user.role != actor.role => IdentityCheck::RoleChanged(user.role),
            Some(_) => IdentityCheck::Current,
            None => IdentityCheck::Dropped,
        })
    }

    /// Changes whenever a namespace or table is created, altered or
    /// dropped: a plan made before it may name what is no longer there.
    pub fn schema_version(&self) -> u64 {
        self.schema_version.load(Ordering::Acquire)
    }

    fn schema_changed(&self) {
        self.schema_version.fetch_add(1, Ordering::Release);
    }

    /// Called after a user change commits; a session that reads the new
    /// version then sees the change in its snapshot.
    fn users_changed(&self) {
        self.users_version.fetch_add(1, Ordering::Release);
    }

    /// The live (not dropped) user with this name.
    pub fn live_user(&self, snapshot: &Snapshot, username: &str) -> Result<Option<User>> {
        snapshot.lookup(&USERS_BY_LIVE_USERNAME, &username.to_string()).next().transpose()
    }

    /// Checks a login. Unknown user, dropped user, wrong password and a
    /// locked account all fail the same way (28P01, same message); the
    /// server log says which.
    pub fn authenticate(&self, username: &str, password: &str) -> Result<User> {
        let failed = || CairnError::AuthenticationFailed { user: username.to_owned() };
        let now = Instant::now();
        if self.logins.is_locked(username, now) {
            tracing::warn!(user = username, "login refused: account is locked after repeated failures");
            return Err(failed());
        }
        let user = self.live_user(&self.snapshot(), username)?;
        let matches = match &user {
            Some(user) => verify_password(password, &user.password_hash)?,
            None => {
                let decoy = match self.decoy_hash.get() {
                    Some(hash) => hash.clone(),
                    None => {
                        let hash = hash_password("decoy", self.options.hash_cost)?;
                        self.decoy_hash.get_or_init(|| hash).clone()
                    }
                };
                verify_password(password, &decoy)?;
                false
            }
        };
        match user {
            Some(user) if matches => {
                self.logins.record_success(username);
                Ok(user)
            }
            _ => {
                if self.logins.record_failure(username, now) {
                    tracing::warn!(
                        user = username,
                        "account locked for {:?} after {} failed logins",
                        self.options.lockout.lock_duration,
                        self.options.lockout.max_failures
                    );
                } else {
                    tracing::info!(user = username, "failed login");
                }
                Err(failed())
            }
        }
    }

    pub fn create_user(&self, actor: &Actor, new: NewUser) -> Result<User> {
        access::check_create_user(actor, new.role)?;
        validate_name("user", &new.username)?;
        validate_password(&new.password)?;
        validate_email(&new.email)?;
        let hash = hash_password(&new.password, self.options.hash_cost)?;
        let user = self
            .store
            .write(|w| insert_user(w, new.username.clone(), hash, new.role, new.email.clone()))?;
        tracing::info!(actor = %actor.username, user = %user.username, role = %user.role, "user created");
        Ok(user)
    }

    pub fn alter_user(&self, actor: &Actor, username: &str, change: UserChange) -> Result<User> {
        // Hash outside the write lock: scrypt is slow on purpose.
        let new_hash = match &change {
            UserChange::Password(password) => {
                validate_password(password)?;
                Some(hash_password(password, self.options.hash_cost)?)
            }
            UserChange::Email(email) => {
                validate_email(email)?;
                None
            }
            UserChange::Role(_) => None,
        };
        let user = self.store.write(|w| {
            let mut user = live_user_for_write(w, self, username)?
                .ok_or_else(|| access::unknown_user(actor, username, access::UserOp::Alter))?;
            access::check_alter_user(actor, &user, &change)?;
            match change {
                UserChange::Password(_) => {
                    user.password_hash = new_hash.unwrap_or_default();
                }
                UserChange::Role(role) => user.role = role,
                UserChange::Email(email) => user.email = email,
            }
            user.updated_at = Timestamp::now();
            w.put(&user)?;
            Ok(user)
        })?;
        self.users_changed();
        tracing::info!(actor = %actor.username, user = %user.username, "user altered");
        Ok(user)
    }

    /// Soft-deletes a user: `deleted_at` is set and it can no longer log
    /// in. Returns false if it did not exist and `if_exists` was given.
    pub fn drop_user(&self, actor: &Actor, username: &str, if_exists: bool) -> Result<bool> {
        let dropped = self.store.write(|w| {
            let Some(mut user) = live_user_for_write(w, self, username)? else {
                let unknown = access::unknown_user(actor, username, access::UserOp::Drop);
                // IF EXISTS spares only those who may know that it does not.
                return if if_exists && unknown.code() != SqlState::INSUFFICIENT_PRIVILEGE { Ok(false) } else { Err(unknown) };
            };
            access::check_drop_user(actor, &user)?;
            let now = Timestamp::now();
            user.deleted_at = Some(now);
            user.updated_at = now;
            w.put(&user)?;
            Ok(true)
        })?;
        if dropped {
            self.users_changed();
            tracing::info!(actor = %actor.username, user = username, "user dropped");
        }
        Ok(dropped)
    }

    /// The table `name` in the namespace `namespace`.
    pub fn table(&self, snapshot: &Snapshot, namespace: &str, name: &str) -> Result<Option<TableDef>> {
        let Some(namespace) = self.namespace(snapshot, namespace)? else {
            return Ok(None);
        };
        snapshot.lookup(&TABLES_BY_NAME, &(namespace.id, name.to_owned())).next().transpose()
    }

    /// The tables of a namespace.
    pub fn tables(&self, snapshot: &Snapshot, namespace: NamespaceId) -> Result<Vec<TableDef>> {
        snapshot.lookup(&TABLES_BY_NAMESPACE, &namespace).collect()
    }

    /// `CREATE TABLE`. Returns `None` if it existed and `if_not_exists`.
    pub fn create_table(&self, actor: &Actor, new: NewTable, if_not_exists: bool) -> Result<Option<TableDef>> {
        access::check_manage_tables(actor)?;
        validate_name("table", &new.name)?;
        for column in &new.columns {
            validate_name("column", &column.name)?;
        }
        let created = self.store.write(|w| {
            let snapshot = self.snapshot();
            let namespace = self.namespace(&snapshot, &new.namespace)?.ok_or_else(|| {
                CairnError::InvalidSchemaName(format!("namespace \"{}\" does not exist", new.namespace))
            })?;
            if snapshot.lookup(&TABLES_BY_NAME, &(namespace.id, new.name.clone())).next().is_some() {
                return if if_not_exists {
                    Ok(None)
                } else {
                    Err(CairnError::DuplicateTable(format!("relation \"{}\" already exists", new.name)))
                };
            }
            let storage = snapshot
                .lookup(&STORAGES_BY_NAME, &LOCAL_STORAGE.to_owned())
                .next()
                .transpose()?
                .ok_or_else(|| CairnError::UndefinedObject(format!("storage \"{LOCAL_STORAGE}\" does not exist")))?;
            let table = TableDef {
                id: TableId(w.next_id(Sequence::Table, FIRST_TABLE_ID)?),
                namespace_id: namespace.id,
                name: new.name.clone(),
                kind: new.kind,
                access_level: new.access_level,
                ttl_seconds: new.ttl_seconds,
                storage_id: storage.id,
                columns: new.columns.clone(),
                primary_key: new.primary_key.clone(),
                created_at: Timestamp::now(),
            };
            w.put(&table)?;
            Ok(Some(table))
        })?;
        if let Some(table) = &created {
            tracing::info!(actor = %actor.username, namespace = %new.namespace, table = %table.name, "table created");
            self.schema_changed();
        }
        Ok(created)
    }

    /// After a drop: removes the dropped tables' rows from storage. The
    /// drop has committed and no statement can reach those rows, so a
    /// failure here is logged, not the client's; the next drop or the next
    /// start tries again.
    fn remove_dropped_rows(&self) {
        if let Err(error) = self.store.remove_dropped_rows() {
            tracing::warn!(%error, "could not remove a dropped table's rows yet");
        }
    }

    /// `DROP TABLE`: the definition and every row, in one atomic write
    /// (the rows' storage is reclaimed after it).
    pub fn drop_table(&self, actor: &Actor, namespace: &str, name: &str, if_exists: bool) -> Result<bool> {
        access::check_manage_tables(actor)?;
        let dropped = self.store.write(|w| {
            let Some(table) = self.table(&self.snapshot(), namespace, name)? else {
                return if if_exists {
                    Ok(false)
                } else {
                    Err(CairnError::UndefinedTable(format!("relation \"{namespace}.{name}\" does not exist")))
                };
            };
            w.drop_table_rows(table.id)?;
            w.delete::<TableDef>(&table.id)?;
            Ok(true)
        })?;
        if dropped {
            tracing::info!(actor = %actor.username, namespace, table = name, "table dropped");
            self.schema_changed();
            self.remove_dropped_rows();
        }
        Ok(dropped)
    }

    /// `ALTER TABLE`: `alter` changes the definition (and, through the
    /// writer, rewrites rows if it must) in one atomic write with the new
    /// definition. Returns false if the table does not exist and `if_exists`.
    pub fn alter_table(
        &self,
        actor: &Actor,
        namespace: &str,
        name: &str,
        if_exists: bool,
        alter: impl FnOnce(&mut TableDef, &mut Writer) -> Result<()>,
    ) -> Result<bool> {
        access::check_manage_tables(actor)?;
        let altered = self.store.write(|w| {
            let snapshot = self.snapshot();
            let Some(mut table) = self.table(&snapshot, namespace, name)? else {
                return if if_exists {
                    Ok(false)
                } else {
                    Err(CairnError::UndefinedTable(format!("relation \"{namespace}.{name}\" does not exist")))
                };
            };
            alter(&mut table, w)?;
            validate_name("table", &table.name)?;
            for column in &table.columns {
                validate_name("column", &column.name)?;
            }
            if table.name != name
                && snapshot.lookup(&TABLES_BY_NAME, &(table.namespace_id, table.name.clone())).next().is_some()
            {
                return Err(CairnError::DuplicateTable(format!("relation \"{}\" already exists", table.name)));
            }
            // Open transactions over this table must not commit rows shaped
            // by the old definition.
            w.touch_table(table.id);
            w.put(&table)?;
            Ok(true)
        })?;
        if altered {
            tracing::info!(actor = %actor.username, namespace, table = name, "table altered");
            self.schema_changed();
        }
        Ok(altered)
    }

    /// Removes the expired rows of every stream table (each table in its
    /// own atomic write). Returns how many rows went.
    pub fn evict_expired_rows(&self) -> Result<usize> {
        let streams: Vec<TableDef> = self
            .snapshot()
            .scan::<TableDef>()
            .filter(|table| table.as_ref().map_or(true, |t| t.kind == TableKind::Stream))
            .collect::<Result<_>>()?;
        let now = Timestamp::now();
        let mut removed = 0;
        for table in streams {
            removed += self.store.write(|w| w.delete_expired_rows(table.id, now))?;
        }
        Ok(removed)
    }

    /// Records a new job in state `new`.
    pub fn create_job(&self, job_type: JobType, table_id: Option<TableId>) -> Result<Job> {
        self.store.write(|w| {
            let job = Job {
                id: JobId(w.next_id(Sequence::Job, 1)?),
                job_type,
                status: JobStatus::New,
                table_id,
                progress: 0.0,
                error: None,
                created_at: Timestamp::now(),
                started_at: None,
                finished_at: None,
            };
            w.put(&job)?;
            Ok(job)
        })
    }

    /// Replaces a job record (status, progress, error, timestamps).
    pub fn update_job(&self, job: &Job) -> Result<()> {
        self.store.write(|w| w.put(job))
    }

    /// Records a live-query subscription.
    pub fn register_live_query(
        &self,
        user_id: UserId,
        session_id: SessionId,
        query: String,
    ) -> Result<LiveQuery> {
        self.store.write(|w| {
            let live = LiveQuery {
                id: LiveQueryId(w.next_id(Sequence::LiveQuery, 1)?),
                user_id,
                session_id,
                query,
                created_at: Timestamp::now(),
            };
            w.put(&live)?;
            Ok(live)
        })
    }

    pub fn remove_live_query(&self, id: LiveQueryId) -> Result<bool> {
        self.store.write(|w| w.delete::<LiveQuery>(&id))
    }
}

/// Looks a live user up from inside a write. Writes are serialised, so a
/// snapshot taken here sees every committed change: the check and the
/// change that follows cannot be split by another writer.
fn live_user_for_write(_w: &Writer, catalog: &Catalog, username: &str) -> Result<Option<User>> {
    catalog.live_user(&catalog.snapshot(), username)
}

fn insert_user(
    w: &mut Writer,
    username: String,
    password_hash: String,
    role: Role,
    email: Option<String>,
) -> Result<User> {
    let now = Timestamp::now();
    let user = User {
        id: UserId(w.next_id(Sequence::User, 1)?),
        username,
        password_hash,
        role,
        email,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    w.put(&user)?;
    Ok(user)
}

/// 24 characters from a 62-letter alphabet: about 143 bits.
fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..24)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}
