//! The WebAuthn setup stage (authentik's `ak-stage-authenticator-webauthn`): the
//! challenge's `registration` is the `PublicKeyCredentialCreationOptions` for
//! `navigator.credentials.create`, the answer's `response` the new credential (JSON, or a
//! form's JSON string). Also the WebAuthn halves of the validation stage (a known user's
//! security keys and passkeys, answer `webauthn`) and of the identification stage
//! (passwordless: a discoverable credential names the user, offered through the
//! browser's autofill or a "Sign in with a passkey" button).
//!
//! The relying party is the host the browser used (`FlowRequest::base_url`). The
//! ceremony's state waits in the Kv (`mfa::webauthn`), its id in the flow context, bound
//! to this browser's flow execution and stage.

use serde_json::{Value, json};

use crate::crypto::sha256_hex;
use crate::flow::FlowResult;
use crate::flow::challenge::{StageResponse, challenge, with_error};
use crate::flow::execution::PendingUser;
use crate::mfa::webauthn::{
    self as wa, Attachment, Origin, RegistrationOptions, RelyingParty, ResidentKey,
    UserVerification, WebauthnError, WebauthnUser,
};
use crate::model::stage::{
    AuthenticatorWebauthnStage, ResidentKeyRequirement, StageKind,
    UserVerification as StageUserVerification, WebauthnAttachment,
};
use crate::model::{Device, DeviceClass, DeviceData, EventAction, StageId, User};
use crate::store::DeviceFilter;

use super::authenticator::{NO_PENDING_USER, add_device, device_user, issuer, pending_fields};
use super::{StageCall, StageStep};

pub const COMPONENT: &str = "ak-stage-authenticator-webauthn";
/// The names a new device gets when the stage sets none.
pub const DEFAULT_PASSKEY_NAME: &str = "Passkey";
pub const DEFAULT_KEY_NAME: &str = "Security key";
/// Shown when the browser's credential does not verify.
pub const NOT_VERIFIED: &str =
    "The passkey or security key could not be verified. Please try again.";

pub async fn enter(
    settings: &AuthenticatorWebauthnStage,
    stage: StageId,
    call: &mut StageCall<'_>,
) -> FlowResult<StageStep> {
    let Some(user) = device_user(call).await? else {
        return Ok(StageStep::Deny(NO_PENDING_USER.into()));
    };
    registration_challenge(settings, stage, call, &user).await
}

pub async fn submit(
    settings: &AuthenticatorWebauthnStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    response: &StageResponse,
) -> FlowResult<StageStep> {
    let Some(user) = device_user(call).await? else {
        return Ok(StageStep::Deny(NO_PENDING_USER.into()));
    };
    let (Some(rp), Some(ceremony), Some(credential)) = (
        relying_party(call),
        take_ceremony(call),
        json_answer(response, "response"),
    ) else {
        return registration_challenge(settings, stage, call, &user).await;
    };
    let binding = binding(call, stage);
    let data = match rp.finish_registration(
        &call.services.ephemeral,
        &binding,
        &ceremony,
        &credential,
    ) {
        Ok(data) => data,
        Err(WebauthnError::Store(error)) => return Err(error.into()),
        Err(error) => {
            tracing::info!(user = %user.username.as_str(), %error, "webauthn registration refused");
            let retry = registration_challenge(settings, stage, call, &user).await?;
            return Ok(match retry {
                StageStep::Challenge(retry) => {
                    StageStep::Challenge(with_error(retry, "response", &registration_error(&error)))
                }
                other => other,
            });
        }
    };
    let taken = call
        .services
        .db
        .read({
            let id = data.credential_id.clone();
            move |tx| tx.device_by_credential_id(&id)
        })
        .await?;
    if taken.is_some() {
        let retry = registration_challenge(settings, stage, call, &user).await?;
        return Ok(match retry {
            StageStep::Challenge(retry) => StageStep::Challenge(with_error(
                retry,
                "response",
                "This authenticator is already registered.",
            )),
            other => other,
        });
    }
    let name = settings
        .friendly_name
        .clone()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| {
            if data.discoverable {
                DEFAULT_PASSKEY_NAME
            } else {
                DEFAULT_KEY_NAME
            }
            .to_owned()
        });
    add_device(call, &user, name, DeviceData::Webauthn(data), Vec::new()).await?;
    Ok(StageStep::Next)
}

