//! The authenticator validation stage: asks the pending user for a second factor from
//! one of their confirmed devices of the allowed classes. A user without one is let
//! through, refused, or sent to enroll one (`not_configured_action`). Wrong codes count
//! against the user's and the client's reputation (as wrong passwords do) and end the
//! flow after `FAILURE_LIMIT`. A success can be remembered in this browser for
//! `last_auth_threshold`.

use serde_json::{Value, json};

use crate::crypto::sha256_hex;
use crate::flow::FlowResult;
use crate::flow::challenge::{StageResponse, challenge, text, with_error};
use crate::mfa::email_codes;
use crate::mfa::validate::{CodeCheck, check_code};
use crate::model::stage::{AuthenticatorValidateStage, NotConfiguredAction, parse_timedelta};
use crate::model::{Device, DeviceClass, DeviceId, EventAction, Stage, StageId, StageKind, User};
use crate::store::DeviceFilter;

use super::authenticator::{NO_PENDING_USER, code_answer, device_user, pending_fields};
use super::{StageCall, StageStep};

/// authentik's messages.
pub const INVALID_TOKEN: &str = "Invalid Token";
pub const NOT_CONFIGURED: &str = "No (allowed) MFA authenticator configured.";
pub const TOO_MANY_FAILURES: &str = "Too many failed attempts. Please start again.";
/// Wrong codes allowed in one flow before it is ended (the reputation keeps counting
/// across flows).
pub const FAILURE_LIMIT: u32 = 5;
/// Kv namespace of "this browser passed this stage recently" marks.
pub const REMEMBER_NAMESPACE: &str = "mfa_remembered";

pub async fn enter(
    settings: &AuthenticatorValidateStage,
    stage: StageId,
    call: &mut StageCall<'_>,
) -> FlowResult<StageStep> {
    let Some(user) = device_user(call).await? else {
        return Ok(StageStep::Deny(NO_PENDING_USER.into()));
    };
    let devices = allowed_devices(settings, call, &user).await?;
    if devices.is_empty() {
        return not_configured(settings, call, &user);
    }
    if remembered(settings, stage, call, &user, &devices)? {
        return Ok(StageStep::Next);
    }
    // With email codes as the only way, send one right away (once per flow).
    let only_email = devices
        .iter()
        .all(|device| device.class() == DeviceClass::Email);
    if only_email
        && call.execution.context.email_code_sent.is_none()
        && let Some(device) = devices.first()
    {
        send_email_code(settings, call, &user, device).await?;
    }
    validation_challenge(call, &user, &devices).await
}

pub async fn submit(
    settings: &AuthenticatorValidateStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    response: &StageResponse,
) -> FlowResult<StageStep> {
    let Some(user) = device_user(call).await? else {
        return Ok(StageStep::Deny(NO_PENDING_USER.into()));
    };
    if let Some(selected) = text(response, "selected_stage") {
        return select_stage(settings, stage, call, &user, selected).await;
    }
    if let Some(code) = code_answer(response) {
        return answer_code(settings, stage, call, &user, &code).await;
    }
    if let Some(selected) = response.get("selected_challenge") {
        return select_challenge(settings, stage, call, &user, selected).await;
    }
    if let Some(assertion) = response.get("webauthn") {
        return answer_webauthn(settings, stage, call, &user, assertion).await;
    }
    // `selected_challenge` (the user picked a device) and anything else: ask again.
    enter(settings, stage, call).await
}

/// The user's confirmed devices of the allowed classes, oldest first.
async fn allowed_devices(
    settings: &AuthenticatorValidateStage,
    call: &StageCall<'_>,
    user: &User,
) -> FlowResult<Vec<Device>> {
    let user_id = user.id;
    let devices = call
        .services
        .db
        .read(move |tx| {
            tx.devices(DeviceFilter {
                user: Some(user_id),
                confirmed: Some(true),
                ..DeviceFilter::default()
            })
        })
        .await?;
    Ok(devices
        .into_iter()
        .filter(|device| settings.device_classes.contains(&device.class()))
        .collect())
}

fn not_configured(
    settings: &AuthenticatorValidateStage,
    call: &mut StageCall<'_>,
    user: &User,
) -> FlowResult<StageStep> {
    match settings.not_configured_action {
        NotConfiguredAction::Skip => Ok(StageStep::Next),
        NotConfiguredAction::Deny => Ok(StageStep::Deny(NOT_CONFIGURED.into())),
        NotConfiguredAction::Configure => {
            let stages: Vec<&Stage> = settings
                .configuration_stages
                .iter()
                .filter_map(|id| call.catalog.stage(*id))
                .collect();
            match stages.as_slice() {
                [] => Ok(StageStep::Deny(NOT_CONFIGURED.into())),
                [only] => {
                    run_next(call, only.id);
                    Ok(StageStep::Next)
                }
                several => {
                    let selectable: Vec<Value> =
                        several.iter().map(|stage| selectable(stage)).collect();
                    let mut fields = pending_fields(user);
                    fields.insert("device_challenges".into(), json!([]));
                    fields.insert("configuration_stages".into(), json!(selectable));
                    Ok(StageStep::Challenge(challenge(
                        "ak-stage-authenticator-validate",
                        Value::Object(fields),
                    )))
                }
            }
        }
    }
}

