//! Simple binds. The user (by DN, or a bare username) proves themselves by running the
//! provider's bind flow headless — the default authentication flow unless another is
//! chosen — with the password and, when the provider's `mfa_support` is on, the code
//! after `;` (`password;123456`) as answers; or with one of their app passwords/API
//! tokens (service accounts bind with those). Then the application's policies decide.
//! Failures share the reputation score with the web sign-in and look the same from
//! outside. In the `cached` bind mode a success is remembered for a while (see
//! `bind_cache`).

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::crypto::sha256_hex;
use crate::directory::access;
use crate::flow::FlowRequest;
use crate::flow::challenge::StageResponse;
use crate::flow::headless::Headless;
use crate::model::{
    EventAction, Group, LdapAccessMode, LdapProvider, Provider, TokenIntent, UserId,
};
use crate::policy::PolicyRequest;
use crate::policy::reputation::DEFAULT_THRESHOLD;
use crate::session::ClientInfo;

use super::LdapServices;
use super::dn;

/// What a bind came to.
#[derive(Debug, Clone, PartialEq)]
pub enum BindOutcome {
    Bound(Proven),
    /// invalidCredentials, with the message the client sees.
    Refused(&'static str),
}

const INVALID: &str = "Invalid credentials";

/// The username a bind DN names: `cn=<name>,ou=users,<base>` (or `uid=`), or a bare
/// name without `=`.
pub fn username_of(bind_dn: &str, base_dn_norm: &str) -> Option<String> {
    let bind_dn = bind_dn.trim();
    if !bind_dn.contains('=') {
        return (!bind_dn.is_empty()).then(|| bind_dn.to_owned());
    }
    let normalized = dn::normalize(bind_dn);
    let users_ou = format!("ou=users,{base_dn_norm}");
    if dn::parent(&normalized) != users_ou {
        return None;
    }
    let (kind, _) = normalized.split_once('=')?;
    if kind != "cn" && kind != "uid" {
        return None;
    }
    // The value as the client wrote it (the normalized one is lowercased), unescaped.
    let first = bind_dn.split(',').next()?;
    let (_, value) = first.split_once('=')?;
    Some(value.trim().replace('\\', ""))
}

/// Splits `password;123456` when MFA support is on: the part after the last `;` is the
/// code when it looks like one (digits, or a recovery code: letters and digits).
fn split_code(password: &str, mfa_support: bool) -> (&str, Option<&str>) {
    if !mfa_support {
        return (password, None);
    }
    match password.rsplit_once(';') {
        Some((secret, code))
            if (6..=32).contains(&code.len())
                && code.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            (secret, Some(code))
        }
        _ => (password, None),
    }
}

/// Who a successful bind proved.
#[derive(Debug, Clone, PartialEq)]
pub struct Proven {
    pub user: UserId,
    pub username: String,
    /// The user's groups with their ancestors (for the search permission).
    pub groups: Vec<Group>,
}

pub async fn bind(
    services: &LdapServices,
    provider: &Provider,
    ldap: &LdapProvider,
    bind_dn: &str,
    password: &str,
    client_ip: Option<IpAddr>,
) -> BindOutcome {
    let base = dn::normalize(&ldap.base_dn);
    let Some(username) = username_of(bind_dn, &base) else {
        return BindOutcome::Refused(INVALID);
    };
    let (secret, code) = split_code(password, ldap.mfa_support);
    let cached = ldap.bind_mode == LdapAccessMode::Cached;
    let epoch = services.sessions.directory_epoch();
    if cached {
        if let Some(proven) = services
            .bind_cache
            .get(provider.id, &username, secret, epoch)
        {
            return BindOutcome::Bound(proven);
        }
    }
    match check(services, provider, &username, secret, code, client_ip).await {
        Ok(proven) => {
            if cached {
                services
                    .bind_cache
                    .put(provider.id, &username, secret, epoch, &proven);
            }
            BindOutcome::Bound(proven)
        }
        Err((reason, message)) => {
            // Written after the answer: the failure is the client's to wait for, not
            // the event's. (A wrong password is recorded by the password stage itself.)
            if reason != WRONG_PASSWORD {
                let events = services.events.clone();
                let context = json!({"method": "ldap", "provider": provider.name,
                                     "username": username, "reason": reason});
                let ip = client_ip.map(|ip| ip.to_string());
                tokio::spawn(async move {
                    events
                        .record(EventAction::LoginFailed, None, ip.as_deref(), context)
                        .await;
                });
            }
            BindOutcome::Refused(message)
        }
    }
}

