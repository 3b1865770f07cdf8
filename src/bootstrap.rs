//! First start and every start after it: the default flows and stages (authentik's
//! slugs), the `akadmin` account and its superuser group, the unattended bootstrap
//! variables, and the one-time setup link while no admin password exists.

use serde_json::Map;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::{PasswordHasher, SecretBox, random_token, sha256_hex};
use crate::directory::tokens::{TokenDraft, build_token};
use crate::flow::planner::SETUP_TOKEN_META;
use crate::model::stage::{
    IdentificationStage, PasswordStage, PromptField, PromptFieldType, PromptStage,
    UserCreationMode, UserLoginStage, UserLogoutStage, UserWriteStage,
};
use crate::model::{
    BindingId, Flow, FlowAuthentication, FlowDesignation, FlowId, GroupId, NewGroup, NewUser,
    Stage, StageBinding, StageId, StageKind, TokenIntent, User, Username,
};
use crate::store::{Db, StoreError, StoreResult, WriteTx};

pub const ADMIN_USERNAME: &str = "akadmin";
pub const ADMIN_GROUP: &str = "authentik Admins";
pub const BOOTSTRAP_TOKEN_ID: &str = "authentik-bootstrap-token";

/// What a start found or did that the operator must hear about.
pub struct StartReport {
    /// The one-time token for `/if/flow/initial-setup/?token=…`, while setup is pending.
    pub setup_token: Option<String>,
}

pub async fn prepare(
    db: &Db,
    settings: &Settings,
    hasher: &PasswordHasher,
    secret_box: &SecretBox,
    clock: &dyn Clock,
) -> anyhow::Result<StartReport> {
    let now = clock.now();
    db.write(move |tx| ensure_default_flows(tx)).await?;
    // Hash the bootstrap password only while the admin has none: it costs 19 MiB and
    // ~20 ms, and every start would otherwise pay it.
    let admin_needs_password = db
        .read(|tx| {
            Ok(tx
                .user_by_username(ADMIN_USERNAME)?
                .map(|admin| admin.password_hash.is_none()))
        })
        .await?
        .unwrap_or(true);
    let password_hash = match &settings.bootstrap.password {
        Some(password) if admin_needs_password => {
            Some(hasher.hash(password.expose().to_owned()).await?)
        }
        _ => None,
    };
    let email = settings.bootstrap.email.clone();
    let token = settings
        .bootstrap
        .token
        .as_ref()
        .map(|t| t.expose().to_owned());
    let secret_box = secret_box.clone();
    let setup_token = db
        .write(move |tx| {
            let Some(admin) = ensure_admin(tx, now)? else {
                return Ok(None);
            };
            apply_bootstrap(tx, &admin, password_hash.as_deref(), email.as_deref(), now)?;
            if let Some(key) = &token {
                ensure_bootstrap_token(tx, &admin, key, &secret_box, now)?;
            }
            issue_setup_token(tx, admin.id)
        })
        .await?;
    Ok(StartReport { setup_token })
}

/// The admin account, created on the very first start; `None` once an admin removed it.
fn ensure_admin(tx: &dyn WriteTx, now: crate::model::Timestamp) -> StoreResult<Option<User>> {
    let group = match tx.group_by_name(ADMIN_GROUP)? {
        Some(group) => group,
        None => tx.insert_group(&NewGroup {
            id: GroupId::random(),
            name: ADMIN_GROUP.into(),
            parent: None,
            is_superuser: true,
            attributes: Map::new(),
        })?,
    };
    if let Some(admin) = tx.user_by_username(ADMIN_USERNAME)? {
        return Ok(Some(admin));
    }
    if tx.meta("admin_created")?.is_some() {
        // The admin was renamed or deleted on purpose: do not bring it back.
        return Ok(None);
    }
    let username = Username::parse(ADMIN_USERNAME).map_err(|e| StoreError::Backend(e.into()))?;
    let mut new = NewUser::internal(username, now);
    new.name = "authentik Default Admin".into();
    let admin = tx.insert_user(&new)?;
    tx.add_member(group.id, admin.id)?;
    tx.set_meta("admin_created", "true")?;
    Ok(Some(admin))
}

fn apply_bootstrap(
    tx: &dyn WriteTx,
    admin: &User,
    password_hash: Option<&str>,
    email: Option<&str>,
    now: crate::model::Timestamp,
) -> StoreResult<()> {
    if let (Some(hash), None) = (password_hash, &admin.password_hash) {
        tx.set_password_hash(admin.id, Some(hash), now)?;
        tx.set_meta("setup_completed", "true")?;
        tx.delete_meta(SETUP_TOKEN_META)?;
    }
    if let Some(email) = email.filter(|_| admin.email.is_empty()) {
        let mut updated = admin.clone();
        updated.email = email.to_owned();
        tx.update_user(&updated)?;
    }
    Ok(())
}

