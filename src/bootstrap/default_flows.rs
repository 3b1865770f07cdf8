//! The default flows, with authentik's slugs so its guides work unchanged. Each is
//! created when missing (a deleted default comes back on restart; a changed one is left
//! alone). Read as a user would meet them:
//!
//! - `default-authentication-flow`: who are you (username or email) → password → second
//!   factor (only for users who enrolled one) → signed in.
//! - `default-authenticator-totp-setup`: scan the QR code, type a first code (signed-in users).
//! - `default-authenticator-static-setup`: recovery codes, shown once (signed-in users).
//! - `default-authenticator-webauthn-setup`: add a passkey or security key (signed-in users).
//! - `default-invalidation-flow`: signed out.
//! - `default-provider-invalidation-flow`: signed out, after an application's logout.
//! - `default-provider-authorization-implicit-consent`: nothing to click (signed-in users).
//! - `default-provider-authorization-explicit-consent`: "App wants to access…" → continue.
//! - `default-enrollment-flow`: invitation link only → choose username, name, email,
//!   password → account created inactive → confirm the email link → active, signed in.
//! - `default-recovery-flow`: username or email → emailed link → new password → signed in.
//! - `default-user-settings-flow`: change username, name, email (signed-in users).
//! - `default-unenrollment-flow`: delete my account (signed-in users).
//! - `default-source-authentication` / `default-source-enrollment`: for identity sources.
//! - `initial-setup`: the one-time setup link → admin email and password → signed in.

use crate::model::PolicyEngineMode;
use crate::model::stage::{
    AuthenticatorStaticStage, AuthenticatorTotpStage, AuthenticatorValidateStage,
    AuthenticatorWebauthnStage, ConsentMode, ConsentStage, EmailStage, IdentificationStage,
    InvitationStage, PasswordStage, PromptField, PromptFieldType, PromptStage, UserCreationMode,
    UserDeleteStage, UserLoginStage, UserLogoutStage, UserWriteStage,
};
use crate::model::{
    BindingId, Brand, DeviceClass, Flow, FlowAuthentication, FlowDesignation, FlowId, Stage,
    StageBinding, StageId, StageKind,
};
use crate::store::{StoreResult, WriteTx};

pub fn ensure_default_flows(tx: &dyn WriteTx) -> StoreResult<()> {
    let existing: Vec<String> = tx.all_flows()?.into_iter().map(|flow| flow.slug).collect();
    for (flow, stages) in default_flows() {
        if existing.contains(&flow.slug) {
            continue;
        }
        tx.insert_flow(&flow)?;
        let known = tx.all_stages()?;
        for (order, stage) in (10..).step_by(10).zip(stages) {
            // Stages are shared by name between flows (the login stage, for one).
            let stage_id = match known.iter().find(|s| s.name == stage.name) {
                Some(found) => found.id,
                None => {
                    tx.insert_stage(&stage)?;
                    stage.id
                }
            };
            tx.insert_binding(&StageBinding {
                id: BindingId::random(),
                flow: flow.id,
                stage: stage_id,
                order,
                evaluate_on_plan: true,
                re_evaluate_policies: false,
                policy_engine_mode: PolicyEngineMode::Any,
            })?;
        }
    }
    Ok(())
}

fn stage(name: &str, kind: StageKind) -> Stage {
    Stage {
        id: StageId::random(),
        name: name.into(),
        kind,
    }
}

fn flow(
    slug: &str,
    title: &str,
    designation: FlowDesignation,
    authentication: FlowAuthentication,
) -> Flow {
    Flow {
        id: FlowId::random(),
        slug: slug.into(),
        name: title.into(),
        title: title.into(),
        designation,
        authentication,
        layout: "stacked".into(),
        policy_engine_mode: PolicyEngineMode::Any,
    }
}

fn field(key: &str, label: &str, field_type: PromptFieldType, order: i32) -> PromptField {
    PromptField {
        field_key: key.into(),
        label: label.into(),
        field_type,
        required: true,
        placeholder: label.into(),
        initial_value: String::new(),
        order,
        sub_text: String::new(),
        choices: Vec::new(),
    }
}

fn prompt(name: &str, fields: Vec<PromptField>) -> Stage {
    stage(
        name,
        StageKind::Prompt(PromptStage {
            fields,
            validation_policies: Vec::new(),
        }),
    )
}

fn login() -> Stage {
    stage(
        "default-authentication-login",
        StageKind::UserLogin(UserLoginStage::default()),
    )
}

fn new_password_fields() -> Vec<PromptField> {
    vec![
        field("password", "Password", PromptFieldType::Password, 10),
        field(
            "password_repeat",
            "Password (repeat)",
            PromptFieldType::Password,
            11,
        ),
    ]
}

