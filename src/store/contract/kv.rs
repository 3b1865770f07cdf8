//! Contract cases for the `Kv` port: expiry, atomic take, namespaces, purge and
//! persistence across a reopen.

use super::{KvFixture, T0};
use crate::model::Timestamp;

const LATER: Timestamp = Timestamp(T0.0 + 60);

pub(super) fn kv_put_get_overwrite(f: &mut KvFixture) {
    let kv = f.kv();
    assert_eq!(kv.get("session", "a", T0).unwrap(), None);
    kv.put("session", "a", b"one", LATER).unwrap();
    assert_eq!(
        kv.get("session", "a", T0).unwrap().as_deref(),
        Some(&b"one"[..])
    );
    kv.put("session", "a", b"two", LATER).unwrap();
    assert_eq!(
        kv.get("session", "a", T0).unwrap().as_deref(),
        Some(&b"two"[..])
    );
    kv.put("session", "empty", b"", LATER).unwrap();
    assert_eq!(kv.get("session", "empty", T0).unwrap(), Some(Vec::new()));
    kv.flush().unwrap();
}

pub(super) fn kv_expired_entries_are_invisible(f: &mut KvFixture) {
    let kv = f.kv();
    kv.put("flow", "x", b"state", LATER).unwrap();
    assert!(
        kv.get("flow", "x", Timestamp(LATER.0 - 1))
            .unwrap()
            .is_some()
    );
    assert_eq!(kv.get("flow", "x", LATER).unwrap(), None);
    assert_eq!(kv.take("flow", "x", Timestamp(LATER.0 + 5)).unwrap(), None);
}

pub(super) fn kv_take_returns_once(f: &mut KvFixture) {
    let kv = f.kv();
    kv.put("code", "c1", b"secret", LATER).unwrap();
    assert_eq!(
        kv.take("code", "c1", T0).unwrap().as_deref(),
        Some(&b"secret"[..])
    );
    assert_eq!(kv.take("code", "c1", T0).unwrap(), None);
    assert_eq!(kv.get("code", "c1", T0).unwrap(), None);
}

pub(super) fn kv_concurrent_takes_give_one_value(f: &mut KvFixture) {
    let kv = f.kv();
    for round in 0..20 {
        let key = format!("code-{round}");
        kv.put("code", &key, b"once", LATER).unwrap();
        // The barrier releases all takers at once so they really race.
        let start = std::sync::Barrier::new(4);
        let winners = std::thread::scope(|scope| {
            let takers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        kv.take("code", &key, T0).unwrap()
                    })
                })
                .collect();
            takers
                .into_iter()
                .filter_map(|taker| taker.join().unwrap())
                .count()
        });
        assert_eq!(winners, 1, "round {round}");
    }
}

pub(super) fn kv_delete(f: &mut KvFixture) {
    let kv = f.kv();
    kv.put("session", "d", b"v", LATER).unwrap();
    kv.put("session", "stale", b"v", T0).unwrap();
    assert!(kv.delete("session", "d").unwrap());
    assert!(!kv.delete("session", "d").unwrap());
    // An expired entry still counts as removed.
    assert!(kv.delete("session", "stale").unwrap());
    assert_eq!(kv.get("session", "d", T0).unwrap(), None);
}

pub(super) fn kv_purge_counts_expired(f: &mut KvFixture) {
    let kv = f.kv();
    for (key, expiry) in [("a", 10), ("b", 20), ("c", 30)] {
        kv.put("session", key, key.as_bytes(), Timestamp(T0.0 + expiry))
            .unwrap();
    }
    kv.put("flow", "f", b"f", Timestamp(T0.0 + 20)).unwrap();
    assert_eq!(kv.purge_expired(Timestamp(T0.0 + 20)).unwrap(), 3);
    assert_eq!(kv.purge_expired(Timestamp(T0.0 + 20)).unwrap(), 0);
    assert_eq!(
        kv.get("session", "c", T0).unwrap().as_deref(),
        Some(&b"c"[..])
    );
    assert!(!kv.delete("session", "a").unwrap());
}

pub(super) fn kv_namespaces_are_separate(f: &mut KvFixture) {
    let kv = f.kv();
    kv.put("a", "key", b"in a", LATER).unwrap();
    kv.put("b", "key", b"in b", LATER).unwrap();
    // Namespace "ab" + key "c" must not be namespace "a" + key "bc".
    kv.put("ab", "c", b"ab/c", LATER).unwrap();
    assert_eq!(
        kv.get("a", "key", T0).unwrap().as_deref(),
        Some(&b"in a"[..])
    );
    assert_eq!(
        kv.get("b", "key", T0).unwrap().as_deref(),
        Some(&b"in b"[..])
    );
    assert_eq!(kv.get("a", "bc", T0).unwrap(), None);
    assert!(kv.delete("a", "key").unwrap());
    assert!(kv.get("b", "key", T0).unwrap().is_some());
}

pub(super) fn kv_survives_reopen(f: &mut KvFixture) {
    let Some(reopen) = f.reopen.take() else {
        return;
    };
    // Written without a flush: a clean close must still keep it.
    f.kv().put("session", "s", b"alive", LATER).unwrap();
    drop(f.kv.take());
    let kv = reopen();
    assert_eq!(
        kv.get("session", "s", T0).unwrap().as_deref(),
        Some(&b"alive"[..])
    );
    kv.put("session", "t", b"flushed", LATER).unwrap();
    kv.flush().unwrap();
    drop(kv);
    let kv = reopen();
    assert_eq!(
        kv.get("session", "t", T0).unwrap().as_deref(),
        Some(&b"flushed"[..])
    );
}
