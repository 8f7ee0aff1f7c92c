//! Store behaviour: entities, indexes against a model, sequences, restart
//! and group commit.

use std::collections::BTreeMap;

use cairn_types::{CairnError, Role, Timestamp, User, UserId};
use proptest::prelude::*;

use crate::entity::{USERS_BY_DELETED_AT, USERS_BY_LIVE_USERNAME, USERS_BY_ROLE, USERS_BY_USERNAME};
use crate::{KeyRange, Sequence, Store, StoreOptions};

fn user(id: u64, name: &str, role: Role, deleted: bool) -> User {
    User {
        id: UserId(id),
        username: name.to_owned(),
        password_hash: String::new(),
        role,
        email: None,
        created_at: Timestamp(1),
        updated_at: Timestamp(1),
        deleted_at: deleted.then_some(Timestamp(2)),
    }
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path(), &StoreOptions::default()).expect("open store")
}

#[test]
fn entities_survive_reopen_and_scan_in_key_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(&dir);
        store
            .write(|w| {
                w.put(&user(2, "bob", Role::User, false))?;
                w.put(&user(1, "alice", Role::Dba, false))
            })
            .expect("write");
    }
    let store = open(&dir);
    let snapshot = store.snapshot();
    let names: Vec<String> = snapshot
        .scan::<User>()
        .map(|u| u.expect("decode").username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let bob = snapshot.get::<User>(&UserId(2)).expect("get");
    assert_eq!(bob.map(|u| u.role), Some(Role::User));
}

#[test]
fn a_snapshot_does_not_see_later_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let before = store.snapshot();
    store.write(|w| w.put(&user(1, "alice", Role::User, false))).expect("write");
    assert_eq!(before.scan::<User>().count(), 0);
    assert_eq!(store.snapshot().scan::<User>().count(), 1);
}

#[test]
fn unique_index_rejects_a_duplicate_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    store.write(|w| w.put(&user(1, "alice", Role::User, false))).expect("first");
    let error = store
        .write(|w| {
            w.next_id(Sequence::User, 1)?;
            w.put(&user(2, "alice", Role::Dba, false))
        })
        .expect_err("duplicate must fail");
    assert_eq!(error.code().as_str(), "23505");
    assert!(matches!(&error, CairnError::UniqueViolation { detail, .. } if detail == "Key (username)=(alice) already exists."));
    let snapshot = store.snapshot();
    assert_eq!(snapshot.get::<User>(&UserId(2)).expect("get"), None);
    assert_eq!(snapshot.lookup(&USERS_BY_ROLE, &Role::Dba).count(), 0);
    // The failed batch did not consume the sequence either.
    assert_eq!(store.write(|w| w.next_id(Sequence::User, 1)).expect("id"), 1);
}

#[test]
fn two_puts_in_one_batch_cannot_claim_the_same_unique_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let result = store.write(|w| {
        w.put(&user(1, "alice", Role::User, false))?;
        w.put(&user(2, "alice", Role::User, false))
    });
    assert!(result.is_err());
    assert_eq!(store.snapshot().scan::<User>().count(), 0);
}

#[test]
fn a_soft_deleted_user_frees_its_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    store.write(|w| w.put(&user(1, "svc", Role::Service, false))).expect("create");
    store.write(|w| w.put(&user(1, "svc", Role::Service, true))).expect("soft delete");
    store.write(|w| w.put(&user(2, "svc", Role::Service, false))).expect("reuse name");
    let snapshot = store.snapshot();
    assert_eq!(snapshot.lookup(&USERS_BY_USERNAME, &"svc".to_string()).count(), 2);
    let live: Vec<User> = snapshot
        .lookup(&USERS_BY_LIVE_USERNAME, &"svc".to_string())
        .collect::<Result<_, _>>()
        .expect("lookup");
    assert_eq!(live.iter().map(|u| u.id).collect::<Vec<_>>(), [UserId(2)]);
}