/// Puts `stage` right after the current one: the engine moves on to it next.
fn run_next(call: &mut StageCall<'_>, stage: StageId) {
    let at = call
        .execution
        .position
        .saturating_add(1)
        .min(call.execution.plan.len());
    call.execution.plan.insert(at, stage);
}

/// authentik's `SelectableStage`.
fn selectable(stage: &Stage) -> Value {
    let (tag, verbose) = match &stage.kind {
        StageKind::AuthenticatorTotp(_) => ("authenticator_totp", "TOTP Authenticator Setup Stage"),
        StageKind::AuthenticatorStatic(_) => {
            ("authenticator_static", "Static Authenticator Setup Stage")
        }
        StageKind::AuthenticatorWebauthn(_) => (
            "authenticator_webauthn",
            "WebAuthn Authenticator Setup Stage",
        ),
        StageKind::AuthenticatorEmail(_) => {
            ("authenticator_email", "Email Authenticator Setup Stage")
        }
        _ => ("", "Authenticator Setup Stage"),
    };
    json!({
        "pk": stage.id,
        "name": stage.name,
        "verbose_name": verbose,
        "meta_model_name": format!("authentik_stages_{tag}.{}stage", tag.replace('_', "")),
    })
}

/// The user picked one of `configuration_stages`. Only a user with no device may: one
/// who has a device must use it, not enroll another.
async fn select_stage(
    settings: &AuthenticatorValidateStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    user: &User,
    selected: &str,
) -> FlowResult<StageStep> {
    let chosen = settings
        .configuration_stages
        .iter()
        .copied()
        .find(|id| id.to_string() == selected);
    let may_configure = settings.not_configured_action == NotConfiguredAction::Configure
        && allowed_devices(settings, call, user).await?.is_empty();
    match chosen {
        Some(id) if may_configure && call.catalog.stage(id).is_some() => {
            run_next(call, id);
            Ok(StageStep::Next)
        }
        _ => enter(settings, stage, call).await,
    }
}

/// authentik's `AuthenticatorValidationChallenge`: one device challenge per class the
/// user has (the oldest device of each), no configuration stages.
async fn validation_challenge(
    call: &mut StageCall<'_>,
    user: &User,
    devices: &[Device],
) -> FlowResult<StageStep> {
    let mut challenges = Vec::new();
    let mut seen: Vec<DeviceClass> = Vec::new();
    for device in devices {
        if seen.contains(&device.class()) {
            continue;
        }
        if let Some(device_challenge) = device_challenge(call, user, device).await? {
            seen.push(device.class());
            challenges.push(device_challenge);
        }
    }
    if challenges.is_empty() {
        // Devices the stage cannot ask for yet: fail closed rather than skip the factor.
        return Ok(StageStep::Deny(NOT_CONFIGURED.into()));
    }
    let mut fields = pending_fields(user);
    fields.insert("device_challenges".into(), json!(challenges));
    fields.insert("configuration_stages".into(), json!([]));
    Ok(StageStep::Challenge(challenge(
        "ak-stage-authenticator-validate",
        Value::Object(fields),
    )))
}

/// authentik's `DeviceChallenge` for `device`, or `None` when its class cannot be asked
/// here. Typed codes need no challenge data.
async fn device_challenge(
    call: &mut StageCall<'_>,
    user: &User,
    device: &Device,
) -> FlowResult<Option<Value>> {
    let data = match device.class() {
        DeviceClass::Totp | DeviceClass::Static => json!({}),
        // WebAuthn: the assertion options (`PublicKeyCredentialRequestOptions`) for all
        // of the user's WebAuthn devices.
        DeviceClass::Webauthn => {
            match super::authenticator_webauthn::validation_device_challenge(call, user).await? {
                Some(options) => options,
                None => return Ok(None),
            }
        }
        // Where the code goes; it is sent when the user picks this device.
        DeviceClass::Email => match &device.data {
            crate::model::DeviceData::Email(data) => {
                json!({"email": email_codes::mask(&data.email)})
            }
            _ => return Ok(None),
        },
    };
    Ok(Some(json!({
        "device_class": device.class().as_str(),
        "device_uid": device.id.to_string(),
        "challenge": data,
        "last_used": device.last_used.map(|at| at.to_rfc3339()),
    })))
}

