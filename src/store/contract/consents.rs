//! Contract cases for remembered consents: one per user and application (an upsert
//! replaces it), gone with the user, and purged once expired; listed by user and
//! application, and found by the start of their id.

use uuid::Uuid;

use super::{StoreFixture, T0, add_user, conflict_on, query};
use crate::model::{Consent, Timestamp, UserId};
use crate::store::{ConsentFilter, ListQuery, StoreError, StoreExt};

fn consent(user: UserId, application: Uuid, scopes: &[&str], expires: Option<i64>) -> Consent {
    Consent {
        id: Uuid::new_v4(),
        user,
        application,
        permissions: scopes.iter().map(|s| (*s).to_owned()).collect(),
        expires: expires.map(Timestamp),
    }
}

/// Two application ids in a known order, so the read order can be pinned.
fn two_applications() -> (Uuid, Uuid) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    if a.to_string() < b.to_string() {
        (a, b)
    } else {
        (b, a)
    }
}

pub(super) fn consent_upsert_replaces_per_application(f: &mut StoreFixture) {
    let store = f.store();
    let sam = add_user(store, "sam");
    let tess = add_user(store, "tess");
    let (wiki, mail) = two_applications();
    let first = consent(sam.id, wiki, &["openid"], None);
    store.write(|tx| tx.upsert_consent(&first)).unwrap();
    // The same consent again is a no-op, not a conflict.
    store.write(|tx| tx.upsert_consent(&first)).unwrap();
    assert_eq!(
        store.read(|tx| tx.consent(sam.id, wiki)).unwrap(),
        Some(first.clone())
    );

    let wider = consent(
        sam.id,
        wiki,
        &["openid", "email", "profile"],
        Some(T0.0 + 60),
    );
    let other_app = consent(sam.id, mail, &["openid"], None);
    let other_user = consent(tess.id, wiki, &["openid"], None);
    store
        .write(|tx| {
            tx.upsert_consent(&other_app)?;
            tx.upsert_consent(&wider)?;
            tx.upsert_consent(&other_user)
        })
        .unwrap();
    store
        .read(|tx| {
            assert_eq!(tx.consent(sam.id, wiki)?, Some(wider.clone()));
            assert_eq!(
                tx.consents_of_user(sam.id)?,
                vec![wider.clone(), other_app.clone()]
            );
            assert_eq!(tx.consents_of_user(tess.id)?, vec![other_user.clone()]);
            assert_eq!(tx.consent(tess.id, mail)?, None);
            Ok(())
        })
        .unwrap();

    let ghost = consent(UserId(tess.id.0 + 100), wiki, &[], None);
    assert_eq!(
        conflict_on(store.write(|tx| tx.upsert_consent(&ghost))),
        "user"
    );
    // An id already used for another application is not silently moved.
    let mut reused = consent(tess.id, mail, &["openid"], None);
    reused.id = wider.id;
    assert_eq!(
        conflict_on(store.write(|tx| tx.upsert_consent(&reused))),
        "id"
    );

    store.write(|tx| tx.delete_consent(wider.id)).unwrap();
    assert_eq!(store.read(|tx| tx.consent(sam.id, wiki)).unwrap(), None);
    assert!(matches!(
        store.write(|tx| tx.delete_consent(wider.id)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn consents_go_with_their_user_and_expire(f: &mut StoreFixture) {
    let store = f.store();
    let uma = add_user(store, "uma");
    let vic = add_user(store, "vic");
    let (wiki, mail) = two_applications();
    let now = T0.0 + 500;
    let expired = consent(vic.id, wiki, &["openid"], Some(now));
    let lasting = consent(vic.id, mail, &["openid"], Some(now + 1));
    store
        .write(|tx| {
            tx.upsert_consent(&consent(uma.id, wiki, &["openid"], None))?;
            tx.upsert_consent(&consent(uma.id, mail, &["openid"], Some(now - 10)))?;
            tx.upsert_consent(&expired)?;
            tx.upsert_consent(&lasting)
        })
        .unwrap();

    store.write(|tx| tx.delete_user(uma.id)).unwrap();
    assert!(
        store
            .read(|tx| tx.consents_of_user(uma.id))
            .unwrap()
            .is_empty()
    );
    // Uma's expired consent went with her, so one is left to purge.
    assert_eq!(
        store
            .write(|tx| tx.delete_expired_consents(Timestamp(now)))
            .unwrap(),
        1
    );
    assert_eq!(
        store.read(|tx| tx.consents_of_user(vic.id)).unwrap(),
        vec![lasting]
    );
}

pub(super) fn consent_lists_filter_search_and_find_by_id_prefix(f: &mut StoreFixture) {
    let store = f.store();
    let wes = add_user(store, "wes");
    let xia = add_user(store, "xia");
    let (wiki, mail) = two_applications();
    let with_id = |id: &str, user, application| Consent {
        id: Uuid::parse_str(id).unwrap(),
        ..consent(user, application, &["openid"], None)
    };
    let wes_wiki = with_id("0a000000-0000-4000-8000-000000000001", wes.id, wiki);
    let wes_mail = with_id("0a000000-0001-4000-8000-000000000002", wes.id, mail);
    let xia_wiki = with_id("0b000000-0000-4000-8000-000000000003", xia.id, wiki);
    let xia_mail = Consent {
        expires: Some(Timestamp(T0.0 + 10)),
        ..with_id("0a000000-0000-4000-8000-000000000004", xia.id, mail)
    };
    store
        .write(|tx| {
            [&wes_wiki, &wes_mail, &xia_wiki, &xia_mail]
                .into_iter()
                .try_for_each(|consent| tx.upsert_consent(consent))
        })
        .unwrap();
    let list = |query: &ListQuery, filter: ConsentFilter| {
        store.read(|tx| tx.list_consents(query, filter)).unwrap()
    };
    let everything = list(&ListQuery::default(), ConsentFilter::default());
    assert_eq!(everything.total, 4);
    // By application, then id.
    assert_eq!(
        everything.items,
        vec![
            wes_wiki.clone(),
            xia_wiki.clone(),
            xia_mail.clone(),
            wes_mail.clone()
        ]
    );
    let of_xia = ConsentFilter {
        user: Some(xia.id),
        application: None,
    };
    assert_eq!(
        list(&ListQuery::default(), of_xia).items,
        vec![xia_wiki.clone(), xia_mail.clone()]
    );
    let for_mail = ConsentFilter {
        user: None,
        application: Some(mail),
    };
    let by_expiry = query(None, Some("expires"), true);
    assert_eq!(
        list(&by_expiry, for_mail).items,
        vec![xia_mail.clone(), wes_mail.clone()]
    );
    let xia_on_mail = ConsentFilter {
        user: Some(xia.id),
        application: Some(mail),
    };
    assert_eq!(list(&ListQuery::default(), xia_on_mail).total, 1);
    assert_eq!(
        list(&query(Some("WES"), None, false), ConsentFilter::default()).items,
        vec![wes_wiki.clone(), wes_mail.clone()]
    );

    let by_prefix = |prefix: &str| store.read(|tx| tx.consents_by_id_prefix(prefix)).unwrap();
    assert_eq!(
        by_prefix("0a000000-0000"),
        vec![wes_wiki.clone(), xia_mail.clone()]
    );
    assert_eq!(by_prefix("0a000000-0001"), vec![wes_mail.clone()]);
    assert_eq!(by_prefix(&xia_wiki.id.to_string()), vec![xia_wiki.clone()]);
    assert!(by_prefix("0c").is_empty());
}
