//! Where flows meet the policy engine: may this flow start (its own bindings), which
//! stages join the plan (stage bindings evaluated when planned), and is a stage still
//! wanted when it is reached (stage bindings re-evaluated then).

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::model::{Flow, PolicyEngineMode, PolicyTarget, StageBinding, UserId};
use crate::policy::{PolicyRequest, PolicyResult};
use crate::store::Catalog;

use super::execution::{FlowContext, PendingUser};
use super::{FlowRequest, FlowResult, FlowServices};

/// The request the policies see: the pending (or signed-in) user with their groups, the
/// client address and the flow context.
pub async fn policy_request(
    services: &FlowServices,
    request: &FlowRequest,
    context: &FlowContext,
) -> FlowResult<PolicyRequest> {
    let user_id: Option<UserId> = match &context.pending_user {
        Some(PendingUser::Known(id)) => Some(*id),
        _ => request.session.as_ref().map(|session| session.record.user),
    };
    let (user, groups) = match user_id {
        Some(id) => {
            services
                .db
                .read(move |tx| {
                    let user = tx.user_by_id(id)?;
                    let groups = crate::directory::groups_with_ancestors(tx, id)?;
                    Ok((user, groups))
                })
                .await?
        }
        None => (None, Vec::new()),
    };
    let mut flow_context = serde_json::Map::new();
    flow_context.insert(
        "prompt_data".into(),
        Value::Object(context.prompt_data.clone()),
    );
    if let Some(PendingUser::Pretend(typed)) = &context.pending_user {
        flow_context.insert("pending_user_identifier".into(), json!(typed));
    }
    flow_context.insert("flow_slug".into(), json!(request.slug));
    Ok(PolicyRequest {
        user,
        groups,
        client_ip: request
            .client
            .ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok()),
        http_headers: Default::default(),
        context: flow_context,
    })
}

/// Evaluates the bindings of `target`; no bindings pass.
pub async fn evaluate_target(
    services: &FlowServices,
    catalog: &Catalog,
    target: PolicyTarget,
    mode: PolicyEngineMode,
    policy_request: &PolicyRequest,
) -> PolicyResult {
    let bindings: Vec<_> = catalog
        .bindings_for(&target)
        .iter()
        .map(|binding| {
            let policy = match &binding.subject {
                crate::model::BindingSubject::Policy(id) => catalog.policy(*id).cloned(),
                _ => None,
            };
            (binding.clone(), policy)
        })
        .collect();
    let result = services
        .policies
        .evaluate(&bindings, mode, policy_request)
        .await;
    if !bindings.is_empty() {
        tracing::debug!(target = ?target, passing = result.passing, explanation = %result.explain(), "policies");
    }
    record_exceptions(services, policy_request, &result).await;
    apply_effects(services, &result).await;
    result
}

/// A policy that errored (a script bug, a timeout) is an audit event, so the admin learns
/// of it before users complain.
async fn record_exceptions(
    services: &FlowServices,
    request: &PolicyRequest,
    result: &PolicyResult,
) {
    for outcome in result
        .explanation
        .iter()
        .filter(|outcome| outcome.error.is_some())
    {
        services
            .events
            .record(
                crate::model::EventAction::PolicyException,
                request.user.as_ref(),
                request.client_ip.map(|ip| ip.to_string()).as_deref(),
                json!({"binding": outcome.binding, "subject": outcome.subject, "error": outcome.error, "flow": request.context.get("flow_slug")}),
            )
            .await;
    }
}

/// What policies ask to be done beyond passing or failing (an expired password made
/// unusable, so the user must recover it).
async fn apply_effects(services: &FlowServices, result: &PolicyResult) {
    for effect in &result.effects {
        match effect {
            crate::policy::PolicyEffect::MarkPasswordUnusable(user) => {
                let (user, now) = (*user, services.ephemeral.now());
                let written = services
                    .db
                    .write(move |tx| tx.set_password_hash(user, None, now))
                    .await;
                match written {
                    // Remembered LDAP binds with the old password end here.
                    Ok(()) => services.sessions.identity_changed(),
                    Err(error) => {
                        tracing::error!(%error, "could not mark an expired password unusable");
                    }
                }
            }
        }
    }
}

/// Whether any policy is bound to the flow or to one of its stage bindings. When none is
/// (the common case), planning needs no policy request and so no database read.
pub fn flow_has_bindings(catalog: &Catalog, flow: &Flow) -> bool {
    !catalog
        .bindings_for(&PolicyTarget::Flow(flow.id))
        .is_empty()
        || catalog.bindings(flow.id).iter().any(|binding| {
            !catalog
                .bindings_for(&PolicyTarget::StageBinding(binding.id))
                .is_empty()
        })
}

/// Whether the flow may start; the denial message when not.
pub async fn flow_allowed(
    services: &FlowServices,
    catalog: &Catalog,
    flow: &Flow,
    policy_request: &PolicyRequest,
) -> Option<String> {
    let result = evaluate_target(
        services,
        catalog,
        PolicyTarget::Flow(flow.id),
        flow.policy_engine_mode,
        policy_request,
    )
    .await;
    if result.passing {
        return None;
    }
    // Why someone was turned away is what an admin asks first: say it at info level.
    tracing::info!(flow = %flow.slug, explanation = %result.explain(), "flow denied by policy");
    Some(denial_message(&result))
}

pub async fn stage_binding_passes(
    services: &FlowServices,
    catalog: &Catalog,
    binding: &StageBinding,
    policy_request: &PolicyRequest,
) -> bool {
    evaluate_target(
        services,
        catalog,
        PolicyTarget::StageBinding(binding.id),
        binding.policy_engine_mode,
        policy_request,
    )
    .await
    .passing
}

pub fn denial_message(result: &PolicyResult) -> String {
    if result.messages.is_empty() {
        "You do not have access to this flow.".into()
    } else {
        result.messages.join(" ")
    }
}
