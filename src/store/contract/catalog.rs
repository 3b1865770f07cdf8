//! Contract cases for configuration and records: flows, stages and bindings (with the
//! stage settings' JSON), audit events, and installation values.

use super::{StoreFixture, conflict_on, query};
use crate::model::stage::{
    IdentificationStage, PasswordStage, PromptField, PromptFieldType, PromptStage, UserLoginStage,
};
use crate::model::{
    BindingId, Event, EventAction, EventUser, Flow, FlowAuthentication, FlowDesignation, FlowId,
    PolicyEngineMode, Stage, StageBinding, StageId, StageKind, Timestamp, UserId,
};
use crate::store::{EventFilter, ListQuery, Store, StoreError, StoreExt};

fn sample_stages() -> Vec<Stage> {
    let password = Stage {
        id: StageId::random(),
        name: "default-password".into(),
        kind: StageKind::Password(PasswordStage {
            failed_attempts_before_cancel: 3,
        }),
    };
    let identification = Stage {
        id: StageId::random(),
        name: "default-identification".into(),
        kind: StageKind::Identification(IdentificationStage {
            password_stage: Some(password.id),
            recovery_flow: Some("recovery".into()),
            ..IdentificationStage::default()
        }),
    };
    let prompt = Stage {
        id: StageId::random(),
        name: "prompt".into(),
        kind: StageKind::Prompt(PromptStage {
            fields: vec![PromptField {
                field_key: "email".into(),
                label: "Email".into(),
                field_type: PromptFieldType::Email,
                required: true,
                placeholder: "you@example.com".into(),
                initial_value: String::new(),
                order: 1,
                sub_text: String::new(),
                choices: Vec::new(),
            }],
            validation_policies: Vec::new(),
        }),
    };
    let login = Stage {
        id: StageId::random(),
        name: "login".into(),
        kind: StageKind::UserLogin(UserLoginStage::default()),
    };
    let mut stages = vec![password, identification, prompt, login];
    stages.sort_by(|a, b| a.name.cmp(&b.name));
    stages
}

fn flow(slug: &str) -> Flow {
    Flow {
        id: FlowId::random(),
        slug: slug.into(),
        name: format!("{slug} flow"),
        title: "Welcome".into(),
        designation: FlowDesignation::Authentication,
        authentication: FlowAuthentication::RequireUnauthenticated,
        layout: "stacked".into(),
        policy_engine_mode: PolicyEngineMode::Any,
    }
}

fn binding(flow: FlowId, stage: StageId, order: i32) -> StageBinding {
    StageBinding {
        id: BindingId::random(),
        flow,
        stage,
        order,
        evaluate_on_plan: order % 2 == 0,
        re_evaluate_policies: true,
        policy_engine_mode: PolicyEngineMode::Any,
    }
}

/// What the catalog cases start from: two flows, the sample stages bound in order to the
/// first flow, and one stage shared with the second flow.
struct Seeded {
    auth: Flow,
    other: Flow,
    stages: Vec<Stage>,
    bindings: Vec<StageBinding>,
    shared: StageBinding,
}

fn seed_catalog(store: &dyn Store) -> Seeded {
    let stages = sample_stages();
    let (auth, other) = (flow("default-authentication-flow"), flow("another"));
    let bindings: Vec<StageBinding> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| binding(auth.id, s.id, i32::try_from(i).unwrap() * 10))
        .collect();
    let shared = binding(other.id, stages[0].id, 0);
    store
        .write(|tx| {
            tx.insert_flow(&auth)?;
            tx.insert_flow(&other)?;
            stages.iter().try_for_each(|s| tx.insert_stage(s))?;
            bindings.iter().try_for_each(|b| tx.insert_binding(b))?;
            tx.insert_binding(&shared)
        })
        .unwrap();
    Seeded {
        auth,
        other,
        stages,
        bindings,
        shared,
    }
}

