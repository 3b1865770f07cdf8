//! The email stage: mails the pending user a link and pauses the flow. Opening the link
//! (`?flow_token=`, from any browser) restores the flow just past this stage, optionally
//! activating the user (address verified on enrollment). For an unknown or address-less
//! account the same "check your email" page is shown and nothing is sent, so recovery
//! cannot be used to find out which accounts exist.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::crypto::{random_token, sha256_hex};
use crate::email::{EmailContext, EmailUser};
use crate::flow::FlowResult;
use crate::flow::challenge::challenge;
use crate::flow::execution::FlowExecution;
use crate::model::StageId;
use crate::model::stage::{EmailStage, parse_timedelta};

use super::{StageCall, StageStep};

pub const RESUME_NAMESPACE: &str = "flow_token";

/// What an emailed link resumes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailResume {
    pub slug: String,
    pub stage: StageId,
    pub execution: FlowExecution,
}

pub async fn enter(
    settings: &EmailStage,
    stage: StageId,
    call: &mut StageCall<'_>,
) -> FlowResult<StageStep> {
    if call.execution.context.email_confirmed_for == Some(stage) {
        if settings.activate_user_on_success {
            activate_pending_user(call).await?;
        }
        return Ok(StageStep::Next);
    }
    send_link(settings, stage, call).await?;
    Ok(StageStep::Challenge(check_your_email()))
}

/// Asking again shows the same page; the link already sent stays valid.
pub fn submit() -> FlowResult<StageStep> {
    Ok(StageStep::Challenge(check_your_email()))
}

fn check_your_email() -> serde_json::Value {
    challenge("ak-stage-email", json!({}))
}

async fn send_link(
    settings: &EmailStage,
    stage: StageId,
    call: &mut StageCall<'_>,
) -> FlowResult<()> {
    let Some(user) = call.pending_user().await? else {
        return Ok(());
    };
    if user.email.is_empty() {
        tracing::info!(
            user = user.username.as_str(),
            "email stage: user has no address; nothing sent"
        );
        return Ok(());
    }
    let ttl = parse_timedelta(&settings.token_expiry)
        .unwrap_or(1800)
        .max(60);
    let token = random_token(32);
    let resume = EmailResume {
        slug: call.request.slug.clone(),
        stage,
        execution: call.execution.clone(),
    };
    call.services.ephemeral.put(
        RESUME_NAMESPACE,
        &sha256_hex(token.as_bytes()),
        &resume,
        ttl,
    )?;
    let url = format!(
        "{}/if/flow/{}/?flow_token={token}",
        call.request.base_url, call.request.slug
    );
    let context = EmailContext {
        user: EmailUser::from(&user),
        url: Some(url),
        expires_minutes: Some(ttl / 60),
        title: "gatehouse".into(),
    };
    let mut rendered = match call
        .services
        .email_templates
        .render(&settings.template, &context)
    {
        Ok(rendered) => rendered,
        Err(error) => {
            return Err(crate::flow::FlowError::Misconfigured(format!(
                "email template '{}': {error}",
                settings.template
            )));
        }
    };
    if !settings.subject.trim().is_empty() && settings.subject != "gatehouse" {
        rendered.subject = settings.subject.clone();
    }
    call.services
        .mailer
        .enqueue(rendered.to(&user.email))
        .await?;
    Ok(())
}

async fn activate_pending_user(call: &StageCall<'_>) -> FlowResult<()> {
    let Some(mut user) = call.pending_user().await? else {
        return Ok(());
    };
    if user.is_active {
        return Ok(());
    }
    user.is_active = true;
    call.services
        .db
        .write(move |tx| tx.update_user(&user))
        .await?;
    Ok(())
}

/// Takes the resume entry for an emailed link, if it is valid for this flow.
pub fn take_resume(
    call_services: &crate::flow::FlowServices,
    slug: &str,
    token: &str,
) -> FlowResult<Option<EmailResume>> {
    let resume: Option<EmailResume> = call_services
        .ephemeral
        .take(RESUME_NAMESPACE, &sha256_hex(token.as_bytes()))?;
    Ok(resume.filter(|resume| resume.slug == slug))
}
