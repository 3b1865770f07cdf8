//! The user login stage: turns the pending, proven user into a signed-in session. A new
//! session token is issued on every login (and the previous one revoked), so a token
//! planted before sign-in is worthless after it (session fixation).

use serde_json::json;

use crate::flow::challenge::{StageResponse, challenge, flag};
use crate::flow::{FlowResult, SessionChange};
use crate::model::EventAction;
use crate::model::stage::{UserLoginStage, parse_timedelta};

use super::{StageCall, StageStep};

pub async fn enter(settings: &UserLoginStage, call: &mut StageCall<'_>) -> FlowResult<StageStep> {
    if remember_me_offset(settings) > 0 {
        return Ok(StageStep::Challenge(challenge(
            "ak-stage-user-login",
            json!({}),
        )));
    }
    log_in(settings, call, false).await
}

pub async fn submit(
    settings: &UserLoginStage,
    call: &mut StageCall<'_>,
    response: &StageResponse,
) -> FlowResult<StageStep> {
    log_in(settings, call, flag(response, "remember_me")).await
}

fn remember_me_offset(settings: &UserLoginStage) -> u64 {
    parse_timedelta(&settings.remember_me_offset).unwrap_or(0)
}

async fn log_in(
    settings: &UserLoginStage,
    call: &mut StageCall<'_>,
    remember_me: bool,
) -> FlowResult<StageStep> {
    let Some(user) = call.pending_user().await? else {
        return Ok(StageStep::Deny("No user to sign in.".into()));
    };
    if !user.is_active {
        return Ok(StageStep::Deny("No user to sign in.".into()));
    }
    let duration = parse_timedelta(&settings.session_duration).unwrap_or(0);
    let extra = if remember_me {
        remember_me_offset(settings)
    } else {
        0
    };
    let lifetime = duration.saturating_add(extra);
    let methods = call.execution.context.methods.clone();
    crate::metrics::global().login(&call.request.slug, true, "user_login");
    if let Some(protocol) = call.request.headless {
        // A headless run (an LDAP bind) proves the user to its protocol; no browser
        // session is started, and the record is written after the answer has gone.
        let write = login_record(call, &user, &methods, Some(protocol));
        tokio::spawn(async move {
            if let Err(error) = write.await {
                tracing::warn!(%error, "recording a headless login failed");
            }
        });
        return Ok(StageStep::Next);
    }
    let (token, _) = call.services.sessions.create(
        user.id,
        &call.request.client,
        (lifetime > 0).then_some(lifetime),
        methods.clone(),
    )?;
    if let Some(previous) = &call.request.session {
        call.services.sessions.revoke_digest(&previous.digest)?;
    }
    login_record(call, &user, &methods, None).await?;
    *call.session_change = SessionChange::Started {
        token,
        max_age_secs: (lifetime > 0).then_some(lifetime),
    };
    Ok(StageStep::Next)
}

/// Writes the user's last login and the `login` event (authentik's context: the method,
/// the flow, the second factors used, and the protocol of a headless run).
fn login_record(
    call: &StageCall<'_>,
    user: &crate::model::User,
    methods: &[String],
    protocol: Option<&str>,
) -> impl std::future::Future<Output = FlowResult<()>> + Send + 'static {
    let now = call.services.ephemeral.now();
    let user_id = user.id;
    let auth_method = methods.first().map(String::as_str).unwrap_or("flow");
    let mut context = serde_json::Map::new();
    context.insert("auth_method".into(), json!(auth_method));
    context.insert("flow".into(), json!(call.request.slug));
    if let Some(protocol) = protocol {
        context.insert("protocol".into(), json!(protocol));
    }
    let mfa_devices = &call.execution.context.mfa_devices;
    if !mfa_devices.is_empty() {
        // authentik's shape: the second factors used go under `auth_method_args`.
        context.insert(
            "auth_method_args".into(),
            json!({"mfa_devices": mfa_devices}),
        );
    }
    let event = call.services.events.prepare(
        EventAction::Login,
        Some(user),
        call.request.client.ip.as_deref(),
        serde_json::Value::Object(context),
    );
    let db = call.services.db.clone();
    async move {
        db.write(move |tx| {
            tx.set_last_login(user_id, now)?;
            tx.insert_event(&event)
        })
        .await?;
        Ok(())
    }
}
