//! The token endpoint: one file per grant type, and what they share here (loading the
//! user, building claims, minting, storing the refresh token, the response body).

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod refresh_token;

use std::collections::HashMap;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::crypto::{random_token, sha256_hex};
use crate::model::{EventAction, Group, OAuth2Provider, RefreshToken, Timestamp, User, UserId};
use crate::store::StoreError;

use super::client::{Client, PresentedClient};
use super::jwt::{self, TokenClaims};
use super::{OAuthError, OAuthServices, claims, ns};

/// A token request as the transport parsed it: the form fields and the client's
/// credentials (from the Basic header or the form), plus the scheme and host the client
/// used (the issuer depends on it).
pub struct TokenRequest {
    pub form: HashMap<String, String>,
    pub client: PresentedClient,
    pub base_url: String,
    pub client_ip: Option<String>,
}

impl TokenRequest {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.field(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("The {name} parameter is missing.")))
    }
}

/// Dispatches on `grant_type`.
pub async fn token(services: &OAuthServices, request: &TokenRequest) -> Result<Value, OAuthError> {
    let (grant, issued) = match request.required("grant_type")? {
        "authorization_code" => (
            "authorization_code",
            authorization_code::exchange(services, request).await,
        ),
        "refresh_token" => (
            "refresh_token",
            refresh_token::refresh(services, request).await,
        ),
        "client_credentials" => (
            "client_credentials",
            client_credentials::grant(services, request).await,
        ),
        device_code::GRANT_TYPE => ("device_code", device_code::poll(services, request).await),
        _ => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "The grant type is not supported.",
            ));
        }
    };
    if issued.is_ok() {
        crate::metrics::global().token_issued(grant);
    }
    issued
}

/// What a grant hands to `issue`.
pub(crate) struct Issue<'a> {
    pub client: &'a Client,
    pub user: UserId,
    pub scopes: &'a [String],
    pub auth_time: Timestamp,
    pub nonce: Option<&'a str>,
    pub grant: Uuid,
    pub amr: &'a [String],
    pub refresh: bool,
    /// The refresh token (its hash) this request spends, in the same transaction.
    pub spends: Option<String>,
    pub event: EventAction,
}

/// The user with their groups (one read), if they exist and are active: tokens are never
/// issued to, or kept working for, a deactivated account.
pub(crate) async fn active_user(
    services: &OAuthServices,
    id: UserId,
) -> Result<(User, Vec<Group>), OAuthError> {
    let found = services.db.read(move |tx| load_active(tx, id)).await?;
    found.ok_or_else(inactive_user)
}

fn inactive_user() -> OAuthError {
    OAuthError::invalid_grant("The user is inactive or gone.")
}

fn load_active(
    tx: &dyn crate::store::ReadTx,
    id: UserId,
) -> Result<Option<(User, Vec<Group>)>, StoreError> {
    let Some(user) = tx.user_by_id(id)?.filter(|user| user.is_active) else {
        return Ok(None);
    };
    let groups = tx.groups_of_user(id)?;
    Ok(Some((user, groups)))
}

/// What the one storage transaction of an issuance found.
enum Stored {
    Issued(Box<User>, Vec<Group>),
    InactiveUser,
    /// The refresh token to spend was spent already (a concurrent refresh won).
    AlreadySpent,
}

/// Issues tokens. One write transaction spends the presented refresh token (if any),
/// loads the user (who must be active) with their groups, stores the new refresh token
/// and the event; then the claims are built and the tokens signed with keys in memory.
/// One transaction, not four, because the token endpoint is a hot path.
pub(crate) async fn issue(
    services: &OAuthServices,
    request: &TokenRequest,
    issue: Issue<'_>,
) -> Result<Value, OAuthError> {
    issue_spending(services, request, issue)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("The refresh token was already used."))
}

