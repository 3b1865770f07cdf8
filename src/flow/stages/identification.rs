//! The identification stage: who is signing in, by username or email, matched without
//! regard to case. With `pretend_user_exists` an unknown name moves on like a real one,
//! so the next step cannot be used to find out which accounts exist.

use serde_json::json;

use crate::flow::FlowResult;
use crate::flow::challenge::{StageResponse, challenge, text, with_error};
use crate::flow::execution::PendingUser;
use crate::model::User;
use crate::model::stage::{IdentificationStage, PasswordStage, StageKind, UserField};

use super::authenticator_webauthn::{NOT_VERIFIED, offer_passkey_sign_in, passkey_sign_in};
use super::password::{INVALID_PASSWORD, check_password, too_many_failures};
use super::{StageCall, StageStep};

const FAILED: &str = "Failed to authenticate.";

pub async fn enter(
    settings: &IdentificationStage,
    call: &mut StageCall<'_>,
) -> FlowResult<StageStep> {
    let page = identification_challenge(settings);
    Ok(StageStep::Challenge(offer_passkey_sign_in(call, page)))
}

fn identification_challenge(settings: &IdentificationStage) -> serde_json::Value {
    let fields: Vec<&str> = settings
        .user_fields
        .iter()
        .map(|field| match field {
            UserField::Username => "username",
            UserField::Email => "email",
        })
        .collect();
    let flow_url = |slug: &Option<String>| slug.as_ref().map(|slug| format!("/if/flow/{slug}/"));
    challenge(
        "ak-stage-identification",
        json!({
            "user_fields": fields,
            "password_fields": settings.password_stage.is_some(),
            "allow_show_password": false,
            "application_pre": null,
            "enroll_url": flow_url(&settings.enrollment_flow),
            "recovery_url": flow_url(&settings.recovery_flow),
            "passwordless_url": null,
            "primary_action": "Log in",
            "sources": [],
            "show_source_labels": false,
        }),
    )
}

pub async fn submit(
    settings: &IdentificationStage,
    call: &mut StageCall<'_>,
    response: &StageResponse,
) -> FlowResult<StageStep> {
    if let Some(assertion) = response.get("webauthn") {
        // "Sign in with a passkey" (or the browser's autofill): no username typed.
        if passkey_sign_in(call, assertion).await?.is_some() {
            return Ok(StageStep::Next);
        }
        let retry = offer_passkey_sign_in(call, identification_challenge(settings));
        return Ok(StageStep::Challenge(with_error(
            retry,
            "webauthn",
            NOT_VERIFIED,
        )));
    }
    let uid = text(response, "uid_field")
        .unwrap_or_default()
        .trim()
        .to_owned();
    if uid.is_empty() || uid.len() > 254 {
        let retry = with_error(
            identification_challenge(settings),
            "uid_field",
            "This field is required.",
        );
        return Ok(StageStep::Challenge(retry));
    }
    let user = find_user(settings, call, &uid).await?;
    call.execution.context.pending_user = match (&user, settings.pretend_user_exists) {
        (Some(user), _) => Some(PendingUser::Known(user.id)),
        (None, true) => Some(PendingUser::Pretend(uid.clone())),
        (None, false) => None,
    };
    let Some(password_stage) = settings.password_stage else {
        if call.execution.context.pending_user.is_none() {
            let retry = with_error(
                identification_challenge(settings),
                "non_field_errors",
                FAILED,
            );
            return Ok(StageStep::Challenge(retry));
        }
        return Ok(StageStep::Next);
    };
    if call.execution.context.pending_user.is_none() {
        call.execution.context.pending_user = Some(PendingUser::Pretend(uid));
    }
    let password = text(response, "password").unwrap_or_default();
    if check_password(call, password).await? {
        // The password step was done here; skip the password stage if it follows.
        skip_bound_password_stage(call, password_stage);
        return Ok(StageStep::Next);
    }
    let limits = match call.catalog.stage(password_stage).map(|s| &s.kind) {
        Some(StageKind::Password(limits)) => limits.clone(),
        _ => PasswordStage::default(),
    };
    if too_many_failures(&limits, call) {
        return Ok(StageStep::Deny(
            "Too many failed attempts. Please start again.".into(),
        ));
    }
    let retry = with_error(
        identification_challenge(settings),
        "password",
        INVALID_PASSWORD,
    );
    Ok(StageStep::Challenge(retry))
}

async fn find_user(
    settings: &IdentificationStage,
    call: &StageCall<'_>,
    uid: &str,
) -> FlowResult<Option<User>> {
    let fields = settings.user_fields.clone();
    let exact = !settings.case_insensitive_matching;
    let uid = uid.to_owned();
    Ok(call
        .services
        .db
        .read(move |tx| {
            for field in fields {
                // The store matches without regard to case; a stage set to match
                // exactly drops a match that differs in case.
                let found = match field {
                    UserField::Username => tx
                        .user_by_username(&uid)?
                        .filter(|user| !exact || user.username.as_str() == uid),
                    UserField::Email if uid.contains('@') => tx
                        .user_by_email(&uid)?
                        .filter(|user| !exact || user.email == uid),
                    UserField::Email => None,
                };
                if found.is_some() {
                    return Ok(found);
                }
            }
            Ok(None)
        })
        .await?)
}

fn skip_bound_password_stage(call: &mut StageCall<'_>, password_stage: crate::model::StageId) {
    let next = call.execution.position + 1;
    if call.execution.plan.get(next) == Some(&password_stage) {
        call.execution.plan.remove(next);
    }
}
