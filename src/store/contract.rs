//! The storage contract: every case is written once against `&dyn Store` or `&dyn Kv` and
//! instantiated for each backend by `store_cases!` / `kv_cases!`. A new backend adds a
//! fixture and one macro line; a fixture returning `None` skips that backend (for
//! backends that need a server, such as PostgreSQL, on a machine without one).
//!
//! Behaviour pinned here that the port's doc comments leave open: updates and deletes of
//! a missing row are `NotFound`; `add_member` with an unknown group or user is `NotFound`;
//! `delete_meta` and `remove_member` are idempotent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use tempfile::TempDir;

use crate::model::stage::{
    IdentificationStage, PasswordStage, PromptField, PromptFieldType, PromptStage, UserLoginStage,
};
use crate::model::{
    BindingId, Event, EventAction, EventUser, Flow, FlowAuthentication, FlowDesignation, FlowId,
    GroupId, NewGroup, NewUser, Stage, StageBinding, StageId, StageKind, Timestamp, Token,
    TokenIntent, User, UserId, UserType, Username,
};
use crate::store::memory_kv::MemoryKv;
use crate::store::redb_kv::RedbKv;
use crate::store::sqlite::SqliteStore;
use crate::store::{Kv, ListQuery, Store, StoreError, StoreExt};

// ---------------------------------------------------------------------------------------
// Fixtures

pub(super) struct StoreFixture {
    store: Option<Box<dyn Store>>,
    /// Opens the same database again, for backends that persist.
    reopen: Option<Box<dyn Fn() -> Box<dyn Store>>>,
    _dir: Option<TempDir>,
}

impl StoreFixture {
    fn store(&self) -> &dyn Store {
        self.store.as_deref().expect("store is open")
    }
}

fn sqlite_file_store() -> Option<StoreFixture> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    let store = SqliteStore::open(&path).unwrap();
    Some(StoreFixture {
        store: Some(Box::new(store)),
        reopen: Some(Box::new(move || {
            Box::new(SqliteStore::open(&path).unwrap())
        })),
        _dir: Some(dir),
    })
}

fn sqlite_memory_store() -> Option<StoreFixture> {
    Some(StoreFixture {
        store: Some(Box::new(SqliteStore::open_in_memory().unwrap())),
        reopen: None,
        _dir: None,
    })
}

pub(super) struct KvFixture {
    kv: Option<Box<dyn Kv>>,
    reopen: Option<Box<dyn Fn() -> Box<dyn Kv>>>,
    _dir: Option<TempDir>,
}

impl KvFixture {
    fn kv(&self) -> &dyn Kv {
        self.kv.as_deref().expect("kv is open")
    }
}

fn redb_kv() -> Option<KvFixture> {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("state.redb");
    let kv = RedbKv::open(&path).unwrap();
    Some(KvFixture {
        kv: Some(Box::new(kv)),
        reopen: Some(Box::new(move || Box::new(RedbKv::open(&path).unwrap()))),
        _dir: Some(dir),
    })
}

fn memory_kv() -> Option<KvFixture> {
    Some(KvFixture {
        kv: Some(Box::new(MemoryKv::new())),
        reopen: None,
        _dir: None,
    })
}

macro_rules! contract_tests {
    ($backend:ident, $fixture:ident, $($case:ident),+ $(,)?) => {
        mod $backend {
            $(
                #[test]
                fn $case() {
                    let Some(mut fixture) = super::$fixture() else {
                        eprintln!("skipped: backend {} unavailable", stringify!($backend));
                        return;
                    };
                    super::$case(&mut fixture);
                }
            )+
        }
    };
}

macro_rules! store_cases {
    ($backend:ident, $fixture:ident) => {
        contract_tests!(
            $backend,
            $fixture,
            users_round_trip_and_case_insensitive_lookup,
            usernames_are_unique_ignoring_case,
            user_updates_and_password,
            deleting_a_user_removes_memberships_and_tokens,
            groups_with_parents_and_conflicts,
            memberships_are_idempotent,
            tokens_by_identifier_digest_owner_and_expiry,
            flows_stages_and_bindings_round_trip,
            events_newest_first,
            meta_values,
            list_paging_search_and_order,
            write_scope_rolls_back_on_error,
            write_scope_rolls_back_on_panic,
            read_scope_sees_committed_data,
            data_survives_reopen,
        );
    };
}