fn ensure_bootstrap_token(
    tx: &dyn WriteTx,
    admin: &User,
    key: &str,
    secret_box: &SecretBox,
    now: crate::model::Timestamp,
) -> StoreResult<()> {
    if tx.token_by_identifier(BOOTSTRAP_TOKEN_ID)?.is_some() {
        return Ok(());
    }
    let draft = TokenDraft {
        identifier: BOOTSTRAP_TOKEN_ID.into(),
        user: admin.id,
        intent: TokenIntent::Api,
        description: "Created from the bootstrap token setting".into(),
        expires: None,
        expiring: false,
        managed: Some("goauthentik.io/core/token/bootstrap".into()),
    };
    tx.insert_token(&build_token(draft, key, secret_box, now))
}

/// A fresh setup token while the admin has no password; only its digest is stored.
fn issue_setup_token(tx: &dyn WriteTx, admin: crate::model::UserId) -> StoreResult<Option<String>> {
    let admin_user = tx.user_by_id(admin)?;
    let pending = tx.meta("setup_completed")?.is_none()
        && admin_user.is_some_and(|user| user.password_hash.is_none());
    if !pending {
        tx.delete_meta(SETUP_TOKEN_META)?;
        return Ok(None);
    }
    let token = random_token(32);
    tx.set_meta(
        SETUP_TOKEN_META,
        &format!("{}:{}", sha256_hex(token.as_bytes()), admin.0),
    )?;
    Ok(Some(token))
}

/// Creates each default flow (with its stages and bindings) that does not exist yet.
/// Flows an admin changed are left alone; a deleted default comes back on restart.
fn ensure_default_flows(tx: &dyn WriteTx) -> StoreResult<()> {
    let existing: Vec<String> = tx.all_flows()?.into_iter().map(|flow| flow.slug).collect();
    for (flow, stages) in default_flows() {
        if existing.contains(&flow.slug) {
            continue;
        }
        tx.insert_flow(&flow)?;
        let known = tx.all_stages()?;
        for (order, stage) in (10..).step_by(10).zip(stages) {
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
    name: &str,
    title: &str,
    designation: FlowDesignation,
    authentication: FlowAuthentication,
) -> Flow {
    Flow {
        id: FlowId::random(),
        slug: slug.into(),
        name: name.into(),
        title: title.into(),
        designation,
        authentication,
        layout: "stacked".into(),
    }
}

fn prompt_field(key: &str, label: &str, field_type: PromptFieldType, order: i32) -> PromptField {
    PromptField {
        field_key: key.into(),
        label: label.into(),
        field_type,
        required: true,
        placeholder: label.into(),
        initial_value: String::new(),
        order,
        sub_text: String::new(),
    }
}

fn default_flows() -> Vec<(Flow, Vec<Stage>)> {
    vec![
        (
            flow(
                "default-authentication-flow",
                "Welcome to gatehouse!",
                "Welcome to gatehouse!",
                FlowDesignation::Authentication,
                FlowAuthentication::None,
            ),
            vec![
                stage(
                    "default-authentication-identification",
                    StageKind::Identification(IdentificationStage::default()),
                ),
                stage(
                    "default-authentication-password",
                    StageKind::Password(PasswordStage::default()),
                ),
                stage(
                    "default-authentication-login",
                    StageKind::UserLogin(UserLoginStage::default()),
                ),
            ],
        ),
        (
            flow(
                "default-invalidation-flow",
                "Logout",
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
            flow(
                "initial-setup",
                "Initial setup",
                "Welcome to gatehouse! Set up the admin account.",
                FlowDesignation::StageConfiguration,
                FlowAuthentication::RequireSetupToken,
            ),
            vec![
                stage(
                    "initial-setup-prompt",
                    StageKind::Prompt(PromptStage {
                        fields: vec![
                            prompt_field("email", "Email", PromptFieldType::Email, 0),
                            prompt_field("password", "Password", PromptFieldType::Password, 1),
                            prompt_field(
                                "password_repeat",
                                "Password (repeat)",
                                PromptFieldType::Password,
                                2,
                            ),
                        ],
                    }),
                ),
                stage(
                    "initial-setup-write",
                    StageKind::UserWrite(UserWriteStage {
                        user_creation_mode: UserCreationMode::NeverCreate,
                        ..UserWriteStage::default()
                    }),
                ),
                stage(
                    "default-authentication-login",
                    StageKind::UserLogin(UserLoginStage::default()),
                ),
            ],
        ),
    ]
}
