//! The stage kinds the API serves, one row each: where the kind lives under
//! `/api/v3/stages/`, its tag in `StageKind`, and authentik's names for it. Also the
//! generic body handling every kind shares: settings are the serde form of the kind's
//! struct, laid over a base (defaults to create or replace, current values to patch).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::StageKind;
use crate::model::stage::{
    AuthenticatorEmailStage, AuthenticatorStaticStage, AuthenticatorTotpStage,
    AuthenticatorValidateStage, AuthenticatorWebauthnStage, ConsentStage, DenyStage, EmailStage,
    IdentificationStage, InvitationStage, PasswordStage, PromptStage, RedirectStage,
    UserDeleteStage, UserLoginStage, UserLogoutStage, UserWriteStage,
};

use super::super::super::error::ApiError;

pub struct KindRoute {
    /// The path under `/api/v3/stages/`, as authentik names it.
    pub segment: &'static str,
    /// The `kind` tag of `StageKind`'s serde form.
    pub tag: &'static str,
    /// authentik's model name (lowercase), for `meta_model_name`.
    pub model: &'static str,
    /// authentik's serializer name, used for the OpenAPI schemas.
    pub schema_name: &'static str,
    pub verbose_name: &'static str,
    pub default: fn() -> StageKind,
}

impl KindRoute {
    /// authentik's `app_label.model`; the app label is the kind's tag, as authentik's
    /// stage apps are named (`authentik_stages_user_write.userwritestage`).
    pub fn meta_model_name(&self) -> String {
        format!("authentik_stages_{}.{}", self.tag, self.model)
    }

    pub fn default_settings(&self) -> Map<String, Value> {
        settings_of(&(self.default)())
    }
}

const IDENTIFICATION: KindRoute = KindRoute {
    segment: "identification",
    tag: "identification",
    model: "identificationstage",
    schema_name: "IdentificationStage",
    verbose_name: "Identification Stage",
    default: || StageKind::Identification(IdentificationStage::default()),
};
const PASSWORD: KindRoute = KindRoute {
    segment: "password",
    tag: "password",
    model: "passwordstage",
    schema_name: "PasswordStage",
    verbose_name: "Password Stage",
    default: || StageKind::Password(PasswordStage::default()),
};
const PROMPT: KindRoute = KindRoute {
    segment: "prompt/stages",
    tag: "prompt",
    model: "promptstage",
    schema_name: "PromptStage",
    verbose_name: "Prompt Stage",
    default: || StageKind::Prompt(PromptStage::default()),
};
const USER_WRITE: KindRoute = KindRoute {
    segment: "user_write",
    tag: "user_write",
    model: "userwritestage",
    schema_name: "UserWriteStage",
    verbose_name: "User Write Stage",
    default: || StageKind::UserWrite(UserWriteStage::default()),
};
const USER_LOGIN: KindRoute = KindRoute {
    segment: "user_login",
    tag: "user_login",
    model: "userloginstage",
    schema_name: "UserLoginStage",
    verbose_name: "User Login Stage",
    default: || StageKind::UserLogin(UserLoginStage::default()),
};
const USER_LOGOUT: KindRoute = KindRoute {
    segment: "user_logout",
    tag: "user_logout",
    model: "userlogoutstage",
    schema_name: "UserLogoutStage",
    verbose_name: "User Logout Stage",
    default: || StageKind::UserLogout(UserLogoutStage::default()),
};
const USER_DELETE: KindRoute = KindRoute {
    segment: "user_delete",
    tag: "user_delete",
    model: "userdeletestage",
    schema_name: "UserDeleteStage",
    verbose_name: "User Delete Stage",
    default: || StageKind::UserDelete(UserDeleteStage::default()),
};
const DENY: KindRoute = KindRoute {
    segment: "deny",
    tag: "deny",
    model: "denystage",
    schema_name: "DenyStage",
    verbose_name: "Deny Stage",
    default: || StageKind::Deny(DenyStage::default()),
};
const REDIRECT: KindRoute = KindRoute {
    segment: "redirect",
    tag: "redirect",
    model: "redirectstage",
    schema_name: "RedirectStage",
    verbose_name: "Redirect Stage",
    default: || StageKind::Redirect(RedirectStage::default()),
};
const EMAIL: KindRoute = KindRoute {
    segment: "email",
    tag: "email",
    model: "emailstage",
    schema_name: "EmailStage",
    verbose_name: "Email Stage",
    default: || StageKind::Email(EmailStage::default()),
};
const INVITATION: KindRoute = KindRoute {
    segment: "invitation/stages",
    tag: "invitation",
    model: "invitationstage",
    schema_name: "InvitationStage",
    verbose_name: "Invitation Stage",
    default: || StageKind::Invitation(InvitationStage::default()),
};
const CONSENT: KindRoute = KindRoute {
    segment: "consent",
    tag: "consent",
    model: "consentstage",
    schema_name: "ConsentStage",
    verbose_name: "User Consent Stage",
    default: || StageKind::Consent(ConsentStage::default()),
};