/// A WebAuthn assertion (`webauthn` answer): one of the user's security keys or
/// passkeys. A refused one counts as a failure, as a wrong code does.
async fn answer_webauthn(
    settings: &AuthenticatorValidateStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    user: &User,
    assertion: &Value,
) -> FlowResult<StageStep> {
    use super::authenticator_webauthn::{Assertion, check_assertion};
    let ip = call.request.client.ip.clone();
    let allowed = settings.device_classes.contains(&DeviceClass::Webauthn);
    let outcome = if allowed {
        check_assertion(call, stage, user, assertion).await?
    } else {
        Assertion::Invalid("WebAuthn is not allowed by this stage".into())
    };
    match outcome {
        Assertion::Valid(device) => {
            validated(
                settings,
                stage,
                call,
                user,
                device.id,
                DeviceClass::Webauthn,
            )
            .await?;
            Ok(StageStep::Next)
        }
        Assertion::Invalid(reason) => {
            call.execution.context.mfa_failures += 1;
            let client_ip = ip
                .as_deref()
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
            call.services
                .policies
                .reputation()
                .record_failure(user.username.as_str(), client_ip)?;
            call.services
                .events
                .record(
                    EventAction::MfaFailed,
                    Some(user),
                    ip.as_deref(),
                    json!({"stage": "authenticator_validate", "device_class": "webauthn",
                           "reason": reason, "flow": call.request.slug}),
                )
                .await;
            if call.execution.context.mfa_failures >= FAILURE_LIMIT {
                return Ok(StageStep::Deny(TOO_MANY_FAILURES.into()));
            }
            let devices = allowed_devices(settings, call, user).await?;
            Ok(match validation_challenge(call, user, &devices).await? {
                StageStep::Challenge(retry) => StageStep::Challenge(with_error(
                    retry,
                    "webauthn",
                    super::authenticator_webauthn::NOT_VERIFIED,
                )),
                other => other,
            })
        }
    }
}

async fn answer_code(
    settings: &AuthenticatorValidateStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    user: &User,
    code: &str,
) -> FlowResult<StageStep> {
    let ip = call.request.client.ip.clone();
    let client_ip = ip
        .as_deref()
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
    let reputation = call.services.policies.reputation();
    let username = user.username.as_str();
    // Brute-force protection: a locked-out user or client gets "invalid" whatever it
    // types, and no code is spent.
    let locked_out = reputation.is_locked_out(
        username,
        client_ip,
        crate::policy::reputation::DEFAULT_THRESHOLD,
    );
    let outcome = if locked_out {
        CodeCheck::Invalid
    } else if let Some(device) = email_code_matches(settings, call, user, code).await? {
        CodeCheck::Valid {
            device,
            class: DeviceClass::Email,
        }
    } else {
        check_code(
            &call.services.db,
            &call.services.secret_box,
            call.services.ephemeral.now(),
            user.id,
            code,
            &settings.device_classes,
        )
        .await?
    };
    match outcome {
        CodeCheck::Valid { device, class } => {
            validated(settings, stage, call, user, device, class).await?;
            Ok(StageStep::Next)
        }
        // No typed-code device left (deleted meanwhile): ask again as things are now.
        // With only email devices, a wrong email code lands here too: that is a failure.
        CodeCheck::NoDevices if allowed_devices(settings, call, user).await?.is_empty() => {
            enter(settings, stage, call).await
        }
        CodeCheck::NoDevices | CodeCheck::Invalid => {
            crate::metrics::global().login(&call.request.slug, false, "authenticator_validate");
            call.execution.context.mfa_failures += 1;
            reputation.record_failure(username, client_ip)?;
            let reason = if locked_out {
                "locked out by reputation"
            } else {
                "invalid code"
            };
            call.services
                .events
                .record(
                    EventAction::MfaFailed,
                    Some(user),
                    ip.as_deref(),
                    json!({"stage": "authenticator_validate", "reason": reason,
                           "flow": call.request.slug}),
                )
                .await;
            if call.execution.context.mfa_failures >= FAILURE_LIMIT {
                return Ok(StageStep::Deny(TOO_MANY_FAILURES.into()));
            }
            let devices = allowed_devices(settings, call, user).await?;
            Ok(match validation_challenge(call, user, &devices).await? {
                StageStep::Challenge(retry) => {
                    StageStep::Challenge(with_error(retry, "code", INVALID_TOKEN))
                }
                other => other,
            })
        }
    }
}

