//! The recovery-codes setup stage: generates a set of single-use codes, shows them once
//! (the same set again if the page is reloaded) and, on any answer, keeps their hashes
//! as the user's static device, replacing an earlier set.

use serde_json::{Value, json};

use crate::flow::FlowResult;
use crate::mfa::static_codes;
use crate::model::stage::AuthenticatorStaticStage;
use crate::model::{DeviceClass, DeviceData, StageId, User};
use crate::store::DeviceFilter;

use super::authenticator::{
    NO_PENDING_USER, add_device, device_user, pending_fields, pending_or_new, pending_secret,
};
use super::{StageCall, StageStep};

pub const DEFAULT_NAME: &str = "Recovery codes";

pub async fn enter(
    settings: &AuthenticatorStaticStage,
    stage: StageId,
    call: &mut StageCall<'_>,
) -> FlowResult<StageStep> {
    let Some(user) = device_user(call).await? else {
        return Ok(StageStep::Deny(NO_PENDING_USER.into()));
    };
    let (count, length) = (settings.token_count, settings.token_length);
    let joined = pending_or_new(call, stage, || {
        let (codes, _) = static_codes::generate(count as usize, length as usize);
        codes.join(" ")
    });
    Ok(StageStep::Challenge(codes_challenge(&user, &joined)))
}

/// Any answer confirms: the user saw the codes.
pub async fn submit(
    settings: &AuthenticatorStaticStage,
    stage: StageId,
    call: &mut StageCall<'_>,
) -> FlowResult<StageStep> {
    let (Some(user), Some(joined)) = (device_user(call).await?, pending_secret(call, stage)) else {
        return enter(settings, stage, call).await;
    };
    let codes: Vec<&str> = joined.split_whitespace().collect();
    let data = static_codes::hashes(&codes);
    let user_id = user.id;
    let replaced = call
        .services
        .db
        .read(move |tx| {
            tx.devices(DeviceFilter {
                user: Some(user_id),
                class: Some(DeviceClass::Static),
                ..DeviceFilter::default()
            })
        })
        .await?
        .into_iter()
        .map(|device| device.id)
        .collect();
    let name = settings
        .friendly_name
        .clone()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_NAME.to_owned());
    add_device(call, &user, name, DeviceData::Static(data), replaced).await?;
    Ok(StageStep::Next)
}

/// authentik's `AuthenticatorStaticChallenge`.
fn codes_challenge(user: &User, joined: &str) -> Value {
    let mut fields = pending_fields(user);
    let codes: Vec<&str> = joined.split_whitespace().collect();
    fields.insert("codes".into(), json!(codes));
    crate::flow::challenge::challenge("ak-stage-authenticator-static", Value::Object(fields))
}