#[test]
fn sequences_continue_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(&dir);
        let ids = store
            .write(|w| Ok((w.next_id(Sequence::Table, 1000)?, w.next_id(Sequence::Table, 1000)?)))
            .expect("ids");
        assert_eq!(ids, (1000, 1001));
    }
    let store = open(&dir);
    assert_eq!(store.write(|w| w.next_id(Sequence::Table, 1000)).expect("id"), 1002);
    assert_eq!(store.write(|w| w.next_id(Sequence::Job, 1)).expect("id"), 1);
}

#[test]
fn concurrent_writers_share_syncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let writers = 8;
    let writes_each = 40;
    std::thread::scope(|scope| {
        for t in 0..writers {
            let store = store.clone();
            scope.spawn(move || {
                for i in 0..writes_each {
                    let id = t * 1000 + i;
                    store
                        .write(|w| w.put(&user(id, &format!("u{id}"), Role::User, false)))
                        .expect("write");
                }
            });
        }
    });
    assert_eq!(store.snapshot().scan::<User>().count() as u64, writers * writes_each);
    // Every write was acknowledged after a sync; with eight writers at once
    // most syncs must have covered more than one write.
    assert!(
        store.sync_count() < writers * writes_each,
        "{} syncs for {} writes",
        store.sync_count(),
        writers * writes_each
    );
}

#[test]
fn async_writes_are_durable_and_share_syncs_with_blocking_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(&dir);
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let store = store.clone();
                scope.spawn(move || {
                    for i in 0..25 {
                        let id = t * 1000 + i;
                        let put = |w: &mut crate::Writer| w.put(&user(id, &format!("u{id}"), Role::User, false));
                        if t % 2 == 0 {
                            futures::executor::block_on(store.write_async(put)).expect("async write");
                        } else {
                            store.write(put).expect("write");
                        }
                    }
                });
            }
        });
        assert!(store.sync_count() > 0 && store.sync_count() <= 100, "{} syncs", store.sync_count());
    }
    // Every acknowledged write is there after reopening.
    assert_eq!(open(&dir).snapshot().scan::<User>().count(), 100);
}

/// Guards what `journal.rs` assumes of fjall: when fjall rotates its
/// journal, the sync follows to the new file, the newest on disk.
#[test]
fn syncs_follow_fjall_to_a_rotated_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    // Incompressible: fjall compresses large journal entries.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = || {
        (0..1 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect::<String>()
    };
    let mut put = |id: u64| {
        let mut big = user(id, &format!("u{id}"), Role::User, false);
        big.email = Some(noise());
        store.write(|w| w.put(&big)).expect("write");
    };
    put(0);
    let (first, newest) = store.journal_ids();
    assert!(first.is_some() && first == newest, "{first:?} {newest:?}");
    // fjall rotates at a flush once the journal holds 64 MB.
    let mut id = 1;
    while store.journal_ids().1 == first {
        assert!(id < 400, "fjall never rotated its journal");
        put(id);
        id += 1;
        if id > 64 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    put(id);
    let (synced, newest) = store.journal_ids();
    assert!(synced > first && synced == newest, "synced {synced:?}, newest {newest:?}, first {first:?}");
}

