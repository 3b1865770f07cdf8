//! Contract cases for the cross-cutting rules: list paging, search and ordering; commit
//! and rollback of scopes (on error and on panic); persistence across a reopen.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{StoreFixture, T0, add_user, new_group, new_user, query};
use crate::model::Timestamp;
use crate::store::{ListQuery, StoreError, StoreExt};

pub(super) fn user_lists_page_search_and_order(f: &mut StoreFixture) {
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
}

pub(super) fn group_lists_order_and_search(f: &mut StoreFixture) {
    let store = f.store();
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
    let superusers_last = groups(&query(None, Some("is_superuser"), false));
    assert_eq!(superusers_last, vec!["beta", "gamma", "Alpha"]);
}

pub(super) fn write_scope_rolls_back_on_error(f: &mut StoreFixture) {
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

pub(super) fn write_scope_rolls_back_on_panic(f: &mut StoreFixture) {
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

pub(super) fn read_scope_sees_committed_data(f: &mut StoreFixture) {
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

pub(super) fn data_survives_reopen(f: &mut StoreFixture) {
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
