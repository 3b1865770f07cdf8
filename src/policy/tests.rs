//! Engine-level tests: binding rules, modes, timeouts, caching and the explanation text.
//! Each kind's own rules are tested beside the kind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::ManualClock;
use crate::model::policy::{DummyPolicy, ExpressionPolicy, NetworkPolicy, ReputationPolicy};
use crate::model::{
    BindingSubject, FlowId, Group, GroupId, Policy, PolicyBinding, PolicyBindingId,
    PolicyEngineMode, PolicyId, PolicyKind, PolicyTarget, Timestamp, User, UserId, UserType,
    Username,
};
use crate::policy::{PolicyEngine, PolicyRequest, Reputation};
use crate::store::Ephemeral;
use crate::store::memory_kv::MemoryKv;

use PolicyEngineMode::{All, Any};

struct Fixture {
    engine: PolicyEngine,
    clock: ManualClock,
    flow: FlowId,
}

fn fixture() -> Fixture {
    let clock = ManualClock::starting_at(Timestamp(1_700_000_000));
    let ephemeral = Ephemeral::new(Arc::new(MemoryKv::new()), Arc::new(clock.clone()));
    Fixture {
        engine: PolicyEngine::new(Reputation::new(ephemeral), Arc::new(clock.clone())),
        clock,
        flow: FlowId::random(),
    }
}

fn admins() -> Group {
    Group {
        id: GroupId(uuid::Uuid::from_u128(1)),
        num_pk: 1,
        name: "admins".into(),
        parent: None,
        is_superuser: true,
        attributes: serde_json::Map::new(),
    }
}

fn alice() -> User {
    User {
        id: UserId(7),
        uuid: uuid::Uuid::nil(),
        username: Username::parse("alice").unwrap(),
        name: "Alice".into(),
        email: "alice@example.com".into(),
        is_active: true,
        user_type: UserType::Internal,
        path: "users".into(),
        attributes: serde_json::Map::new(),
        last_login: None,
        password_hash: None,
        password_changed: None,
        created: Timestamp(0),
    }
}

fn request(groups: Vec<Group>) -> PolicyRequest {
    PolicyRequest {
        user: Some(alice()),
        groups,
        client_ip: Some("10.0.0.5".parse().unwrap()),
        ..PolicyRequest::default()
    }
}

impl Fixture {
    fn binding(&self, subject: BindingSubject, order: i32) -> PolicyBinding {
        PolicyBinding {
            id: PolicyBindingId(uuid::Uuid::from_u128(
                u128::from(order.unsigned_abs()) + 100,
            )),
            target: PolicyTarget::Flow(self.flow),
            subject,
            order,
            enabled: true,
            negate: false,
            timeout_secs: 30,
            failure_result: false,
        }
    }

    fn policy_binding(
        &self,
        name: &str,
        kind: PolicyKind,
        order: i32,
    ) -> (PolicyBinding, Option<Policy>) {
        let policy = Policy {
            id: PolicyId::random(),
            name: name.into(),
            execution_logging: true,
            kind,
        };
        (
            self.binding(BindingSubject::Policy(policy.id), order),
            Some(policy),
        )
    }

    fn dummy(&self, name: &str, result: bool, order: i32) -> (PolicyBinding, Option<Policy>) {
        self.policy_binding(
            name,
            PolicyKind::Dummy(DummyPolicy { result, wait_ms: 0 }),
            order,
        )
    }

    fn expression(&self, name: &str, source: &str, order: i32) -> (PolicyBinding, Option<Policy>) {
        let kind = PolicyKind::Expression(ExpressionPolicy {
            expression: source.into(),
        });
        self.policy_binding(name, kind, order)
    }
}

#[tokio::test]
async fn no_bindings_pass_and_disabled_bindings_are_skipped() {
    let f = fixture();
    let result = f.engine.evaluate(&[], All, &request(vec![])).await;
    assert!(result.passing);
    assert_eq!(result.explain(), "passed: no bindings");

    let (mut binding, policy) = f.dummy("deny", false, 0);
    binding.enabled = false;
    let result = f
        .engine
        .evaluate(&[(binding, policy)], All, &request(vec![]))
        .await;
    assert!(result.passing);
    assert!(result.explanation.is_empty());
}

#[tokio::test]
async fn modes_any_and_all_combine_bindings() {
    let f = fixture();
    let bindings = vec![f.dummy("yes", true, 0), f.dummy("no", false, 1)];
    let any = f.engine.evaluate(&bindings, Any, &request(vec![])).await;
    assert!(any.passing);
    let all = f.engine.evaluate(&bindings, All, &request(vec![])).await;
    assert!(!all.passing);
    let both = vec![f.dummy("yes", true, 0), f.dummy("also", true, 1)];
    assert!(
        f.engine
            .evaluate(&both, All, &request(vec![]))
            .await
            .passing
    );
}

