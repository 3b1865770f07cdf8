//! Contract cases for the directory: users, groups, memberships and tokens.

use super::{StoreFixture, T0, add_user, conflict_on, new_group, new_user, query, token};
use crate::model::{GroupId, Timestamp, Token, TokenIntent, User, UserId, UserType, Username};
use crate::store::{ListQuery, Store, StoreError, StoreExt};

pub(super) fn users_round_trip_and_case_insensitive_lookup(f: &mut StoreFixture) {
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

pub(super) fn usernames_are_unique_ignoring_case(f: &mut StoreFixture) {
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

pub(super) fn user_updates_and_password(f: &mut StoreFixture) {
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

pub(super) fn deleting_a_user_removes_memberships_and_tokens(f: &mut StoreFixture) {
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

pub(super) fn groups_with_parents_and_conflicts(f: &mut StoreFixture) {
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

pub(super) fn memberships_are_idempotent(f: &mut StoreFixture) {
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

/// Two users; hank holds three tokens (one expired, one past its date but not
/// expiring), ivy one.
fn seed_tokens(store: &dyn Store) -> (User, User, Vec<Token>) {
    let (hank, ivy) = (add_user(store, "hank"), add_user(store, "ivy"));
    let past = Timestamp(T0.0 - 10);
    let mut kept_forever = token("hank-old-but-not-expiring", hank.id, Some(past));
    kept_forever.expiring = false;
    kept_forever.intent = TokenIntent::AppPassword;
    kept_forever.managed = Some("goauthentik.io/test".into());
    let tokens = vec![
        token("hank-api", hank.id, None),
        token("hank-expired", hank.id, Some(past)),
        token("ivy-recovery", ivy.id, Some(Timestamp(T0.0 + 3600))),
        kept_forever,
    ];
    store
        .write(|tx| tokens.iter().try_for_each(|t| tx.insert_token(t)))
        .unwrap();
    (hank, ivy, tokens)
}

pub(super) fn tokens_by_identifier_digest_and_owner(f: &mut StoreFixture) {
    let store = f.store();
    let (hank, _, tokens) = seed_tokens(store);
    store
        .read(|tx| {
            let by_identifier = tx.token_by_identifier("hank-old-but-not-expiring")?;
            assert_eq!(by_identifier.as_ref(), Some(&tokens[3]));
            let by_digest = tx.token_by_key_digest("digest-ivy-recovery")?;
            assert_eq!(by_digest.as_ref(), Some(&tokens[2]));
            assert_eq!(tx.token_by_key_digest("nope")?, None);
            let hanks = tx.list_tokens(&ListQuery::default(), Some(hank.id))?;
            assert_eq!(hanks.total, 3);
            assert!(hanks.items.iter().all(|t| t.user == hank.id));
            assert_eq!(tx.list_tokens(&ListQuery::default(), None)?.total, 4);
            let found = tx.list_tokens(&query(Some("RECOVERY DESC"), None, false), None)?;
            assert_eq!(found.items, vec![tokens[2].clone()]);
            let newest_name = tx.list_tokens(&query(None, Some("identifier"), true), None)?;
            assert_eq!(newest_name.items[0].identifier, "ivy-recovery");
            Ok(())
        })
        .unwrap();
}

pub(super) fn token_conflicts_expiry_and_delete(f: &mut StoreFixture) {
    let store = f.store();
    let (_, ivy, _) = seed_tokens(store);
    let mut duplicate = token("hank-api", ivy.id, None);
    duplicate.key_digest = "digest-unique".into();
    let mut same_digest = token("other", ivy.id, None);
    same_digest.key_digest = "digest-hank-api".into();
    let stray = token("stray", UserId(ivy.id.0 + 50), None);
    let insert = |t: &Token| conflict_on(store.write(|tx| tx.insert_token(t)));
    assert_eq!(insert(&duplicate), "identifier");
    assert_eq!(insert(&same_digest), "key_digest");
    assert_eq!(insert(&stray), "user");

    // Only the expiring token past its date goes; the non-expiring one stays.
    assert_eq!(store.write(|tx| tx.delete_expired_tokens(T0)).unwrap(), 1);
    let expired = store.read(|tx| tx.token_by_identifier("hank-expired"));
    assert_eq!(expired.unwrap(), None);
    store.write(|tx| tx.delete_token("hank-api")).unwrap();
    assert!(matches!(
        store.write(|tx| tx.delete_token("hank-api")),
        Err(StoreError::NotFound)
    ));
    let left = store.read(|tx| tx.list_tokens(&ListQuery::default(), None));
    assert_eq!(left.unwrap().total, 2);
}
