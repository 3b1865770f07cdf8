//! Running a flow without a browser, for protocols whose clients cannot show a page: an
//! LDAP bind runs its provider's bind flow this way (authentik's outposts do the same
//! over HTTP; here it is a function call). The caller answers each challenge from what
//! the client sent (a username, a password, a code); the execution lives in memory for
//! the one call and nothing is stored for it; the user login stage proves the user
//! without starting a browser session (see `user_login`).

use serde_json::Value;

use crate::model::UserId;

use super::challenge::StageResponse;
use super::engine::FlowEngine;
use super::planner::{Plan, plan};
use super::stages::{self, StageCall, StageStep};
use super::{FlowError, FlowRequest, FlowResult, SessionChange};

/// How a headless run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Headless {
    /// The flow ran to its end; this user is proven, by these methods (`password`, ...).
    Authenticated { user: UserId, methods: Vec<String> },
    /// A stage or policy refused, or a stage did not accept the answer it was given (a
    /// wrong password): the message the stage showed.
    Refused(String),
    /// A stage asked for something the caller could not give (its component, e.g.
    /// `ak-stage-prompt`), or wanted to send the browser elsewhere.
    Unanswerable(String),
}

/// A stage repeating its challenge after an answer did not accept it; a browser would
/// retry, a headless client gets one go per stage.
const REFUSED: &str = "The flow did not accept the credentials.";

impl FlowEngine {
    /// Runs `request.slug` from its start to its end, answering each challenge with
    /// `answer` (`None`: this caller cannot answer it).
    pub async fn run_headless(
        &self,
        request: &FlowRequest,
        mut answer: impl FnMut(&Value) -> Option<StageResponse>,
    ) -> FlowResult<Headless> {
        let services = self.services();
        let catalog = services.catalog.load();
        let flow = catalog.flow(&request.slug).ok_or(FlowError::FlowNotFound)?;
        let mut execution = match plan(services, &catalog, flow, request).await? {
            Plan::Ready(execution) => *execution,
            Plan::Denied(message) => return Ok(Headless::Refused(message)),
        };
        let mut session = SessionChange::Unchanged;
        let mut step = self
            .run_stages(&catalog, flow, request, &mut execution, &mut session)
            .await?;
        loop {
            let challenge = match step {
                StageStep::Next => break,
                StageStep::Deny(message) => return Ok(Headless::Refused(message)),
                StageStep::Redirect(_) => {
                    return Ok(Headless::Unanswerable("a redirect".into()));
                }
                StageStep::Challenge(challenge) => challenge,
            };
            let Some(response) = answer(&challenge) else {
                return Ok(Headless::Unanswerable(component(&challenge)));
            };
            let Some(stage) = execution.current_stage().and_then(|id| catalog.stage(id)) else {
                break;
            };
            let position = execution.position;
            let submitted = std::time::Instant::now();
            let outcome = {
                let mut call = StageCall {
                    services,
                    catalog: &catalog,
                    request,
                    execution: &mut execution,
                    session_change: &mut session,
                };
                stages::submit(stage, &mut call, &response).await?
            };
            tracing::debug!(
                component = %component(&challenge),
                took_us = submitted.elapsed().as_micros(),
                "headless flow: stage answered"
            );
            step = match outcome {
                StageStep::Next => {
                    execution.position += 1;
                    self.run_stages(&catalog, flow, request, &mut execution, &mut session)
                        .await?
                }
                StageStep::Challenge(_) if execution.position == position => {
                    return Ok(Headless::Refused(REFUSED.into()));
                }
                other => other,
            };
        }
        Ok(match execution.context.pending_user_id() {
            Some(user) => Headless::Authenticated {
                user,
                methods: execution.context.methods.clone(),
            },
            None => Headless::Refused("The flow ended without a user.".into()),
        })
    }
}

fn component(challenge: &Value) -> String {
    challenge
        .get("component")
        .and_then(Value::as_str)
        .unwrap_or("an unknown stage")
        .to_owned()
}
