//! Contract cases for policies and policy bindings (with the policy kinds' JSON), the
//! policy engine mode of flows and stage bindings, and the catalog built from them.

use super::{StoreFixture, add_user, conflict_on, new_group};
use crate::model::policy::{
    DummyPolicy, ExpressionPolicy, NetworkPolicy, PasswordPolicy, ReputationPolicy,
};
use crate::model::stage::UserLogoutStage;
use crate::model::{
    BindingId, BindingSubject, Flow, FlowAuthentication, FlowDesignation, FlowId, Policy,
    PolicyBinding, PolicyBindingId, PolicyEngineMode, PolicyId, PolicyKind, PolicyTarget, Stage,
    StageBinding, StageId, StageKind,
};
use crate::store::{Catalog, CatalogParts, Store, StoreError, StoreExt};

fn policy(name: &str, kind: PolicyKind) -> Policy {
    Policy {
        id: PolicyId::random(),
        name: name.into(),
        execution_logging: false,
        kind,
    }
}

/// One policy of each shape worth a round trip, ordered by name ignoring case.
fn sample_policies() -> Vec<Policy> {
    vec![
        policy(
            "allow-lan",
            PolicyKind::Network(NetworkPolicy {
                allow: vec![
                    "192.168.0.0/16".parse().unwrap(),
                    "fd00::/8".parse().unwrap(),
                ],
                deny: vec!["192.168.66.0/24".parse().unwrap()],
            }),
        ),
        Policy {
            execution_logging: true,
            ..policy(
                "Default-Password",
                PolicyKind::Password(PasswordPolicy {
                    length_min: 12,
                    error_message: "Too short ü".into(),
                    ..PasswordPolicy::default()
                }),
            )
        },
        policy("dummy", PolicyKind::Dummy(DummyPolicy::default())),
        policy(
            "is-admin",
            PolicyKind::Expression(ExpressionPolicy {
                expression: "ak_is_group_member(request.user, name = \"admins\")".into(),
            }),
        ),
    ]
}

fn binding(target: PolicyTarget, subject: BindingSubject, order: i32) -> PolicyBinding {
    PolicyBinding {
        id: PolicyBindingId::random(),
        target,
        subject,
        order,
        enabled: true,
        negate: false,
        timeout_secs: 30,
        failure_result: false,
    }
}

fn flow(slug: &str, mode: PolicyEngineMode) -> Flow {
    Flow {
        id: FlowId::random(),
        slug: slug.into(),
        name: slug.into(),
        title: String::new(),
        designation: FlowDesignation::Authorization,
        authentication: FlowAuthentication::None,
        layout: "stacked".into(),
        policy_engine_mode: mode,
    }
}

fn insert_policies(store: &dyn Store, policies: &[Policy]) {
    store
        .write(|tx| policies.iter().try_for_each(|p| tx.insert_policy(p)))
        .unwrap();
}

fn insert_bindings(store: &dyn Store, bindings: &[PolicyBinding]) {
    store
        .write(|tx| {
            bindings
                .iter()
                .try_for_each(|b| tx.insert_policy_binding(b))
        })
        .unwrap();
}

fn bindings_of(store: &dyn Store, target: PolicyTarget) -> Vec<PolicyBinding> {
    store
        .read(|tx| tx.all_policy_bindings())
        .unwrap()
        .into_iter()
        .filter(|b| b.target == target)
        .collect()
}