fn authentication() -> (Flow, Vec<Stage>) {
    let identification = IdentificationStage {
        recovery_flow: Some("default-recovery-flow".into()),
        ..IdentificationStage::default()
    };
    (
        flow(
            "default-authentication-flow",
            "Welcome to gatehouse!",
            FlowDesignation::Authentication,
            FlowAuthentication::None,
        ),
        vec![
            stage(
                "default-authentication-identification",
                StageKind::Identification(identification),
            ),
            stage(
                "default-authentication-password",
                StageKind::Password(PasswordStage::default()),
            ),
            mfa_validation(),
            login(),
        ],
    )
}

/// The second factor of the default sign-in: skipped for users without a device, so
/// MFA applies the moment a user enrolls one.
pub(super) fn mfa_validation() -> Stage {
    stage(
        MFA_VALIDATION_STAGE,
        StageKind::AuthenticatorValidate(AuthenticatorValidateStage {
            device_classes: vec![
                DeviceClass::Totp,
                DeviceClass::Static,
                DeviceClass::Webauthn,
            ],
            ..AuthenticatorValidateStage::default()
        }),
    )
}

pub(super) const MFA_VALIDATION_STAGE: &str = "default-authentication-mfa-validation";
fn totp_setup() -> (Flow, Vec<Stage>) {
    let slug = "default-authenticator-totp-setup";
    (
        flow(
            slug,
            "Set up an authenticator app",
            FlowDesignation::StageConfiguration,
            FlowAuthentication::RequireAuthenticated,
        ),
        vec![stage(
            slug,
            StageKind::AuthenticatorTotp(AuthenticatorTotpStage {
                configure_flow: Some(slug.into()),
                ..AuthenticatorTotpStage::default()
            }),
        )],
    )
}

fn static_setup() -> (Flow, Vec<Stage>) {
    let slug = "default-authenticator-static-setup";
    (
        flow(
            slug,
            "Recovery codes",
            FlowDesignation::StageConfiguration,
            FlowAuthentication::RequireAuthenticated,
        ),
        vec![stage(
            slug,
            StageKind::AuthenticatorStatic(AuthenticatorStaticStage {
                configure_flow: Some(slug.into()),
                ..AuthenticatorStaticStage::default()
            }),
        )],
    )
}

/// Passkeys and security keys: resident key and user verification preferred, so a
/// phone or laptop makes a passkey and a plain USB key still works as a second factor.
fn webauthn_setup() -> (Flow, Vec<Stage>) {
    let slug = "default-authenticator-webauthn-setup";
    (
        flow(
            slug,
            "Add a passkey or security key",
            FlowDesignation::StageConfiguration,
            FlowAuthentication::RequireAuthenticated,
        ),
        vec![stage(
            slug,
            StageKind::AuthenticatorWebauthn(AuthenticatorWebauthnStage {
                configure_flow: Some(slug.into()),
                ..AuthenticatorWebauthnStage::default()
            }),
        )],
    )
}

fn enrollment() -> (Flow, Vec<Stage>) {
    let mut fields = vec![
        field("username", "Username", PromptFieldType::Text, 0),
        field("name", "Name", PromptFieldType::Text, 1),
        field("email", "Email", PromptFieldType::Email, 2),
    ];
    fields.extend(new_password_fields());
    let write = UserWriteStage {
        user_creation_mode: UserCreationMode::AlwaysCreate,
        create_users_as_inactive: true,
        ..UserWriteStage::default()
    };
    let verify = EmailStage {
        activate_user_on_success: true,
        subject: "Confirm your email address".into(),
        template: "email_verification".into(),
        ..EmailStage::default()
    };
    (
        flow(
            "default-enrollment-flow",
            "Create your account",
            FlowDesignation::Enrollment,
            FlowAuthentication::RequireUnauthenticated,
        ),
        vec![
            stage(
                "default-enrollment-invitation",
                StageKind::Invitation(InvitationStage::default()),
            ),
            prompt("default-enrollment-prompt", fields),
            stage("default-enrollment-user-write", StageKind::UserWrite(write)),
            stage(
                "default-enrollment-email-verification",
                StageKind::Email(verify),
            ),
            login(),
        ],
    )
}

fn recovery() -> (Flow, Vec<Stage>) {
    let identification = IdentificationStage {
        pretend_user_exists: true,
        ..IdentificationStage::default()
    };
    let email = EmailStage {
        subject: "Reset your password".into(),
        template: "password_reset".into(),
        ..EmailStage::default()
    };
    let write = UserWriteStage {
        user_creation_mode: UserCreationMode::NeverCreate,
        ..UserWriteStage::default()
    };
    (
        flow(
            "default-recovery-flow",
            "Reset your password",
            FlowDesignation::Recovery,
            FlowAuthentication::RequireUnauthenticated,
        ),
        vec![
            stage(
                "default-recovery-identification",
                StageKind::Identification(identification),
            ),
            stage("default-recovery-email", StageKind::Email(email)),
            prompt("default-recovery-new-password", new_password_fields()),
            stage("default-recovery-user-write", StageKind::UserWrite(write)),
            login(),
        ],
    )
}

