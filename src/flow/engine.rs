//! The executor: loads or plans the execution, shows the current stage's challenge,
//! hands a response to the current stage, and runs stages that need no input until one
//! does or the plan is done.

use serde_json::json;

use crate::model::{EventAction, Flow, FlowDesignation};
use crate::store::Catalog;

use super::challenge::{StageResponse, add_flow_info};
use super::execution::{EXECUTION_TTL_SECS, FlowExecution, NAMESPACE, execution_key};
use super::planner::{Plan, SETUP_TOKEN_META, plan};
use super::stages::{self, StageCall, StageStep};
use super::{
    FlowError, FlowOutcome, FlowRequest, FlowResult, FlowServices, FlowStep, SessionChange,
};

/// A protocol that starts a flow puts a random marker under this key of the initial
/// context; when the flow completes, the engine records a `FlowCompletion` under the
/// marker, so the protocol knows the flow ran to its end (and not just that the browser
/// came back to its URL).
pub const COMPLETION_MARKER: &str = "completion_marker";
pub const COMPLETION_NAMESPACE: &str = "flow_completed";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FlowCompletion {
    pub flow: String,
    pub user: Option<crate::model::UserId>,
}

#[derive(Clone)]
pub struct FlowEngine {
    services: FlowServices,
}

impl FlowEngine {
    pub fn new(services: FlowServices) -> FlowEngine {
        FlowEngine { services }
    }

    pub fn services(&self) -> &FlowServices {
        &self.services
    }

    /// The current challenge of the browser's execution, planning one if needed.
    pub async fn current(&self, request: &FlowRequest) -> FlowResult<FlowOutcome> {
        let catalog = self.services.catalog.load();
        let flow = catalog.flow(&request.slug).ok_or(FlowError::FlowNotFound)?;
        let mut session = SessionChange::Unchanged;
        let mut execution = match self.load_or_plan(&catalog, flow, request).await? {
            Ok(execution) => execution,
            Err(denied) => return Ok(denied),
        };
        let step = self
            .advance(&catalog, flow, request, &mut execution, &mut session)
            .await?;
        Ok(FlowOutcome { step, session })
    }

    /// Like `current`, but drops any execution this browser has of the flow first: a
    /// protocol starting a flow for a new request must not resume an abandoned one that
    /// was planned for another (another application, other scopes).
    pub async fn start_fresh(&self, request: &FlowRequest) -> FlowResult<FlowOutcome> {
        let key = execution_key(&request.browser_key, &request.slug);
        self.services.ephemeral.delete(NAMESPACE, &key)?;
        self.current(request).await
    }

    /// Answers the current stage with `response` and moves on as far as possible.
    pub async fn submit(
        &self,
        request: &FlowRequest,
        response: StageResponse,
    ) -> FlowResult<FlowOutcome> {
        let catalog = self.services.catalog.load();
        let flow = catalog.flow(&request.slug).ok_or(FlowError::FlowNotFound)?;
        let mut session = SessionChange::Unchanged;
        let mut execution = match self.load_or_plan(&catalog, flow, request).await? {
            Ok(execution) => execution,
            Err(denied) => return Ok(denied),
        };
        let Some(stage_id) = execution.current_stage() else {
            let step = self.finish(flow, &mut execution, request).await?;
            return Ok(FlowOutcome { step, session });
        };
        let stage = catalog
            .stage(stage_id)
            .ok_or_else(|| FlowError::Misconfigured(format!("stage {stage_id} is missing")))?;
        let outcome = {
            let mut call = StageCall {
                services: &self.services,
                catalog: &catalog,
                request,
                execution: &mut execution,
                session_change: &mut session,
            };
            stages::submit(stage, &mut call, &response).await?
        };
        let step = match outcome {
            StageStep::Next => {
                execution.position += 1;
                self.advance(&catalog, flow, request, &mut execution, &mut session)
                    .await?
            }
            other => self.settle(flow, request, &mut execution, other).await?,
        };
        Ok(FlowOutcome { step, session })
    }

    async fn load_or_plan(
        &self,
        catalog: &Catalog,
        flow: &Flow,
        request: &FlowRequest,
    ) -> FlowResult<Result<FlowExecution, FlowOutcome>> {
        let key = execution_key(&request.browser_key, &flow.slug);
        // An emailed link resumes its flow in whichever browser opens it.
        if let Some(token) = &request.flow_token {
            if let Some(resume) = stages::email::take_resume(&self.services, &flow.slug, token)? {
                let mut execution = resume.execution;
                execution.context.email_confirmed_for = Some(resume.stage);
                return Ok(Ok(execution));
            }
        }
        let stored: Option<FlowExecution> = self.services.ephemeral.get(NAMESPACE, &key)?;
        if let Some(execution) = stored.filter(|execution| execution.flow == flow.id) {
            return Ok(Ok(execution));
        }
        match plan(&self.services, catalog, flow, request).await? {
            Plan::Ready(execution) => Ok(Ok(*execution)),
            Plan::Denied(message) => Ok(Err(FlowOutcome {
                step: FlowStep::Denied(message),
                session: SessionChange::Unchanged,
            })),
        }
    }

