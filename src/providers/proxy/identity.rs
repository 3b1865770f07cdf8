//! Admitting a user to a proxied application: the same access decision as every other
//! protocol (the application's policy bindings), then the identity rendered once as the
//! headers authentik's outposts send upstream. Runs at sign-in and whenever a cached
//! identity is stale; never per request.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http02::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use crate::directory::access;
use crate::model::{Group, Timestamp, User, UserId};
use crate::providers::oauth2::grants::active_user;
use crate::providers::oauth2::jwt::{self, TokenClaims};
use crate::providers::oauth2::{claims, issuer};

use super::ProxyServices;
use super::cache::Admitted;
use super::routes::{Route, Routes};

/// The scopes whose claims the embedded JWT carries (authentik's outpost asks for these).
const SCOPES: [&str; 4] = ["openid", "email", "profile", "ak_proxy"];

/// The identity headers every admitted request carries (lowercase, as `HeaderName`
/// wants them), in the order they are sent.
pub const HEADER_NAMES: [&str; 11] = [
    "x-authentik-username",
    "x-authentik-groups",
    "x-authentik-email",
    "x-authentik-name",
    "x-authentik-uid",
    "x-authentik-jwt",
    "x-authentik-meta-jwks",
    "x-authentik-meta-outpost",
    "x-authentik-meta-provider",
    "x-authentik-meta-app",
    "x-authentik-meta-version",
];

/// Why an identity was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The session no longer stands (user gone or inactive, session ended): sign in again.
    Gone,
    /// The user may not use the application.
    Denied(String),
    /// Something on our side failed (logged); the request cannot be answered now.
    Failed,
}

/// What `admit` needs to know about the sign-in.
pub struct Signed {
    pub user: UserId,
    pub expires: Timestamp,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
}

pub async fn admit(
    services: &ProxyServices,
    routes: &Routes,
    route: &Route,
    signed: &Signed,
    base_url: &str,
    epoch: u64,
) -> Result<Admitted, Refusal> {
    let oauth = &services.oauth;
    let (user, groups) = active_user(oauth, signed.user)
        .await
        .map_err(|_| Refusal::Gone)?;
    let catalog = routes.catalog();
    let request = access::access_request(&oauth.db, &user, None)
        .await
        .map_err(|error| {
            tracing::error!(%error, "proxy: loading the user's groups failed");
            Refusal::Failed
        })?;
    let result =
        access::user_may_access(&oauth.policies, catalog, &route.application, &request).await;
    if !result.passing {
        return Err(Refusal::Denied(format!(
            "You do not have access to {}.",
            route.application.name
        )));
    }
    let now = oauth.clock.now();
    let client = &route.proxy.oauth;
    let access_lifetime = client.lifetimes().map(|l| l.access).unwrap_or(86_400);
    let token_expires = now.plus_secs(access_lifetime).min(signed.expires);
    let scopes: Vec<String> = SCOPES.iter().map(|scope| (*scope).to_owned()).collect();
    let user_claims =
        claims::user_claims(catalog, &oauth.policies, client, &scopes, &user, &groups).await;
    let subject = claims::subject(client, &user, &oauth.subject_key);
    let issuer = issuer(base_url, client, &route.application.slug);
    let key = jwt::signing_key(catalog, &oauth.secret_box, client).map_err(|_| Refusal::Failed)?;
    let minted = jwt::mint(
        &key,
        &TokenClaims {
            issuer: &issuer,
            client_id: &client.client_id,
            subject: &subject,
            scopes: &scopes,
            user_claims: &user_claims,
            auth_time: signed.auth_time,
            now,
            expires: token_expires,
            grant: uuid::Uuid::new_v4(),
            nonce: None,
            amr: &signed.amr,
            sealed_user: &oauth.secret_box.seal(&user.id.0.to_string()),
        },
        false,
    )
    .map_err(|_| Refusal::Failed)?;
    let identity = Identity {
        user: &user,
        groups: &groups,
        subject: &subject,
        jwt: &minted.access_token,
    };
    let headers = identity.headers(routes, route, base_url);
    Ok(Admitted {
        provider: route.provider.id,
        user: user.id,
        headers,
        valid_until: token_expires,
        epoch,
    })
}