const AUTHENTICATOR_TOTP: KindRoute = KindRoute {
    segment: "authenticator/totp",
    tag: "authenticator_totp",
    model: "authenticatortotpstage",
    schema_name: "AuthenticatorTOTPStage",
    verbose_name: "TOTP Authenticator Setup Stage",
    default: || StageKind::AuthenticatorTotp(AuthenticatorTotpStage::default()),
};
const AUTHENTICATOR_STATIC: KindRoute = KindRoute {
    segment: "authenticator/static",
    tag: "authenticator_static",
    model: "authenticatorstaticstage",
    schema_name: "AuthenticatorStaticStage",
    verbose_name: "Static Authenticator Setup Stage",
    default: || StageKind::AuthenticatorStatic(AuthenticatorStaticStage::default()),
};
const AUTHENTICATOR_VALIDATE: KindRoute = KindRoute {
    segment: "authenticator/validate",
    tag: "authenticator_validate",
    model: "authenticatorvalidatestage",
    schema_name: "AuthenticatorValidateStage",
    verbose_name: "Authenticator Validation Stage",
    default: || StageKind::AuthenticatorValidate(AuthenticatorValidateStage::default()),
};
const AUTHENTICATOR_WEBAUTHN: KindRoute = KindRoute {
    segment: "authenticator/webauthn",
    tag: "authenticator_webauthn",
    model: "authenticatorwebauthnstage",
    schema_name: "AuthenticatorWebAuthnStage",
    verbose_name: "WebAuthn Authenticator Setup Stage",
    default: || StageKind::AuthenticatorWebauthn(AuthenticatorWebauthnStage::default()),
};
const AUTHENTICATOR_EMAIL: KindRoute = KindRoute {
    segment: "authenticator/email",
    tag: "authenticator_email",
    model: "authenticatoremailstage",
    schema_name: "AuthenticatorEmailStage",
    verbose_name: "Email Authenticator Setup Stage",
    default: || StageKind::AuthenticatorEmail(AuthenticatorEmailStage::default()),
};

pub const KINDS: &[&KindRoute] = &[
    &IDENTIFICATION,
    &PASSWORD,
    &PROMPT,
    &USER_WRITE,
    &USER_LOGIN,
    &USER_LOGOUT,
    &USER_DELETE,
    &DENY,
    &REDIRECT,
    &EMAIL,
    &INVITATION,
    &CONSENT,
    &AUTHENTICATOR_TOTP,
    &AUTHENTICATOR_STATIC,
    &AUTHENTICATOR_VALIDATE,
    &AUTHENTICATOR_WEBAUTHN,
    &AUTHENTICATOR_EMAIL,
];