#[tokio::test]
async fn negate_flips_results_and_keeps_messages() {
    let f = fixture();
    let (mut binding, policy) = f.expression("msg", r#"ak_message("hello"); true"#, 0);
    binding.negate = true;
    let result = f
        .engine
        .evaluate(&[(binding, policy)], All, &request(vec![]))
        .await;
    assert!(!result.passing);
    assert_eq!(result.messages, vec!["hello".to_owned()]);
    assert!(result.explanation[0].negated);
}

#[tokio::test]
async fn group_and_user_subjects() {
    let f = fixture();
    let group_binding = f.binding(BindingSubject::Group(admins().id), 0);
    let bindings = vec![(group_binding.clone(), None)];
    assert!(
        f.engine
            .evaluate(&bindings, All, &request(vec![admins()]))
            .await
            .passing
    );
    let outsider = f.engine.evaluate(&bindings, All, &request(vec![])).await;
    assert!(!outsider.passing);
    let anonymous = f
        .engine
        .evaluate(&bindings, All, &PolicyRequest::default())
        .await;
    assert!(!anonymous.passing);

    let user_binding = f.binding(BindingSubject::User(UserId(7)), 1);
    assert!(
        f.engine
            .evaluate(&[(user_binding.clone(), None)], All, &request(vec![]))
            .await
            .passing
    );
    let other = f.binding(BindingSubject::User(UserId(8)), 2);
    assert!(
        !f.engine
            .evaluate(&[(other, None)], All, &request(vec![]))
            .await
            .passing
    );
    let mut negated = user_binding;
    negated.negate = true;
    assert!(
        !f.engine
            .evaluate(&[(negated, None)], All, &request(vec![]))
            .await
            .passing
    );
}

#[tokio::test]
async fn errors_use_the_failure_result_without_negation() {
    let f = fixture();
    let (mut binding, policy) = f.expression("broken", "let x = ;", 0);
    binding.negate = true;
    let result = f
        .engine
        .evaluate(&[(binding.clone(), policy.clone())], All, &request(vec![]))
        .await;
    assert!(!result.passing);
    assert_eq!(
        result.messages,
        vec!["A policy could not be evaluated.".to_owned()]
    );
    assert!(
        result.explanation[0]
            .error
            .as_deref()
            .unwrap()
            .contains("expression error")
    );

    binding.failure_result = true;
    let result = f
        .engine
        .evaluate(&[(binding.clone(), policy)], All, &request(vec![]))
        .await;
    assert!(result.passing);

    // A policy binding whose policy the caller could not resolve.
    let result = f
        .engine
        .evaluate(&[(binding, None)], All, &request(vec![]))
        .await;
    assert!(
        result.passing,
        "failure_result applies to a missing policy too"
    );
    assert!(
        result.explanation[0]
            .error
            .as_deref()
            .unwrap()
            .contains("does not exist")
    );
}

#[tokio::test]
async fn endless_expressions_deny_at_the_binding_timeout() {
    let f = fixture();
    let (mut binding, policy) = f.expression("spin", "loop {}", 0);
    binding.timeout_secs = 1;
    let started = Instant::now();
    let result = f
        .engine
        .evaluate(&[(binding, policy)], All, &request(vec![]))
        .await;
    let elapsed = started.elapsed();
    assert!(!result.passing);
    assert!(elapsed < Duration::from_millis(1900), "took {elapsed:?}");
    let error = result.explanation[0].error.clone().unwrap();
    assert!(
        error.contains("did not finish")
            || error.contains("time limit")
            || error.contains("operation limit"),
        "{error}"
    );
}

#[tokio::test]
async fn slow_policies_time_out() {
    let f = fixture();
    let kind = PolicyKind::Dummy(DummyPolicy {
        result: true,
        wait_ms: 3_000,
    });
    let (mut binding, policy) = f.policy_binding("slow", kind, 0);
    binding.timeout_secs = 1;
    let result = f
        .engine
        .evaluate(&[(binding, policy)], Any, &request(vec![]))
        .await;
    assert!(!result.passing);
    assert_eq!(
        result.messages,
        vec!["A policy took too long to evaluate.".to_owned()]
    );
    assert_eq!(
        result.explanation[0].error.as_deref(),
        Some("policy did not finish within 1 s")
    );
}

#[tokio::test]
async fn results_are_cached_until_cleared_or_expired() {
    let f = fixture();
    let bindings = vec![f.dummy("cached", true, 0)];
    let first = f.engine.evaluate(&bindings, All, &request(vec![])).await;
    assert!(!first.explanation[0].cached);
    let second = f.engine.evaluate(&bindings, All, &request(vec![])).await;
    assert!(second.explanation[0].cached);

    // Another client address, or another context, is another entry.
    let mut elsewhere = request(vec![]);
    elsewhere.client_ip = Some("10.0.0.6".parse().unwrap());
    assert!(
        !f.engine
            .evaluate(&bindings, All, &elsewhere)
            .await
            .explanation[0]
            .cached
    );
    let mut other_context = request(vec![]);
    other_context.context.insert("k".into(), "v".into());
    assert!(
        !f.engine
            .evaluate(&bindings, All, &other_context)
            .await
            .explanation[0]
            .cached
    );

    f.engine.clear_cache();
    assert!(
        !f.engine
            .evaluate(&bindings, All, &request(vec![]))
            .await
            .explanation[0]
            .cached
    );
    f.clock.advance(31);
    assert!(
        !f.engine
            .evaluate(&bindings, All, &request(vec![]))
            .await
            .explanation[0]
            .cached
    );
}

#[tokio::test]
async fn reputation_and_errors_are_never_cached() {
    let f = fixture();
    let kind = PolicyKind::Reputation(ReputationPolicy::default());
    let bindings = vec![f.policy_binding("rep", kind, 0)];
    let req = request(vec![]);
    assert!(!f.engine.evaluate(&bindings, All, &req).await.passing);
    for _ in 0..5 {
        f.engine
            .reputation()
            .record_failure("alice", req.client_ip)
            .unwrap();
    }
    let result = f.engine.evaluate(&bindings, All, &req).await;
    assert!(
        result.passing,
        "bad reputation matches at once, not after the cache"
    );
    assert!(!result.explanation[0].cached);

    let broken = vec![f.expression("broken", "1 +", 0)];
    f.engine.evaluate(&broken, All, &req).await;
    assert!(!f.engine.evaluate(&broken, All, &req).await.explanation[0].cached);
}

#[tokio::test]
async fn bindings_run_in_order_and_explain_themselves() {
    let f = fixture();
    let network = PolicyKind::Network(NetworkPolicy {
        allow: vec!["192.168.0.0/16".parse().unwrap()],
        deny: vec![],
    });
    let bindings = vec![
        f.policy_binding("home network", network, 5),
        (f.binding(BindingSubject::Group(admins().id), 1), None),
        f.dummy("always", true, 3),
    ];
    let result = f.engine.evaluate(&bindings, Any, &request(vec![])).await;
    assert!(result.passing);
    let subjects: Vec<&str> = result
        .explanation
        .iter()
        .map(|o| o.subject.as_str())
        .collect();
    let group_subject = format!("group {}", admins().id);
    assert_eq!(
        subjects,
        vec![
            group_subject.as_str(),
            "policy always",
            "policy home network"
        ]
    );
    let text = result.explain();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "passed (mode any, 3 bindings)");
    assert_eq!(
        lines[1],
        format!("binding 1 ({group_subject}): failed — user is not a member")
    );
    assert!(
        lines[2].starts_with("binding 2 (policy always): passed [") && lines[2].ends_with(" ms]")
    );
    assert!(
        lines[3].starts_with(
            "binding 3 (policy home network): failed — \"Access from this network is not allowed.\""
        ),
        "{}",
        lines[3]
    );

    let member = f
        .engine
        .evaluate(&bindings[1..2], All, &request(vec![admins()]))
        .await;
    assert_eq!(
        member.explain().lines().nth(1),
        Some("binding 1 (group admins): passed — user is a member")
    );
}

#[tokio::test]
async fn expressions_see_the_request() {
    let f = fixture();
    let bindings = vec![f.expression(
        "admins on the LAN",
        r#"ak_is_group_member("admins") && ip_in_network(request.client_ip, "10.0.0.0/8")"#,
        0,
    )];
    assert!(
        f.engine
            .evaluate(&bindings, All, &request(vec![admins()]))
            .await
            .passing
    );
    assert!(
        !f.engine
            .evaluate(&bindings, All, &request(vec![]))
            .await
            .passing
    );
}

#[tokio::test]
async fn test_policy_runs_one_policy() {
    let f = fixture();
    let (_, policy) = f.dummy("direct", true, 0);
    let outcome = f
        .engine
        .test_policy(&policy.unwrap(), &request(vec![]))
        .await
        .unwrap();
    assert!(outcome.passing);
}
