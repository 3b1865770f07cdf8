//! Who may open an application, with authentik's semantics: the application's policy
//! bindings (policies, groups, users bound with `PolicyTarget::Application`) combined
//! with its `policy_engine_mode`, and an application without bindings open to everyone.
//! Transport-free, so the user portal, the API and the protocol endpoints (OAuth2
//! authorize, SAML SSO, forward auth) all ask the same question the same way: resolve a
//! `PolicyRequest` once with `access_request`, then ask `user_may_access` per
//! application.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::model::{Application, BindingSubject, Policy, PolicyBinding, PolicyTarget, User};
use crate::policy::{PolicyEngine, PolicyRequest, PolicyResult};
use crate::store::{Catalog, Db, StoreResult};

/// The request the application's policies see: the user with every group they are in
/// (ancestors included, so a binding to a parent group admits members of its children)
/// and the client address when the caller knows it.
pub async fn access_request(
    db: &Db,
    user: &User,
    client_ip: Option<IpAddr>,
) -> StoreResult<PolicyRequest> {
    let id = user.id;
    let groups = db
        .read(move |tx| super::groups_with_ancestors(tx, id))
        .await?;
    Ok(PolicyRequest {
        user: Some(user.clone()),
        groups,
        client_ip,
        http_headers: Default::default(),
        context: serde_json::Map::new(),
    })
}

/// The application's bindings in evaluation order, each with its policy resolved from the
/// catalog when the subject is a policy (a missing one is left `None`: the engine then
/// uses the binding's failure result).
pub fn application_bindings(
    catalog: &Catalog,
    application: &Application,
) -> Vec<(PolicyBinding, Option<Policy>)> {
    catalog
        .bindings_for(&PolicyTarget::Application(application.id))
        .iter()
        .map(|binding| {
            let policy = match binding.subject {
                BindingSubject::Policy(id) => catalog.policy(id).cloned(),
                BindingSubject::Group(_) | BindingSubject::User(_) => None,
            };
            (binding.clone(), policy)
        })
        .collect()
}

/// Whether the request's user may open `application`, with the explanation an admin sees
/// in `check_access`. No bindings pass, as in authentik.
pub async fn user_may_access(
    engine: &PolicyEngine,
    catalog: &Catalog,
    application: &Application,
    request: &PolicyRequest,
) -> PolicyResult {
    let bindings = application_bindings(catalog, application);
    // Expressions see the application as authentik's `request.obj`-like context entry,
    // so one policy can be bound to several applications and still tell them apart.
    let mut request = request.clone();
    request
        .context
        .insert("application".into(), application_context(application));
    let result = engine
        .evaluate(&bindings, application.policy_engine_mode, &request)
        .await;
    if !bindings.is_empty() {
        tracing::debug!(application = %application.slug, passing = result.passing, explanation = %result.explain(), "application access");
    }
    for outcome in result
        .explanation
        .iter()
        .filter(|outcome| outcome.error.is_some())
    {
        // A broken policy silently locks people out; say so where the admin looks.
        tracing::warn!(application = %application.slug, binding = %outcome.binding, subject = %outcome.subject, error = ?outcome.error, "application policy failed to evaluate");
    }
    result
}

/// The applications of the catalog the request's user may open, in catalog order.
pub async fn accessible_applications<'c>(
    engine: &PolicyEngine,
    catalog: &'c Catalog,
    request: &PolicyRequest,
) -> Vec<&'c Application> {
    let mut allowed = Vec::new();
    for application in catalog.applications() {
        if user_may_access(engine, catalog, application, request)
            .await
            .passing
        {
            allowed.push(application);
        }
    }
    allowed
}

fn application_context(application: &Application) -> Value {
    json!({
        "pk": application.id,
        "slug": application.slug,
        "name": application.name,
        "group": application.group,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::policy::ExpressionPolicy;
    use crate::model::{
        PolicyBindingId, PolicyEngineMode, PolicyId, PolicyKind, Timestamp, UserId, UserType,
        Username,
    };
    use crate::policy::Reputation;
    use crate::store::memory_kv::MemoryKv;
    use crate::store::{CatalogParts, Ephemeral};

    fn engine() -> PolicyEngine {
        let clock = ManualClock::starting_at(Timestamp(1_700_000_000));
        let ephemeral = Ephemeral::new(Arc::new(MemoryKv::new()), Arc::new(clock.clone()));
        PolicyEngine::new(Reputation::new(ephemeral), Arc::new(clock))
    }

    fn user(id: i64, name: &str) -> User {
        User {
            id: UserId(id),
            uuid: uuid::Uuid::nil(),
            username: Username::parse(name).unwrap(),
            name: name.into(),
            email: String::new(),
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

    fn request_for(user: User) -> PolicyRequest {
        PolicyRequest {
            user: Some(user),
            ..PolicyRequest::default()
        }
    }

    fn binding(app: &Application, subject: BindingSubject, order: i32) -> PolicyBinding {
        PolicyBinding {
            id: PolicyBindingId::random(),
            target: PolicyTarget::Application(app.id),
            subject,
            order,
            enabled: true,
            negate: false,
            timeout_secs: 30,
            failure_result: false,
        }
    }

    #[tokio::test]
    async fn no_bindings_admit_everyone_and_the_mode_combines_the_rest() {
        let open = Application::new("Open", "open");
        let mut both = Application::new("Both", "both");
        both.policy_engine_mode = PolicyEngineMode::All;
        let policy = Policy {
            id: PolicyId::random(),
            name: "wiki-only".into(),
            execution_logging: false,
            kind: PolicyKind::Expression(ExpressionPolicy {
                expression: "context.application.slug == \"both\"".into(),
            }),
        };
        let catalog = Catalog::from_parts(CatalogParts {
            policy_bindings: vec![
                binding(&both, BindingSubject::User(UserId(1)), 0),
                binding(&both, BindingSubject::Policy(policy.id), 1),
            ],
            policies: vec![policy],
            applications: vec![open.clone(), both.clone()],
            ..CatalogParts::default()
        });
        let engine = engine();
        let ann = request_for(user(1, "ann"));
        let ben = request_for(user(2, "ben"));
        assert!(
            user_may_access(&engine, &catalog, &open, &ben)
                .await
                .passing
        );
        // The expression sees the application it guards.
        assert!(
            user_may_access(&engine, &catalog, &both, &ann)
                .await
                .passing
        );
        let denied = user_may_access(&engine, &catalog, &both, &ben).await;
        assert!(!denied.passing);
        assert_eq!(denied.explanation.len(), 2);
        let listed: Vec<&str> = accessible_applications(&engine, &catalog, &ben)
            .await
            .iter()
            .map(|app| app.slug.as_str())
            .collect();
        assert_eq!(listed, ["open"]);
    }
}
