//! One file per stage kind. Each offers `enter` (the stage is reached: show a challenge
//! or act and move on) and, for stages that ask something, `submit` (the answer).

mod authenticator;
mod authenticator_email;
mod authenticator_static;
mod authenticator_totp;
pub mod authenticator_validate;
pub mod authenticator_webauthn;
mod consent;
mod deny;
pub mod email;
mod identification;
mod invitation;
mod password;
mod prompt;
pub mod redirect;
mod user_delete;
mod user_login;
mod user_logout;
mod user_write;

use serde_json::Value;

use crate::model::{Stage, StageKind, User};
use crate::store::Catalog;

use super::challenge::StageResponse;
use super::execution::{FlowExecution, PendingUser};
use super::{FlowRequest, FlowResult, FlowServices, SessionChange};

pub enum StageStep {
    /// Ask the browser something (or ask again, with errors).
    Challenge(Value),
    /// This stage is done.
    Next,
    /// The flow ends here with this message.
    Deny(String),
    /// The flow ends here and the browser goes to this URL.
    Redirect(String),
}

/// What a stage may read and change while it runs.
pub struct StageCall<'a> {
    pub services: &'a FlowServices,
    pub catalog: &'a Catalog,
    pub request: &'a FlowRequest,
    pub execution: &'a mut FlowExecution,
    pub session_change: &'a mut SessionChange,
}

impl StageCall<'_> {
    /// The pending user's record, when it is a real account.
    pub async fn pending_user(&self) -> FlowResult<Option<User>> {
        match &self.execution.context.pending_user {
            Some(PendingUser::Known(id)) => {
                let id = *id;
                Ok(self.services.db.read(move |tx| tx.user_by_id(id)).await?)
            }
            _ => Ok(None),
        }
    }
}

pub async fn enter(stage: &Stage, call: &mut StageCall<'_>) -> FlowResult<StageStep> {
    match &stage.kind {
        StageKind::Identification(settings) => identification::enter(settings, call).await,
        StageKind::Password(_) => password::enter(call).await,
        StageKind::Prompt(settings) => {
            Ok(StageStep::Challenge(prompt::challenge_for(settings, call)))
        }
        StageKind::UserWrite(settings) => user_write::enter(settings, call).await,
        StageKind::UserLogin(settings) => user_login::enter(settings, call).await,
        StageKind::UserLogout(_) => user_logout::enter(call).await,
        StageKind::UserDelete(_) => user_delete::enter(call).await,
        StageKind::Deny(settings) => deny::enter(settings),
        StageKind::Redirect(settings) => redirect::enter(settings, call),
        StageKind::Invitation(settings) => invitation::enter(settings, call).await,
        StageKind::Email(settings) => email::enter(settings, stage.id, call).await,
        StageKind::Consent(settings) => consent::enter(settings, call).await,
        StageKind::AuthenticatorTotp(settings) => {
            authenticator_totp::enter(settings, stage.id, call).await
        }
        StageKind::AuthenticatorStatic(settings) => {
            authenticator_static::enter(settings, stage.id, call).await
        }
        StageKind::AuthenticatorValidate(settings) => {
            authenticator_validate::enter(settings, stage.id, call).await
        }
        StageKind::AuthenticatorWebauthn(settings) => {
            authenticator_webauthn::enter(settings, stage.id, call).await
        }
        StageKind::AuthenticatorEmail(settings) => {
            authenticator_email::enter(settings, stage.id, call).await
        }
    }
}

pub async fn submit(
    stage: &Stage,
    call: &mut StageCall<'_>,
    response: &StageResponse,
) -> FlowResult<StageStep> {
    if let Some(component) = response.get("component").and_then(Value::as_str) {
        if component != stage.kind.component() {
            // An answer to another stage (a stale tab): show the current stage again.
            return enter(stage, call).await;
        }
    }
    match &stage.kind {
        StageKind::Identification(settings) => {
            identification::submit(settings, call, response).await
        }
        StageKind::Password(settings) => password::submit(settings, call, response).await,
        StageKind::Prompt(settings) => prompt::submit(settings, call, response).await,
        StageKind::UserLogin(settings) => user_login::submit(settings, call, response).await,
        StageKind::Email(_) => email::submit(),
        StageKind::Consent(settings) => consent::submit(settings, call, response).await,
        StageKind::AuthenticatorTotp(settings) => {
            authenticator_totp::submit(settings, stage.id, call, response).await
        }
        StageKind::AuthenticatorStatic(settings) => {
            authenticator_static::submit(settings, stage.id, call).await
        }
        StageKind::AuthenticatorValidate(settings) => {
            authenticator_validate::submit(settings, stage.id, call, response).await
        }
        StageKind::AuthenticatorWebauthn(settings) => {
            authenticator_webauthn::submit(settings, stage.id, call, response).await
        }
        StageKind::AuthenticatorEmail(settings) => {
            authenticator_email::submit(settings, stage.id, call, response).await
        }
        StageKind::UserWrite(_)
        | StageKind::UserLogout(_)
        | StageKind::UserDelete(_)
        | StageKind::Deny(_)
        | StageKind::Redirect(_)
        | StageKind::Invitation(_) => enter(stage, call).await,
    }
}
