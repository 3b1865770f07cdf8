//! Contract cases for brands: the whole brand round-trips, domains are unique ignoring
//! case, and at most one brand is the default.

use super::{StoreFixture, conflict_on};
use crate::model::Brand;
use crate::store::{StoreError, StoreExt};

pub(super) fn brand(domain: &str, default: bool) -> Brand {
    Brand {
        id: uuid::Uuid::new_v4(),
        domain: domain.into(),
        default,
        branding_title: format!("{domain} sign-in"),
        branding_logo: "/static/dist/assets/icons/icon_left_brand.svg".into(),
        branding_favicon: "/static/dist/assets/icons/icon.png".into(),
        branding_custom_css: ".title { color: #c00; }".into(),
        flow_authentication: Some("default-authentication-flow".into()),
        flow_invalidation: Some("default-invalidation-flow".into()),
        flow_recovery: None,
        flow_enrollment: Some("enroll".into()),
        flow_user_settings: None,
        flow_unenrollment: None,
    }
}

pub(super) fn brands_round_trip_with_unique_domains(f: &mut StoreFixture) {
    let store = f.store();
    let beta = brand("beta.example.com", false);
    let alpha = brand("Alpha.example.com", true);
    store
        .write(|tx| {
            tx.insert_brand(&beta)?;
            tx.insert_brand(&alpha)
        })
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.all_brands()).unwrap(),
        vec![alpha.clone(), beta.clone()]
    );

    let clash = brand("ALPHA.example.COM", false);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_brand(&clash))),
        "domain"
    );
    let mut renamed = beta.clone();
    renamed.domain = "alpha.EXAMPLE.com".into();
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_brand(&renamed))),
        "domain"
    );

    let mut changed = beta.clone();
    changed.domain = "gamma.example.com".into();
    changed.branding_title = "Gamma".into();
    changed.flow_recovery = Some("recover".into());
    store.write(|tx| tx.update_brand(&changed)).unwrap();
    assert_eq!(
        store.read(|tx| tx.all_brands()).unwrap(),
        vec![alpha.clone(), changed.clone()]
    );

    store.write(|tx| tx.delete_brand(alpha.id)).unwrap();
    assert_eq!(store.read(|tx| tx.all_brands()).unwrap(), vec![changed]);
    assert!(matches!(
        store.write(|tx| tx.delete_brand(alpha.id)),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.write(|tx| tx.update_brand(&alpha)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn a_second_default_brand_is_a_conflict(f: &mut StoreFixture) {
    let store = f.store();
    let first = brand("one.example.com", true);
    store.write(|tx| tx.insert_brand(&first)).unwrap();

    let second = brand("two.example.com", true);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_brand(&second))),
        "default"
    );
    let mut plain = second.clone();
    plain.default = false;
    store.write(|tx| tx.insert_brand(&plain)).unwrap();
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_brand(&second))),
        "default"
    );

    // Moving the default is two updates in one scope: clear the old, then set the new.
    let mut demoted = first.clone();
    demoted.default = false;
    store
        .write(|tx| {
            tx.update_brand(&demoted)?;
            tx.update_brand(&second)
        })
        .unwrap();
    let defaults: Vec<Brand> = store
        .read(|tx| tx.all_brands())
        .unwrap()
        .into_iter()
        .filter(|b| b.default)
        .collect();
    assert_eq!(defaults, vec![second]);
}
