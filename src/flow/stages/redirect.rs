//! The redirect stage: ends this flow by sending the browser to a URL or to another flow.
//! With `keep_context`, the pending user and prompt data travel to the next flow through
//! a short-lived hand-off entry that its planner picks up.

use crate::flow::FlowResult;
use crate::flow::execution::{FlowContext, execution_key};
use crate::model::stage::{RedirectMode, RedirectStage};

use super::{StageCall, StageStep};

pub const HANDOFF_NAMESPACE: &str = "flow_handoff";
const HANDOFF_TTL_SECS: u64 = 300;

pub fn enter(settings: &RedirectStage, call: &mut StageCall<'_>) -> FlowResult<StageStep> {
    let target = match settings.mode {
        RedirectMode::Static => settings.target_static.trim().to_owned(),
        RedirectMode::Flow => {
            let Some(slug) = settings
                .target_flow
                .as_deref()
                .filter(|s| call.catalog.flow(s).is_some())
            else {
                return Ok(StageStep::Deny(
                    "The next step of this flow is not available.".into(),
                ));
            };
            if settings.keep_context {
                let handed_over = FlowContext {
                    pending_user: call.execution.context.pending_user.clone(),
                    prompt_data: call.execution.context.prompt_data.clone(),
                    methods: call.execution.context.methods.clone(),
                    next: call.execution.context.next.clone(),
                    ..FlowContext::default()
                };
                let key = execution_key(&call.request.browser_key, slug);
                call.services.ephemeral.put(
                    HANDOFF_NAMESPACE,
                    &key,
                    &handed_over,
                    HANDOFF_TTL_SECS,
                )?;
            }
            format!("/if/flow/{slug}/")
        }
    };
    if target.is_empty() {
        return Ok(StageStep::Deny("This flow has no redirect target.".into()));
    }
    // A static target may leave the site: the admin chose it. Only `next`, which comes
    // from the browser, is limited to our own paths.
    Ok(StageStep::Redirect(target))
}
