//! Planning: when a browser starts a flow, check who may start it and lay out the stages
//! in binding order. (Policy bindings on stage bindings arrive with the policy engine.)

use crate::crypto::{constant_time_eq, sha256_hex};
use crate::model::{Flow, FlowAuthentication, UserId};
use crate::store::Catalog;

use super::execution::{FlowContext, FlowExecution, PendingUser};
use super::{FlowRequest, FlowResult, FlowServices, safe_next};

/// The meta key holding `<sha256 of the setup token>:<user id>` until the link is used.
pub const SETUP_TOKEN_META: &str = "setup_token";

pub(super) enum Plan {
    Ready(Box<FlowExecution>),
    Denied(String),
}

pub(super) async fn plan(
    services: &FlowServices,
    catalog: &Catalog,
    flow: &Flow,
    request: &FlowRequest,
) -> FlowResult<Plan> {
    let mut context = FlowContext {
        next: safe_next(request.next.as_deref()),
        prompt_data: request.initial_context.clone(),
        ..FlowContext::default()
    };
    let session_user = request.session.as_ref().map(|s| s.record.user);
    match flow.authentication {
        FlowAuthentication::None => {}
        FlowAuthentication::RequireAuthenticated => {
            let Some(user) = session_user else {
                return Ok(Plan::Denied("Flow requires authentication.".into()));
            };
            prefill_from_session_user(services, &mut context, user).await?;
        }
        FlowAuthentication::RequireUnauthenticated => {
            if session_user.is_some() {
                return Ok(Plan::Denied(
                    "Flow requires an unauthenticated user.".into(),
                ));
            }
        }
        FlowAuthentication::RequireSuperuser => {
            let Some(user) = session_user else {
                return Ok(Plan::Denied("Flow requires authentication.".into()));
            };
            let allowed = services
                .db
                .read(move |tx| crate::directory::is_superuser(tx, user))
                .await?;
            if !allowed {
                return Ok(Plan::Denied("Flow requires a superuser.".into()));
            }
        }
        FlowAuthentication::RequireSetupToken => {
            let presented = request.setup_token.clone().unwrap_or_default();
            let Some(user) = claim_setup_token(services, presented).await? else {
                return Ok(Plan::Denied(
                    "This setup link is invalid or was already used. Restart gatehouse to \
                     get a new one in its log, or use `gatehouse recovery-key akadmin`."
                        .into(),
                ));
            };
            context.pending_user = Some(PendingUser::Known(user));
            context.setup_claimed = true;
        }
    }
    // A redirect stage of another flow may have handed its context over to this one.
    // (Headless runs have no browser to hand over from; skipping saves a Kv write.)
    let handoff_key = super::execution::execution_key(&request.browser_key, &flow.slug);
    let handed_over: Option<FlowContext> = match request.headless {
        Some(_) => None,
        None => services
            .ephemeral
            .take(super::stages::redirect::HANDOFF_NAMESPACE, &handoff_key)?,
    };
    if let Some(handed_over) = handed_over {
        context.pending_user = context.pending_user.or(handed_over.pending_user);
        context.prompt_data.extend(handed_over.prompt_data);
        context.methods.extend(handed_over.methods);
        context.next = context.next.or(handed_over.next);
    }
    let plan = if super::policies::flow_has_bindings(catalog, flow) {
        let policy_request = super::policies::policy_request(services, request, &context).await?;
        if let Some(message) =
            super::policies::flow_allowed(services, catalog, flow, &policy_request).await
        {
            return Ok(Plan::Denied(message));
        }
        let mut plan = Vec::new();
        for binding in catalog.bindings(flow.id) {
            let wanted = !binding.evaluate_on_plan
                || super::policies::stage_binding_passes(
                    services,
                    catalog,
                    binding,
                    &policy_request,
                )
                .await;
            if wanted {
                plan.push(binding.stage);
            }
        }
        plan
    } else {
        catalog
            .bindings(flow.id)
            .iter()
            .map(|binding| binding.stage)
            .collect()
    };
    Ok(Plan::Ready(Box::new(FlowExecution {
        flow: flow.id,
        plan,
        position: 0,
        context,
        started: services.ephemeral.now(),
    })))
}

/// Takes the setup token if it matches: the first opener claims it, nobody else can.
async fn claim_setup_token(
    services: &FlowServices,
    presented: String,
) -> FlowResult<Option<UserId>> {
    if presented.is_empty() {
        return Ok(None);
    }
    let presented_digest = sha256_hex(presented.as_bytes());
    let claimed = services
        .db
        .write(move |tx| {
            let Some(stored) = tx.meta(SETUP_TOKEN_META)? else {
                return Ok(None);
            };
            let Some((digest, user)) = stored.split_once(':') else {
                return Ok(None);
            };
            if !constant_time_eq(digest.as_bytes(), presented_digest.as_bytes()) {
                return Ok(None);
            }
            let Ok(user) = user.parse::<i64>() else {
                return Ok(None);
            };
            tx.delete_meta(SETUP_TOKEN_META)?;
            Ok(Some(UserId(user)))
        })
        .await?;
    Ok(claimed)
}

/// Flows for signed-in users (settings, unenrollment, consent) are about that user: make
/// them the pending user and show their current details as the prompts' initial values.
async fn prefill_from_session_user(
    services: &FlowServices,
    context: &mut FlowContext,
    user: UserId,
) -> FlowResult<()> {
    let Some(found) = services.db.read(move |tx| tx.user_by_id(user)).await? else {
        return Ok(());
    };
    context.pending_user = Some(PendingUser::Known(found.id));
    for (key, value) in [
        ("username", found.username.as_str().to_owned()),
        ("name", found.name.clone()),
        ("email", found.email.clone()),
    ] {
        context
            .prompt_data
            .insert(key.into(), serde_json::Value::String(value));
    }
    Ok(())
}