pub(super) fn flows_stages_and_bindings_round_trip(f: &mut StoreFixture) {
    let store = f.store();
    let Seeded {
        auth,
        other,
        stages,
        bindings,
        ..
    } = seed_catalog(store);
    store
        .read(|tx| {
            assert_eq!(tx.all_flows()?, vec![other.clone(), auth.clone()]);
            assert_eq!(tx.all_stages()?, stages);
            let auth_bindings: Vec<StageBinding> = tx
                .all_bindings()?
                .into_iter()
                .filter(|b| b.flow == auth.id)
                .collect();
            assert_eq!(auth_bindings, bindings);
            Ok(())
        })
        .unwrap();

    let duplicate_slug = flow("another");
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_flow(&duplicate_slug))),
        "slug"
    );
    let mut clash = stages[1].clone();
    clash.id = StageId::random();
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_stage(&clash))),
        "name"
    );
    let dangling = binding(auth.id, StageId::random(), 99);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_binding(&dangling))),
        "stage"
    );
    let homeless = binding(FlowId::random(), stages[0].id, 99);
    assert_eq!(
        conflict_on(store.write(|tx| tx.insert_binding(&homeless))),
        "flow"
    );
}

pub(super) fn flow_updates_and_deletes(f: &mut StoreFixture) {
    let store = f.store();
    let Seeded {
        mut auth,
        stages,
        bindings,
        shared,
        ..
    } = seed_catalog(store);
    auth.title = "Sign in".into();
    auth.designation = FlowDesignation::Recovery;
    let mut changed = stages[2].clone();
    changed.kind = StageKind::Password(PasswordStage::default());
    store
        .write(|tx| {
            tx.update_flow(&auth)?;
            tx.update_stage(&changed)?;
            tx.delete_binding(&bindings[3])
        })
        .unwrap();
    store
        .read(|tx| {
            assert!(tx.all_flows()?.contains(&auth));
            assert!(tx.all_stages()?.contains(&changed));
            assert_eq!(tx.all_bindings()?.len(), bindings.len());
            Ok(())
        })
        .unwrap();

    // A binding can move to another flow, stage and position; its id stays.
    let mut moved = bindings[0].clone();
    moved.flow = shared.flow;
    moved.stage = stages[1].id;
    moved.order = 42;
    moved.evaluate_on_plan = !moved.evaluate_on_plan;
    moved.re_evaluate_policies = !moved.re_evaluate_policies;
    moved.policy_engine_mode = PolicyEngineMode::All;
    store.write(|tx| tx.update_binding(&moved)).unwrap();
    assert!(store.read(|tx| tx.all_bindings()).unwrap().contains(&moved));
    let mut dangling = moved.clone();
    dangling.stage = StageId::random();
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_binding(&dangling))),
        "stage"
    );
    dangling.stage = moved.stage;
    dangling.flow = FlowId::random();
    assert_eq!(
        conflict_on(store.write(|tx| tx.update_binding(&dangling))),
        "flow"
    );
    let mut unknown = moved.clone();
    unknown.id = BindingId::random();
    assert!(matches!(
        store.write(|tx| tx.update_binding(&unknown)),
        Err(StoreError::NotFound)
    ));
    // Put it back, so what follows sees the seeded layout.
    store.write(|tx| tx.update_binding(&bindings[0])).unwrap();

    // Deleting a flow takes its bindings; deleting a stage takes the bindings using it.
    store.write(|tx| tx.delete_flow(auth.id)).unwrap();
    assert_eq!(store.read(|tx| tx.all_bindings()).unwrap(), vec![shared]);
    store.write(|tx| tx.delete_stage(stages[0].id)).unwrap();
    assert!(store.read(|tx| tx.all_bindings()).unwrap().is_empty());
    assert!(matches!(
        store.write(|tx| tx.delete_flow(auth.id)),
        Err(StoreError::NotFound)
    ));
}

fn event(action: EventAction, user: Option<&str>, created: i64) -> Event {
    Event {
        id: uuid::Uuid::new_v4(),
        action,
        user: user.map(|name| EventUser {
            pk: UserId(7),
            username: name.into(),
        }),
        client_ip: Some("192.0.2.1".into()),
        context: serde_json::json!({"http_request": {"path": "/"}}),
        created: Timestamp(created),
    }
}

