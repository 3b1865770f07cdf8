//! What serde cannot check about a stage's settings: references to other configuration
//! (stages, flows, policies, groups) and values with a grammar (durations). Flow
//! references are kept as slugs, as the flow engine reads them; a flow pk is accepted
//! too, as authentik's clients send one, and stored as that flow's slug.

use std::collections::{BTreeMap, HashSet};

use uuid::Uuid;

use crate::model::StageKind;
use crate::model::stage::{
    AuthenticatorValidateStage, IdentificationStage, PromptFieldType, PromptStage, RedirectMode,
    RedirectStage, parse_timedelta,
};
use crate::store::Catalog;

use super::super::super::error::ApiError;
use super::super::super::state::AppState;

type Errors = BTreeMap<String, Vec<String>>;

fn add(errors: &mut Errors, field: &str, message: impl Into<String>) {
    errors
        .entry(field.to_owned())
        .or_default()
        .push(message.into());
}

/// Checks (and normalises flow references in) `kind`; every problem is reported at once.
pub async fn validate(state: &AppState, kind: &mut StageKind) -> Result<(), ApiError> {
    let catalog = state.catalog.load();
    let mut errors = Errors::new();
    match kind {
        StageKind::Identification(settings) => identification(&catalog, settings, &mut errors),
        StageKind::Prompt(settings) => prompt(&catalog, settings, &mut errors),
        StageKind::Redirect(settings) => redirect(&catalog, settings, &mut errors),
        StageKind::UserLogin(settings) => {
            duration(&settings.session_duration, "session_duration", &mut errors);
            duration(
                &settings.remember_me_offset,
                "remember_me_offset",
                &mut errors,
            );
        }
        StageKind::Email(settings) => {
            if duration(&settings.token_expiry, "token_expiry", &mut errors) == Some(0) {
                add(&mut errors, "token_expiry", "A link must last some time.");
            }
            if settings.template.trim().is_empty() {
                add(&mut errors, "template", "This field may not be blank.");
            }
        }
        StageKind::Consent(settings) => {
            duration(
                &settings.consent_expire_in,
                "consent_expire_in",
                &mut errors,
            );
        }
        StageKind::UserWrite(settings) => {
            if let Some(group) = settings.create_users_group {
                let found = state.db.read(move |tx| tx.group_by_id(group)).await?;
                if found.is_none() {
                    add(&mut errors, "create_users_group", "No group with this pk.");
                }
            }
        }
        StageKind::AuthenticatorTotp(settings) => {
            flow_reference(
                &catalog,
                &mut settings.configure_flow,
                "configure_flow",
                &mut errors,
            );
        }
        StageKind::AuthenticatorStatic(settings) => {
            flow_reference(
                &catalog,
                &mut settings.configure_flow,
                "configure_flow",
                &mut errors,
            );
            if !(1..=50).contains(&settings.token_count) {
                add(&mut errors, "token_count", "Between 1 and 50 codes.");
            }
            if !(8..=32).contains(&settings.token_length) {
                add(&mut errors, "token_length", "Between 8 and 32 characters.");
            }
        }
        StageKind::AuthenticatorValidate(settings) => {
            authenticator_validate(&catalog, settings, &mut errors);
        }
        StageKind::AuthenticatorWebauthn(settings) => {
            flow_reference(
                &catalog,
                &mut settings.configure_flow,
                "configure_flow",
                &mut errors,
            );
        }
        StageKind::AuthenticatorEmail(settings) => {
            flow_reference(
                &catalog,
                &mut settings.configure_flow,
                "configure_flow",
                &mut errors,
            );
            if duration(&settings.token_expiry, "token_expiry", &mut errors) == Some(0) {
                add(&mut errors, "token_expiry", "A code must last some time.");
            }
            if !settings.use_global_settings {
                add(
                    &mut errors,
                    "use_global_settings",
                    "gatehouse sends mail with its global email settings only.",
                );
            }
            if settings.template.trim().is_empty() {
                add(&mut errors, "template", "This field may not be blank.");
            }
        }
        StageKind::Password(_)
        | StageKind::UserLogout(_)
        | StageKind::UserDelete(_)
        | StageKind::Deny(_)
        | StageKind::Invitation(_) => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

fn duration(text: &str, field: &str, errors: &mut Errors) -> Option<u64> {
    match parse_timedelta(text) {
        Ok(seconds) => Some(seconds),
        Err(why) => {
            add(
                errors,
                field,
                format!("{why}; write it as \"hours=1;minutes=30\"."),
            );
            None
        }
    }
}

/// The slug of the flow `reference` names by slug or by pk.
fn flow_slug(catalog: &Catalog, reference: &str) -> Option<String> {
    if let Some(flow) = catalog.flow(reference) {
        return Some(flow.slug.clone());
    }
    let pk = Uuid::parse_str(reference).ok()?;
    catalog
        .flows()
        .into_iter()
        .find(|flow| flow.id.0 == pk)
        .map(|flow| flow.slug.clone())
}

fn flow_reference(
    catalog: &Catalog,
    reference: &mut Option<String>,
    field: &str,
    errors: &mut Errors,
) {
    let Some(raw) = reference.as_deref() else {
        return;
    };
    match flow_slug(catalog, raw) {
        Some(slug) => *reference = Some(slug),
        None => add(errors, field, format!("No flow with slug or pk \"{raw}\".")),
    }
}

fn identification(catalog: &Catalog, settings: &mut IdentificationStage, errors: &mut Errors) {
    if settings.user_fields.is_empty() {
        add(errors, "user_fields", "Choose at least one user field.");
    }
    if let Some(id) = settings.password_stage {
        if !matches!(
            catalog.stage(id).map(|stage| &stage.kind),
            Some(StageKind::Password(_))
        ) {
            add(errors, "password_stage", "No password stage with this pk.");
        }
    }
    flow_reference(
        catalog,
        &mut settings.enrollment_flow,
        "enrollment_flow",
        errors,
    );
    flow_reference(
        catalog,
        &mut settings.recovery_flow,
        "recovery_flow",
        errors,
    );
}

fn prompt(catalog: &Catalog, settings: &PromptStage, errors: &mut Errors) {
    let mut keys = HashSet::new();
    for field in &settings.fields {
        let key = field.field_key.trim();
        if key.is_empty() {
            add(errors, "fields", "Every field needs a field_key.");
        } else if !keys.insert(key) {
            // Answers are keyed by field_key: two fields would overwrite each other.
            add(
                errors,
                "fields",
                format!("field_key \"{key}\" is used twice."),
            );
        }
        let needs_choices = matches!(
            field.field_type,
            PromptFieldType::Dropdown | PromptFieldType::RadioButtonGroup
        );
        if needs_choices && field.choices.is_empty() {
            add(
                errors,
                "fields",
                format!(
                    "\"{key}\" is a {} and needs choices.",
                    field.field_type.as_str()
                ),
            );
        }
    }
    for policy in &settings.validation_policies {
        if catalog.policy(*policy).is_none() {
            add(
                errors,
                "validation_policies",
                format!("No policy with pk \"{policy}\"."),
            );
        }
    }
}

fn redirect(catalog: &Catalog, settings: &mut RedirectStage, errors: &mut Errors) {
    match settings.mode {
        RedirectMode::Static if settings.target_static.trim().is_empty() => add(
            errors,
            "target_static",
            "Target URL should be present when mode is Static.",
        ),
        RedirectMode::Flow if settings.target_flow.is_none() => add(
            errors,
            "target_flow",
            "Target Flow should be present when mode is Flow.",
        ),
        RedirectMode::Static | RedirectMode::Flow => {}
    }
    flow_reference(catalog, &mut settings.target_flow, "target_flow", errors);
}

fn authenticator_validate(
    catalog: &Catalog,
    settings: &AuthenticatorValidateStage,
    errors: &mut Errors,
) {
    if settings.device_classes.is_empty() {
        add(
            errors,
            "device_classes",
            "Choose at least one device class.",
        );
    }
    duration(&settings.last_auth_threshold, "last_auth_threshold", errors);
    for id in &settings.configuration_stages {
        let is_setup = matches!(
            catalog.stage(*id).map(|stage| &stage.kind),
            Some(
                StageKind::AuthenticatorTotp(_)
                    | StageKind::AuthenticatorStatic(_)
                    | StageKind::AuthenticatorEmail(_)
                    | StageKind::AuthenticatorWebauthn(_)
            )
        );
        if !is_setup {
            add(
                errors,
                "configuration_stages",
                format!("No authenticator setup stage with pk \"{id}\"."),
            );
        }
    }
    if settings.not_configured_action == crate::model::stage::NotConfiguredAction::Configure
        && settings.configuration_stages.is_empty()
    {
        add(
            errors,
            "configuration_stages",
            "Choose a setup stage for not_configured_action \"configure\".",
        );
    }
}