fn user_settings() -> (Flow, Vec<Stage>) {
    let write = UserWriteStage {
        user_creation_mode: UserCreationMode::NeverCreate,
        ..UserWriteStage::default()
    };
    (
        flow(
            "default-user-settings-flow",
            "Update your info",
            FlowDesignation::StageConfiguration,
            FlowAuthentication::RequireAuthenticated,
        ),
        vec![
            prompt(
                "default-user-settings-prompt",
                vec![
                    field("username", "Username", PromptFieldType::Text, 0),
                    field("name", "Name", PromptFieldType::Text, 1),
                    field("email", "Email", PromptFieldType::Email, 2),
                ],
            ),
            stage("default-user-settings-write", StageKind::UserWrite(write)),
        ],
    )
}

fn default_flows() -> Vec<(Flow, Vec<Stage>)> {
    let consent = ConsentStage {
        mode: ConsentMode::AlwaysRequire,
        ..ConsentStage::default()
    };
    let setup_write = UserWriteStage {
        user_creation_mode: UserCreationMode::NeverCreate,
        ..UserWriteStage::default()
    };
    let mut setup_fields = vec![field("email", "Email", PromptFieldType::Email, 0)];
    setup_fields.extend(new_password_fields());
    let source_write = UserWriteStage::default();
    vec![
        authentication(),
        (
            flow(
                "default-invalidation-flow",
                "Default invalidation flow",
                FlowDesignation::Invalidation,
                FlowAuthentication::None,
            ),
            vec![stage(
                "default-invalidation-logout",
                StageKind::UserLogout(UserLogoutStage::default()),
            )],
        ),
        (
            // What RP-initiated logout runs (authentik's name, so its guides' provider
            // settings work): signing out of an application signs out of gatehouse.
            flow(
                "default-provider-invalidation-flow",
                "Signed out",
                FlowDesignation::Invalidation,
                FlowAuthentication::None,
            ),
            vec![stage(
                "default-invalidation-logout",
                StageKind::UserLogout(UserLogoutStage::default()),
            )],
        ),
        (
            flow(
                "default-provider-authorization-implicit-consent",
                "Redirecting to application",
                FlowDesignation::Authorization,
                FlowAuthentication::RequireAuthenticated,
            ),
            vec![],
        ),
        (
            flow(
                "default-provider-authorization-explicit-consent",
                "Redirecting to application",
                FlowDesignation::Authorization,
                FlowAuthentication::RequireAuthenticated,
            ),
            vec![stage(
                "default-provider-authorization-consent",
                StageKind::Consent(consent),
            )],
        ),
        enrollment(),
        recovery(),
        user_settings(),
        totp_setup(),
        static_setup(),
        webauthn_setup(),
        (
            flow(
                "default-unenrollment-flow",
                "Delete your account",
                FlowDesignation::Unenrollment,
                FlowAuthentication::RequireAuthenticated,
            ),
            vec![stage(
                "default-unenrollment-user-delete",
                StageKind::UserDelete(UserDeleteStage::default()),
            )],
        ),
        (
            flow(
                "default-source-authentication",
                "Welcome to gatehouse!",
                FlowDesignation::Authentication,
                FlowAuthentication::RequireUnauthenticated,
            ),
            vec![login()],
        ),
        (
            flow(
                "default-source-enrollment",
                "Welcome to gatehouse! Choose a username.",
                FlowDesignation::Enrollment,
                FlowAuthentication::RequireUnauthenticated,
            ),
            vec![
                prompt(
                    "default-source-enrollment-prompt",
                    vec![field("username", "Username", PromptFieldType::Text, 0)],
                ),
                stage(
                    "default-source-enrollment-write",
                    StageKind::UserWrite(source_write),
                ),
                login(),
            ],
        ),
        (
            flow(
                "initial-setup",
                "Welcome to gatehouse! Set up the admin account.",
                FlowDesignation::StageConfiguration,
                FlowAuthentication::RequireSetupToken,
            ),
            vec![
                prompt("initial-setup-prompt", setup_fields),
                stage("initial-setup-write", StageKind::UserWrite(setup_write)),
                login(),
            ],
        ),
    ]
}

/// The brand that answers every host without a brand of its own, created on first start
/// with the default flows. Domain `authentik-default`, as authentik names it.
pub fn ensure_default_brand(tx: &dyn WriteTx) -> StoreResult<()> {
    if tx.all_brands()?.iter().any(|brand| brand.default) {
        return Ok(());
    }
    let slug = |s: &str| Some(s.to_owned());
    tx.insert_brand(&Brand {
        flow_recovery: slug("default-recovery-flow"),
        flow_user_settings: slug("default-user-settings-flow"),
        flow_unenrollment: slug("default-unenrollment-flow"),
        ..Brand::new("authentik-default", true)
    })
}
