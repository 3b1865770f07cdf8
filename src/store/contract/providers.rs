//! Contract cases for OAuth2: providers get increasing integer ids from the store and keep
//! their names and client ids unique; deleting one detaches its application and drops its
//! refresh tokens; scope mappings keep names and managed keys unique; refresh tokens are
//! found by hash, used once, revoked by family, purged when expired and go with their user;
//! they list by owner and provider, and are found by the start of their hash.

use uuid::Uuid;

use super::{StoreFixture, T0, add_user, conflict_on, query};
use crate::model::{
    Application, FlowId, MappingKind, OAuth2Provider, PropertyMapping, Provider, ProviderId,
    ProviderKind, RefreshToken, ScopeMapping, StandardScope, Timestamp, UserId,
};
use crate::store::{ListQuery, RefreshTokenFilter, Store, StoreError, StoreExt};

fn provider(name: &str, client_id: &str) -> Provider {
    let mut oauth = OAuth2Provider::new(client_id.into(), format!("sealed-{client_id}"));
    oauth.property_mappings = vec![Uuid::new_v4()];
    Provider {
        id: ProviderId(0),
        name: name.into(),
        authorization_flow: FlowId::random(),
        invalidation_flow: Some(FlowId::random()),
        kind: ProviderKind::OAuth2(oauth),
    }
}

fn insert(store: &dyn Store, provider: &Provider) -> Provider {
    let id = store.write(|tx| tx.insert_provider(provider)).unwrap();
    Provider {
        id,
        ..provider.clone()
    }
}

fn refresh_token(
    hash: &str,
    grant: Uuid,
    provider: ProviderId,
    user: UserId,
    at: i64,
) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        grant,
        provider,
        user,
        scopes: vec!["openid".into(), "offline_access".into()],
        auth_time: T0,
        expires: Timestamp(T0.0 + at + 3600),
        created: Timestamp(T0.0 + at),
        used: false,
        revoked: false,
    }
}

fn token_of(store: &dyn Store, hash: &str) -> Option<RefreshToken> {
    store.read(|tx| tx.refresh_token(hash)).unwrap()
}

pub(super) fn providers_get_increasing_ids_and_unique_names(f: &mut StoreFixture) {
    let store = f.store();
    let grafana = insert(store, &provider("Grafana", "grafana-id"));
    let wiki = insert(store, &provider("Wiki", "wiki-id"));
    assert!(grafana.id.0 > 0, "ids are positive: {:?}", grafana.id);
    assert!(wiki.id > grafana.id, "{:?} then {:?}", grafana.id, wiki.id);
    assert_eq!(
        store.read(|tx| tx.all_providers()).unwrap(),
        vec![grafana.clone(), wiki.clone()]
    );

    let same_name = provider("Grafana", "other-id");
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_provider(&same_name))),
        "name"
    );
    let same_client = provider("Other", "wiki-id");
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_provider(&same_client))),
        "client_id"
    );
    let mut renamed = wiki.clone();
    renamed.name = "Grafana".into();
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_provider(&renamed))),
        "name"
    );

    // A deleted id is not handed out again.
    store.write(|tx| tx.delete_provider(wiki.id)).unwrap();
    let next = insert(store, &provider("Notes", "notes-id"));
    assert!(
        next.id > wiki.id,
        "{:?} reused after {:?}",
        next.id,
        wiki.id
    );
}

