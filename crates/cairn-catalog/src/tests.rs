use std::time::Duration;

use cairn_store::{Store, StoreOptions};
use cairn_types::Role;

use crate::{Actor, Catalog, CatalogOptions, HashCost, LockoutPolicy, NewUser, UserChange};

fn catalog(dir: &tempfile::TempDir) -> Catalog {
    let store = Store::open(dir.path(), &StoreOptions::default()).expect("store");
    Catalog::new(
        store,
        CatalogOptions {
            hash_cost: HashCost { log_n: 4 },
            lockout: LockoutPolicy { max_failures: 3, lock_duration: Duration::from_secs(60) },
        },
    )
}

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser { username: name.into(), password: format!("{name}-pw"), role, email: None }
}

#[test]
fn bootstrap_creates_root_once_and_generates_a_password_only_when_none_is_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = catalog(&dir);
    let generated = catalog.bootstrap(None).expect("bootstrap").expect("generated");
    assert_eq!(generated.len(), 24);
    assert!(catalog.bootstrap(Some("ignored")).expect("again").is_none());
    let root = catalog.authenticate("root", &generated).expect("root logs in");
    assert_eq!(root.role, Role::System);
    assert!(catalog.authenticate("root", "ignored").is_err());
}

#[test]
fn users_lifecycle_with_soft_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = catalog(&dir);
    catalog.bootstrap(Some("root-pw")).expect("bootstrap");
    let root = Actor::of(&catalog.authenticate("root", "root-pw").expect("root"));
    let alice = catalog.create_user(&root, new_user("alice", Role::User)).expect("alice");
    let duplicate = catalog.create_user(&root, new_user("alice", Role::Dba)).expect_err("dup");
    assert_eq!(duplicate.code().as_str(), "23505");

    // alice changes her own password but nothing else.
    let alice_actor = Actor::of(&alice);
    catalog
        .alter_user(&alice_actor, "alice", UserChange::Password("new-pw".into()))
        .expect("own password");
    assert!(catalog.authenticate("alice", "alice-pw").is_err());
    catalog.authenticate("alice", "new-pw").expect("new password works");
    let denied = catalog.alter_user(&alice_actor, "alice", UserChange::Role(Role::Dba));
    assert_eq!(denied.expect_err("denied").code().as_str(), "42501");
    let denied = catalog.create_user(&alice_actor, new_user("mallory", Role::User));
    assert_eq!(denied.expect_err("denied").code().as_str(), "42501");

    catalog.drop_user(&root, "alice", false).expect("drop");
    assert!(catalog.authenticate("alice", "new-pw").is_err(), "a dropped user cannot log in");
    assert!(!catalog.drop_user(&root, "alice", true).expect("if exists"));
    let missing = catalog.drop_user(&root, "alice", false).expect_err("gone");
    assert_eq!(missing.code().as_str(), "42704");
    // The name is free again.
    catalog.create_user(&root, new_user("alice", Role::User)).expect("recreate");
}

#[test]
fn repeated_failures_lock_the_account_with_the_same_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = catalog(&dir);
    catalog.bootstrap(Some("root-pw")).expect("bootstrap");
    let root = Actor::of(&catalog.authenticate("root", "root-pw").expect("root"));
    catalog.create_user(&root, new_user("bob", Role::User)).expect("bob");
    let unknown = catalog.authenticate("nobody", "x").expect_err("unknown").to_string();
    for _ in 0..3 {
        let error = catalog.authenticate("bob", "wrong").expect_err("wrong");
        assert_eq!(error.code().as_str(), "28P01");
    }
    let locked = catalog.authenticate("bob", "bob-pw").expect_err("locked");
    assert_eq!(locked.code().as_str(), "28P01");
    assert_eq!(
        locked.to_string().replace("bob", "nobody"),
        unknown,
        "locked, wrong and unknown look alike"
    );
}

#[test]
fn ids_survive_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first_id = {
        let catalog = catalog(&dir);
        catalog.bootstrap(Some("root-pw")).expect("bootstrap");
        let root = Actor::of(&catalog.authenticate("root", "root-pw").expect("root"));
        catalog.create_user(&root, new_user("carol", Role::User)).expect("carol").id
    };
    let catalog = catalog(&dir);
    catalog.bootstrap(Some("other")).expect("bootstrap is idempotent");
    let root = Actor::of(&catalog.authenticate("root", "root-pw").expect("root keeps its password"));
    let dave = catalog.create_user(&root, new_user("dave", Role::User)).expect("dave");
    assert!(dave.id > first_id);
    let job = catalog.create_job(cairn_types::JobType::Flush, None).expect("job");
    assert_eq!(job.id.0, 1);
}

