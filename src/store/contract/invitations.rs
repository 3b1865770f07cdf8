//! Contract cases for invitations: round trip with the fixed data's JSON, name and
//! creator rules, listing, and the purge of expired invitations.

use super::{StoreFixture, T0, add_user, conflict_on, query};
use crate::model::{Invitation, Timestamp, UserId};
use crate::store::{ListQuery, Store, StoreError, StoreExt};

fn invitation(name: &str, expires: Option<Timestamp>, created_by: Option<UserId>) -> Invitation {
    let mut fixed_data = serde_json::Map::new();
    fixed_data.insert("email".into(), format!("{name}@example.com").into());
    fixed_data.insert("groups".into(), serde_json::json!(["family", "ünïcode"]));
    Invitation {
        id: uuid::Uuid::new_v4(),
        name: name.into(),
        expires,
        single_use: expires.is_some(),
        fixed_data,
        flow: Some("default-enrollment-flow".into()),
        created_by,
        created: T0,
    }
}

fn names(store: &dyn Store, query: &ListQuery) -> (Vec<String>, u64) {
    let page = store.read(|tx| tx.list_invitations(query)).unwrap();
    (page.items.into_iter().map(|i| i.name).collect(), page.total)
}

pub(super) fn invitations_round_trip_and_keep_their_rules(f: &mut StoreFixture) {
    let store = f.store();
    let admin = add_user(store, "rita");
    let with_all = invitation("family", Some(Timestamp(T0.0 + 60)), Some(admin.id));
    let mut bare = invitation("open", None, None);
    bare.flow = None;
    bare.fixed_data = serde_json::Map::new();
    store
        .write(|tx| {
            tx.insert_invitation(&with_all)?;
            tx.insert_invitation(&bare)
        })
        .unwrap();
    store
        .read(|tx| {
            assert_eq!(tx.invitation_by_id(with_all.id)?, Some(with_all.clone()));
            assert_eq!(tx.invitation_by_id(bare.id)?, Some(bare.clone()));
            assert_eq!(tx.invitation_by_id(uuid::Uuid::new_v4())?, None);
            Ok(())
        })
        .unwrap();

    let same_name = invitation("family", None, None);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_invitation(&same_name))),
        "name"
    );
    let unknown_creator = invitation("stray", None, Some(UserId(admin.id.0 + 100)));
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_invitation(&unknown_creator))),
        "created_by"
    );

    // The invitation outlives its creator.
    store.write(|tx| tx.delete_user(admin.id)).unwrap();
    let orphan = store
        .read(|tx| tx.invitation_by_id(with_all.id))
        .unwrap()
        .unwrap();
    assert_eq!(orphan.created_by, None);

    store.write(|tx| tx.delete_invitation(bare.id)).unwrap();
    assert_eq!(store.read(|tx| tx.invitation_by_id(bare.id)).unwrap(), None);
    assert!(matches!(
        store.write(|tx| tx.delete_invitation(bare.id)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn invitation_lists_search_order_and_page(f: &mut StoreFixture) {
    let store = f.store();
    let mut created = invitation("beta_1", Some(Timestamp(T0.0 + 30)), None);
    created.created = Timestamp(T0.0 + 3);
    let mut older = invitation("alpha", Some(Timestamp(T0.0 + 90)), None);
    older.created = Timestamp(T0.0 + 1);
    let mut newest = invitation("Betamax", None, None);
    newest.created = Timestamp(T0.0 + 5);
    store
        .write(|tx| {
            [&created, &older, &newest]
                .into_iter()
                .try_for_each(|i| tx.insert_invitation(i))
        })
        .unwrap();

    // Names order ignoring case, like the other lists.
    assert_eq!(
        names(store, &ListQuery::default()),
        (vec!["alpha".into(), "beta_1".into(), "Betamax".into()], 3)
    );
    // `_` is literal and the match ignores case.
    assert_eq!(
        names(store, &query(Some("BETA_"), None, false)),
        (vec!["beta_1".into()], 1)
    );
    assert_eq!(names(store, &query(Some("beta"), None, false)).1, 2);
    assert_eq!(
        names(store, &query(None, Some("created"), true)).0,
        vec!["Betamax", "beta_1", "alpha"]
    );
    // SQL puts "never expires" first going up; the contract pins only the dated ones.
    let by_expiry = names(store, &query(None, Some("expires"), false)).0;
    let dated: Vec<&String> = by_expiry.iter().filter(|n| *n != "Betamax").collect();
    assert_eq!(dated, vec!["beta_1", "alpha"]);
    let second_page = ListQuery {
        offset: 1,
        limit: 1,
        ..query(None, Some("created"), false)
    };
    assert_eq!(names(store, &second_page), (vec!["beta_1".into()], 3));
}

pub(super) fn expired_invitations_are_purged(f: &mut StoreFixture) {
    let store = f.store();
    let now = Timestamp(T0.0 + 1_000);
    let past = invitation("past", Some(Timestamp(now.0 - 1)), None);
    let at_now = invitation("at-now", Some(now), None);
    let future = invitation("future", Some(Timestamp(now.0 + 1)), None);
    let forever = invitation("forever", None, None);
    store
        .write(|tx| {
            [&past, &at_now, &future, &forever]
                .into_iter()
                .try_for_each(|i| tx.insert_invitation(i))
        })
        .unwrap();
    assert!(past.is_expired(now) && at_now.is_expired(now) && !future.is_expired(now));

    assert_eq!(
        store
            .write(|tx| tx.delete_expired_invitations(now))
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .write(|tx| tx.delete_expired_invitations(now))
            .unwrap(),
        0
    );
    let (left, total) = names(store, &ListQuery::default());
    assert_eq!((left, total), (vec!["forever".into(), "future".into()], 2));
}