pub(super) fn provider_updates_and_missing_rows(f: &mut StoreFixture) {
    let store = f.store();
    let mut grafana = insert(store, &provider("Grafana", "grafana-id"));
    grafana.name = "Grafana (ops)".into();
    let ProviderKind::OAuth2(oauth) = &mut grafana.kind else {
        panic!("an OAuth2 provider")
    };
    oauth.client_id = "grafana-new-id".into();
    oauth.redirect_uris = vec![crate::model::RedirectUri {
        matching_mode: crate::model::MatchingMode::Regex,
        url: "https://grafana\\.example\\.com/.*".into(),
    }];
    store.write(|tx| tx.update_provider(&grafana)).unwrap();
    assert_eq!(
        store.read(|tx| tx.all_providers()).unwrap(),
        vec![grafana.clone()]
    );
    // The old client id is free again.
    insert(store, &provider("Other", "grafana-id"));

    let mut missing = provider("Ghost", "ghost-id");
    missing.id = ProviderId(grafana.id.0 + 1000);
    assert!(matches!(
        store.write(|tx| tx.update_provider(&missing)),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.write(|tx| tx.delete_provider(missing.id)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn deleting_a_provider_detaches_its_application_and_drops_its_tokens(
    f: &mut StoreFixture,
) {
    let store = f.store();
    let alice = add_user(store, "alice");
    let grafana = insert(store, &provider("Grafana", "grafana-id"));
    let wiki = insert(store, &provider("Wiki", "wiki-id"));
    let mut app = Application::new("Grafana", "grafana");
    app.provider = Some(grafana.id);
    let mut other = Application::new("Wiki", "wiki");
    other.provider = Some(wiki.id);
    let grant = Uuid::new_v4();
    store
        .write(|tx| {
            tx.insert_application(&app)?;
            tx.insert_application(&other)?;
            tx.insert_refresh_token(&refresh_token("g1", grant, grafana.id, alice.id, 0))?;
            tx.insert_refresh_token(&refresh_token("w1", grant, wiki.id, alice.id, 1))
        })
        .unwrap();

    store.write(|tx| tx.delete_provider(grafana.id)).unwrap();
    let applications = store.read(|tx| tx.all_applications()).unwrap();
    let provider_of = |slug: &str| {
        applications
            .iter()
            .find(|application| application.slug == slug)
            .map(|application| application.provider)
    };
    assert_eq!(provider_of("grafana"), Some(None), "the application stays");
    assert_eq!(provider_of("wiki"), Some(Some(wiki.id)));
    assert_eq!(token_of(store, "g1"), None);
    assert!(
        token_of(store, "w1").is_some(),
        "other providers' tokens stay"
    );
    assert_eq!(
        store.read(|tx| tx.all_providers()).unwrap(),
        vec![wiki.clone()]
    );
}

fn custom_mapping(name: &str, scope_name: &str) -> PropertyMapping {
    PropertyMapping {
        id: Uuid::new_v4(),
        name: name.into(),
        managed: None,
        kind: MappingKind::Scope(ScopeMapping {
            scope_name: scope_name.into(),
            description: format!("{name} claims"),
            expression: "#{ team: \"ops\" }".into(),
        }),
    }
}

pub(super) fn property_mappings_round_trip_with_unique_names_and_keys(f: &mut StoreFixture) {
    let store = f.store();
    let email = StandardScope::Email.mapping();
    let gitea = custom_mapping("Gitea", "gitea");
    store
        .write(|tx| {
            tx.insert_property_mapping(&gitea)?;
            tx.insert_property_mapping(&email)
        })
        .unwrap();
    let mut all = vec![email.clone(), gitea.clone()];
    all.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(store.read(|tx| tx.all_property_mappings()).unwrap(), all);

    let same_name = custom_mapping("Gitea", "other");
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_property_mapping(&same_name))),
        "name"
    );
    let mut same_key = StandardScope::Email.mapping();
    same_key.name = "Another email".into();
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_property_mapping(&same_key))),
        "managed"
    );

    let mut changed = gitea.clone();
    changed.name = "Gitea groups".into();
    let MappingKind::Scope(scope) = &mut changed.kind else {
        unreachable!("a scope mapping")
    };
    scope.expression = "#{ groups: [] }".into();
    store
        .write(|tx| tx.update_property_mapping(&changed))
        .unwrap();
    let mut renamed_clash = changed.clone();
    renamed_clash.name = email.name.clone();
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_property_mapping(&renamed_clash))),
        "name"
    );

    store
        .write(|tx| tx.delete_property_mapping(email.id))
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.all_property_mappings()).unwrap(),
        vec![changed.clone()]
    );
    assert!(matches!(
        store.write(|tx| tx.delete_property_mapping(email.id)),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.write(|tx| tx.update_property_mapping(&email)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn refresh_tokens_are_found_by_hash_and_used_once(f: &mut StoreFixture) {
    let store = f.store();
    let alice = add_user(store, "alice");
    let grafana = insert(store, &provider("Grafana", "grafana-id"));
    let token = refresh_token("hash-1", Uuid::new_v4(), grafana.id, alice.id, 0);
    store.write(|tx| tx.insert_refresh_token(&token)).unwrap();
    assert_eq!(token_of(store, "hash-1"), Some(token.clone()));
    assert_eq!(token_of(store, "hash-2"), None);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_refresh_token(&token))),
        "token_hash"
    );
    let orphan = refresh_token(
        "hash-3",
        Uuid::new_v4(),
        grafana.id,
        UserId(alice.id.0 + 99),
        0,
    );
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_refresh_token(&orphan))),
        "user"
    );

    assert!(store.write(|tx| tx.use_refresh_token("hash-1")).unwrap());
    assert!(!store.write(|tx| tx.use_refresh_token("hash-1")).unwrap());
    assert!(!store.write(|tx| tx.use_refresh_token("unknown")).unwrap());
    assert!(token_of(store, "hash-1").unwrap().used);
}