macro_rules! kv_cases {
    ($backend:ident, $fixture:ident) => {
        contract_tests!(
            $backend,
            $fixture,
            kv_put_get_overwrite,
            kv_expired_entries_are_invisible,
            kv_take_returns_once,
            kv_concurrent_takes_give_one_value,
            kv_delete,
            kv_purge_counts_expired,
            kv_namespaces_are_separate,
            kv_survives_reopen,
        );
    };
}

store_cases!(sqlite_file, sqlite_file_store);
store_cases!(sqlite_memory, sqlite_memory_store);
kv_cases!(redb, redb_kv);
kv_cases!(memory, memory_kv);

// ---------------------------------------------------------------------------------------
// Builders

const T0: Timestamp = Timestamp(1_700_000_000);

fn new_user(username: &str) -> NewUser {
    let mut user = NewUser::internal(Username::parse(username).unwrap(), T0);
    user.name = format!("{username} Example");
    user.email = format!("{username}@example.com");
    user
}

fn add_user(store: &dyn Store, username: &str) -> User {
    let new = new_user(username);
    store.write(|tx| tx.insert_user(&new)).unwrap()
}

fn new_group(name: &str, parent: Option<GroupId>) -> NewGroup {
    NewGroup {
        id: GroupId::random(),
        name: name.to_owned(),
        parent,
        is_superuser: false,
        attributes: serde_json::Map::new(),
    }
}

fn token(identifier: &str, user: UserId, expires: Option<Timestamp>) -> Token {
    Token {
        identifier: identifier.to_owned(),
        uuid: uuid::Uuid::new_v4(),
        user,
        intent: TokenIntent::Api,
        description: format!("{identifier} description"),
        expires,
        expiring: expires.is_some(),
        managed: None,
        key_digest: format!("digest-{identifier}"),
        key_sealed: format!("sealed-{identifier}"),
        created: T0,
    }
}

fn conflict_on<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict(what)) => what,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn query(search: Option<&str>, order_by: Option<&str>, descending: bool) -> ListQuery {
    ListQuery {
        offset: 0,
        limit: 0,
        search: search.map(str::to_owned),
        order_by: order_by.map(str::to_owned),
        descending,
    }
}

// ---------------------------------------------------------------------------------------
// Store cases

fn users_round_trip_and_case_insensitive_lookup(f: &mut StoreFixture) {
    let store = f.store();
    let mut new = new_user("Alice");
    new.email = "Alice@Example.COM".into();
    new.attributes
        .insert("theme".into(), serde_json::json!({"dark": true}));
    new.password_hash = Some("$argon2id$stub".into());
    let alice = store.write(|tx| tx.insert_user(&new)).unwrap();
    let umlaut = add_user(store, "Ärger");

    assert_eq!(alice.password_changed, Some(T0));
    store
        .read(|tx| {
            assert_eq!(tx.user_by_id(alice.id)?, Some(alice.clone()));
            assert_eq!(tx.user_by_username("aLICE")?, Some(alice.clone()));
            assert_eq!(tx.user_by_username("ärger")?.map(|u| u.id), Some(umlaut.id));
            assert_eq!(tx.user_by_email("alice@example.com")?, Some(alice.clone()));
            assert_eq!(tx.user_by_email("")?, None);
            assert_eq!(tx.user_by_username("nobody")?, None);
            assert_eq!(tx.user_by_id(UserId(alice.id.0 + 100))?, None);
            assert_eq!(tx.count_users()?, 2);
            Ok(())
        })
        .unwrap();
}

fn usernames_are_unique_ignoring_case(f: &mut StoreFixture) {
    let store = f.store();
    add_user(store, "bob");
    let carol = add_user(store, "carol");
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_user(&new_user("BOB")))),
        "username"
    );
    let mut renamed = carol.clone();
    renamed.username = Username::parse("Bob").unwrap();
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_user(&renamed))),
        "username"
    );
    assert_eq!(store.read(|tx| tx.count_users()).unwrap(), 2);
}

