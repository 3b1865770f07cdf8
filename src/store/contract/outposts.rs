//! Contract cases for outposts: stored whole with unique names and managed markers;
//! deleting a provider takes it off every outpost's list.

use serde_json::json;

use super::{StoreFixture, conflict_on};
use crate::model::{FlowId, OAuth2Provider, Outpost, Provider, ProviderId, ProviderKind};
use crate::store::{StoreError, StoreExt};

fn provider(name: &str) -> Provider {
    Provider {
        id: ProviderId(0),
        name: name.into(),
        authorization_flow: FlowId::random(),
        invalidation_flow: None,
        kind: ProviderKind::OAuth2(OAuth2Provider::new(format!("client-{name}"), String::new())),
    }
}

pub(super) fn outposts_round_trip_with_unique_names_and_markers(f: &mut StoreFixture) {
    let store = f.store();
    let mut embedded = Outpost::embedded();
    embedded
        .config
        .insert("authentik_host".into(), json!("https://auth.example.com"));
    store.write(|tx| tx.insert_outpost(&embedded)).unwrap();
    assert_eq!(
        store.read(|tx| tx.all_outposts()).unwrap(),
        vec![embedded.clone()]
    );

    let mut twin = Outpost::embedded();
    twin.name = "another".into();
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_outpost(&twin))),
        "managed"
    );
    let mut same_name = Outpost::embedded();
    same_name.managed = None;
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_outpost(&same_name))),
        "name"
    );

    embedded.providers = vec![ProviderId(3)];
    store.write(|tx| tx.update_outpost(&embedded)).unwrap();
    assert_eq!(
        store.read(|tx| tx.all_outposts()).unwrap()[0].providers,
        vec![ProviderId(3)]
    );
    let missing = Outpost::embedded();
    assert!(matches!(
        store.write(|tx| tx.update_outpost(&missing)),
        Err(StoreError::NotFound)
    ));
    store.write(|tx| tx.delete_outpost(embedded.id)).unwrap();
    assert!(store.read(|tx| tx.all_outposts()).unwrap().is_empty());
}

pub(super) fn deleting_a_provider_takes_it_off_outposts(f: &mut StoreFixture) {
    let store = f.store();
    let first = store
        .write(|tx| tx.insert_provider(&provider("first")))
        .unwrap();
    let second = store
        .write(|tx| tx.insert_provider(&provider("second")))
        .unwrap();
    let mut outpost = Outpost::embedded();
    outpost.providers = vec![first, second];
    store.write(|tx| tx.insert_outpost(&outpost)).unwrap();
    store.write(|tx| tx.delete_provider(first)).unwrap();
    let stored = store.read(|tx| tx.all_outposts()).unwrap();
    assert_eq!(stored[0].providers, vec![second]);
    assert_eq!(stored[0].config, outpost.config);
}