#[derive(Debug, Clone)]
enum Op {
    Put { id: u64, name: u8, role: u8, deleted: bool },
    Delete { id: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..6, 0u8..4, 0u8..4, any::<bool>())
            .prop_map(|(id, name, role, deleted)| Op::Put { id, name, role, deleted }),
        (0u64..6).prop_map(|id| Op::Delete { id }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// After any sequence of puts, overwrites and deletes, every index
    /// answers exactly what a scan of the model would, and a put that breaks
    /// the unique index changes nothing.
    #[test]
    fn indexes_match_a_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        let mut model: BTreeMap<u64, User> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put { id, name, role, deleted } => {
                    let new = user(id, &format!("n{name}"), Role::ALL[role as usize], deleted);
                    let clash = !deleted && model.values().any(|u| {
                        u.id.0 != id && !u.is_deleted() && u.username == new.username
                    });
                    let result = store.write(|w| w.put(&new));
                    prop_assert_eq!(result.is_err(), clash);
                    if !clash {
                        model.insert(id, new);
                    }
                }
                Op::Delete { id } => {
                    let existed = store.write(|w| w.delete::<User>(&UserId(id))).expect("delete");
                    prop_assert_eq!(existed, model.remove(&id).is_some());
                }
            }
            let snapshot = store.snapshot();
            let ids = |it: &mut dyn Iterator<Item = cairn_types::Result<User>>| -> Vec<u64> {
                it.map(|u| u.expect("decode").id.0).collect()
            };
            for name in 0..4 {
                let name = format!("n{name}");
                let expected: Vec<u64> = model.values().filter(|u| u.username == name).map(|u| u.id.0).collect();
                prop_assert_eq!(ids(&mut snapshot.lookup(&USERS_BY_USERNAME, &name)), expected);
                let live: Vec<u64> = model.values().filter(|u| u.username == name && !u.is_deleted()).map(|u| u.id.0).collect();
                prop_assert!(live.len() <= 1);
                prop_assert_eq!(ids(&mut snapshot.lookup(&USERS_BY_LIVE_USERNAME, &name)), live);
            }
            for role in Role::ALL {
                let expected: Vec<u64> = model.values().filter(|u| u.role == role).map(|u| u.id.0).collect();
                prop_assert_eq!(ids(&mut snapshot.lookup(&USERS_BY_ROLE, &role)), expected);
            }
            let not_deleted: Vec<u64> = model.values().filter(|u| !u.is_deleted()).map(|u| u.id.0).collect();
            prop_assert_eq!(ids(&mut snapshot.lookup(&USERS_BY_DELETED_AT, &None)), not_deleted);
            prop_assert_eq!(ids(&mut snapshot.scan::<User>()), model.keys().copied().collect::<Vec<_>>());
        }
    }
}

#[test]
fn rows_are_unique_per_partition_and_dropped_with_their_table() {
    use cairn_types::{TableId, Value};
    use crate::{encode_primary_key, Partition, StoredRow};
    let row = |values: Vec<Value>| StoredRow { expires_at: None, values };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let table = TableId(1000);
    let alice = Partition::User(UserId(2));
    let bob = Partition::User(UserId(3));
    let pk = |n: i64| encode_primary_key(&[&Value::Int64(n)]).expect("key");
    store
        .write(|w| {
            w.insert_row_at(&crate::row_key(table, alice, &pk(1)), &row(vec![Value::Int64(1), Value::Text("a".into())]), "t_pkey")?;
            w.insert_row_at(&crate::row_key(table, bob, &pk(1)), &row(vec![Value::Int64(1), Value::Text("b".into())]), "t_pkey")?;
            w.insert_row_at(&crate::row_key(TableId(1001), Partition::Shared, &pk(1)), &row(vec![Value::Int64(1)]), "u_pkey")
        })
        .expect("same key, different partitions and tables");
    let duplicate = store.write(|w| {
        w.insert_row_at(&crate::row_key(table, alice, &pk(2)), &row(vec![Value::Int64(2)]), "t_pkey")?;
        w.insert_row_at(&crate::row_key(table, alice, &pk(1)), &row(vec![Value::Int64(1)]), "t_pkey")
    });
    assert_eq!(duplicate.expect_err("duplicate").code().as_str(), "23505");
    let snapshot = store.snapshot();
    let alices: Vec<StoredRow> = snapshot.scan_rows(table, alice).collect::<Result<_, _>>().expect("scan");
    assert_eq!(alices, [row(vec![Value::Int64(1), Value::Text("a".into())])], "the failed batch wrote nothing");
    assert_eq!(snapshot.scan_rows(table, bob).count(), 1);

    let one = snapshot.get_row(table, bob, &pk(1)).expect("get").expect("present");
    assert_eq!(one.values[1], Value::Text("b".into()));
    assert!(snapshot.get_row(table, bob, &pk(2)).expect("get").is_none());
    assert_eq!(snapshot.scan_row_range(table, alice, &KeyRange::prefix(&pk(1)), false).count(), 1);
    assert_eq!(snapshot.scan_row_range(table, alice, &KeyRange::prefix(&pk(3)), false).count(), 0);

    let latest = store.get_latest_encoded_row(table, bob, &pk(1)).expect("get").expect("present");
    assert_eq!(latest.to_row().expect("decodes").values[1], Value::Text("b".into()));
    assert!(store.get_latest_encoded_row(table, bob, &pk(2)).expect("get").is_none());

    store.write(|w| w.drop_table_rows(table)).expect("drop rows");
    store.remove_dropped_rows().expect("remove rows");
    assert!(snapshot.get_row(table, bob, &pk(1)).expect("get").is_some(), "the older snapshot still sees it");
    assert!(store.get_latest_encoded_row(table, bob, &pk(1)).expect("get").is_none(), "the latest read does not");
    let snapshot = store.snapshot();
    assert_eq!(snapshot.scan_rows(table, alice).count() + snapshot.scan_rows(table, bob).count(), 0);
    assert_eq!(snapshot.scan_rows(TableId(1001), Partition::Shared).count(), 1, "other tables untouched");
}