struct Identity<'a> {
    user: &'a User,
    groups: &'a [Group],
    subject: &'a str,
    jwt: &'a str,
}

impl Identity<'_> {
    /// authentik's outpost headers, in its spelling.
    fn headers(
        &self,
        routes: &Routes,
        route: &Route,
        base_url: &str,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let user = self.user;
        let group_names: Vec<&str> = self.groups.iter().map(|g| g.name.as_str()).collect();
        let slug = &route.application.slug;
        let mut headers = Headers::default();
        headers.add("x-authentik-username", user.username.as_str());
        headers.add("x-authentik-groups", &group_names.join("|"));
        headers.add("x-authentik-email", &user.email);
        headers.add("x-authentik-name", &user.name);
        headers.add("x-authentik-uid", self.subject);
        headers.add("x-authentik-jwt", self.jwt);
        headers.add(
            "x-authentik-meta-jwks",
            &format!("{base_url}/application/o/{slug}/jwks/"),
        );
        headers.add("x-authentik-meta-outpost", routes.outpost_name());
        headers.add("x-authentik-meta-provider", &route.provider.name);
        headers.add("x-authentik-meta-app", slug);
        headers.add("x-authentik-meta-version", env!("CARGO_PKG_VERSION"));
        let attributes = merged_attributes(user, self.groups);
        if route.proxy.basic_auth_enabled {
            if let Some(value) = basic_credentials(route, user, &attributes) {
                headers.push(AUTHORIZATION, &value);
            }
        }
        // authentik's `additionalHeaders` attribute: extra headers per user or group.
        if let Some(Value::Object(extra)) = attributes.get("additionalHeaders") {
            for (name, value) in extra {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                headers.add(name, &text);
            }
        }
        headers.0
    }
}

#[derive(Default)]
struct Headers(Vec<(HeaderName, HeaderValue)>);

impl Headers {
    /// Adds a header; a name or value that cannot be sent (control characters) is
    /// left out rather than failing the whole identity.
    fn add(&mut self, name: &str, value: &str) {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) => self.push(name, value),
            Err(_) => tracing::warn!(header = name, "proxy: header name cannot be sent; left out"),
        }
    }

    fn push(&mut self, name: HeaderName, value: &str) {
        match HeaderValue::from_bytes(value.as_bytes()) {
            Ok(value) => {
                self.0.retain(|(existing, _)| existing != name);
                self.0.push((name, value));
            }
            Err(_) => {
                tracing::warn!(header = %name, "proxy: header value cannot be sent; left out")
            }
        }
    }
}

/// Group attributes with the user's on top, as authentik merges them.
fn merged_attributes(user: &User, groups: &[Group]) -> Map<String, Value> {
    let mut merged = Map::new();
    for group in groups {
        merged.extend(group.attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    merged.extend(user.attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// `Basic base64(user:password)` from the configured attributes: the user part from
/// `basic_auth_user_attribute` (the email when unset, as authentik), the password from
/// `basic_auth_password_attribute`. Nothing when the password attribute is missing.
fn basic_credentials(
    route: &Route,
    user: &User,
    attributes: &Map<String, Value>,
) -> Option<String> {
    let attribute = |name: &str| {
        (!name.is_empty())
            .then(|| attributes.get(name))
            .flatten()
            .and_then(|value| match value {
                Value::String(text) => Some(text.clone()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            })
    };
    let proxy = &route.proxy;
    let username =
        attribute(&proxy.basic_auth_user_attribute).unwrap_or_else(|| user.email.clone());
    let password = attribute(&proxy.basic_auth_password_attribute)?;
    Some(format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    ))
}