fn user_updates_and_password(f: &mut StoreFixture) {
    let store = f.store();
    let mut dave = add_user(store, "dave");
    dave.username = Username::parse("David").unwrap();
    dave.name = "David D".into();
    dave.email = "david@example.org".into();
    dave.is_active = false;
    dave.user_type = UserType::ServiceAccount;
    dave.path = "users/service".into();
    dave.attributes
        .insert("k".into(), serde_json::json!([1, 2]));
    store
        .write(|tx| {
            tx.update_user(&dave)?;
            tx.set_password_hash(dave.id, Some("$argon2id$new"), Timestamp(T0.0 + 5))?;
            tx.set_last_login(dave.id, Timestamp(T0.0 + 9))
        })
        .unwrap();
    dave.password_hash = Some("$argon2id$new".into());
    dave.password_changed = Some(Timestamp(T0.0 + 5));
    dave.last_login = Some(Timestamp(T0.0 + 9));
    assert_eq!(
        store.read(|tx| tx.user_by_username("david")).unwrap(),
        Some(dave.clone())
    );

    store
        .write(|tx| tx.set_password_hash(dave.id, None, Timestamp(T0.0 + 6)))
        .unwrap();
    let read = store.read(|tx| tx.user_by_id(dave.id)).unwrap().unwrap();
    assert_eq!(read.password_hash, None);

    let mut ghost = dave.clone();
    ghost.id = UserId(dave.id.0 + 1000);
    ghost.username = Username::parse("ghost").unwrap();
    assert!(matches!(
        store.write(|tx| tx.update_user(&ghost)),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.write(|tx| tx.delete_user(ghost.id)),
        Err(StoreError::NotFound)
    ));
}

fn deleting_a_user_removes_memberships_and_tokens(f: &mut StoreFixture) {
    let store = f.store();
    let erin = add_user(store, "erin");
    let frank = add_user(store, "frank");
    let group = new_group("staff", None);
    store
        .write(|tx| {
            tx.insert_group(&group)?;
            tx.add_member(group.id, erin.id)?;
            tx.add_member(group.id, frank.id)?;
            tx.insert_token(&token("erin-api", erin.id, None))
        })
        .unwrap();
    store.write(|tx| tx.delete_user(erin.id)).unwrap();
    store
        .read(|tx| {
            assert_eq!(tx.user_by_id(erin.id)?, None);
            assert_eq!(tx.members_of_group(group.id)?, vec![frank.id]);
            assert_eq!(tx.token_by_identifier("erin-api")?, None);
            assert!(tx.group_by_id(group.id)?.is_some());
            Ok(())
        })
        .unwrap();
}

fn groups_with_parents_and_conflicts(f: &mut StoreFixture) {
    let store = f.store();
    let parent = new_group("Admins", None);
    let mut child_new = new_group("Helpdesk", Some(parent.id));
    child_new.is_superuser = true;
    child_new
        .attributes
        .insert("gid".into(), serde_json::json!(5000));
    let (parent_row, child) = store
        .write(|tx| Ok((tx.insert_group(&parent)?, tx.insert_group(&child_new)?)))
        .unwrap();
    assert_ne!(parent_row.num_pk, child.num_pk);
    assert_eq!(child.parent, Some(parent.id));

    store
        .read(|tx| {
            assert_eq!(tx.group_by_id(child.id)?, Some(child.clone()));
            assert_eq!(tx.group_by_name("helpDESK")?, Some(child.clone()));
            assert_eq!(tx.all_groups()?.len(), 2);
            Ok(())
        })
        .unwrap();

    let orphan = new_group("orphan", Some(GroupId::random()));
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_group(&orphan))),
        "parent"
    );
    let mut moved = child.clone();
    moved.parent = Some(GroupId::random());
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_group(&moved))),
        "parent"
    );
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_group(&new_group("ADMINS", None)))),
        "name"
    );
    let mut renamed = child.clone();
    renamed.name = "admins".into();
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_group(&renamed))),
        "name"
    );

    // Deleting the parent leaves the child as a top-level group.
    store.write(|tx| tx.delete_group(parent.id)).unwrap();
    let child_now = store.read(|tx| tx.group_by_id(child.id)).unwrap().unwrap();
    assert_eq!(child_now.parent, None);
    assert!(matches!(
        store.write(|tx| tx.delete_group(parent.id)),
        Err(StoreError::NotFound)
    ));
}