#[test]
fn inserts_expected_into_an_empty_partition_still_find_every_taken_key() {
    use cairn_types::{TableId, Value};
    use crate::{encode_primary_key, Partition, StoredRow};
    let row = |n: i64| StoredRow { expires_at: None, values: vec![Value::Int64(n)] };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let table = TableId(1000);
    let (alice, bob) = (Partition::User(UserId(2)), Partition::User(UserId(3)));
    let key = |partition, n: i64| crate::row_key(table, partition, &encode_primary_key(&[&Value::Int64(n)]).expect("key"));
    let insert = |partition, keys: &[i64]| {
        store.write(|w| {
            w.expect_inserts_into(table, partition);
            keys.iter().try_for_each(|&n| w.insert_row_at(&key(partition, n), &row(n), "t_pkey"))
        })
    };
    // Empty: a key repeated in the batch, in order or not, is still taken.
    assert_eq!(insert(alice, &[1, 2, 3, 3]).expect_err("repeat").code().as_str(), "23505");
    assert_eq!(insert(alice, &[3, 1, 2, 1]).expect_err("repeat").code().as_str(), "23505");
    insert(alice, &[1, 2, 3]).expect("empty partition");
    // Alice's rows do not make bob's partition hold any.
    insert(bob, &[1, 2, 3]).expect("another partition");
    // Not empty now: a committed row takes its key.
    assert_eq!(insert(alice, &[4, 5, 2]).expect_err("taken").code().as_str(), "23505");
    // Emptied again by deletes: the keys are free.
    store.write(|w| (1..=3).try_for_each(|n| w.set_row_at(&key(alice, n), None))).expect("delete");
    insert(alice, &[1, 2, 3]).expect("emptied partition");
    assert_eq!(store.snapshot().scan_rows(table, alice).count(), 3);
}

#[test]
fn expired_rows_free_their_key_and_are_evicted() {
    use cairn_types::{TableId, Timestamp, Value};
    use crate::{encode_primary_key, Partition, StoredRow};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let table = TableId(1000);
    let pk = |n: i64| encode_primary_key(&[&Value::Int64(n)]).expect("key");
    let past = StoredRow { expires_at: Some(Timestamp(1)), values: vec![Value::Int64(1)] };
    let future = StoredRow { expires_at: Some(Timestamp::now().saturating_add(std::time::Duration::from_secs(3600))), values: vec![Value::Int64(2)] };
    store
        .write(|w| {
            w.insert_row_at(&crate::row_key(table, Partition::Shared, &pk(1)), &past, "e_pkey")?;
            w.insert_row_at(&crate::row_key(table, Partition::Shared, &pk(2)), &future, "e_pkey")
        })
        .expect("insert");
    // An expired row does not block its key.
    store.write(|w| w.insert_row_at(&crate::row_key(table, Partition::Shared, &pk(1)), &past, "e_pkey")).expect("reuse expired key");
    assert_eq!(store.write(|w| w.delete_expired_rows(table, Timestamp::now())).expect("evict"), 1);
    let left: Vec<StoredRow> = store.snapshot().scan_rows(table, Partition::Shared).collect::<Result<_, _>>().expect("scan");
    assert_eq!(left, [future]);
}

