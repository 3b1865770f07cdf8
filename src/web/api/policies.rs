//! `policies/expression/`, `policies/password/`, `policies/reputation/`,
//! `policies/geoip/` and `policies/bindings/`, in authentik's shapes. A binding's `target` is the pk of what it
//! guards: a flow, a stage binding or an application.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpResponse, delete, get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::model::policy::{ExpressionPolicy, GeoipPolicy, PasswordPolicy, ReputationPolicy};
use crate::model::{
    BindingId, BindingSubject, EventAction, FlowId, GroupId, Policy, PolicyBinding,
    PolicyBindingId, PolicyId, PolicyKind, PolicyTarget, UserId,
};

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate_in_memory};

fn render_policy(policy: &Policy) -> Value {
    let mut body = match serde_json::to_value(&policy.kind) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    body.remove("kind");
    body.insert("pk".into(), json!(policy.id));
    body.insert("name".into(), json!(policy.name));
    body.insert("execution_logging".into(), json!(policy.execution_logging));
    body.insert("component".into(), json!(policy.kind.component()));
    Value::Object(body)
}

#[derive(Debug, Deserialize)]
pub struct PolicyInput {
    name: String,
    #[serde(default)]
    execution_logging: bool,
    #[serde(flatten)]
    settings: Map<String, Value>,
}

async fn create_policy(
    state: &AppState,
    admin: &ApiAdmin,
    input: PolicyInput,
    kind: impl FnOnce(Value) -> Result<PolicyKind, serde_json::Error>,
) -> Result<HttpResponse, ApiError> {
    if input.name.trim().is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    let kind = kind(Value::Object(input.settings))
        .map_err(|e| ApiError::field("non_field_errors", e.to_string()))?;
    let policy = Policy {
        id: PolicyId::random(),
        name: input.name.trim().to_owned(),
        execution_logging: input.execution_logging,
        kind,
    };
    let saved = policy.clone();
    state.db.write(move |tx| tx.insert_policy(&saved)).await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelCreated,
            json!({"model": "policy", "name": policy.name}),
        )
        .await;
    Ok(HttpResponse::Created().json(render_policy(&policy)))
}

#[post("/api/v3/policies/expression/")]
pub async fn create_expression(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<PolicyInput>,
) -> Result<HttpResponse, ApiError> {
    create_policy(&state, &admin, input.into_inner(), |v| {
        serde_json::from_value::<ExpressionPolicy>(v).map(PolicyKind::Expression)
    })
    .await
}

#[post("/api/v3/policies/password/")]
pub async fn create_password(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<PolicyInput>,
) -> Result<HttpResponse, ApiError> {
    create_policy(&state, &admin, input.into_inner(), |v| {
        serde_json::from_value::<PasswordPolicy>(v).map(PolicyKind::Password)
    })
    .await
}

#[post("/api/v3/policies/reputation/")]
pub async fn create_reputation(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<PolicyInput>,
) -> Result<HttpResponse, ApiError> {
    create_policy(&state, &admin, input.into_inner(), |v| {
        serde_json::from_value::<ReputationPolicy>(v).map(PolicyKind::Reputation)
    })
    .await
}

/// authentik's distance checks, which gatehouse does not implement: turning one on is
/// refused, since saving the policy without it would silently allow what the admin meant
/// to block.
const UNSUPPORTED_GEOIP_CHECKS: &[&str] = &["check_history_distance", "check_impossible_travel"];

#[post("/api/v3/policies/geoip/")]
pub async fn create_geoip(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<PolicyInput>,
) -> Result<HttpResponse, ApiError> {
    create_policy(&state, &admin, input.into_inner(), |v| {
        let unsupported = UNSUPPORTED_GEOIP_CHECKS
            .iter()
            .find(|check| v.get(**check) == Some(&Value::Bool(true)));
        if let Some(check) = unsupported {
            return Err(serde::de::Error::custom(format!(
                "{check} is not supported: gatehouse checks countries and ASNs only"
            )));
        }
        serde_json::from_value::<GeoipPolicy>(v).map(PolicyKind::Geoip)
    })
    .await
}

#[get("/api/v3/policies/all/")]
pub async fn list_policies(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let body = paginate_in_memory(&params, catalog.policies(), |policy| render_policy(policy));
    Ok(HttpResponse::Ok().json(body))
}

