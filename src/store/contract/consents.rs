//! Contract cases for remembered consents: one per user and application (an upsert
//! replaces it), gone with the user, and purged once expired.

use uuid::Uuid;

use super::{StoreFixture, T0, add_user, conflict_on};
use crate::model::{Consent, Timestamp, UserId};
use crate::store::{StoreError, StoreExt};

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