#[test]
fn ranges_read_forwards_and_backwards() {
    use crate::{encode_primary_key, Partition, StoredRow};
    use cairn_types::{TableId, Value};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let table = TableId(1000);
    let pk = |n: i64| encode_primary_key(&[&Value::Int64(n)]).expect("key");
    store
        .write(|w| {
            for n in [3, -1, 7, 5] {
                let row = StoredRow { expires_at: None, values: vec![Value::Int64(n)] };
                w.set_row_at(&crate::row_key(table, Partition::Shared, &pk(n)), Some(&row))?;
            }
            // A neighbouring table, which no range of this one may reach.
            w.set_row_at(&crate::row_key(TableId(1001), Partition::Shared, &pk(0)), Some(&StoredRow { expires_at: None, values: vec![] }))
        })
        .expect("write");
    let snapshot = store.snapshot();
    let read = |range: KeyRange, reverse: bool| -> Vec<Value> {
        snapshot
            .scan_row_range(table, Partition::Shared, &range, reverse)
            .map(|row| row.map(|(_, row)| row.values[0].clone()))
            .collect::<Result<_, _>>()
            .expect("scan")
    };
    let values = |ns: &[i64]| ns.iter().map(|&n| Value::Int64(n)).collect::<Vec<_>>();
    assert_eq!(read(KeyRange::all(), false), values(&[-1, 3, 5, 7]));
    assert_eq!(read(KeyRange::all(), true), values(&[7, 5, 3, -1]));
    assert_eq!(read(KeyRange { start: pk(3), end: Some(pk(7)) }, false), values(&[3, 5]));
    assert_eq!(read(KeyRange { start: pk(0), end: None }, true), values(&[7, 5, 3]));
}

#[test]
fn split_ranges_cover_the_range_once_in_order() {
    use crate::{encode_primary_key, Partition, StoredRow};
    use cairn_types::{TableId, UserId, Value};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let table = TableId(1000);
    let alice = Partition::User(UserId(2));
    let pk = |n: i64| encode_primary_key(&[&Value::Int64(n)]).expect("key");
    store
        .write(|w| {
            for n in 1..=1000 {
                let row = StoredRow { expires_at: None, values: vec![Value::Int64(n)] };
                w.set_row_at(&crate::row_key(table, alice, &pk(n)), Some(&row))?;
            }
            // Another user's rows, which no part may reach.
            w.set_row_at(&crate::row_key(table, Partition::User(UserId(3)), &pk(0)), Some(&StoredRow { expires_at: None, values: vec![] }))
        })
        .expect("write");
    let snapshot = store.snapshot();
    let read = |range: &KeyRange| -> Vec<i64> {
        snapshot
            .scan_encoded_rows(table, alice, range, false)
            .map(|row| {
                let row = row?;
                assert_eq!(row.primary_key(), &row.key()[row.key().len() - 8..]);
                match row.decode()?.values[0] {
                    cairn_types::ValueRef::Int64(n) => Ok(n),
                    _ => panic!("an int64 row"),
                }
            })
            .collect::<Result<_, cairn_types::CairnError>>()
            .expect("scan")
    };
    for range in [KeyRange::all(), KeyRange { start: pk(100), end: Some(pk(900)) }] {
        let whole = read(&range);
        let parts = snapshot.split_row_range(table, alice, &range, 4).expect("split");
        assert_eq!(parts.len(), 4);
        let sizes: Vec<usize> = parts.iter().map(|part| read(part).len()).collect();
        assert!(sizes.iter().all(|&size| size * 8 >= whole.len()), "about even: {sizes:?}");
        let joined: Vec<i64> = parts.iter().flat_map(&read).collect();
        assert_eq!(joined, whole);
    }
    let empty = KeyRange { start: pk(2000), end: None };
    assert_eq!(snapshot.split_row_range(table, alice, &empty, 4).expect("split"), [empty]);
}

