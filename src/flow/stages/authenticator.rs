//! What the authenticator stages share: the user a device is for, the pending-user
//! fields of their challenges, typed codes, and the secret a setup stage keeps in the
//! flow context (sealed) between showing it and its confirmation.

use serde_json::{Value, json};

use crate::flow::FlowResult;
use crate::flow::challenge::StageResponse;
use crate::flow::execution::MfaSetup;
use crate::model::{Device, DeviceData, DeviceId, EventAction, StageId, User};

use super::StageCall;

/// authentik's answer when a setup or validation stage runs without a known user.
pub const NO_PENDING_USER: &str = "No pending user.";

/// The user a device is enrolled for or validated against: the flow's pending user when
/// it is a real, active account (the signed-in user in settings flows).
pub async fn device_user(call: &StageCall<'_>) -> FlowResult<Option<User>> {
    Ok(call.pending_user().await?.filter(|user| user.is_active))
}

/// The `pending_user` / `pending_user_avatar` fields every authenticator challenge has.
pub fn pending_fields(user: &User) -> serde_json::Map<String, Value> {
    let mut fields = serde_json::Map::new();
    fields.insert("pending_user".into(), json!(user.username.as_str()));
    fields.insert("pending_user_avatar".into(), json!(""));
    fields
}

/// A typed code: authentik's clients send the TOTP code as a JSON number, forms and
/// recovery codes as a string.
pub fn code_answer(response: &StageResponse) -> Option<String> {
    match response.get("code")? {
        Value::String(text) => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
    .filter(|code| !code.is_empty())
}

/// The name authenticator apps show for this installation: the brand's title.
pub fn issuer(call: &StageCall<'_>) -> String {
    let host = url::Url::parse(&call.request.base_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    call.catalog
        .brand_for_host(&host)
        .map(|brand| brand.branding_title.trim().to_owned())
        .filter(|title| !title.is_empty())
        .unwrap_or_else(|| "gatehouse".to_owned())
}

/// The secret this stage generated earlier in the flow, if any.
pub fn pending_secret(call: &StageCall<'_>, stage: StageId) -> Option<String> {
    let setup = call.execution.context.mfa_setup.as_ref()?;
    if setup.stage != stage {
        return None;
    }
    call.services.secret_box.open(&setup.sealed)
}

/// The secret this stage showed, or a new one from `generate` kept for the answer.
pub fn pending_or_new(
    call: &mut StageCall<'_>,
    stage: StageId,
    generate: impl FnOnce() -> String,
) -> String {
    if let Some(secret) = pending_secret(call, stage) {
        return secret;
    }
    let secret = generate();
    call.execution.context.mfa_setup = Some(MfaSetup {
        stage,
        sealed: call.services.secret_box.seal(&secret),
    });
    secret
}

/// Stores a confirmed device with its `device_added` event in one transaction, first
/// deleting `replaced` (a new set of recovery codes retires the old one).
pub async fn add_device(
    call: &mut StageCall<'_>,
    user: &User,
    name: String,
    data: DeviceData,
    replaced: Vec<DeviceId>,
) -> FlowResult<DeviceId> {
    let now = call.services.ephemeral.now();
    let class = data.class();
    let device = Device {
        id: DeviceId(0),
        user: user.id,
        name: name.clone(),
        confirmed: true,
        created: now,
        last_updated: now,
        last_used: None,
        data,
    };
    let event = call.services.events.prepare(
        EventAction::DeviceAdded,
        Some(user),
        call.request.client.ip.as_deref(),
        json!({"device_class": class.as_str(), "name": name, "flow": call.request.slug,
               "replaced": replaced.len()}),
    );
    let id = call
        .services
        .db
        .write(move |tx| {
            for old in &replaced {
                tx.delete_device(*old)?;
            }
            let id = tx.insert_device(&device)?;
            tx.insert_event(&event)?;
            Ok(id)
        })
        .await?;
    call.execution.context.mfa_setup = None;
    Ok(id)
}
