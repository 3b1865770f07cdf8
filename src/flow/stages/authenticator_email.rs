//! The email authenticator setup stage: sends a code to the account's address (or to
//! one the user types when the account has none) and keeps the address as a device once
//! the code comes back. `send_code` is shared with the validation stage, which mails a
//! new code at sign-in.

use serde::Serialize;
use serde_json::{Value, json};

use crate::email::EmailUser;
use crate::flow::challenge::{StageResponse, challenge, text, with_error};
use crate::flow::execution::MfaSetup;
use crate::flow::{FlowError, FlowResult};
use crate::mfa::email_codes;
use crate::model::device::EmailData;
use crate::model::stage::{AuthenticatorEmailStage, parse_timedelta};
use crate::model::{DeviceData, StageId, User};

use super::authenticator::{
    NO_PENDING_USER, add_device, code_answer, device_user, issuer, pending_fields, pending_secret,
};
use super::{StageCall, StageStep};

pub const DEFAULT_NAME: &str = "Email";
pub const INVALID_CODE: &str = "Invalid code";

pub async fn enter(
    settings: &AuthenticatorEmailStage,
    stage: StageId,
    call: &mut StageCall<'_>,
) -> FlowResult<StageStep> {
    let Some(user) = device_user(call).await? else {
        return Ok(StageStep::Deny(NO_PENDING_USER.into()));
    };
    if let Some(address) = pending_secret(call, stage) {
        return Ok(StageStep::Challenge(email_challenge(&user, Some(&address))));
    }
    let address = user.email.trim().to_owned();
    if address.is_empty() {
        return Ok(StageStep::Challenge(email_challenge(&user, None)));
    }
    start(settings, stage, call, &user, &address).await?;
    Ok(StageStep::Challenge(email_challenge(&user, Some(&address))))
}

pub async fn submit(
    settings: &AuthenticatorEmailStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    response: &StageResponse,
) -> FlowResult<StageStep> {
    let Some(user) = device_user(call).await? else {
        return Ok(StageStep::Deny(NO_PENDING_USER.into()));
    };
    // An address may be typed only for an account without one (authentik's
    // `email_required`); otherwise the account's address is the device.
    let typed = text(response, "email").map(str::trim).unwrap_or_default();
    if !typed.is_empty() && user.email.trim().is_empty() {
        if !looks_like_an_address(typed) {
            let retry = email_challenge(&user, None);
            return Ok(StageStep::Challenge(with_error(
                retry,
                "email",
                "Enter a valid email address.",
            )));
        }
        let address = typed.to_owned();
        start(settings, stage, call, &user, &address).await?;
        return Ok(StageStep::Challenge(email_challenge(&user, Some(&address))));
    }
    let Some(address) = pending_secret(call, stage) else {
        return enter(settings, stage, call).await;
    };
    let code = code_answer(response).unwrap_or_default();
    if !email_codes::check(&call.services.ephemeral, user.id, &address, &code)? {
        let retry = email_challenge(&user, Some(&address));
        return Ok(StageStep::Challenge(with_error(
            retry,
            "code",
            INVALID_CODE,
        )));
    }
    let name = settings
        .friendly_name
        .clone()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_NAME.to_owned());
    let data = DeviceData::Email(EmailData { email: address });
    add_device(call, &user, name, data, Vec::new()).await?;
    Ok(StageStep::Next)
}

fn looks_like_an_address(text: &str) -> bool {
    text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !text.chars().any(char::is_whitespace)
    })
}

/// Remembers the address (sealed, in the flow context) and mails it a code.
async fn start(
    settings: &AuthenticatorEmailStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    user: &User,
    address: &str,
) -> FlowResult<()> {
    call.execution.context.mfa_setup = Some(MfaSetup {
        stage,
        sealed: call.services.secret_box.seal(address),
    });
    send_code(call, settings, user, address).await
}

/// authentik's `AuthenticatorEmailChallenge`: where the code went (masked), or that an
/// address is needed.
fn email_challenge(user: &User, address: Option<&str>) -> Value {
    let mut fields = pending_fields(user);
    fields.insert("email".into(), json!(address.map(email_codes::mask)));
    fields.insert("email_required".into(), json!(address.is_none()));
    challenge("ak-stage-authenticator-email", Value::Object(fields))
}

/// What the code email's templates read.
#[derive(Serialize)]
struct CodeEmail {
    user: EmailUser,
    code: String,
    expires_minutes: u64,
    title: String,
}

/// Mails `address` a new code for `user` (replacing any earlier one), through the
/// outbox, with `settings`' subject, template and expiry.
pub async fn send_code(
    call: &StageCall<'_>,
    settings: &AuthenticatorEmailStage,
    user: &User,
    address: &str,
) -> FlowResult<()> {
    let ttl = parse_timedelta(&settings.token_expiry)
        .unwrap_or(email_codes::DEFAULT_TTL_SECS)
        .max(60);
    let code = email_codes::new_code();
    email_codes::remember(&call.services.ephemeral, user.id, address, &code, ttl)?;
    let context = CodeEmail {
        user: EmailUser::from(user),
        code,
        expires_minutes: ttl / 60,
        title: issuer(call),
    };
    let mut rendered = call
        .services
        .email_templates
        .render(&settings.template, &context)
        .map_err(|error| {
            FlowError::Misconfigured(format!("email template '{}': {error}", settings.template))
        })?;
    if !settings.subject.trim().is_empty() {
        rendered.subject = settings.subject.clone();
    }
    call.services.mailer.enqueue(rendered.to(address)).await?;
    Ok(())
}