/// The row of a stored stage. Exhaustive, so a new kind does not compile until it has
/// a row (and with it, endpoints).
pub fn route_of(kind: &StageKind) -> &'static KindRoute {
    match kind {
        StageKind::Identification(_) => &IDENTIFICATION,
        StageKind::Password(_) => &PASSWORD,
        StageKind::Prompt(_) => &PROMPT,
        StageKind::UserWrite(_) => &USER_WRITE,
        StageKind::UserLogin(_) => &USER_LOGIN,
        StageKind::UserLogout(_) => &USER_LOGOUT,
        StageKind::UserDelete(_) => &USER_DELETE,
        StageKind::Deny(_) => &DENY,
        StageKind::Redirect(_) => &REDIRECT,
        StageKind::Email(_) => &EMAIL,
        StageKind::Invitation(_) => &INVITATION,
        StageKind::Consent(_) => &CONSENT,
        StageKind::AuthenticatorTotp(_) => &AUTHENTICATOR_TOTP,
        StageKind::AuthenticatorStatic(_) => &AUTHENTICATOR_STATIC,
        StageKind::AuthenticatorValidate(_) => &AUTHENTICATOR_VALIDATE,
        StageKind::AuthenticatorWebauthn(_) => &AUTHENTICATOR_WEBAUTHN,
        StageKind::AuthenticatorEmail(_) => &AUTHENTICATOR_EMAIL,
    }
}

/// The kind's settings as the API shows them: its serde form without the tag.
pub fn settings_of(kind: &StageKind) -> Map<String, Value> {
    let mut settings = match serde_json::to_value(kind) {
        Ok(Value::Object(map)) => map,
        // A tagged enum of plain structs always serializes to an object.
        _ => Map::new(),
    };
    settings.remove("kind");
    settings
}

/// Lays `changes` over `base` and hands the result to `build`. Keys `base` lacks are
/// refused, each named: the settings structs take defaults for missing keys, so without
/// this a typo would silently leave a setting at its default. When the result does not
/// build, each changed key is tried alone over `base` so the error names the culprits,
/// as Django REST framework's field errors do.
pub fn overlay<T>(
    base: &Map<String, Value>,
    changes: Map<String, Value>,
    build: impl Fn(Map<String, Value>) -> serde_json::Result<T>,
) -> Result<T, ApiError> {
    let unknown: BTreeMap<String, Vec<String>> = changes
        .keys()
        .filter(|key| !base.contains_key(key.as_str()))
        .map(|key| (key.clone(), vec!["Unknown field.".to_owned()]))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::Invalid(unknown));
    }
    let mut merged = base.clone();
    merged.extend(changes.clone());
    let whole = match build(merged) {
        Ok(built) => return Ok(built),
        Err(error) => error,
    };
    let mut errors = BTreeMap::new();
    for (key, value) in changes {
        let mut alone = base.clone();
        alone.insert(key.clone(), value);
        if let Err(error) = build(alone) {
            errors.insert(key, vec![error.to_string()]);
        }
    }
    if errors.is_empty() {
        errors.insert("non_field_errors".to_owned(), vec![whole.to_string()]);
    }
    Err(ApiError::Invalid(errors))
}

/// The kind's settings from `changes` over `base`, refusing keys the kind does not have.
pub fn kind_from(
    route: &KindRoute,
    base: &Map<String, Value>,
    changes: Map<String, Value>,
) -> Result<StageKind, ApiError> {
    overlay(base, changes, |mut settings| {
        settings.insert("kind".into(), Value::String(route.tag.to_owned()));
        serde_json::from_value(Value::Object(settings))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_row_builds_its_own_kind_and_is_found_again() {
        for route in KINDS {
            let kind = (route.default)();
            assert_eq!(route_of(&kind).tag, route.tag);
            let built = kind_from(route, &route.default_settings(), Map::new()).unwrap();
            assert_eq!(built, kind, "{}", route.tag);
        }
    }

    #[test]
    fn unknown_and_mistyped_keys_are_named() {
        let base = IDENTIFICATION.default_settings();
        let Value::Object(typo) = json!({"user_feilds": ["username"], "kind": "password"}) else {
            panic!()
        };
        let Err(ApiError::Invalid(errors)) = kind_from(&IDENTIFICATION, &base, typo) else {
            panic!("typo accepted")
        };
        assert!(errors.contains_key("user_feilds") && errors.contains_key("kind"));

        let Value::Object(wrong) =
            json!({"pretend_user_exists": "yes", "case_insensitive_matching": false})
        else {
            panic!()
        };
        let Err(ApiError::Invalid(errors)) = kind_from(&IDENTIFICATION, &base, wrong) else {
            panic!("wrong type accepted")
        };
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            vec!["pretend_user_exists"]
        );
    }
}