fn memberships_are_idempotent(f: &mut StoreFixture) {
    let store = f.store();
    let gina = add_user(store, "gina");
    let (a, b) = (new_group("b-team", None), new_group("a-team", None));
    store
        .write(|tx| {
            tx.insert_group(&a)?;
            tx.insert_group(&b)?;
            tx.add_member(a.id, gina.id)?;
            tx.add_member(a.id, gina.id)?;
            tx.add_member(b.id, gina.id)
        })
        .unwrap();
    store
        .read(|tx| {
            assert_eq!(tx.members_of_group(a.id)?, vec![gina.id]);
            let names: Vec<String> = tx
                .groups_of_user(gina.id)?
                .into_iter()
                .map(|g| g.name)
                .collect();
            assert_eq!(names, vec!["a-team", "b-team"]);
            Ok(())
        })
        .unwrap();
    store
        .write(|tx| {
            tx.remove_member(a.id, gina.id)?;
            tx.remove_member(a.id, gina.id)
        })
        .unwrap();
    assert!(
        store
            .read(|tx| tx.members_of_group(a.id))
            .unwrap()
            .is_empty()
    );
    let unknown_user = store.write(|tx| tx.add_member(a.id, UserId(gina.id.0 + 99)));
    assert!(
        matches!(unknown_user, Err(StoreError::NotFound)),
        "{unknown_user:?}"
    );
    let unknown_group = store.write(|tx| tx.add_member(GroupId::random(), gina.id));
    assert!(
        matches!(unknown_group, Err(StoreError::NotFound)),
        "{unknown_group:?}"
    );
}

fn tokens_by_identifier_digest_owner_and_expiry(f: &mut StoreFixture) {
    let store = f.store();
    let (hank, ivy) = (add_user(store, "hank"), add_user(store, "ivy"));
    let past = Timestamp(T0.0 - 10);
    let future = Timestamp(T0.0 + 3600);
    let mut kept_forever = token("hank-old-but-not-expiring", hank.id, Some(past));
    kept_forever.expiring = false;
    kept_forever.intent = TokenIntent::AppPassword;
    kept_forever.managed = Some("goauthentik.io/test".into());
    let tokens = [
        token("hank-api", hank.id, None),
        token("hank-expired", hank.id, Some(past)),
        token("ivy-recovery", ivy.id, Some(future)),
        kept_forever.clone(),
    ];
    store
        .write(|tx| tokens.iter().try_for_each(|t| tx.insert_token(t)))
        .unwrap();

    store
        .read(|tx| {
            assert_eq!(
                tx.token_by_identifier("hank-old-but-not-expiring")?,
                Some(kept_forever.clone())
            );
            assert_eq!(
                tx.token_by_key_digest("digest-ivy-recovery")?,
                Some(tokens[2].clone())
            );
            assert_eq!(tx.token_by_key_digest("nope")?, None);
            let hanks = tx.list_tokens(&ListQuery::default(), Some(hank.id))?;
            assert_eq!(hanks.total, 3);
            assert!(hanks.items.iter().all(|t| t.user == hank.id));
            assert_eq!(tx.list_tokens(&ListQuery::default(), None)?.total, 4);
            Ok(())
        })
        .unwrap();

    let mut duplicate = token("hank-api", ivy.id, None);
    duplicate.key_digest = "digest-unique".into();
    let mut same_digest = token("other", ivy.id, None);
    same_digest.key_digest = "digest-hank-api".into();
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_token(&duplicate))),
        "identifier"
    );
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_token(&same_digest))),
        "key_digest"
    );
    let stray = token("stray", UserId(ivy.id.0 + 50), None);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_token(&stray))),
        "user"
    );

    assert_eq!(store.write(|tx| tx.delete_expired_tokens(T0)).unwrap(), 1);
    assert_eq!(
        store
            .read(|tx| tx.token_by_identifier("hank-expired"))
            .unwrap(),
        None
    );
    store.write(|tx| tx.delete_token("hank-api")).unwrap();
    assert!(matches!(
        store.write(|tx| tx.delete_token("hank-api")),
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .read(|tx| tx.list_tokens(&ListQuery::default(), None))
            .unwrap()
            .total,
        2
    );
}

fn sample_stages() -> Vec<Stage> {
    let password = Stage {
        id: StageId::random(),
        name: "default-password".into(),
        kind: StageKind::Password(PasswordStage {
            failed_attempts_before_cancel: 3,
        }),
    };
    let identification = Stage {
        id: StageId::random(),
        name: "default-identification".into(),
        kind: StageKind::Identification(IdentificationStage {
            password_stage: Some(password.id),
            recovery_flow: Some("recovery".into()),
            ..IdentificationStage::default()
        }),
    };
    let prompt = Stage {
        id: StageId::random(),
        name: "prompt".into(),
        kind: StageKind::Prompt(PromptStage {
            fields: vec![PromptField {
                field_key: "email".into(),
                label: "Email".into(),
                field_type: PromptFieldType::Email,
                required: true,
                placeholder: "you@example.com".into(),
                initial_value: String::new(),
                order: 1,
                sub_text: String::new(),
            }],
        }),
    };
    let login = Stage {
        id: StageId::random(),
        name: "login".into(),
        kind: StageKind::UserLogin(UserLoginStage::default()),
    };
    let mut stages = vec![password, identification, prompt, login];
    stages.sort_by(|a, b| a.name.cmp(&b.name));
    stages
}