pub(super) fn events_newest_first(f: &mut StoreFixture) {
    let store = f.store();
    let first = event(EventAction::Login, Some("jack"), 10);
    let second = event(EventAction::LoginFailed, None, 20);
    let third = event(EventAction::Logout, Some("kate"), 20);
    store
        .write(|tx| {
            [&first, &second, &third]
                .into_iter()
                .try_for_each(|e| tx.insert_event(e))
        })
        .unwrap();
    store
        .read(|tx| {
            let all = tx.list_events(&ListQuery::default())?;
            assert_eq!(all.total, 3);
            assert_eq!(
                all.items,
                vec![third.clone(), second.clone(), first.clone()]
            );
            let by_user = tx.list_events(&query(Some("JACK"), None, false))?;
            assert_eq!(by_user.items, vec![first.clone()]);
            let by_action = tx.list_events(&query(Some("login"), None, false))?;
            assert_eq!(by_action.items, vec![second.clone(), first.clone()]);
            let oldest_first = tx.list_events(&query(None, Some("created"), false))?;
            assert_eq!(
                oldest_first.items,
                vec![first.clone(), second.clone(), third.clone()]
            );
            Ok(())
        })
        .unwrap();
}

pub(super) fn events_filter_by_action_username_and_address(f: &mut StoreFixture) {
    let store = f.store();
    let login = event(EventAction::Login, Some("jack"), 10);
    let mut failed = event(EventAction::LoginFailed, None, 20);
    failed.context = serde_json::json!({"username": "jack"});
    failed.client_ip = Some("198.51.100.7".into());
    let logout = event(EventAction::Logout, Some("kate"), 30);
    store
        .write(|tx| {
            [&login, &failed, &logout]
                .into_iter()
                .try_for_each(|e| tx.insert_event(e))
        })
        .unwrap();
    let filtered = |filter: EventFilter| {
        store
            .read(|tx| tx.list_events_filtered(&ListQuery::default(), &filter))
            .unwrap()
    };
    // The action matches in part, ignoring case.
    let logins = filtered(EventFilter {
        action: Some("LOGIN".into()),
        ..EventFilter::default()
    });
    assert_eq!(logins.total, 2);
    assert_eq!(logins.items, vec![failed.clone(), login.clone()]);
    let exact = filtered(EventFilter {
        action: Some("login_failed".into()),
        ..EventFilter::default()
    });
    assert_eq!(exact.items, vec![failed.clone()]);
    // The username is the acting user's or the one a failed login named.
    let jack = filtered(EventFilter {
        username: Some("jack".into()),
        ..EventFilter::default()
    });
    assert_eq!(jack.items, vec![failed.clone(), login.clone()]);
    let from = filtered(EventFilter {
        client_ip: Some("198.51.100.7".into()),
        ..EventFilter::default()
    });
    assert_eq!(from.items, vec![failed.clone()]);
    let none = filtered(EventFilter {
        action: Some("logout".into()),
        username: Some("jack".into()),
        client_ip: None,
    });
    assert_eq!(none.total, 0);
    assert_eq!(
        filtered(EventFilter::default()).items,
        vec![logout.clone(), failed.clone(), login.clone()]
    );

    store
        .read(|tx| {
            assert_eq!(tx.event(failed.id)?, Some(failed.clone()));
            assert_eq!(tx.event(uuid::Uuid::new_v4())?, None);
            Ok(())
        })
        .unwrap();
}

pub(super) fn meta_values(f: &mut StoreFixture) {
    let store = f.store();
    store
        .write(|tx| tx.set_meta("installation_id", "abc"))
        .unwrap();
    store
        .write(|tx| tx.set_meta("installation_id", "def"))
        .unwrap();
    assert_eq!(
        store
            .read(|tx| tx.meta("installation_id"))
            .unwrap()
            .as_deref(),
        Some("def")
    );
    store.write(|tx| tx.delete_meta("installation_id")).unwrap();
    store.write(|tx| tx.delete_meta("installation_id")).unwrap();
    assert_eq!(store.read(|tx| tx.meta("installation_id")).unwrap(), None);
}
