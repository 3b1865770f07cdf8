//! The consent stage: the user agrees that an application receives their data, once
//! (always require), for good (permanent) or for a while (expiring). The application and
//! the permissions it asks for come from the flow context (`application`), which the
//! protocol that started the flow fills in; without one there is nothing to agree to.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::flow::FlowResult;
use crate::flow::challenge::{StageResponse, challenge, with_error};
use crate::model::stage::{ConsentMode, ConsentStage, parse_timedelta};
use crate::model::{Consent, EventAction};

use super::{StageCall, StageStep};

/// What the protocol put in the flow context about the application.
#[derive(Debug, Clone, Deserialize)]
struct AppRequest {
    pk: uuid::Uuid,
    name: String,
    #[serde(default)]
    permissions: Vec<String>,
    /// The protocol asks for consent even if it was remembered (OIDC `prompt=consent`).
    #[serde(default)]
    force: bool,
}

fn app_request(call: &StageCall<'_>) -> Option<AppRequest> {
    let value = call
        .execution
        .context
        .prompt_data
        .get("application")?
        .clone();
    serde_json::from_value(value).ok()
}

pub async fn enter(settings: &ConsentStage, call: &mut StageCall<'_>) -> FlowResult<StageStep> {
    let (Some(app), Some(user)) = (app_request(call), call.pending_user().await?) else {
        return Ok(StageStep::Next);
    };
    if settings.mode != ConsentMode::AlwaysRequire && !app.force {
        let (user_id, app_id) = (user.id, app.pk);
        let now = call.services.ephemeral.now();
        let remembered = call
            .services
            .db
            .read(move |tx| tx.consent(user_id, app_id))
            .await?;
        let covers = remembered.is_some_and(|consent| {
            consent.expires.is_none_or(|at| at > now)
                && app
                    .permissions
                    .iter()
                    .all(|p| consent.permissions.contains(p))
        });
        if covers {
            return Ok(StageStep::Next);
        }
    }
    let token = crate::crypto::random_token(16);
    call.execution
        .context
        .prompt_data
        .insert(TOKEN_KEY.into(), Value::String(token.clone()));
    Ok(StageStep::Challenge(consent_challenge(
        &app,
        &token,
        user.username.as_str(),
    )))
}

/// Where the challenge's token waits for the answer. The answer must echo it (as
/// authentik's consent stage asks), so a consent can only answer the page that showed
/// this application and these permissions.
const TOKEN_KEY: &str = "consent_token";

/// authentik's consent challenge; `pending_user` names who is agreeing (its clients
/// require the field).
fn consent_challenge(app: &AppRequest, token: &str, username: &str) -> Value {
    let permissions: Vec<Value> = app
        .permissions
        .iter()
        .map(|name| json!({"id": name, "name": describe(name)}))
        .collect();
    challenge(
        "ak-stage-consent",
        json!({
            "header_text": format!("{} wants to access your account", app.name),
            "permissions": permissions,
            "additional_permissions": [],
            "token": token,
            "pending_user": username,
            "pending_user_avatar": "",
        }),
    )
}

/// Plain words for the scopes users meet most.
fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are".into(),
        "email" => "Read your email address".into(),
        "profile" => "Read your name and username".into(),
        "offline_access" => "Stay connected while you are away".into(),
        "groups" => "Read your group memberships".into(),
        other => other.to_owned(),
    }
}

pub async fn submit(
    settings: &ConsentStage,
    call: &mut StageCall<'_>,
    response: &StageResponse,
) -> FlowResult<StageStep> {
    let (Some(app), Some(user)) = (app_request(call), call.pending_user().await?) else {
        return Ok(StageStep::Next);
    };
    let expected = call
        .execution
        .context
        .prompt_data
        .get(TOKEN_KEY)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let presented = response
        .get("token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let answers_this_page = !expected.is_empty()
        && crate::crypto::constant_time_eq(presented.as_bytes(), expected.as_bytes());
    if !answers_this_page {
        let retry = with_error(
            consent_challenge(&app, &expected, user.username.as_str()),
            "non_field_errors",
            "Please confirm to continue.",
        );
        return Ok(StageStep::Challenge(retry));
    }
    call.execution.context.prompt_data.remove(TOKEN_KEY);
    let now = call.services.ephemeral.now();
    let expires = match settings.mode {
        ConsentMode::AlwaysRequire => None,
        ConsentMode::Permanent => None,
        ConsentMode::Expiring => {
            Some(now.plus_secs(parse_timedelta(&settings.consent_expire_in).unwrap_or(2_419_200)))
        }
    };
    let remembered = settings.mode != ConsentMode::AlwaysRequire;
    let consent = remembered.then(|| Consent {
        id: uuid::Uuid::new_v4(),
        user: user.id,
        application: app.pk,
        permissions: app.permissions.clone(),
        expires,
    });
    let event = call.services.events.prepare(
        EventAction::ConsentGiven,
        Some(&user),
        call.request.client.ip.as_deref(),
        json!({
            "application": app.name,
            "permissions": app.permissions,
            "remembered": remembered,
            "expires": expires.map(|at| at.to_rfc3339()),
        }),
    );
    call.services
        .db
        .write(move |tx| {
            if let Some(consent) = &consent {
                tx.upsert_consent(consent)?;
            }
            tx.insert_event(&event)
        })
        .await?;
    Ok(StageStep::Next)
}