fn flow(slug: &str) -> Flow {
    Flow {
        id: FlowId::random(),
        slug: slug.into(),
        name: format!("{slug} flow"),
        title: "Welcome".into(),
        designation: FlowDesignation::Authentication,
        authentication: FlowAuthentication::RequireUnauthenticated,
        layout: "stacked".into(),
    }
}

fn binding(flow: FlowId, stage: StageId, order: i32) -> StageBinding {
    StageBinding {
        id: BindingId::random(),
        flow,
        stage,
        order,
        evaluate_on_plan: order % 2 == 0,
        re_evaluate_policies: true,
    }
}

fn flows_stages_and_bindings_round_trip(f: &mut StoreFixture) {
    let store = f.store();
    let stages = sample_stages();
    let (mut auth, other) = (flow("default-authentication-flow"), flow("another"));
    let bindings: Vec<StageBinding> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| binding(auth.id, s.id, i32::try_from(i).unwrap() * 10))
        .collect();
    let shared = binding(other.id, stages[0].id, 0);
    store
        .write(|tx| {
            tx.insert_flow(&auth)?;
            tx.insert_flow(&other)?;
            stages.iter().try_for_each(|s| tx.insert_stage(s))?;
            bindings.iter().try_for_each(|b| tx.insert_binding(b))?;
            tx.insert_binding(&shared)
        })
        .unwrap();
    store
        .read(|tx| {
            assert_eq!(tx.all_flows()?, vec![other.clone(), auth.clone()]);
            assert_eq!(tx.all_stages()?, stages);
            let auth_bindings: Vec<StageBinding> = tx
                .all_bindings()?
                .into_iter()
                .filter(|b| b.flow == auth.id)
                .collect();
            assert_eq!(auth_bindings, bindings);
            Ok(())
        })
        .unwrap();

    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_flow(&flow("another")))),
        "slug"
    );
    let mut clash = stages[1].clone();
    clash.id = StageId::random();
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_stage(&clash))),
        "name"
    );
    let dangling = binding(auth.id, StageId::random(), 99);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_binding(&dangling))),
        "stage"
    );
    let homeless = binding(FlowId::random(), stages[0].id, 99);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_binding(&homeless))),
        "flow"
    );

    auth.title = "Sign in".into();
    auth.designation = FlowDesignation::Recovery;
    let mut renamed = stages[2].clone();
    renamed.kind = StageKind::Password(PasswordStage::default());
    store
        .write(|tx| {
            tx.update_flow(&auth)?;
            tx.update_stage(&renamed)?;
            tx.delete_binding(&bindings[3])
        })
        .unwrap();
    store
        .read(|tx| {
            assert!(tx.all_flows()?.contains(&auth));
            assert!(tx.all_stages()?.contains(&renamed));
            assert_eq!(tx.all_bindings()?.len(), bindings.len());
            Ok(())
        })
        .unwrap();

    // Deleting a flow takes its bindings; deleting a stage takes the bindings using it.
    store.write(|tx| tx.delete_flow(auth.id)).unwrap();
    assert_eq!(
        store.read(|tx| tx.all_bindings()).unwrap(),
        vec![shared.clone()]
    );
    store.write(|tx| tx.delete_stage(stages[0].id)).unwrap();
    assert!(store.read(|tx| tx.all_bindings()).unwrap().is_empty());
    assert!(matches!(
        store.write(|tx| tx.delete_flow(auth.id)),
        Err(StoreError::NotFound)
    ));
}

fn event(action: EventAction, user: Option<&str>, created: i64) -> Event {
    Event {
        id: uuid::Uuid::new_v4(),
        action,
        user: user.map(|name| EventUser {
            pk: UserId(7),
            username: name.into(),
        }),
        client_ip: Some("192.0.2.1".into()),
        context: serde_json::json!({"http_request": {"path": "/"}}),
        created: Timestamp(created),
    }
}

