//! The client credentials grant, authentik's two ways: the client's own id and secret
//! (tokens for a service account gatehouse keeps per provider, as authentik's
//! `ak-<provider>-client_credentials`), or a user's username with one of their app
//! passwords (machine access as that user). Either way the application's policies
//! decide, and no refresh token is issued (RFC 6749 §4.4.3).

use serde_json::Value;
use uuid::Uuid;

use crate::crypto::sha256_hex;
use crate::directory::access;
use crate::model::{EventAction, NewUser, TokenIntent, User, UserType, Username};

use super::super::client::{self, Client};
use super::super::{OAuthError, OAuthServices, claims};
use super::{Issue, TokenRequest, issue};

pub async fn grant(services: &OAuthServices, request: &TokenRequest) -> Result<Value, OAuthError> {
    let catalog = services.catalog.load();
    let (client, user) = match (request.field("username"), request.field("password")) {
        (Some(username), Some(password)) => {
            // The client is identified by id; the app password is the credential.
            let client_id = request.client.client_id.as_deref().unwrap_or_default();
            let client =
                client::find(&catalog, client_id).ok_or_else(OAuthError::invalid_client)?;
            let user = app_password_user(services, username, password).await?;
            (client, user)
        }
        _ => {
            let client = client::authenticate(&catalog, &services.secret_box, &request.client)?;
            if client.oauth().client_type != crate::model::ClientType::Confidential {
                return Err(OAuthError::new(
                    "unauthorized_client",
                    "Public clients cannot use client credentials.",
                ));
            }
            let user = service_account(services, &client).await?;
            (client, user)
        }
    };
    check_access(services, &client, &user, request).await?;
    let scopes = claims::granted_scopes(
        &client.catalog,
        client.oauth(),
        request.field("scope").unwrap_or("openid"),
    );
    let now = services.clock.now();
    issue(
        services,
        request,
        Issue {
            client: &client,
            user: user.id,
            scopes: &scopes,
            auth_time: now,
            nonce: None,
            grant: Uuid::new_v4(),
            amr: &[],
            refresh: false,
            spends: None,
            event: EventAction::TokenIssued,
        },
    )
    .await
}

/// The user whose app password this is. Every failure is the same `invalid_grant`.
pub(crate) async fn app_password_user(
    services: &OAuthServices,
    username: &str,
    password: &str,
) -> Result<User, OAuthError> {
    let digest = sha256_hex(password.as_bytes());
    let username = username.to_owned();
    let now = services.clock.now();
    let found = services
        .db
        .read(move |tx| {
            let Some(token) = tx.token_by_key_digest(&digest)? else {
                return Ok(None);
            };
            if token.intent != TokenIntent::AppPassword || token.is_expired(now) {
                return Ok(None);
            }
            Ok(tx.user_by_id(token.user)?.filter(|user| {
                user.is_active && user.username.as_str().eq_ignore_ascii_case(&username)
            }))
        })
        .await?;
    found.ok_or_else(|| OAuthError::invalid_grant("The username or app password is wrong."))
}

/// The provider's service account, created on first use.
async fn service_account(services: &OAuthServices, client: &Client) -> Result<User, OAuthError> {
    let name = format!("ak-{}-client_credentials", client.provider.name);
    let username = Username::parse(&name).map_err(|_| OAuthError::server_error())?;
    let now = services.clock.now();
    let client_id = client.oauth().client_id.clone();
    let user = services
        .db
        .write(move |tx| {
            if let Some(user) = tx.user_by_username(username.as_str())? {
                return Ok(user);
            }
            let mut attributes = serde_json::Map::new();
            attributes.insert("goauthentik.io/user/override-ips".into(), Value::Bool(true));
            attributes.insert("client_id".into(), Value::String(client_id.clone()));
            tx.insert_user(&NewUser {
                username: username.clone(),
                name: username.as_str().to_owned(),
                email: String::new(),
                is_active: true,
                user_type: UserType::InternalServiceAccount,
                path: "goauthentik.io/service-accounts".into(),
                attributes,
                password_hash: None,
                created: now,
            })
        })
        .await?;
    if !user.is_active {
        return Err(OAuthError::invalid_grant(
            "The service account is deactivated.",
        ));
    }
    Ok(user)
}

async fn check_access(
    services: &OAuthServices,
    client: &Client,
    user: &User,
    request: &TokenRequest,
) -> Result<(), OAuthError> {
    let ip = request.client_ip.as_deref().and_then(|ip| ip.parse().ok());
    let policy_request = access::access_request(&services.db, user, ip).await?;
    let result = access::user_may_access(
        &services.policies,
        &client.catalog,
        &client.application,
        &policy_request,
    )
    .await;
    if result.passing {
        Ok(())
    } else {
        services
            .events
            .record(
                EventAction::AccessDenied,
                Some(user),
                request.client_ip.as_deref(),
                serde_json::json!({"application": client.application.slug}),
            )
            .await;
        Err(OAuthError::access_denied())
    }
}