/// authentik's `AuthenticatorWebAuthnChallenge`, with a new ceremony.
async fn registration_challenge(
    settings: &AuthenticatorWebauthnStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    user: &User,
) -> FlowResult<StageStep> {
    let Some(rp) = relying_party(call) else {
        return Ok(StageStep::Deny(
            "Passkeys need a host name (not an IP address) in the address bar.".into(),
        ));
    };
    let existing = webauthn_devices(call, user).await?;
    let options = registration_options(settings);
    let display_name = user.name.clone();
    let started = rp.start_registration(
        &call.services.ephemeral,
        &binding(call, stage),
        &WebauthnUser {
            uuid: user.uuid,
            username: user.username.as_str(),
            display_name: &display_name,
        },
        &existing,
        &options,
    );
    let started = match started {
        Ok(started) => started,
        Err(WebauthnError::Store(error)) => return Err(error.into()),
        Err(error) => return Ok(StageStep::Deny(error.to_string())),
    };
    call.execution.context.webauthn_ceremony = Some(started.ceremony);
    let mut fields = pending_fields(user);
    fields.insert(
        "registration".into(),
        started
            .options
            .get("publicKey")
            .cloned()
            .unwrap_or_default(),
    );
    Ok(StageStep::Challenge(challenge(
        COMPONENT,
        Value::Object(fields),
    )))
}

fn registration_options(settings: &AuthenticatorWebauthnStage) -> RegistrationOptions {
    RegistrationOptions {
        user_verification: user_verification(settings.user_verification),
        resident_key: match settings.resident_key_requirement {
            ResidentKeyRequirement::Discouraged => ResidentKey::Discouraged,
            ResidentKeyRequirement::Preferred => ResidentKey::Preferred,
            ResidentKeyRequirement::Required => ResidentKey::Required,
        },
        attachment: settings
            .authenticator_attachment
            .map(|attachment| match attachment {
                WebauthnAttachment::Platform => Attachment::Platform,
                WebauthnAttachment::CrossPlatform => Attachment::CrossPlatform,
            }),
        require_attestation: settings.require_attestation,
    }
}

fn registration_error(error: &WebauthnError) -> String {
    match error {
        WebauthnError::AttestationMissing => {
            "This authenticator did not prove its make and model, which this server requires."
                .to_owned()
        }
        WebauthnError::UnknownCeremony => "The request expired. Please try again.".to_owned(),
        _ => NOT_VERIFIED.to_owned(),
    }
}

pub fn user_verification(setting: StageUserVerification) -> UserVerification {
    match setting {
        StageUserVerification::Required => UserVerification::Required,
        StageUserVerification::Preferred => UserVerification::Preferred,
        StageUserVerification::Discouraged => UserVerification::Discouraged,
    }
}

/// The relying party for the host the browser used; `None` for an IP address.
pub fn relying_party(call: &StageCall<'_>) -> Option<RelyingParty> {
    let url = url::Url::parse(&call.request.base_url).ok()?;
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str()?),
        None => url.host_str()?.to_owned(),
    };
    let origin = Origin::new(url.scheme(), &host).ok()?;
    Some(call.services.webauthn.get(&origin, &issuer(call)))
}

/// Ties a ceremony to this browser's execution of this flow and to the stage.
fn binding(call: &StageCall<'_>, stage: StageId) -> String {
    sha256_hex(
        format!(
            "webauthn\0{}\0{}\0{stage}",
            call.request.browser_key, call.request.slug
        )
        .as_bytes(),
    )
}

fn take_ceremony(call: &mut StageCall<'_>) -> Option<String> {
    call.execution.context.webauthn_ceremony.take()
}