pub(super) fn revoking_a_grant_revokes_its_family_only(f: &mut StoreFixture) {
    let store = f.store();
    let alice = add_user(store, "alice");
    let grafana = insert(store, &provider("Grafana", "grafana-id"));
    let (family, stranger) = (Uuid::new_v4(), Uuid::new_v4());
    store
        .write(|tx| {
            tx.insert_refresh_token(&refresh_token("first", family, grafana.id, alice.id, 0))?;
            tx.insert_refresh_token(&refresh_token("second", family, grafana.id, alice.id, 1))?;
            tx.insert_refresh_token(&refresh_token("other", stranger, grafana.id, alice.id, 2))
        })
        .unwrap();
    assert_eq!(store.write(|tx| tx.revoke_grant(family)).unwrap(), 2);
    assert!(token_of(store, "first").unwrap().revoked);
    assert!(token_of(store, "second").unwrap().revoked);
    assert!(!token_of(store, "other").unwrap().revoked);
    // Already revoked: nothing changes.
    assert_eq!(store.write(|tx| tx.revoke_grant(family)).unwrap(), 0);
    assert_eq!(
        store.write(|tx| tx.revoke_grant(Uuid::new_v4())).unwrap(),
        0
    );
}

pub(super) fn expired_refresh_tokens_are_deleted(f: &mut StoreFixture) {
    let store = f.store();
    let alice = add_user(store, "alice");
    let grafana = insert(store, &provider("Grafana", "grafana-id"));
    let grant = Uuid::new_v4();
    // Each expires an hour after it was made: at T0+3600, T0+3700 and T0+9600.
    store
        .write(|tx| {
            tx.insert_refresh_token(&refresh_token("old", grant, grafana.id, alice.id, 0))?;
            tx.insert_refresh_token(&refresh_token("edge", grant, grafana.id, alice.id, 100))?;
            tx.insert_refresh_token(&refresh_token("new", grant, grafana.id, alice.id, 6000))
        })
        .unwrap();
    let now = Timestamp(T0.0 + 3700);
    assert_eq!(
        store
            .write(|tx| tx.delete_expired_refresh_tokens(now))
            .unwrap(),
        2
    );
    assert_eq!(token_of(store, "old"), None);
    assert_eq!(token_of(store, "edge"), None, "expiring at `now` counts");
    assert!(token_of(store, "new").is_some());
    assert_eq!(
        store
            .write(|tx| tx.delete_expired_refresh_tokens(now))
            .unwrap(),
        0
    );
}