#[delete("/api/v3/policies/all/{id}/")]
pub async fn delete_policy(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<PolicyId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.db.write(move |tx| tx.delete_policy(id)).await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelDeleted,
            json!({"model": "policy", "pk": id}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}

fn render_binding(binding: &PolicyBinding) -> Value {
    let (policy, group, user) = match binding.subject {
        BindingSubject::Policy(id) => (Some(id.0), None, None),
        BindingSubject::Group(id) => (None, Some(id.0), None),
        BindingSubject::User(id) => (None, None, Some(id.0)),
    };
    let target = match binding.target {
        PolicyTarget::Flow(id) => id.0,
        PolicyTarget::StageBinding(id) => id.0,
        PolicyTarget::Application(id) => id,
    };
    json!({
        "pk": binding.id, "policy": policy, "group": group, "user": user, "target": target,
        "negate": binding.negate, "enabled": binding.enabled, "order": binding.order,
        "timeout": binding.timeout_secs, "failure_result": binding.failure_result,
    })
}

#[derive(Debug, Deserialize)]
pub struct BindingInput {
    policy: Option<PolicyId>,
    group: Option<GroupId>,
    user: Option<i64>,
    target: Uuid,
    #[serde(default)]
    negate: bool,
    enabled: Option<bool>,
    #[serde(default)]
    order: i32,
    timeout: Option<u32>,
    #[serde(default)]
    failure_result: bool,
}

#[post("/api/v3/policies/bindings/")]
pub async fn create_binding(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<BindingInput>,
) -> Result<HttpResponse, ApiError> {
    let input = input.into_inner();
    let subject = match (input.policy, input.group, input.user) {
        (Some(policy), None, None) => BindingSubject::Policy(policy),
        (None, Some(group), None) => BindingSubject::Group(group),
        (None, None, Some(user)) => BindingSubject::User(UserId(user)),
        _ => {
            return Err(ApiError::field(
                "non_field_errors",
                "Set exactly one of policy, group or user.",
            ));
        }
    };
    let catalog = state.catalog.load();
    let is_flow = catalog.flows().iter().any(|flow| flow.id.0 == input.target);
    let is_stage_binding = catalog.flows().iter().any(|flow| {
        catalog
            .bindings(flow.id)
            .iter()
            .any(|binding| binding.id.0 == input.target)
    });
    let is_application = catalog.application_by_id(input.target).is_some();
    let target = if is_flow {
        PolicyTarget::Flow(FlowId(input.target))
    } else if is_stage_binding {
        PolicyTarget::StageBinding(BindingId(input.target))
    } else if is_application {
        PolicyTarget::Application(input.target)
    } else {
        return Err(ApiError::field(
            "target",
            "No flow, stage binding or application with this pk.",
        ));
    };
    let binding = PolicyBinding {
        id: PolicyBindingId::random(),
        target,
        subject,
        order: input.order,
        enabled: input.enabled.unwrap_or(true),
        negate: input.negate,
        timeout_secs: input.timeout.unwrap_or(30),
        failure_result: input.failure_result,
    };
    let saved = binding.clone();
    state
        .db
        .write(move |tx| tx.insert_policy_binding(&saved))
        .await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelCreated,
            json!({"model": "policy_binding", "pk": binding.id}),
        )
        .await;
    Ok(HttpResponse::Created().json(render_binding(&binding)))
}

#[delete("/api/v3/policies/bindings/{id}/")]
pub async fn delete_binding(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<PolicyBindingId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state
        .db
        .write(move |tx| tx.delete_policy_binding(id))
        .await?;
    state.configuration_changed().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
pub struct PolicyTestInput {
    user: i64,
    #[serde(default)]
    context: Map<String, Value>,
}

/// authentik's "test a policy for a user": runs it once, uncached, and explains.
#[post("/api/v3/policies/all/{id}/test/")]
pub async fn test_policy(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<PolicyId>,
    input: Json<PolicyTestInput>,
) -> Result<HttpResponse, ApiError> {
    let policy = state
        .catalog
        .load()
        .policy(*id)
        .cloned()
        .ok_or(ApiError::NotFound)?;
    let input = input.into_inner();
    let user_id = UserId(input.user);
    let (user, groups) = state
        .db
        .read(move |tx| {
            Ok((
                tx.user_by_id(user_id)?,
                crate::directory::groups_with_ancestors(tx, user_id)?,
            ))
        })
        .await?;
    let user = user.ok_or_else(|| ApiError::field("user", "No user with this pk."))?;
    let request = crate::policy::PolicyRequest {
        user: Some(user),
        groups,
        client_ip: None,
        http_headers: Default::default(),
        context: input.context,
    };
    let body = match state.policies.test_policy(&policy, &request).await {
        Ok(outcome) => {
            json!({"passing": outcome.passing, "messages": outcome.messages, "log_messages": []})
        }
        Err(error) => {
            json!({"passing": false, "messages": [error.to_string()], "log_messages": [format!("{error:?}")]})
        }
    };
    Ok(HttpResponse::Ok().json(body))
}
