//! Contract cases for authenticator devices: increasing ids, filters, updates, a WebAuthn
//! credential registered once, and devices gone with their user.

use serde_json::json;

use super::{StoreFixture, T0, add_user, conflict_on};
use crate::model::device::{StaticData, TotpData, WebauthnData};
use crate::model::{Device, DeviceClass, DeviceData, DeviceId, Timestamp, UserId};
use crate::store::{DeviceFilter, StoreError, StoreExt};

fn device(user: UserId, name: &str, data: DeviceData) -> Device {
    Device {
        id: DeviceId(0),
        user,
        name: name.into(),
        confirmed: true,
        created: T0,
        last_updated: T0,
        last_used: None,
        data,
    }
}

fn totp() -> DeviceData {
    DeviceData::Totp(TotpData {
        secret_sealed: "sealed".into(),
        digits: 6,
        period: 30,
        last_step: 0,
    })
}

fn key(id: &str) -> DeviceData {
    DeviceData::Webauthn(WebauthnData {
        credential: json!({"cred": id}),
        credential_id: id.into(),
        discoverable: true,
        aaguid: None,
    })
}

pub(super) fn devices_round_trip_filter_and_update(f: &mut StoreFixture) {
    let store = f.store();
    let alice = add_user(store, "alice");
    let bob = add_user(store, "bob");
    let phone = store
        .write(|tx| tx.insert_device(&device(alice.id, "Phone", totp())))
        .unwrap();
    let codes = store
        .write(|tx| {
            tx.insert_device(&device(
                alice.id,
                "Recovery codes",
                DeviceData::Static(StaticData {
                    code_hashes: vec!["a".into(), "b".into()],
                }),
            ))
        })
        .unwrap();
    let yubikey = store
        .write(|tx| tx.insert_device(&device(bob.id, "YubiKey", key("cred-1"))))
        .unwrap();
    assert!(phone < codes && codes < yubikey);

    let mine = store
        .read(|tx| {
            tx.devices(DeviceFilter {
                user: Some(alice.id),
                ..DeviceFilter::default()
            })
        })
        .unwrap();
    assert_eq!(
        mine.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![phone, codes]
    );
    let keys = store
        .read(|tx| {
            tx.devices(DeviceFilter {
                class: Some(DeviceClass::Webauthn),
                ..DeviceFilter::default()
            })
        })
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].user, bob.id);
    let found = store
        .read(|tx| tx.device_by_credential_id("cred-1"))
        .unwrap();
    assert_eq!(found.map(|d| d.id), Some(yubikey));

    // The same credential cannot be registered twice.
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_device(&device(alice.id, "Copy", key("cred-1"))))),
        "credential_id"
    );
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_device(&device(UserId(9999), "X", totp())))),
        "user"
    );

    let mut updated = store.read(|tx| tx.device(phone)).unwrap().unwrap();
    updated.name = "Work phone".into();
    updated.last_used = Some(Timestamp(T0.0 + 60));
    if let DeviceData::Totp(data) = &mut updated.data {
        data.last_step = 42;
    }
    store.write(|tx| tx.update_device(&updated)).unwrap();
    assert_eq!(store.read(|tx| tx.device(phone)).unwrap(), Some(updated));
    let unconfirmed = store
        .read(|tx| {
            tx.devices(DeviceFilter {
                confirmed: Some(false),
                ..DeviceFilter::default()
            })
        })
        .unwrap();
    assert!(unconfirmed.is_empty());

    store.write(|tx| tx.delete_device(codes)).unwrap();
    assert!(matches!(
        store.write(|tx| tx.delete_device(codes)),
        Err(StoreError::NotFound)
    ));
    store.write(|tx| tx.delete_user(alice.id)).unwrap();
    assert_eq!(store.read(|tx| tx.device(phone)).unwrap(), None);
    assert!(store.read(|tx| tx.device(yubikey)).unwrap().is_some());
}