type Checked = Result<Proven, (&'static str, &'static str)>;

const WRONG_PASSWORD: &str = "wrong password";

async fn check(
    services: &LdapServices,
    provider: &Provider,
    username: &str,
    secret: &str,
    code: Option<&str>,
    client_ip: Option<IpAddr>,
) -> Checked {
    let started = std::time::Instant::now();
    let user = match machine_credential(services, username, secret, client_ip).await? {
        Some(user) => user,
        None => run_bind_flow(services, provider, username, secret, code, client_ip).await?,
    };
    let proven_after = started.elapsed();
    let (user, groups) = services
        .db
        .read(move |tx| {
            let groups = crate::directory::groups_with_ancestors(tx, user)?;
            Ok((tx.user_by_id(user)?, groups))
        })
        .await
        .map_err(|_| ("storage error", INVALID))?;
    let user = user.ok_or(("user gone", INVALID))?;
    let catalog = services.catalog.load();
    let Some(application) = catalog.application_of_provider(provider.id) else {
        return Err(("provider without application", INVALID));
    };
    let request = PolicyRequest {
        user: Some(user.clone()),
        groups: groups.clone(),
        client_ip,
        http_headers: Default::default(),
        context: serde_json::Map::new(),
    };
    let result = access::user_may_access(&services.policies, &catalog, application, &request).await;
    if !result.passing {
        return Err(("access denied", "Access denied"));
    }
    tracing::debug!(
        proven_us = proven_after.as_micros(),
        total_us = started.elapsed().as_micros(),
        "ldap: bind checked"
    );
    Ok(Proven {
        user: user.id,
        username: user.username.as_str().to_owned(),
        groups,
    })
}

/// App passwords and API tokens are machine credentials: they bind without the flow and
/// without a second factor, as in authentik (service accounts have nothing else).
/// `None` when `secret` is not one of the user's tokens.
async fn machine_credential(
    services: &LdapServices,
    username: &str,
    secret: &str,
    client_ip: Option<IpAddr>,
) -> Result<Option<UserId>, (&'static str, &'static str)> {
    let lookup = username.to_owned();
    let digest = sha256_hex(secret.as_bytes());
    let now = services.clock.now();
    let user = services
        .db
        .read(move |tx| {
            let Some(token) = tx.token_by_key_digest(&digest)? else {
                return Ok(None);
            };
            let usable = matches!(token.intent, TokenIntent::AppPassword | TokenIntent::Api)
                && !token.is_expired(now);
            let user = tx.user_by_id(token.user)?;
            Ok(user.filter(|user| usable && user.username.as_str() == lookup))
        })
        .await
        .map_err(|_| ("storage error", INVALID))?;
    let Some(user) = user else {
        return Ok(None);
    };
    let reputation = services.policies.reputation();
    if reputation.is_locked_out(username, client_ip, DEFAULT_THRESHOLD) {
        return Err(("locked out by reputation", INVALID));
    }
    if !user.is_active {
        return Err(("inactive user", INVALID));
    }
    let _ = reputation.record_success(username, client_ip);
    // The flow's login stage records a flow sign-in; this one is recorded here, after
    // the answer (authentik's shape for token logins).
    let event = services.events.prepare(
        EventAction::Login,
        Some(&user),
        client_ip.map(|ip| ip.to_string()).as_deref(),
        json!({"auth_method": "app_password", "protocol": "ldap"}),
    );
    let db = services.db.clone();
    tokio::spawn(async move {
        if let Err(error) = db.write(move |tx| tx.insert_event(&event)).await {
            tracing::warn!(%error, "ldap: recording a token bind failed");
        }
    });
    Ok(Some(user.id))
}