/// A credential answer: a JSON object (the executor API) or its text (a form field).
fn json_answer(response: &StageResponse, key: &str) -> Option<Value> {
    match response.get(key)? {
        Value::Object(map) => Some(Value::Object(map.clone())),
        Value::String(text) if text.len() <= 64 * 1024 => {
            serde_json::from_str(text).ok().filter(Value::is_object)
        }
        _ => None,
    }
}

async fn webauthn_devices(call: &StageCall<'_>, user: &User) -> FlowResult<Vec<Device>> {
    let user_id = user.id;
    Ok(call
        .services
        .db
        .read(move |tx| {
            tx.devices(DeviceFilter {
                user: Some(user_id),
                confirmed: Some(true),
                ..DeviceFilter::default()
            })
        })
        .await?
        .into_iter()
        .filter(|device| device.class() == DeviceClass::Webauthn)
        .collect())
}

/// The stage the flow is at (the one calling).
fn current_stage(call: &StageCall<'_>) -> Option<StageId> {
    call.execution.plan.get(call.execution.position).copied()
}

/// The user verification the current stage asks for, when it is a validation stage.
fn current_validation_uv(call: &StageCall<'_>) -> UserVerification {
    let stage = current_stage(call).and_then(|id| call.catalog.stage(id));
    match stage.map(|stage| &stage.kind) {
        Some(StageKind::AuthenticatorValidate(settings)) => {
            user_verification(settings.webauthn_user_verification)
        }
        _ => UserVerification::Preferred,
    }
}

/// The validation stage's WebAuthn device challenge: request options allowing every
/// WebAuthn device of the user. `None` when no relying party can be had here.
pub async fn validation_device_challenge(
    call: &mut StageCall<'_>,
    user: &User,
) -> FlowResult<Option<Value>> {
    let (Some(rp), Some(stage)) = (relying_party(call), current_stage(call)) else {
        return Ok(None);
    };
    let devices = webauthn_devices(call, user).await?;
    let uv = current_validation_uv(call);
    match rp.start_authentication(
        &call.services.ephemeral,
        &binding(call, stage),
        &devices,
        uv,
    ) {
        Ok(started) => {
            call.execution.context.webauthn_ceremony = Some(started.ceremony);
            Ok(started.options.get("publicKey").cloned())
        }
        Err(WebauthnError::Store(error)) => Err(error.into()),
        Err(_) => Ok(None),
    }
}

/// What became of a WebAuthn answer.
pub enum Assertion {
    /// Verified: the device (stored with its new counter and last use).
    Valid(Device),
    /// Refused; the reason goes to the log and the event.
    Invalid(String),
}

/// Verifies the validation stage's `webauthn` answer for `user`.
pub async fn check_assertion(
    call: &mut StageCall<'_>,
    stage: StageId,
    user: &User,
    answer: &Value,
) -> FlowResult<Assertion> {
    verify(call, stage, answer, Some(user)).await
}

async fn verify(
    call: &mut StageCall<'_>,
    stage: StageId,
    answer: &Value,
    expected_user: Option<&User>,
) -> FlowResult<Assertion> {
    let answer = match answer {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    };
    let (Some(rp), Some(ceremony)) = (relying_party(call), take_ceremony(call)) else {
        return Ok(Assertion::Invalid("no ceremony was started".into()));
    };
    let pending =
        match rp.take_authentication(&call.services.ephemeral, &binding(call, stage), &ceremony) {
            Ok(pending) => pending,
            Err(WebauthnError::Store(error)) => return Err(error.into()),
            Err(error) => return Ok(Assertion::Invalid(error.to_string())),
        };
    let Some(credential_id) = wa::assertion_credential_id(&answer) else {
        return Ok(Assertion::Invalid("no credential id".into()));
    };
    let found = call
        .services
        .db
        .read(move |tx| {
            let Some(device) = tx.device_by_credential_id(&credential_id)? else {
                return Ok(None);
            };
            let user = tx.user_by_id(device.user)?;
            Ok(user.map(|user| (device, user)))
        })
        .await?;
    let Some((device, owner)) = found else {
        return Ok(Assertion::Invalid("unknown credential".into()));
    };
    if expected_user.is_some_and(|user| user.id != owner.id) || !owner.is_active {
        return Ok(Assertion::Invalid("another user's credential".into()));
    }
    let verified = match rp.finish_authentication(&pending, &answer, &device, owner.uuid) {
        Ok(verified) => verified,
        Err(WebauthnError::Store(error)) => return Err(error.into()),
        Err(error) => return Ok(Assertion::Invalid(error.to_string())),
    };
    let mut device = verified.device;
    let now = call.services.ephemeral.now();
    device.last_used = Some(now);
    if verified.changed {
        device.last_updated = now;
    }
    let stored = device.clone();
    call.services
        .db
        .write(move |tx| tx.update_device(&stored))
        .await?;
    Ok(Assertion::Valid(device))
}