#[test]
fn a_table_version_changes_with_commits_to_that_table_only() {
    use crate::{Partition, StoredRow};
    use cairn_types::{TableId, Value};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let (table, other) = (TableId(1000), TableId(1001));
    let write = |table: TableId, n: u8| {
        store
            .write(|w| w.set_row_at(&crate::row_key(table, Partition::Shared, &[n]), Some(&StoredRow { expires_at: None, values: vec![Value::Int64(n.into())] })))
            .expect("write");
    };
    let version = |table: TableId| store.snapshot_with_version(table, Partition::Shared).1.expect("no write in flight");
    let first = version(table);
    assert_eq!(version(table), first, "reading does not change it");
    write(other, 1);
    assert_eq!(version(table), first, "another table's commit does not change it");
    write(table, 1);
    let second = version(table);
    assert_ne!(second, first);
    // A write that fails writes nothing, and the version stays.
    let failed = store.write(|w| {
        w.set_row_at(&crate::row_key(table, Partition::Shared, &[2]), None)?;
        Err::<(), _>(CairnError::Internal("abandoned".into()))
    });
    assert!(failed.is_err());
    assert_eq!(version(table), second);
    // Dropping the table's rows is a write to it.
    store.write(|w| w.drop_table_rows(table)).expect("drop rows");
    assert_ne!(version(table), second);
}

/// A user table `t<id>` with one BIGINT key column.
fn user_table(id: u64) -> cairn_types::TableDef {
    use cairn_types::{ColumnDef, DataType, NamespaceId, StorageId, TableDef, TableId, TableKind};
    TableDef {
        id: TableId(id),
        namespace_id: NamespaceId(1),
        name: format!("t{id}"),
        kind: TableKind::User,
        access_level: None,
        ttl_seconds: None,
        storage_id: StorageId(1),
        columns: vec![ColumnDef { name: "id".into(), data_type: DataType::BigInt, nullable: false, default: None }],
        primary_key: vec![0],
        created_at: Timestamp(0),
    }
}

#[test]
fn a_load_fills_an_empty_partition_at_once_and_survives_reopen() {
    use crate::{encode_primary_key, Load, LoadRow, Partition, StoredRow};
    use cairn_types::{TableDef, Value};
    let dir = tempfile::tempdir().expect("tempdir");
    let def = user_table(1000);
    let (alice, bob) = (Partition::User(UserId(2)), Partition::User(UserId(3)));
    let row = |n: i64| StoredRow { expires_at: None, values: vec![Value::Int64(n)] };
    let key = |partition, n: i64| crate::row_key(def.id, partition, &encode_primary_key(&[&Value::Int64(n)]).expect("key"));
    let rows = |partition, keys: &mut dyn Iterator<Item = i64>| -> Vec<LoadRow> {
        keys.map(|n| LoadRow::new(&key(partition, n), &row(n)).expect("encode")).collect()
    };
    let count = |store: &Store, partition| store.snapshot().scan_rows(def.id, partition).count();
    {
        let store = open(&dir);
        assert_eq!(store.load(&def, alice, rows(alice, &mut (1..3))).expect("load"), Load::DefinitionChanged, "no such table yet");
        store.write(|w| w.put(&def)).expect("create");
        store.write(|w| w.insert_row_at(&key(bob, 7), &row(7), "t_pkey")).expect("bob's row");

        assert!(store.partition_is_empty(def.id, alice).expect("read") && !store.partition_is_empty(def.id, bob).expect("read"));
        let before = store.snapshot();
        let version = store.snapshot_with_version(def.id, alice).1.expect("stable");
        assert_eq!(store.load(&def, alice, rows(alice, &mut (1..1001).rev())).expect("load"), Load::Loaded, "in any order");
        assert_eq!(before.scan_rows(def.id, alice).count(), 0, "an older snapshot does not see the load");
        assert_eq!(count(&store, alice), 1000);
        assert!(!store.partition_is_empty(def.id, alice).expect("read"));
        assert_eq!(store.snapshot().get_row(def.id, alice, &encode_primary_key(&[&Value::Int64(500)]).expect("key")).expect("get"), Some(row(500)));
        assert_ne!(store.snapshot_with_version(def.id, alice).1, Some(version), "the load is a write to the table");

        // A partition with a row, or a table altered since: nothing written.
        assert_eq!(store.load(&def, alice, rows(alice, &mut (2000..2010))).expect("load"), Load::PartitionNotEmpty);
        assert_eq!(store.load(&def, bob, rows(bob, &mut (1..3))).expect("load"), Load::PartitionNotEmpty);
        let altered = TableDef { name: "renamed".into(), ..def.clone() };
        store.write(|w| w.put(&altered)).expect("alter");
        assert_eq!(store.load(&def, Partition::User(UserId(4)), rows(Partition::User(UserId(4)), &mut (1..3))).expect("load"), Load::DefinitionChanged);
        store.write(|w| w.put(&def)).expect("alter back");

        // A key twice, or a row outside the partition: nothing written.
        let carol = Partition::User(UserId(4));
        assert_eq!(store.load(&def, carol, rows(carol, &mut [3, 1, 2, 1].into_iter())).expect("load"), Load::KeyRepeats);
        assert_eq!(store.load(&def, carol, rows(alice, &mut (5000..5001))).expect_err("partition").code().as_str(), "XX000");
        assert_eq!(count(&store, carol), 0);

        // Emptied by a delete, the partition takes a load again; the new
        // rows hide the deleted ones' tombstones.
        store.write(|w| w.drop_table_rows(def.id)).expect("empty the table");
        store.remove_dropped_rows().expect("remove rows");
        assert_eq!(store.load(&def, bob, rows(bob, &mut (5..10))).expect("load"), Load::Loaded);
        assert_eq!(count(&store, bob), 5);
        store.write(|w| w.insert_row_at(&key(bob, 10), &row(10), "t_pkey")).expect("a later insert");
        let duplicate = store.write(|w| w.insert_row_at(&key(bob, 9), &row(9), "t_pkey"));
        assert_eq!(duplicate.expect_err("loaded keys are taken").code().as_str(), "23505");
    }
    let store = open(&dir);
    assert_eq!(count(&store, alice), 0, "dropped before the restart");
    assert_eq!(count(&store, bob), 6, "the load and the insert after it survive a reopen");
}