fn events_newest_first(f: &mut StoreFixture) {
    let store = f.store();
    let first = event(EventAction::Login, Some("jack"), 10);
    let second = event(EventAction::LoginFailed, None, 20);
    let third = event(EventAction::Logout, Some("kate"), 20);
    store
        .write(|tx| {
            [&first, &second, &third]
                .into_iter()
                .try_for_each(|e| tx.insert_event(e))
        })
        .unwrap();
    store
        .read(|tx| {
            let all = tx.list_events(&ListQuery::default())?;
            assert_eq!(all.total, 3);
            assert_eq!(
                all.items,
                vec![third.clone(), second.clone(), first.clone()]
            );
            let by_user = tx.list_events(&query(Some("JACK"), None, false))?;
            assert_eq!(by_user.items, vec![first.clone()]);
            let by_action = tx.list_events(&query(Some("login"), None, false))?;
            assert_eq!(by_action.items, vec![second.clone(), first.clone()]);
            let oldest_first = tx.list_events(&query(None, Some("created"), false))?;
            assert_eq!(
                oldest_first.items,
                vec![first.clone(), second.clone(), third.clone()]
            );
            Ok(())
        })
        .unwrap();
}

fn meta_values(f: &mut StoreFixture) {
    let store = f.store();
    store
        .write(|tx| tx.set_meta("installation_id", "abc"))
        .unwrap();
    store
        .write(|tx| tx.set_meta("installation_id", "def"))
        .unwrap();
    assert_eq!(
        store
            .read(|tx| tx.meta("installation_id"))
            .unwrap()
            .as_deref(),
        Some("def")
    );
    store.write(|tx| tx.delete_meta("installation_id")).unwrap();
    store.write(|tx| tx.delete_meta("installation_id")).unwrap();
    assert_eq!(store.read(|tx| tx.meta("installation_id")).unwrap(), None);
}

fn list_paging_search_and_order(f: &mut StoreFixture) {
    let store = f.store();
    for name in ["mia", "Noah", "ex_a", "exza", "oliver"] {
        add_user(store, name);
    }
    let names = |q: &ListQuery| -> (Vec<String>, u64) {
        let page = store.read(|tx| tx.list_users(q)).unwrap();
        let names = page
            .items
            .iter()
            .map(|u| u.username.as_str().to_owned())
            .collect();
        (names, page.total)
    };
    let paged = ListQuery {
        offset: 1,
        limit: 2,
        ..ListQuery::default()
    };
    assert_eq!(names(&paged), (vec!["Noah".into(), "ex_a".into()], 5));
    let tail = ListQuery {
        offset: 4,
        limit: 2,
        ..ListQuery::default()
    };
    assert_eq!(names(&tail), (vec!["oliver".into()], 5));
    assert_eq!(names(&ListQuery::default()).0.len(), 5);
    // `_` is literal, not a wildcard; the match ignores case.
    assert_eq!(
        names(&query(Some("EX_"), None, false)),
        (vec!["ex_a".into()], 1)
    );
    assert_eq!(names(&query(Some("noah"), None, false)).1, 1);
    // The total counts every match, not just the page.
    let searched_page = ListQuery {
        limit: 1,
        ..query(Some("A@"), None, false)
    };
    assert_eq!(names(&searched_page), (vec!["mia".into()], 3));
    let by_name_desc = names(&query(None, Some("username"), true)).0;
    assert_eq!(by_name_desc, vec!["oliver", "Noah", "mia", "exza", "ex_a"]);
    let by_pk_desc = names(&query(None, Some("pk"), true)).0;
    assert_eq!(by_pk_desc, vec!["oliver", "exza", "ex_a", "Noah", "mia"]);
    // An order field outside the allow list falls back to the default order.
    let fallback = names(&query(None, Some("password_hash; DROP TABLE users"), false)).0;
    assert_eq!(fallback, vec!["mia", "Noah", "ex_a", "exza", "oliver"]);

    for (name, superuser) in [("beta", false), ("Alpha", true), ("gamma", false)] {
        let mut group = new_group(name, None);
        group.is_superuser = superuser;
        store.write(|tx| tx.insert_group(&group)).unwrap();
    }
    let groups = |q: &ListQuery| -> Vec<String> {
        let page = store.read(|tx| tx.list_groups(q)).unwrap();
        page.items.into_iter().map(|g| g.name).collect()
    };
    assert_eq!(
        groups(&ListQuery::default()),
        vec!["Alpha", "beta", "gamma"]
    );
    assert_eq!(
        groups(&query(None, Some("name"), true)),
        vec!["gamma", "beta", "Alpha"]
    );
    assert_eq!(groups(&query(Some("ALP"), None, false)), vec!["Alpha"]);
}