pub(super) fn policies_round_trip_with_their_kinds(f: &mut StoreFixture) {
    let store = f.store();
    let mut policies = sample_policies();
    // Inserted out of order: the read order is the store's, by name.
    let mut shuffled = policies.clone();
    shuffled.reverse();
    insert_policies(store, &shuffled);
    assert_eq!(store.read(|tx| tx.all_policies()).unwrap(), policies);

    let renamed = &mut policies[2];
    renamed.name = "zz-reputation".into();
    renamed.execution_logging = true;
    renamed.kind = PolicyKind::Reputation(ReputationPolicy {
        threshold: -10,
        ..ReputationPolicy::default()
    });
    let renamed = renamed.clone();
    store.write(|tx| tx.update_policy(&renamed)).unwrap();
    let read = store.read(|tx| tx.all_policies()).unwrap();
    assert_eq!(read.last(), Some(&renamed));

    let clash = policy(
        "DEFAULT-password",
        PolicyKind::Dummy(DummyPolicy::default()),
    );
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_policy(&clash))),
        "name"
    );
    let mut taken = renamed.clone();
    taken.name = "Is-Admin".into();
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_policy(&taken))),
        "name"
    );
    let ghost = policy("ghost", PolicyKind::Dummy(DummyPolicy::default()));
    assert!(matches!(
        store.write(|tx| tx.update_policy(&ghost)),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.write(|tx| tx.delete_policy(ghost.id)),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.read(|tx| tx.all_policies()).unwrap().len(), 4);
}

