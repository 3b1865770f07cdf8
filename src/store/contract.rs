//! The storage contract: every case is written once against `&dyn Store` or `&dyn Kv` and
//! instantiated for each backend by `store_cases!` / `kv_cases!`. A new backend adds a
//! fixture and one macro line; a fixture returning `None` skips that backend (for
//! backends that need a server, such as PostgreSQL, on a machine without one).
//!
//! Behaviour pinned here that the port's doc comments leave open: updates and deletes of
//! a missing row are `NotFound`; `add_member` with an unknown group or user is `NotFound`;
//! `delete_meta` and `remove_member` are idempotent.
//!
//! The cases live in submodules by subject; this file holds the fixtures, the
//! instantiating macros and the builders the cases share.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod applications;
mod brands;
mod catalog;
mod consents;
mod devices;
mod directory;
mod invitations;
mod keypairs;
mod kv;
mod outbox;
mod outposts;
mod policies;
mod providers;
mod scopes;

use std::path::PathBuf;

use tempfile::TempDir;

use crate::model::{
    GroupId, NewGroup, NewUser, Timestamp, Token, TokenIntent, User, UserId, Username,
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
    ($backend:ident, $fixture:ident, $($group:ident :: $case:ident),+ $(,)?) => {
        mod $backend {
            $(
                #[test]
                fn $case() {
                    let Some(mut fixture) = super::$fixture() else {
                        eprintln!("skipped: backend {} unavailable", stringify!($backend));
                        return;
                    };
                    super::$group::$case(&mut fixture);
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
            directory::users_round_trip_and_case_insensitive_lookup,
            directory::usernames_are_unique_ignoring_case,
            directory::user_updates_and_password,
            directory::deleting_a_user_removes_memberships_and_tokens,
            directory::groups_with_parents_and_conflicts,
            directory::memberships_are_idempotent,
            directory::tokens_by_identifier_digest_and_owner,
            directory::token_conflicts_expiry_and_delete,
            catalog::flows_stages_and_bindings_round_trip,
            catalog::flow_updates_and_deletes,
            catalog::events_newest_first,
            catalog::events_filter_by_action_username_and_address,
            catalog::meta_values,
            policies::policies_round_trip_with_their_kinds,
            policies::policy_bindings_round_trip_in_order,
            policies::deleting_a_policy_removes_its_bindings,
            policies::flows_keep_their_policy_engine_mode,
            policies::catalog_holds_policies_bindings_and_brands,
            invitations::invitations_round_trip_and_keep_their_rules,
            invitations::invitation_lists_search_order_and_page,
            invitations::expired_invitations_are_purged,
            consents::consent_upsert_replaces_per_application,
            consents::consents_go_with_their_user_and_expire,
            consents::consent_lists_filter_search_and_find_by_id_prefix,
            brands::brands_round_trip_with_unique_domains,
            brands::a_second_default_brand_is_a_conflict,
            applications::applications_round_trip_with_unique_slugs,
            applications::deleting_an_application_removes_its_bindings_and_consents,
            applications::catalog_finds_applications_by_slug_and_id,
            keypairs::keypairs_round_trip_with_unique_names,
            keypairs::catalog_serves_keypairs_and_signing_keys,
            providers::providers_get_increasing_ids_and_unique_names,
            providers::provider_updates_and_missing_rows,
            providers::deleting_a_provider_detaches_its_application_and_drops_its_tokens,
            providers::property_mappings_round_trip_with_unique_names_and_keys,
            providers::refresh_tokens_are_found_by_hash_and_used_once,
            providers::revoking_a_grant_revokes_its_family_only,
            providers::expired_refresh_tokens_are_deleted,
            providers::refresh_tokens_of_a_user_newest_first_and_gone_with_the_user,
            providers::refresh_token_lists_filter_search_and_find_by_hash_prefix,
            devices::devices_round_trip_filter_and_update,
            outposts::outposts_round_trip_with_unique_names_and_markers,
            outposts::deleting_a_provider_takes_it_off_outposts,
            outbox::outbox_enqueued_entries_are_due,
            outbox::outbox_entries_are_not_due_before_their_time,
            outbox::outbox_sent_entries_are_not_due,
            outbox::outbox_failed_attempt_reschedules,
            outbox::outbox_giving_up_marks_failed,
            outbox::outbox_lists_newest_first,
            scopes::user_lists_page_search_and_order,
            scopes::group_lists_order_and_search,
            scopes::write_scope_rolls_back_on_error,
            scopes::write_scope_rolls_back_on_panic,
            scopes::read_scope_sees_committed_data,
            scopes::data_survives_reopen,
        );
    };
}

macro_rules! kv_cases {
    ($backend:ident, $fixture:ident) => {
        contract_tests!(
            $backend,
            $fixture,
            kv::kv_put_get_overwrite,
            kv::kv_expired_entries_are_invisible,
            kv::kv_take_returns_once,
            kv::kv_concurrent_takes_give_one_value,
            kv::kv_delete,
            kv::kv_purge_counts_expired,
            kv::kv_namespaces_are_separate,
            kv::kv_survives_reopen,
        );
    };
}

store_cases!(sqlite_file, sqlite_file_store);
store_cases!(sqlite_memory, sqlite_memory_store);
kv_cases!(redb, redb_kv);
kv_cases!(memory, memory_kv);

// ---------------------------------------------------------------------------------------
// Builders shared by the cases

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