fn write_scope_rolls_back_on_error(f: &mut StoreFixture) {
    let store = f.store();
    let result: Result<(), StoreError> = store.write(|tx| {
        tx.insert_user(&new_user("paula"))?;
        tx.set_meta("k", "v")?;
        Err(StoreError::Conflict("test".into()))
    });
    assert!(matches!(result, Err(StoreError::Conflict(ref what)) if what == "test"));
    store
        .read(|tx| {
            assert_eq!(tx.user_by_username("paula")?, None);
            assert_eq!(tx.meta("k")?, None);
            Ok(())
        })
        .unwrap();
}

fn write_scope_rolls_back_on_panic(f: &mut StoreFixture) {
    let store = f.store();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        store.write(|tx| -> Result<(), StoreError> {
            tx.insert_user(&new_user("quinn"))?;
            panic!("scope panicked on purpose");
        })
    }));
    assert!(outcome.is_err());
    assert_eq!(store.read(|tx| tx.user_by_username("quinn")).unwrap(), None);
    // The store keeps working for writes and reads after the panic.
    let rob = add_user(store, "rob");
    assert_eq!(store.read(|tx| tx.user_by_id(rob.id)).unwrap(), Some(rob));
    let read_panic = catch_unwind(AssertUnwindSafe(|| {
        store.read(|_| -> Result<(), StoreError> { panic!("read scope panicked") })
    }));
    assert!(read_panic.is_err());
    assert!(store.check_health().is_ok());
    assert_eq!(store.read(|tx| tx.count_users()).unwrap(), 1);
}

fn read_scope_sees_committed_data(f: &mut StoreFixture) {
    let store = f.store();
    assert!(!store.backend_name().is_empty());
    store.check_health().unwrap();
    let sam = add_user(store, "sam");
    store
        .write(|tx| tx.set_last_login(sam.id, Timestamp(T0.0 + 1)))
        .unwrap();
    // Several reads in a row land on different pooled readers; each must see the commit.
    for _ in 0..8 {
        let seen = store.read(|tx| tx.user_by_id(sam.id)).unwrap().unwrap();
        assert_eq!(seen.last_login, Some(Timestamp(T0.0 + 1)));
    }
}

fn data_survives_reopen(f: &mut StoreFixture) {
    let Some(reopen) = f.reopen.take() else {
        return;
    };
    let tina = add_user(f.store(), "tina");
    f.store()
        .write(|tx| tx.set_meta("installation_id", "xyz"))
        .unwrap();
    drop(f.store.take());
    // Reopening runs the migrations again; they must find nothing to do.
    let store = reopen();
    assert_eq!(
        store.read(|tx| tx.user_by_username("TINA")).unwrap(),
        Some(tina)
    );
    assert_eq!(
        store
            .read(|tx| tx.meta("installation_id"))
            .unwrap()
            .as_deref(),
        Some("xyz")
    );
    drop(store);
    let again = reopen();
    assert_eq!(again.read(|tx| tx.count_users()).unwrap(), 1);
}

// ---------------------------------------------------------------------------------------
// Kv cases

const LATER: Timestamp = Timestamp(T0.0 + 60);

fn kv_put_get_overwrite(f: &mut KvFixture) {
    let kv = f.kv();
    assert_eq!(kv.get("session", "a", T0).unwrap(), None);
    kv.put("session", "a", b"one", LATER).unwrap();
    assert_eq!(
        kv.get("session", "a", T0).unwrap().as_deref(),
        Some(&b"one"[..])
    );
    kv.put("session", "a", b"two", LATER).unwrap();
    assert_eq!(
        kv.get("session", "a", T0).unwrap().as_deref(),
        Some(&b"two"[..])
    );
    kv.put("session", "empty", b"", LATER).unwrap();
    assert_eq!(kv.get("session", "empty", T0).unwrap(), Some(Vec::new()));
    kv.flush().unwrap();
}