pub(super) fn policy_bindings_round_trip_in_order(f: &mut StoreFixture) {
    let store = f.store();
    let policies = sample_policies();
    insert_policies(store, &policies);
    let user = add_user(store, "paula");
    let group = new_group("admins", None);
    store.write(|tx| tx.insert_group(&group).map(drop)).unwrap();

    let on_flow = PolicyTarget::Flow(FlowId::random());
    let on_stage = PolicyTarget::StageBinding(BindingId::random());
    let on_app = PolicyTarget::Application(uuid::Uuid::new_v4());
    let mut late = binding(on_flow, BindingSubject::Policy(policies[0].id), 20);
    late.negate = true;
    late.timeout_secs = 5;
    late.failure_result = true;
    let early = binding(on_flow, BindingSubject::Group(group.id), 10);
    let mut disabled = binding(on_stage, BindingSubject::User(user.id), 0);
    disabled.enabled = false;
    let app = binding(on_app, BindingSubject::Policy(policies[3].id), 0);
    insert_bindings(
        store,
        &[late.clone(), app.clone(), early.clone(), disabled.clone()],
    );

    assert_eq!(
        bindings_of(store, on_flow),
        vec![early.clone(), late.clone()]
    );
    assert_eq!(bindings_of(store, on_stage), vec![disabled.clone()]);
    assert_eq!(bindings_of(store, on_app), vec![app.clone()]);
    assert_eq!(store.read(|tx| tx.all_policy_bindings()).unwrap().len(), 4);

    // An update replaces the whole binding, target included.
    let mut moved = early.clone();
    moved.target = on_app;
    moved.order = -5;
    moved.subject = BindingSubject::Policy(policies[1].id);
    store.write(|tx| tx.update_policy_binding(&moved)).unwrap();
    assert_eq!(bindings_of(store, on_flow), vec![late.clone()]);
    assert_eq!(bindings_of(store, on_app), vec![moved.clone(), app.clone()]);

    let dangling = binding(on_flow, BindingSubject::Policy(PolicyId::random()), 1);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_policy_binding(&dangling))),
        "policy"
    );
    let mut repointed = late.clone();
    repointed.subject = BindingSubject::Policy(PolicyId::random());
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_policy_binding(&repointed))),
        "policy"
    );
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_policy_binding(&late))),
        "id"
    );
    assert!(matches!(
        store.write(|tx| tx.update_policy_binding(&dangling)),
        Err(StoreError::NotFound)
    ));

    store
        .write(|tx| tx.delete_policy_binding(disabled.id))
        .unwrap();
    assert!(bindings_of(store, on_stage).is_empty());
    assert!(matches!(
        store.write(|tx| tx.delete_policy_binding(disabled.id)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn deleting_a_policy_removes_its_bindings(f: &mut StoreFixture) {
    let store = f.store();
    let policies = sample_policies();
    insert_policies(store, &policies);
    let user = add_user(store, "quinn");
    let target = PolicyTarget::Flow(FlowId::random());
    let doomed = policies[0].id;
    let kept = binding(target, BindingSubject::Policy(policies[1].id), 0);
    let by_user = binding(target, BindingSubject::User(user.id), 5);
    insert_bindings(
        store,
        &[
            binding(target, BindingSubject::Policy(doomed), 1),
            binding(
                PolicyTarget::Application(uuid::Uuid::new_v4()),
                BindingSubject::Policy(doomed),
                0,
            ),
            kept.clone(),
            by_user.clone(),
        ],
    );

    store.write(|tx| tx.delete_policy(doomed)).unwrap();
    store
        .read(|tx| {
            assert_eq!(
                tx.all_policy_bindings()?,
                vec![kept.clone(), by_user.clone()]
            );
            assert_eq!(tx.all_policies()?.len(), policies.len() - 1);
            Ok(())
        })
        .unwrap();
    assert!(matches!(
        store.write(|tx| tx.delete_policy(doomed)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn flows_keep_their_policy_engine_mode(f: &mut StoreFixture) {
    let store = f.store();
    let mut strict = flow("strict", PolicyEngineMode::All);
    let lenient = flow("lenient", PolicyEngineMode::Any);
    let stage = Stage {
        id: StageId::random(),
        name: "logout".into(),
        kind: StageKind::UserLogout(UserLogoutStage::default()),
    };
    let bound = StageBinding {
        id: BindingId::random(),
        flow: strict.id,
        stage: stage.id,
        order: 0,
        evaluate_on_plan: false,
        re_evaluate_policies: true,
        policy_engine_mode: PolicyEngineMode::All,
    };
    store
        .write(|tx| {
            tx.insert_flow(&strict)?;
            tx.insert_flow(&lenient)?;
            tx.insert_stage(&stage)?;
            tx.insert_binding(&bound)
        })
        .unwrap();
    store
        .read(|tx| {
            assert_eq!(tx.all_flows()?, vec![lenient.clone(), strict.clone()]);
            assert_eq!(tx.all_bindings()?, vec![bound.clone()]);
            Ok(())
        })
        .unwrap();
    strict.policy_engine_mode = PolicyEngineMode::Any;
    store.write(|tx| tx.update_flow(&strict)).unwrap();
    let flows = store.read(|tx| tx.all_flows()).unwrap();
    assert!(flows.contains(&strict));
}

/// The catalog built from one read scope answers policies, bindings and brands.
pub(super) fn catalog_holds_policies_bindings_and_brands(f: &mut StoreFixture) {
    let store = f.store();
    let policies = sample_policies();
    insert_policies(store, &policies);
    let target = PolicyTarget::Flow(FlowId::random());
    let second = binding(target, BindingSubject::Policy(policies[0].id), 7);
    let first = binding(target, BindingSubject::Policy(policies[1].id), -1);
    insert_bindings(store, &[second.clone(), first.clone()]);
    let default = super::brands::brand("Auth.Example.com", true);
    let other = super::brands::brand("login.example.org", false);
    store
        .write(|tx| {
            tx.insert_brand(&default)?;
            tx.insert_brand(&other)
        })
        .unwrap();

    let catalog = store
        .read(|tx| {
            Ok(Catalog::from_parts(CatalogParts {
                flows: tx.all_flows()?,
                stages: tx.all_stages()?,
                bindings: tx.all_bindings()?,
                policies: tx.all_policies()?,
                policy_bindings: tx.all_policy_bindings()?,
                brands: tx.all_brands()?,
                applications: tx.all_applications()?,
                providers: tx.all_providers()?,
                property_mappings: tx.all_property_mappings()?,
                outposts: tx.all_outposts()?,
            }))
        })
        .unwrap();
    assert_eq!(catalog.policy(policies[2].id), Some(&policies[2]));
    assert_eq!(catalog.policy(PolicyId::random()), None);
    assert_eq!(catalog.policies().len(), policies.len());
    assert_eq!(catalog.bindings_for(&target), [first, second].as_slice());
    assert!(
        catalog
            .bindings_for(&PolicyTarget::Flow(FlowId::random()))
            .is_empty()
    );
    assert_eq!(catalog.brand_for_host("LOGIN.example.org"), Some(&other));
    assert_eq!(catalog.brand_for_host("auth.example.com"), Some(&default));
    assert_eq!(catalog.brand_for_host("elsewhere.test"), Some(&default));
    assert_eq!(catalog.default_brand(), Some(&default));
    assert_eq!(catalog.brands(), vec![&default, &other]);
}
