//! The password stage, and the one password check every stage uses. Unknown users,
//! wrong passwords, inactive accounts and service accounts all fail the same way and
//! take the same time (one argon2 verify each); the audit log keeps the difference.

use serde_json::json;

use crate::flow::FlowResult;
use crate::flow::challenge::{StageResponse, challenge, text, with_error};
use crate::flow::execution::PendingUser;
use crate::model::stage::PasswordStage;
use crate::model::{EventAction, User};

use super::{StageCall, StageStep};

pub const INVALID_PASSWORD: &str = "Invalid password";

pub async fn enter(call: &mut StageCall<'_>) -> FlowResult<StageStep> {
    Ok(StageStep::Challenge(password_challenge(call).await?))
}

pub async fn submit(
    settings: &PasswordStage,
    call: &mut StageCall<'_>,
    response: &StageResponse,
) -> FlowResult<StageStep> {
    let password = text(response, "password").unwrap_or_default();
    if check_password(call, password).await? {
        return Ok(StageStep::Next);
    }
    if too_many_failures(settings, call) {
        return Ok(StageStep::Deny(
            "Too many failed attempts. Please start again.".into(),
        ));
    }
    let challenge = password_challenge(call).await?;
    Ok(StageStep::Challenge(with_error(
        challenge,
        "password",
        INVALID_PASSWORD,
    )))
}

pub fn too_many_failures(settings: &PasswordStage, call: &StageCall<'_>) -> bool {
    let limit = settings.failed_attempts_before_cancel;
    limit > 0 && call.execution.context.password_failures >= limit
}

async fn password_challenge(call: &StageCall<'_>) -> FlowResult<serde_json::Value> {
    let shown_name = match &call.execution.context.pending_user {
        Some(PendingUser::Pretend(typed)) => typed.clone(),
        Some(PendingUser::Known(_)) => call
            .pending_user()
            .await?
            .map(|user| user.username.as_str().to_owned())
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(challenge(
        "ak-stage-password",
        json!({
            "pending_user": shown_name,
            "pending_user_avatar": "",
            "recovery_url": null,
            "allow_show_password": false,
        }),
    ))
}

/// Verifies `password` for the pending user, records the outcome as an event, counts the
/// failure, and upgrades an outdated hash on success.
pub async fn check_password(call: &mut StageCall<'_>, password: &str) -> FlowResult<bool> {
    let user = call.pending_user().await?;
    let attempted = match (&call.execution.context.pending_user, &user) {
        (_, Some(user)) => user.username.as_str().to_owned(),
        (Some(PendingUser::Pretend(typed)), None) => typed.clone(),
        _ => String::new(),
    };
    let usable = user
        .as_ref()
        .filter(|user| user.is_active && user.user_type.can_sign_in_interactively());
    let ip = call.request.client.ip.clone();
    let client_ip = ip
        .as_deref()
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
    // Brute-force protection: a client or account with a bad reputation (repeated
    // failures, from web, API or later LDAP) gets the wrong-password answer whatever it
    // types, after the same argon2 work, until the score decays.
    let reputation = call.services.policies.reputation();
    let locked_out = reputation.is_locked_out(
        &attempted,
        client_ip,
        crate::policy::reputation::DEFAULT_THRESHOLD,
    );
    let hash = usable
        .and_then(|user| user.password_hash.clone())
        .filter(|_| !locked_out);
    let matched = !password.is_empty()
        && call
            .services
            .hasher
            .verify(password.to_owned(), hash.clone())
            .await;
    if !matched {
        crate::metrics::global().login(&call.request.slug, false, "password");
        call.execution.context.password_failures += 1;
        reputation.record_failure(&attempted, client_ip)?;
        let reason = if locked_out {
            "locked out by reputation"
        } else {
            failure_reason(user.as_ref(), hash.is_some())
        };
        call.services
            .events
            .record(
                EventAction::LoginFailed,
                user.as_ref(),
                ip.as_deref(),
                json!({"username": attempted, "stage": "password", "reason": reason}),
            )
            .await;
        return Ok(false);
    }
    reputation.record_success(&attempted, client_ip)?;
    call.execution.context.methods.push("password".into());
    if let (Some(user), Some(hash)) = (usable, hash) {
        rehash_if_outdated(call, user, password, &hash).await?;
    }
    Ok(true)
}

fn failure_reason(user: Option<&User>, had_hash: bool) -> &'static str {
    match user {
        None => "unknown user",
        Some(user) if !user.is_active => "inactive user",
        Some(user) if !user.user_type.can_sign_in_interactively() => "service account",
        Some(_) if !had_hash => "no usable password",
        Some(_) => "wrong password",
    }
}

async fn rehash_if_outdated(
    call: &StageCall<'_>,
    user: &User,
    password: &str,
    hash: &str,
) -> FlowResult<()> {
    if !call.services.hasher.needs_rehash(hash) {
        return Ok(());
    }
    let fresh = call.services.hasher.hash(password.to_owned()).await?;
    let id = user.id;
    let changed = user
        .password_changed
        .unwrap_or(call.services.ephemeral.now());
    call.services
        .db
        .write(move |tx| tx.set_password_hash(id, Some(&fresh), changed))
        .await?;
    Ok(())
}