    /// Runs stages from the current position until one asks for input or the plan ends.
    async fn advance(
        &self,
        catalog: &Catalog,
        flow: &Flow,
        request: &FlowRequest,
        execution: &mut FlowExecution,
        session: &mut SessionChange,
    ) -> FlowResult<FlowStep> {
        match self
            .run_stages(catalog, flow, request, execution, session)
            .await?
        {
            StageStep::Next => self.finish(flow, execution, request).await,
            other => self.settle(flow, request, execution, other).await,
        }
    }

    /// Enters stages from the current position until one answers something other than
    /// `Next` (a challenge, a denial, a redirect), which is returned; `Next` when the
    /// plan has ended. Nothing is stored here.
    pub(super) async fn run_stages(
        &self,
        catalog: &Catalog,
        flow: &Flow,
        request: &FlowRequest,
        execution: &mut FlowExecution,
        session: &mut SessionChange,
    ) -> FlowResult<StageStep> {
        loop {
            let Some(stage_id) = execution.current_stage() else {
                return Ok(StageStep::Next);
            };
            let stage = catalog
                .stage(stage_id)
                .ok_or_else(|| FlowError::Misconfigured(format!("stage {stage_id} is missing")))?;
            if !self
                .still_wanted(catalog, flow, request, execution, stage_id)
                .await?
            {
                execution.position += 1;
                continue;
            }
            let outcome = {
                let mut call = StageCall {
                    services: &self.services,
                    catalog,
                    request,
                    execution: &mut *execution,
                    session_change: &mut *session,
                };
                stages::enter(stage, &mut call).await?
            };
            match outcome {
                StageStep::Next => execution.position += 1,
                other => return Ok(other),
            }
        }
    }

    /// A stage binding marked "re-evaluate when reached" runs its policies again now,
    /// with what earlier stages learned (e.g. who the user is); failing skips the stage.
    async fn still_wanted(
        &self,
        catalog: &Catalog,
        flow: &Flow,
        request: &FlowRequest,
        execution: &FlowExecution,
        stage_id: crate::model::StageId,
    ) -> FlowResult<bool> {
        let Some(binding) = catalog
            .bindings(flow.id)
            .iter()
            .find(|binding| binding.stage == stage_id && binding.re_evaluate_policies)
        else {
            return Ok(true);
        };
        if catalog
            .bindings_for(&crate::model::PolicyTarget::StageBinding(binding.id))
            .is_empty()
        {
            return Ok(true);
        }
        let policy_request =
            super::policies::policy_request(&self.services, request, &execution.context).await?;
        Ok(
            super::policies::stage_binding_passes(
                &self.services,
                catalog,
                binding,
                &policy_request,
            )
            .await,
        )
    }

    /// Stores the execution behind a challenge, or drops it when the flow was denied.
    async fn settle(
        &self,
        flow: &Flow,
        request: &FlowRequest,
        execution: &mut FlowExecution,
        outcome: StageStep,
    ) -> FlowResult<FlowStep> {
        let key = execution_key(&request.browser_key, &flow.slug);
        match outcome {
            StageStep::Challenge(mut challenge) => {
                add_flow_info(&mut challenge, flow);
                self.services
                    .ephemeral
                    .put(NAMESPACE, &key, execution, EXECUTION_TTL_SECS)?;
                Ok(FlowStep::Challenge(challenge))
            }
            StageStep::Deny(message) => {
                self.services.ephemeral.delete(NAMESPACE, &key)?;
                Ok(FlowStep::Denied(message))
            }
            StageStep::Redirect(to) => {
                self.services.ephemeral.delete(NAMESPACE, &key)?;
                Ok(FlowStep::Redirect(to))
            }
            StageStep::Next => self.finish(flow, execution, request).await,
        }
    }

    async fn finish(
        &self,
        flow: &Flow,
        execution: &mut FlowExecution,
        request: &FlowRequest,
    ) -> FlowResult<FlowStep> {
        let key = execution_key(&request.browser_key, &flow.slug);
        self.services.ephemeral.delete(NAMESPACE, &key)?;
        if execution.context.setup_claimed {
            self.services
                .db
                .write(|tx| {
                    tx.delete_meta(SETUP_TOKEN_META)?;
                    tx.set_meta("setup_completed", "true")
                })
                .await?;
            self.services
                .events
                .record(
                    EventAction::SetupCompleted,
                    None,
                    request.client.ip.as_deref(),
                    json!({"flow": flow.slug}),
                )
                .await;
        }
        if let Some(marker) = execution
            .context
            .prompt_data
            .get(COMPLETION_MARKER)
            .and_then(serde_json::Value::as_str)
        {
            let done = FlowCompletion {
                flow: flow.slug.clone(),
                user: execution.context.pending_user_id(),
            };
            self.services
                .ephemeral
                .put(COMPLETION_NAMESPACE, marker, &done, EXECUTION_TTL_SECS)?;
        }
        let fallback = match flow.designation {
            FlowDesignation::Invalidation => "/",
            _ if execution.context.setup_claimed => "/if/admin/",
            _ => "/if/user/",
        };
        let to = execution
            .context
            .next
            .clone()
            .unwrap_or_else(|| fallback.to_owned());
        Ok(FlowStep::Redirect(to))
    }
}
