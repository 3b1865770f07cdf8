//! Contract cases for certificate-key pairs: pairs round-trip whole (sealed key
//! included), names are unique, a rename is the only update, and the catalog serves the
//! pairs and their decoded signing keys.

use super::{StoreFixture, T0, conflict_on};
use crate::crypto::SecretBox;
use crate::model::{CertificateKeyPair, KeyType, Timestamp};
use crate::store::{Catalog, StoreError, StoreExt};

fn keypair(name: &str, key_sealed: Option<&str>) -> CertificateKeyPair {
    CertificateKeyPair {
        id: uuid::Uuid::new_v4(),
        name: name.into(),
        certificate_pem: format!(
            "-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n"
        ),
        key_sealed: key_sealed.map(str::to_owned),
        key_type: KeyType::EcP256,
        kid: format!("kid-{name}"),
        not_before: T0,
        not_after: Timestamp(T0.0 + 86_400),
        managed: Some("gatehouse/test".into()),
        created: T0,
    }
}

pub(super) fn keypairs_round_trip_with_unique_names(f: &mut StoreFixture) {
    let store = f.store();
    let beta = keypair("beta", Some("sealed-key"));
    let mut alpha = keypair("alpha", None);
    alpha.key_type = KeyType::Rsa;
    alpha.managed = None;
    store
        .write(|tx| {
            tx.insert_keypair(&beta)?;
            tx.insert_keypair(&alpha)
        })
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.all_keypairs()).unwrap(),
        vec![alpha.clone(), beta.clone()]
    );

    let clash = keypair("alpha", None);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_keypair(&clash))),
        "name"
    );
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_keypair(beta.id, "alpha"))),
        "name"
    );

    store
        .write(|tx| tx.update_keypair(beta.id, "gamma"))
        .unwrap();
    let mut renamed = beta.clone();
    renamed.name = "gamma".into();
    assert_eq!(
        store.read(|tx| tx.all_keypairs()).unwrap(),
        vec![alpha.clone(), renamed.clone()]
    );

    store.write(|tx| tx.delete_keypair(alpha.id)).unwrap();
    assert_eq!(store.read(|tx| tx.all_keypairs()).unwrap(), vec![renamed]);
    assert!(matches!(
        store.write(|tx| tx.delete_keypair(alpha.id)),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.write(|tx| tx.update_keypair(alpha.id, "delta")),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn catalog_serves_keypairs_and_signing_keys(f: &mut StoreFixture) {
    let store = f.store();
    let secret_box = SecretBox::from_secret_key("contract");
    let generated = crate::crypto::keys::generate(KeyType::Ed25519, "ed", &[], 30, T0).unwrap();
    let signing = crate::crypto::keys::build_keypair(
        "ed",
        &generated.certificate_pem,
        Some(&generated.private_key_pem),
        &secret_box,
        None,
        T0,
    )
    .unwrap();
    let bare = keypair("bare", None);
    store
        .write(|tx| {
            tx.insert_keypair(&signing)?;
            tx.insert_keypair(&bare)
        })
        .unwrap();
    let catalog = store
        .read(|tx| Ok(Catalog::default().with_keypairs(tx.all_keypairs()?)))
        .unwrap();
    let names: Vec<&str> = catalog.keypairs().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["bare", "ed"]);
    assert_eq!(catalog.keypair(signing.id), Some(&signing));
    let key = catalog.signing_key(signing.id, &secret_box).unwrap();
    assert_eq!(key.kid(), signing.kid);
    // Decoded once per snapshot: the second call hands out the same key.
    let again = catalog.signing_key(signing.id, &secret_box).unwrap();
    assert!(std::sync::Arc::ptr_eq(&key, &again));
    assert!(catalog.signing_key(bare.id, &secret_box).is_none());
    assert!(
        catalog
            .signing_key(uuid::Uuid::new_v4(), &secret_box)
            .is_none()
    );
}
