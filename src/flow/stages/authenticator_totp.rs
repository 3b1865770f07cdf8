//! The TOTP setup stage: shows a new secret as an `otpauth://` URI (the page renders it
//! as a QR code and as text) and keeps it as a device once the user types a first valid
//! code, proving their app has it. The secret stays sealed in the flow context until
//! then, never in a URL. The confirming code is spent: it cannot sign in afterwards.

use serde_json::{Value, json};

use crate::flow::FlowResult;
use crate::flow::challenge::{StageResponse, challenge, with_error};
use crate::mfa::totp;
use crate::model::device::TotpData;
use crate::model::stage::AuthenticatorTotpStage;
use crate::model::{DeviceData, StageId, User};

use super::authenticator::{
    NO_PENDING_USER, add_device, code_answer, device_user, issuer, pending_fields, pending_or_new,
    pending_secret,
};
use super::{StageCall, StageStep};

pub const DEFAULT_NAME: &str = "TOTP Device";
/// authentik's answer to a code that does not fit the shown secret.
pub const CODE_MISMATCH: &str = "Code does not match";

pub async fn enter(
    settings: &AuthenticatorTotpStage,
    stage: StageId,
    call: &mut StageCall<'_>,
) -> FlowResult<StageStep> {
    let Some(user) = device_user(call).await? else {
        return Ok(StageStep::Deny(NO_PENDING_USER.into()));
    };
    let secret = pending_or_new(call, stage, totp::new_secret);
    Ok(StageStep::Challenge(totp_challenge(
        settings, call, &user, &secret,
    )))
}

pub async fn submit(
    settings: &AuthenticatorTotpStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    response: &StageResponse,
) -> FlowResult<StageStep> {
    let (Some(user), Some(secret)) = (device_user(call).await?, pending_secret(call, stage)) else {
        return enter(settings, stage, call).await;
    };
    let digits = settings.digits.count();
    let mut data = TotpData {
        secret_sealed: call.services.secret_box.seal(&secret),
        digits,
        period: totp::DEFAULT_PERIOD,
        last_step: 0,
    };
    let now = u64::try_from(call.services.ephemeral.now().0).unwrap_or_default();
    let code = code_answer(response).unwrap_or_default();
    let Some(step) = totp::check(&data, &call.services.secret_box, &code, now) else {
        let retry = totp_challenge(settings, call, &user, &secret);
        return Ok(StageStep::Challenge(with_error(
            retry,
            "code",
            CODE_MISMATCH,
        )));
    };
    data.last_step = step;
    let name = settings
        .friendly_name
        .clone()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_NAME.to_owned());
    add_device(call, &user, name, DeviceData::Totp(data), Vec::new()).await?;
    Ok(StageStep::Next)
}

/// authentik's `AuthenticatorTOTPChallenge`: `config_url` is the otpauth URI (issuer =
/// brand title, account = username).
fn totp_challenge(
    settings: &AuthenticatorTotpStage,
    call: &StageCall<'_>,
    user: &User,
    secret: &str,
) -> Value {
    let config_url = totp::provisioning_uri(
        secret,
        settings.digits.count(),
        totp::DEFAULT_PERIOD,
        user.username.as_str(),
        &issuer(call),
    )
    .unwrap_or_default();
    let mut fields = pending_fields(user);
    fields.insert("config_url".into(), json!(config_url));
    challenge("ak-stage-authenticator-totp", Value::Object(fields))
}