// --- passwordless sign-in on the identification stage ----------------------------------

/// Adds a passwordless sign-in to an identification challenge in an authentication
/// flow: `passkey_challenge` holds the request options (no allow-list,
/// `mediation: conditional`) that the page hands to the browser's autofill and to its
/// "Sign in with a passkey" button.
pub fn offer_passkey_sign_in(call: &mut StageCall<'_>, mut page: Value) -> Value {
    let is_sign_in = call
        .catalog
        .flow(&call.request.slug)
        .is_some_and(|flow| flow.designation == crate::model::FlowDesignation::Authentication);
    let (Some(rp), Some(stage), true) = (relying_party(call), current_stage(call), is_sign_in)
    else {
        return page;
    };
    // The passkey stands for the password too: the authenticator must verify the user
    // (PIN, biometrics), not just see a touch.
    let started = rp.start_discoverable(
        &call.services.ephemeral,
        &binding(call, stage),
        UserVerification::Required,
    );
    if let (Ok(started), Value::Object(fields)) = (started, &mut page) {
        call.execution.context.webauthn_ceremony = Some(started.ceremony);
        fields.insert("passkey_challenge".into(), started.options);
    }
    page
}

/// The identification stage's `webauthn` answer: a passkey that names its user signs
/// them in without a password. The rest of the plan's password and validation stages
/// are dropped: a passkey with user verification is both factors. `None` when it did
/// not verify (the caller asks again).
pub async fn passkey_sign_in(call: &mut StageCall<'_>, answer: &Value) -> FlowResult<Option<()>> {
    let Some(stage) = current_stage(call) else {
        return Ok(None);
    };
    match verify(call, stage, answer, None).await? {
        Assertion::Valid(device) => {
            let context = &mut call.execution.context;
            context.pending_user = Some(PendingUser::Known(device.user));
            context.methods.push("auth_webauthn_pwl".to_owned());
            context.mfa_devices.push(device.id);
            let from = call.execution.position.saturating_add(1);
            let catalog = call.catalog;
            let mut index = 0usize;
            call.execution.plan.retain(|id| {
                let keep = index < from
                    || !matches!(
                        catalog.stage(*id).map(|stage| &stage.kind),
                        Some(StageKind::Password(_) | StageKind::AuthenticatorValidate(_))
                    );
                index += 1;
                keep
            });
            let user_id = device.user;
            let user = call
                .services
                .db
                .read(move |tx| tx.user_by_id(user_id))
                .await?;
            call.services
                .events
                .record(
                    EventAction::MfaSucceeded,
                    user.as_ref(),
                    call.request.client.ip.as_deref(),
                    json!({"device_class": "webauthn", "device": device.id,
                           "passwordless": true, "flow": call.request.slug}),
                )
                .await;
            Ok(Some(()))
        }
        Assertion::Invalid(reason) => {
            tracing::info!(%reason, "passkey sign-in refused");
            call.services
                .events
                .record(
                    EventAction::MfaFailed,
                    None,
                    call.request.client.ip.as_deref(),
                    json!({"stage": "identification", "reason": reason, "passwordless": true,
                           "flow": call.request.slug}),
                )
                .await;
            Ok(None)
        }
    }
}