fn kv_expired_entries_are_invisible(f: &mut KvFixture) {
    let kv = f.kv();
    kv.put("flow", "x", b"state", LATER).unwrap();
    assert!(
        kv.get("flow", "x", Timestamp(LATER.0 - 1))
            .unwrap()
            .is_some()
    );
    assert_eq!(kv.get("flow", "x", LATER).unwrap(), None);
    assert_eq!(kv.take("flow", "x", Timestamp(LATER.0 + 5)).unwrap(), None);
}

fn kv_take_returns_once(f: &mut KvFixture) {
    let kv = f.kv();
    kv.put("code", "c1", b"secret", LATER).unwrap();
    assert_eq!(
        kv.take("code", "c1", T0).unwrap().as_deref(),
        Some(&b"secret"[..])
    );
    assert_eq!(kv.take("code", "c1", T0).unwrap(), None);
    assert_eq!(kv.get("code", "c1", T0).unwrap(), None);
}

fn kv_concurrent_takes_give_one_value(f: &mut KvFixture) {
    let kv = f.kv();
    for round in 0..20 {
        let key = format!("code-{round}");
        kv.put("code", &key, b"once", LATER).unwrap();
        // The barrier releases all takers at once so they really race.
        let start = std::sync::Barrier::new(4);
        let winners = std::thread::scope(|scope| {
            let takers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        kv.take("code", &key, T0).unwrap()
                    })
                })
                .collect();
            takers
                .into_iter()
                .filter_map(|taker| taker.join().unwrap())
                .count()
        });
        assert_eq!(winners, 1, "round {round}");
    }
}

fn kv_delete(f: &mut KvFixture) {
    let kv = f.kv();
    kv.put("session", "d", b"v", LATER).unwrap();
    kv.put("session", "stale", b"v", T0).unwrap();
    assert!(kv.delete("session", "d").unwrap());
    assert!(!kv.delete("session", "d").unwrap());
    // An expired entry still counts as removed.
    assert!(kv.delete("session", "stale").unwrap());
    assert_eq!(kv.get("session", "d", T0).unwrap(), None);
}

fn kv_purge_counts_expired(f: &mut KvFixture) {
    let kv = f.kv();
    for (key, expiry) in [("a", 10), ("b", 20), ("c", 30)] {
        kv.put("session", key, key.as_bytes(), Timestamp(T0.0 + expiry))
            .unwrap();
    }
    kv.put("flow", "f", b"f", Timestamp(T0.0 + 20)).unwrap();
    assert_eq!(kv.purge_expired(Timestamp(T0.0 + 20)).unwrap(), 3);
    assert_eq!(kv.purge_expired(Timestamp(T0.0 + 20)).unwrap(), 0);
    assert_eq!(
        kv.get("session", "c", T0).unwrap().as_deref(),
        Some(&b"c"[..])
    );
    assert!(!kv.delete("session", "a").unwrap());
}

fn kv_namespaces_are_separate(f: &mut KvFixture) {
    let kv = f.kv();
    kv.put("a", "key", b"in a", LATER).unwrap();
    kv.put("b", "key", b"in b", LATER).unwrap();
    // Namespace "ab" + key "c" must not be namespace "a" + key "bc".
    kv.put("ab", "c", b"ab/c", LATER).unwrap();
    assert_eq!(
        kv.get("a", "key", T0).unwrap().as_deref(),
        Some(&b"in a"[..])
    );
    assert_eq!(
        kv.get("b", "key", T0).unwrap().as_deref(),
        Some(&b"in b"[..])
    );
    assert_eq!(kv.get("a", "bc", T0).unwrap(), None);
    assert!(kv.delete("a", "key").unwrap());
    assert!(kv.get("b", "key", T0).unwrap().is_some());
}

fn kv_survives_reopen(f: &mut KvFixture) {
    let Some(reopen) = f.reopen.take() else {
        return;
    };
    // Written without a flush: a clean close must still keep it.
    f.kv().put("session", "s", b"alive", LATER).unwrap();
    drop(f.kv.take());
    let kv = reopen();
    assert_eq!(
        kv.get("session", "s", T0).unwrap().as_deref(),
        Some(&b"alive"[..])
    );
    kv.put("session", "t", b"flushed", LATER).unwrap();
    kv.flush().unwrap();
    drop(kv);
    let kv = reopen();
    assert_eq!(
        kv.get("session", "t", T0).unwrap().as_deref(),
        Some(&b"flushed"[..])
    );
}