/// A device answered: record how the user proved themselves (the session's `methods`,
/// hence OIDC `amr`), the event, and the browser mark for `last_auth_threshold`.
pub async fn validated(
    settings: &AuthenticatorValidateStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    user: &User,
    device: DeviceId,
    class: DeviceClass,
) -> FlowResult<()> {
    let context = &mut call.execution.context;
    if !context
        .methods
        .iter()
        .any(|method| method == class.as_str())
    {
        context.methods.push(class.as_str().to_owned());
    }
    context.mfa_devices.push(device);
    let threshold = parse_timedelta(&settings.last_auth_threshold).unwrap_or(0);
    if threshold > 0 {
        call.services.ephemeral.put(
            REMEMBER_NAMESPACE,
            &remember_key(call, user, stage),
            &device,
            threshold,
        )?;
    }
    call.services
        .events
        .record(
            EventAction::MfaSucceeded,
            Some(user),
            call.request.client.ip.as_deref(),
            json!({"device_class": class.as_str(), "device": device,
                   "flow": call.request.slug}),
        )
        .await;
    Ok(())
}

/// Whether this browser passed this stage for this user within the threshold, with a
/// device the user still has.
fn remembered(
    settings: &AuthenticatorValidateStage,
    stage: StageId,
    call: &StageCall<'_>,
    user: &User,
    devices: &[Device],
) -> FlowResult<bool> {
    if parse_timedelta(&settings.last_auth_threshold).unwrap_or(0) == 0 {
        return Ok(false);
    }
    let device: Option<DeviceId> = call
        .services
        .ephemeral
        .get(REMEMBER_NAMESPACE, &remember_key(call, user, stage))?;
    Ok(device.is_some_and(|id| devices.iter().any(|device| device.id == id)))
}

/// Keyed by the browser's flow key (hashed, as executions are), the user and the stage.
fn remember_key(call: &StageCall<'_>, user: &User, stage: StageId) -> String {
    sha256_hex(format!("{}\0{}\0{stage}", call.request.browser_key, user.id.0).as_bytes())
}

/// The email device whose code this is, if a code was sent in this flow and `code` is
/// it (the code is then spent and the device marked used).
async fn email_code_matches(
    settings: &AuthenticatorValidateStage,
    call: &mut StageCall<'_>,
    user: &User,
    code: &str,
) -> FlowResult<Option<DeviceId>> {
    let Some(sent_to) = call.execution.context.email_code_sent else {
        return Ok(None);
    };
    let devices = allowed_devices(settings, call, user).await?;
    let Some(device) = devices.into_iter().find(|device| device.id == sent_to) else {
        return Ok(None);
    };
    let crate::model::DeviceData::Email(data) = &device.data else {
        return Ok(None);
    };
    if !email_codes::check(&call.services.ephemeral, user.id, &data.email, code)? {
        return Ok(None);
    }
    call.execution.context.email_code_sent = None;
    let now = call.services.ephemeral.now();
    let mut used = device.clone();
    used.last_used = Some(now);
    used.last_updated = now;
    call.services
        .db
        .write(move |tx| tx.update_device(&used))
        .await?;
    Ok(Some(device.id))
}

/// The user picked a device (`selected_challenge`): for an email device, mail a code.
async fn select_challenge(
    settings: &AuthenticatorValidateStage,
    stage: StageId,
    call: &mut StageCall<'_>,
    user: &User,
    selected: &Value,
) -> FlowResult<StageStep> {
    // authentik's clients send the device challenge back; a form sends its uid.
    let uid = match selected {
        Value::String(uid) => uid.clone(),
        other => other
            .get("device_uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    };
    let devices = allowed_devices(settings, call, user).await?;
    let picked = devices
        .iter()
        .find(|device| device.id.to_string() == uid && device.class() == DeviceClass::Email);
    if let Some(device) = picked {
        send_email_code(settings, call, user, device).await?;
    }
    enter(settings, stage, call).await
}

/// Mails a sign-in code to an email device, with the settings of the first email setup
/// stage among `configuration_stages` (else the defaults: ten minutes).
async fn send_email_code(
    settings: &AuthenticatorValidateStage,
    call: &mut StageCall<'_>,
    user: &User,
    device: &Device,
) -> FlowResult<()> {
    let crate::model::DeviceData::Email(data) = &device.data else {
        return Ok(());
    };
    let email_settings = settings
        .configuration_stages
        .iter()
        .find_map(
            |id| match call.catalog.stage(*id).map(|stage| &stage.kind) {
                Some(StageKind::AuthenticatorEmail(email)) => Some(email.clone()),
                _ => None,
            },
        )
        .unwrap_or_default();
    super::authenticator_email::send_code(call, &email_settings, user, &data.email).await?;
    call.execution.context.email_code_sent = Some(device.id);
    Ok(())
}