pub(super) fn refresh_tokens_of_a_user_newest_first_and_gone_with_the_user(f: &mut StoreFixture) {
    let store = f.store();
    let alice = add_user(store, "alice");
    let bob = add_user(store, "bob");
    let grafana = insert(store, &provider("Grafana", "grafana-id"));
    let grant = Uuid::new_v4();
    store
        .write(|tx| {
            tx.insert_refresh_token(&refresh_token("a-old", grant, grafana.id, alice.id, 0))?;
            tx.insert_refresh_token(&refresh_token("a-new", grant, grafana.id, alice.id, 50))?;
            tx.insert_refresh_token(&refresh_token("a-mid", grant, grafana.id, alice.id, 10))?;
            tx.insert_refresh_token(&refresh_token("b-one", grant, grafana.id, bob.id, 20))
        })
        .unwrap();
    let hashes = |user: UserId| -> Vec<String> {
        store
            .read(|tx| tx.refresh_tokens_of_user(user))
            .unwrap()
            .into_iter()
            .map(|token| token.token_hash)
            .collect()
    };
    assert_eq!(hashes(alice.id), ["a-new", "a-mid", "a-old"]);
    assert_eq!(hashes(bob.id), ["b-one"]);

    store.write(|tx| tx.delete_user(alice.id)).unwrap();
    assert!(hashes(alice.id).is_empty());
    assert_eq!(token_of(store, "a-new"), None);
    assert_eq!(hashes(bob.id), ["b-one"]);
}

pub(super) fn refresh_token_lists_filter_search_and_find_by_hash_prefix(f: &mut StoreFixture) {
    let store = f.store();
    let alice = add_user(store, "alice");
    let bob = add_user(store, "bob");
    let grafana = insert(store, &provider("Grafana", "grafana-id"));
    let wiki = insert(store, &provider("Wiki", "wiki-id"));
    let grant = Uuid::new_v4();
    store
        .write(|tx| {
            tx.insert_refresh_token(&refresh_token("aa01", grant, grafana.id, alice.id, 0))?;
            tx.insert_refresh_token(&refresh_token("aa02", grant, wiki.id, alice.id, 30))?;
            tx.insert_refresh_token(&refresh_token("ab01", grant, grafana.id, bob.id, 20))?;
            tx.insert_refresh_token(&refresh_token("b001", grant, wiki.id, bob.id, 10))
        })
        .unwrap();
    let hashes = |query: &ListQuery, filter: RefreshTokenFilter| -> (u64, Vec<String>) {
        let page = store
            .read(|tx| tx.list_refresh_tokens(query, filter))
            .unwrap();
        let hashes = page.items.into_iter().map(|token| token.token_hash);
        (page.total, hashes.collect())
    };
    let everyone = RefreshTokenFilter::default();
    let all = ListQuery::default();
    assert_eq!(
        hashes(&all, everyone),
        (4, strings(&["aa02", "ab01", "b001", "aa01"]))
    );
    let of_alice = RefreshTokenFilter {
        user: Some(alice.id),
        provider: None,
    };
    assert_eq!(hashes(&all, of_alice), (2, strings(&["aa02", "aa01"])));
    let of_wiki = RefreshTokenFilter {
        user: None,
        provider: Some(wiki.id),
    };
    assert_eq!(hashes(&all, of_wiki), (2, strings(&["aa02", "b001"])));
    let both = RefreshTokenFilter {
        user: Some(bob.id),
        provider: Some(wiki.id),
    };
    assert_eq!(hashes(&all, both), (1, strings(&["b001"])));
    // Search covers the owner's name and the provider's name, ignoring case.
    assert_eq!(
        hashes(&query(Some("BOB"), None, false), everyone).1,
        strings(&["ab01", "b001"])
    );
    assert_eq!(
        hashes(&query(Some("wik"), None, false), of_alice).1,
        strings(&["aa02"])
    );
    let oldest_first = query(None, Some("expires"), false);
    assert_eq!(
        hashes(&oldest_first, everyone).1,
        strings(&["aa01", "b001", "ab01", "aa02"])
    );
    let paged = ListQuery {
        offset: 1,
        limit: 2,
        ..ListQuery::default()
    };
    assert_eq!(hashes(&paged, everyone), (4, strings(&["ab01", "b001"])));

    let by_prefix = |prefix: &str| -> Vec<String> {
        store
            .read(|tx| tx.refresh_tokens_by_hash_prefix(prefix))
            .unwrap()
            .into_iter()
            .map(|token| token.token_hash)
            .collect()
    };
    assert_eq!(by_prefix("aa"), strings(&["aa01", "aa02"]));
    assert_eq!(by_prefix("a"), strings(&["aa01", "aa02", "ab01"]));
    assert_eq!(by_prefix("ab01"), strings(&["ab01"]));
    assert!(by_prefix("c").is_empty());
    assert!(by_prefix("ab011").is_empty());
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}