#[test]
fn a_dropped_tables_rows_are_removed_even_across_a_crash() {
    use crate::{encode_primary_key, LoadRow, Partition, StoredRow};
    use cairn_types::{DroppedTable, TableDef, TableId, Value};
    let dir = tempfile::tempdir().expect("tempdir");
    let (dropped, before, after) = (user_table(1001), user_table(1000), user_table(1002));
    let (alice, bob) = (Partition::User(UserId(2)), Partition::User(UserId(3)));
    let row = |n: i64| StoredRow { expires_at: None, values: vec![Value::Int64(n)] };
    let key = |table: TableId, partition, n: i64| crate::row_key(table, partition, &encode_primary_key(&[&Value::Int64(n)]).expect("key"));
    let count = |store: &Store, table: TableId| store.snapshot().scan_rows(table, alice).count() + store.snapshot().scan_rows(table, bob).count();
    {
        let store = open(&dir);
        store.write(|w| [&before, &dropped, &after].into_iter().try_for_each(|def| w.put(def))).expect("create");
        // Alice's rows in table files of their own, Bob's in the memtable,
        // more than one batch of tombstones.
        let loaded = (1..=1000).map(|n| LoadRow::new(&key(dropped.id, alice, n), &row(n)).expect("encode")).collect();
        assert_eq!(store.load(&dropped, alice, loaded).expect("load"), crate::Load::Loaded);
        store
            .write(|w| (1..=70_000).try_for_each(|n| w.set_row_at(&key(dropped.id, bob, n), Some(&row(n)))))
            .expect("bob's rows");
        for table in [before.id, after.id] {
            store.write(|w| w.insert_row_at(&key(table, alice, 1), &row(1), "t_pkey")).expect("a neighbour's row");
        }
        assert_eq!(count(&store, dropped.id), 71_000);
        // The drop commits, and the process dies before the rows go.
        store
            .write(|w| {
                w.drop_table_rows(dropped.id)?;
                w.delete::<TableDef>(&dropped.id).map(drop)
            })
            .expect("drop");
        assert_eq!(store.snapshot().scan::<DroppedTable>().count(), 1, "the removal is pending");
    }
    let store = open(&dir);
    assert_eq!(count(&store, dropped.id), 0, "opening finished the removal");
    assert_eq!(store.snapshot().scan::<DroppedTable>().count(), 0);
    assert_eq!((count(&store, before.id), count(&store, after.id)), (1, 1), "neighbouring tables keep their rows");
}