/// `issue`, telling the refresh grant apart when the token it was to spend was spent by
/// another request first (`Ok(None)`): that is reuse, and the grant revokes the family.
pub(crate) async fn issue_spending(
    services: &OAuthServices,
    request: &TokenRequest,
    issue: Issue<'_>,
) -> Result<Option<Value>, OAuthError> {
    let client = issue.client;
    let oauth = client.oauth();
    let lifetimes = oauth.lifetimes().map_err(|(field, message)| {
        tracing::error!(provider = %client.provider.name, field, message, "oauth: bad token lifetime");
        OAuthError::server_error()
    })?;
    let now = services.clock.now();
    let refresh_token = issue.refresh.then(|| random_token(48));
    let stored_token = refresh_token.as_ref().map(|token| RefreshToken {
        token_hash: sha256_hex(token.as_bytes()),
        grant: issue.grant,
        provider: client.provider.id,
        user: issue.user,
        scopes: issue.scopes.to_vec(),
        auth_time: issue.auth_time,
        expires: now.plus_secs(lifetimes.refresh),
        created: now,
        used: false,
        revoked: false,
    });
    let events = services.events.clone();
    let (action, user_id, spends) = (issue.event, issue.user, issue.spends.clone());
    let client_ip = request.client_ip.clone();
    let context = json!({
        "application": client.application.slug,
        "client_id": oauth.client_id,
        "scopes": issue.scopes,
    });
    let stored = services
        .db
        .write(move |tx| {
            if let Some(hash) = &spends {
                if !tx.use_refresh_token(hash)? {
                    return Ok(Stored::AlreadySpent);
                }
            }
            let Some((user, groups)) = load_active(tx, user_id)? else {
                return Ok(Stored::InactiveUser);
            };
            if let Some(token) = &stored_token {
                tx.insert_refresh_token(token)?;
            }
            tx.insert_event(&events.prepare(action, Some(&user), client_ip.as_deref(), context))?;
            Ok(Stored::Issued(Box::new(user), groups))
        })
        .await?;
    let (user, groups) = match stored {
        Stored::Issued(user, groups) => (*user, groups),
        Stored::InactiveUser => return Err(inactive_user()),
        Stored::AlreadySpent => return Ok(None),
    };
    let user_claims = claims::user_claims(
        &client.catalog,
        &services.policies,
        oauth,
        issue.scopes,
        &user,
        &groups,
    )
    .await;
    let subject = claims::subject(oauth, &user, &services.subject_key);
    let issuer = super::issuer(&request.base_url, oauth, &client.application.slug);
    let key = jwt::signing_key(&client.catalog, &services.secret_box, oauth)?;
    let minted = jwt::mint(
        &key,
        &TokenClaims {
            issuer: &issuer,
            client_id: &oauth.client_id,
            subject: &subject,
            scopes: issue.scopes,
            user_claims: &user_claims,
            auth_time: issue.auth_time,
            now,
            expires: now.plus_secs(lifetimes.access),
            grant: issue.grant,
            nonce: issue.nonce,
            amr: issue.amr,
            sealed_user: &services.secret_box.seal(&user.id.0.to_string()),
        },
        oauth.include_claims_in_id_token,
    )?;
    let mut body = json!({
        "access_token": minted.access_token,
        "token_type": "Bearer",
        "expires_in": lifetimes.access,
        "scope": issue.scopes.join(" "),
    });
    if let Some(map) = body.as_object_mut() {
        if let Some(id_token) = minted.id_token {
            map.insert("id_token".into(), json!(id_token));
        }
        if let Some(refresh_token) = refresh_token {
            map.insert("refresh_token".into(), json!(refresh_token));
        }
    }
    Ok(Some(body))
}

/// Revokes a whole family: its refresh tokens in the store and, through a Kv marker the
/// resource endpoints check, its access tokens.
/// Returns how many refresh tokens it revoked; a family with none stored (never issued,
/// or purged long ago) leaves no marker.
pub async fn revoke_grant(
    services: &OAuthServices,
    provider: &OAuth2Provider,
    grant: Uuid,
) -> Result<u64, OAuthError> {
    let ttl_secs = provider.family_ttl_secs();
    let revoked = services.db.write(move |tx| tx.revoke_grant(grant)).await?;
    if revoked > 0 {
        services.ephemeral.put(
            ns::REVOKED_GRANTS,
            &grant.simple().to_string(),
            &true,
            ttl_secs.max(1),
        )?;
    }
    Ok(revoked)
}

/// Whether an access token's family or the token itself was revoked.
pub(crate) fn is_revoked(services: &OAuthServices, claims: &Value) -> Result<bool, StoreError> {
    let field = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let grant_revoked = services
        .ephemeral
        .get::<bool>(ns::REVOKED_GRANTS, field("grant_id"))?
        .is_some();
    let token_revoked = services
        .ephemeral
        .get::<bool>(ns::REVOKED_TOKENS, field("jti"))?
        .is_some();
    Ok(grant_revoked || token_revoked)
}

/// Session methods as OIDC `amr` values (RFC 8176).
pub(crate) fn amr(methods: &[String]) -> Vec<String> {
    methods
        .iter()
        .map(|method| match method.as_str() {
            "password" => "pwd".to_owned(),
            "token" | "app_password" => "pwd".to_owned(),
            "webauthn" => "hwk".to_owned(),
            // One-time codes of every kind (RFC 8176 `otp`): an app's, a recovery code,
            // a mailed code.
            "totp" | "static" | "email" => "otp".to_owned(),
            other => other.to_owned(),
        })
        .collect()
}
