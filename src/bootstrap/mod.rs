//! First start and every start after it: the default flows and stages (authentik's
//! slugs, in `default_flows`), the `akadmin` account and its superuser group, the
//! unattended bootstrap variables, and the one-time setup link while no admin password
//! exists.

use serde_json::Map;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::{PasswordHasher, SecretBox, keys, random_token, sha256_hex};
use crate::directory::tokens::{TokenDraft, build_token};
use crate::flow::planner::SETUP_TOKEN_META;
use crate::model::{GroupId, KeyType, NewGroup, NewUser, TokenIntent, User, Username};
use crate::store::{Db, StoreError, StoreResult, WriteTx};

mod default_flows;
mod mfa_upgrade;

mod default_mappings;

use default_flows::{ensure_default_brand, ensure_default_flows};
use mfa_upgrade::ensure_mfa_validation;

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
    db.write(move |tx| {
        ensure_default_flows(tx)?;
        ensure_mfa_validation(tx)?;
        default_mappings::ensure_default_scope_mappings(tx)?;
        ensure_embedded_outpost(tx)?;
        ensure_default_brand(tx)
    })
    .await?;
    ensure_default_keypairs(db, secret_box, now).await?;
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
/// The outpost that serves proxy providers from inside this process (authentik creates
/// it on first start too). Admins assign providers to it; it is never created twice.
fn ensure_embedded_outpost(tx: &dyn WriteTx) -> StoreResult<()> {
    if tx
        .all_outposts()?
        .iter()
        .any(|outpost| outpost.is_embedded())
    {
        return Ok(());
    }
    tx.insert_outpost(&crate::model::Outpost::embedded())
}

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

pub const DEFAULT_CERTIFICATE: &str = "authentik Self-signed Certificate";
pub const DEFAULT_EC_KEY: &str = "gatehouse EC signing key";

/// On a store without any certificate-key pair: authentik's RSA self-signed certificate
/// (what OIDC providers sign with by default) and a P-256 key for ES256. Key generation
/// runs off the async threads: RSA-2048 takes ~100 ms in release, longer in debug.
async fn ensure_default_keypairs(
    db: &Db,
    secret_box: &SecretBox,
    now: crate::model::Timestamp,
) -> anyhow::Result<()> {
    if !db.read(|tx| tx.all_keypairs()).await?.is_empty() {
        return Ok(());
    }
    let secret_box = secret_box.clone();
    let pairs = tokio::task::spawn_blocking(move || {
        [
            (
                DEFAULT_CERTIFICATE,
                KeyType::Rsa,
                "goauthentik.io/crypto/self-signed",
            ),
            (
                DEFAULT_EC_KEY,
                KeyType::EcP256,
                "gatehouse/crypto/ec-signing",
            ),
        ]
        .into_iter()
        .map(|(name, key_type, managed)| {
            let generated = keys::generate(key_type, name, &[], 365, now)?;
            keys::build_keypair(
                name,
                &generated.certificate_pem,
                Some(&generated.private_key_pem),
                &secret_box,
                Some(managed.to_owned()),
                now,
            )
        })
        .collect::<Result<Vec<_>, _>>()
    })
    .await??;
    db.write(move |tx| {
        // Another process may have won the race since the check above.
        if !tx.all_keypairs()?.is_empty() {
            return Ok(());
        }
        pairs.iter().try_for_each(|pair| tx.insert_keypair(pair))
    })
    .await?;
    Ok(())
}