/// Runs the provider's bind flow headless, answering its stages from the bind: the
/// username, the password, the code after `;`. Reputation, events and the checks of
/// each stage are the flow's own, as for a sign-in in a browser.
async fn run_bind_flow(
    services: &LdapServices,
    provider: &Provider,
    username: &str,
    secret: &str,
    code: Option<&str>,
    client_ip: Option<IpAddr>,
) -> Result<UserId, (&'static str, &'static str)> {
    let catalog = services.catalog.load();
    let Some(flow) = catalog.flow_by_id(provider.authorization_flow) else {
        return Err(("bind flow missing", INVALID));
    };
    let request = FlowRequest {
        slug: flow.slug.clone(),
        browser_key: crate::crypto::random_token(16),
        session: None,
        client: ClientInfo {
            ip: client_ip.map(|ip| ip.to_string()),
            user_agent: "gatehouse-ldap".into(),
        },
        next: None,
        setup_token: None,
        invitation_token: None,
        flow_token: None,
        base_url: String::new(),
        initial_context: serde_json::Map::new(),
        headless: Some("ldap"),
    };
    let answer = |challenge: &Value| -> Option<StageResponse> {
        let mut response = StageResponse::new();
        match challenge.get("component").and_then(Value::as_str)? {
            "ak-stage-identification" => {
                response.insert("uid_field".into(), json!(username));
                response.insert("password".into(), json!(secret));
            }
            "ak-stage-password" => {
                response.insert("password".into(), json!(secret));
            }
            "ak-stage-authenticator-validate" => {
                response.insert("code".into(), json!(code?));
            }
            "ak-stage-user-login" => {
                response.insert("remember_me".into(), json!(false));
            }
            _ => return None,
        }
        Some(response)
    };
    match services.flows.run_headless(&request, answer).await {
        Ok(Headless::Authenticated { user, .. }) => Ok(user),
        Ok(Headless::Refused(_)) => Err((WRONG_PASSWORD, INVALID)),
        Ok(Headless::Unanswerable(component)) if component == "ak-stage-authenticator-validate" => {
            let codes_accepted = provider.ldap().is_some_and(|ldap| ldap.mfa_support);
            Err((
                "code missing",
                if codes_accepted {
                    "This account needs a second factor: append ;<code> to the password"
                } else {
                    "This account needs a second factor, and this LDAP provider does not \
                     take codes (its mfa_support is off): bind with an app password"
                },
            ))
        }
        Ok(Headless::Unanswerable(component)) => {
            tracing::info!(%component, flow = %flow.slug, "ldap: the bind flow has a stage a bind cannot answer");
            Err(("bind flow needs a browser", INVALID))
        }
        Err(error) => {
            tracing::error!(%error, "ldap: the bind flow failed");
            Err(("flow error", INVALID))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_dns_and_codes() {
        let base = "dc=ldap,dc=goauthentik,dc=io";
        assert_eq!(
            username_of("cn=Alice,ou=users,DC=ldap,DC=goauthentik,DC=io", base).as_deref(),
            Some("Alice")
        );
        assert_eq!(
            username_of("uid=bob, ou=users, dc=ldap,dc=goauthentik,dc=io", base).as_deref(),
            Some("bob")
        );
        assert_eq!(username_of("carol", base).as_deref(), Some("carol"));
        assert_eq!(
            username_of("cn=x,ou=groups,dc=ldap,dc=goauthentik,dc=io", base),
            None
        );
        assert_eq!(username_of("cn=x,ou=users,dc=other", base), None);
        assert_eq!(split_code("pw;123456", true), ("pw", Some("123456")));
        assert_eq!(split_code("pw;123456", false), ("pw;123456", None));
        assert_eq!(
            split_code("a;b;c;abcdefgh12", true),
            ("a;b;c", Some("abcdefgh12"))
        );
        assert_eq!(split_code("semi;colon pw", true), ("semi;colon pw", None));
    }
}
