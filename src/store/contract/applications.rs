//! Contract cases for applications: the whole application round-trips, slugs are unique,
//! deleting an application takes its policy bindings with it, and the catalog finds
//! applications by slug and by id.

use super::{StoreFixture, conflict_on};
use crate::model::{
    Application, BindingSubject, GroupId, PolicyBinding, PolicyBindingId, PolicyEngineMode,
    PolicyTarget, UserId,
};
use crate::store::{Catalog, CatalogParts, StoreError, StoreExt};

fn application(name: &str, slug: &str) -> Application {
    Application {
        id: uuid::Uuid::new_v4(),
        name: name.into(),
        slug: slug.into(),
        provider: None,
        meta_launch_url: format!("https://{slug}.example.com/"),
        meta_icon: format!("https://{slug}.example.com/icon.png"),
        meta_description: format!("{name} for the family"),
        meta_publisher: "Example Inc.".into(),
        group: "Media".into(),
        open_in_new_tab: true,
        policy_engine_mode: PolicyEngineMode::All,
    }
}

fn binding_to(target: PolicyTarget, subject: BindingSubject) -> PolicyBinding {
    PolicyBinding {
        id: PolicyBindingId::random(),
        target,
        subject,
        order: 0,
        enabled: true,
        negate: false,
        timeout_secs: 30,
        failure_result: false,
    }
}

pub(super) fn applications_round_trip_with_unique_slugs(f: &mut StoreFixture) {
    let store = f.store();
    let zulu = application("zulu", "zulu");
    let alpha = application("Alpha", "alpha");
    store
        .write(|tx| {
            tx.insert_application(&zulu)?;
            tx.insert_application(&alpha)
        })
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.all_applications()).unwrap(),
        vec![alpha.clone(), zulu.clone()]
    );

    let clash = application("Another", "alpha");
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_application(&clash))),
        "slug"
    );
    let mut renamed = zulu.clone();
    renamed.slug = "alpha".into();
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_application(&renamed))),
        "slug"
    );

    let mut changed = zulu.clone();
    changed.name = "Beta".into();
    changed.slug = "beta".into();
    changed.provider = Some(crate::model::ProviderId(4));
    changed.policy_engine_mode = PolicyEngineMode::Any;
    changed.open_in_new_tab = false;
    store.write(|tx| tx.update_application(&changed)).unwrap();
    assert_eq!(
        store.read(|tx| tx.all_applications()).unwrap(),
        vec![alpha.clone(), changed.clone()]
    );

    store.write(|tx| tx.delete_application(alpha.id)).unwrap();
    assert_eq!(
        store.read(|tx| tx.all_applications()).unwrap(),
        vec![changed]
    );
    assert!(matches!(
        store.write(|tx| tx.delete_application(alpha.id)),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.write(|tx| tx.update_application(&alpha)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn deleting_an_application_removes_its_bindings_and_consents(f: &mut StoreFixture) {
    let store = f.store();
    let gone = application("Gone", "gone");
    let kept = application("Kept", "kept");
    let gone_binding = binding_to(
        PolicyTarget::Application(gone.id),
        BindingSubject::Group(GroupId::random()),
    );
    let kept_binding = binding_to(
        PolicyTarget::Application(kept.id),
        BindingSubject::User(UserId(1)),
    );
    store
        .write(|tx| {
            tx.insert_application(&gone)?;
            tx.insert_application(&kept)?;
            tx.insert_policy_binding(&gone_binding)?;
            tx.insert_policy_binding(&kept_binding)
        })
        .unwrap();
    let user = super::add_user(store, "consenting");
    let consent_to = |application: uuid::Uuid| crate::model::Consent {
        id: uuid::Uuid::new_v4(),
        user: user.id,
        application,
        permissions: vec!["openid".into()],
        expires: None,
    };
    let (gone_consent, kept_consent) = (consent_to(gone.id), consent_to(kept.id));
    store
        .write(|tx| {
            tx.upsert_consent(&gone_consent)?;
            tx.upsert_consent(&kept_consent)
        })
        .unwrap();
    store.write(|tx| tx.delete_application(gone.id)).unwrap();
    assert_eq!(
        store.read(|tx| tx.all_policy_bindings()).unwrap(),
        vec![kept_binding]
    );
    assert_eq!(
        store.read(|tx| tx.consents_of_user(user.id)).unwrap(),
        vec![kept_consent],
        "the consent to the deleted application goes with it"
    );
}

pub(super) fn catalog_finds_applications_by_slug_and_id(f: &mut StoreFixture) {
    let store = f.store();
    let grafana = application("grafana", "grafana");
    let wiki = application("Wiki", "wiki");
    store
        .write(|tx| {
            tx.insert_application(&wiki)?;
            tx.insert_application(&grafana)
        })
        .unwrap();
    let catalog = store
        .read(|tx| {
            Ok(Catalog::from_parts(CatalogParts {
                applications: tx.all_applications()?,
                ..CatalogParts::default()
            }))
        })
        .unwrap();
    assert_eq!(catalog.application("wiki"), Some(&wiki));
    assert_eq!(catalog.application("Wiki"), None);
    assert_eq!(catalog.application_by_id(grafana.id), Some(&grafana));
    assert_eq!(catalog.application_by_id(uuid::Uuid::new_v4()), None);
    assert_eq!(catalog.applications(), vec![&grafana, &wiki]);
}