#[test]
fn namespaces_are_created_dropped_and_reserved_names_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = catalog(&dir);
    catalog.bootstrap(Some("root-pw")).expect("bootstrap");
    let root = Actor::of(&catalog.authenticate("root", "root-pw").expect("root"));
    assert!(catalog.create_namespace(&root, "app", false).expect("create"));
    assert!(!catalog.create_namespace(&root, "app", true).expect("if not exists"));
    let duplicate = catalog.create_namespace(&root, "app", false).expect_err("duplicate");
    assert_eq!(duplicate.code().as_str(), "42P06");
    for reserved in ["system", "pg_catalog", "information_schema", "pg_temp"] {
        let error = catalog.create_namespace(&root, reserved, false).expect_err(reserved);
        assert_eq!(error.code().as_str(), "42939", "{reserved}");
    }
    let alice = catalog.create_user(&root, new_user("alice", Role::User)).expect("alice");
    let denied = catalog.create_namespace(&Actor::of(&alice), "mine", false).expect_err("denied");
    assert_eq!(denied.code().as_str(), "42501");

    // A namespace with a table needs CASCADE, which drops the table too.
    let snapshot = catalog.snapshot();
    let app = catalog.namespace(&snapshot, "app").expect("read").expect("exists");
    catalog
        .store()
        .write(|w| {
            w.put(&cairn_types::TableDef {
                id: cairn_types::TableId(1000),
                namespace_id: app.id,
                name: "t".into(),
                kind: cairn_types::TableKind::Shared,
                access_level: None,
                ttl_seconds: None,
                storage_id: cairn_types::StorageId(1),
                columns: vec![],
                primary_key: vec![],
                created_at: cairn_types::Timestamp(0),
            })
        })
        .expect("table");
    let error = catalog.drop_namespace(&root, "app", false, false).expect_err("not empty");
    assert_eq!(error.code().as_str(), "2BP01");
    assert!(catalog.drop_namespace(&root, "app", false, true).expect("cascade"));
    let snapshot = catalog.snapshot();
    assert!(snapshot.get::<cairn_types::TableDef>(&cairn_types::TableId(1000)).expect("read").is_none());
    assert!(catalog.namespace(&snapshot, "app").expect("read").is_none());
    assert!(!catalog.drop_namespace(&root, "app", true, false).expect("if exists"));
    assert_eq!(catalog.drop_namespace(&root, "app", false, false).expect_err("gone").code().as_str(), "42704");
}

#[test]
fn eviction_removes_only_expired_rows_of_stream_tables() {
    use cairn_store::{encode_primary_key, Partition, StoredRow};
    use cairn_types::{TableKind, Timestamp, Value};
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = catalog(&dir);
    catalog.bootstrap(Some("root-pw")).expect("bootstrap");
    let root = Actor::of(&catalog.authenticate("root", "root-pw").expect("root"));
    let column = cairn_types::ColumnDef { name: "a".into(), data_type: cairn_types::DataType::BigInt, nullable: false, default: None };
    let table = |name: &str, kind, ttl| crate::NewTable {
        namespace: crate::DEFAULT_NAMESPACE.into(),
        name: name.into(),
        kind,
        access_level: None,
        ttl_seconds: ttl,
        columns: vec![column.clone()],
        primary_key: vec![0],
    };
    let events = catalog.create_table(&root, table("events", TableKind::Stream, Some(60)), false).expect("stream").expect("new");
    let plain = catalog.create_table(&root, table("plain", TableKind::Shared, None), false).expect("shared").expect("new");
    let key = |n: i64| encode_primary_key(&[&Value::Int64(n)]).expect("key");
    let expired = |n| StoredRow { expires_at: Some(Timestamp(1)), values: vec![Value::Int64(n)] };
    let live = |n| StoredRow { expires_at: None, values: vec![Value::Int64(n)] };
    catalog
        .store()
        .write(|w| {
            w.insert_row_at(&cairn_store::row_key(events.id, Partition::Shared, &key(1)), &expired(1), "k")?;
            w.insert_row_at(&cairn_store::row_key(events.id, Partition::Shared, &key(2)), &live(2), "k")?;
            w.insert_row_at(&cairn_store::row_key(plain.id, Partition::Shared, &key(1)), &live(1), "k")
        })
        .expect("rows");
    assert_eq!(catalog.evict_expired_rows().expect("evict"), 1);
    let snapshot = catalog.snapshot();
    assert_eq!(snapshot.scan_rows(events.id, Partition::Shared).count(), 1);
    assert_eq!(snapshot.scan_rows(plain.id, Partition::Shared).count(), 1);
}
