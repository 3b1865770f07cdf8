//! Simple binds, checked as the provider's bind flow (the default authentication flow)
//! checks a sign-in, without a browser: the user (by DN, or a bare username), the
//! password or one of the user's app passwords/API tokens (service accounts bind with
//! those), the second factor when the user has one (`password;123456` when the
//! provider's `mfa_support` is on), and the application's policies. Failures share the
//! reputation score with the web sign-in and look the same from outside.

use std::net::IpAddr;

use serde_json::json;

use crate::crypto::sha256_hex;
use crate::directory::access;
use crate::mfa::validate::{CodeCheck, check_code};
use crate::model::{DeviceClass, EventAction, LdapProvider, Provider, TokenIntent, User, UserId};
use crate::policy::reputation::DEFAULT_THRESHOLD;
use crate::store::DeviceFilter;

use super::LdapServices;
use super::dn;

/// What a bind came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindOutcome {
    /// The user and their username (for the DN WhoAmI answers with).
    Bound(UserId, String),
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
    let reputation = services.policies.reputation();
    let locked_out = reputation.is_locked_out(&username, client_ip, DEFAULT_THRESHOLD);
    let (secret, code) = split_code(password, ldap.mfa_support);
    let outcome = check(
        services, provider, &username, secret, code, locked_out, client_ip,
    )
    .await;
    let ip = client_ip.map(|ip| ip.to_string());
    match &outcome {
        Ok(user) => {
            let _ = reputation.record_success(&username, client_ip);
            services
                .events
                .record(
                    EventAction::Login,
                    Some(user),
                    ip.as_deref(),
                    json!({"method": "ldap", "provider": provider.name}),
                )
                .await;
            BindOutcome::Bound(user.id, user.username.as_str().to_owned())
        }
        Err((reason, message)) => {
            let _ = reputation.record_failure(&username, client_ip);
            services
                .events
                .record(
                    EventAction::LoginFailed,
                    None,
                    ip.as_deref(),
                    json!({"method": "ldap", "provider": provider.name, "username": username, "reason": reason}),
                )
                .await;
            BindOutcome::Refused(message)
        }
    }
}

type Checked = Result<User, (&'static str, &'static str)>;

async fn check(
    services: &LdapServices,
    provider: &Provider,
    username: &str,
    secret: &str,
    code: Option<&str>,
    locked_out: bool,
    client_ip: Option<IpAddr>,
) -> Checked {
    let lookup = username.to_owned();
    let digest = sha256_hex(secret.as_bytes());
    let now = services.clock.now();
    let (user, token_ok) = services
        .db
        .read(move |tx| {
            let user = tx.user_by_username(&lookup)?;
            let token_ok = match (&user, tx.token_by_key_digest(&digest)?) {
                (Some(user), Some(token)) => {
                    token.user == user.id
                        && matches!(token.intent, TokenIntent::AppPassword | TokenIntent::Api)
                        && !token.is_expired(now)
                }
                _ => false,
            };
            Ok((user, token_ok))
        })
        .await
        .map_err(|_| ("storage error", INVALID))?;
    // The same argon2 work whether or not the user exists (no enumeration by timing).
    let hash = user
        .as_ref()
        .filter(|user| user.is_active && !locked_out)
        .and_then(|user| user.password_hash.clone());
    let password_ok =
        !token_ok && !secret.is_empty() && services.hasher.verify(secret.to_owned(), hash).await;
    let Some(user) = user else {
        return Err(("unknown user", INVALID));
    };
    if locked_out {
        return Err(("locked out by reputation", INVALID));
    }
    if !user.is_active {
        return Err(("inactive user", INVALID));
    }
    let interactive = user.user_type.can_sign_in_interactively();
    if !(token_ok || (password_ok && interactive)) {
        return Err(("wrong password", INVALID));
    }
    // App passwords and tokens are the machine credentials: no second factor on them, as
    // authentik. A password needs the user's code when they have a code device.
    if password_ok {
        second_factor(services, &user, code).await?;
    }
    let catalog = services.catalog.load();
    let Some(application) = catalog.application_of_provider(provider.id) else {
        return Err(("provider without application", INVALID));
    };
    let request = access::access_request(&services.db, &user, client_ip)
        .await
        .map_err(|_| ("storage error", INVALID))?;
    let result = access::user_may_access(&services.policies, &catalog, application, &request).await;
    if !result.passing {
        return Err(("access denied", "Access denied"));
    }
    Ok(user)
}

async fn second_factor(
    services: &LdapServices,
    user: &User,
    code: Option<&str>,
) -> Result<(), (&'static str, &'static str)> {
    let classes = [DeviceClass::Totp, DeviceClass::Static];
    let id = user.id;
    let has_devices = services
        .db
        .read(move |tx| {
            Ok(tx
                .devices(DeviceFilter {
                    user: Some(id),
                    confirmed: Some(true),
                    ..DeviceFilter::default()
                })?
                .iter()
                .any(|device| classes.contains(&device.class())))
        })
        .await
        .map_err(|_| ("storage error", INVALID))?;
    if !has_devices {
        return Ok(());
    }
    let Some(code) = code else {
        return Err((
            "code missing",
            "This account needs a second factor: append ;<code> to the password",
        ));
    };
    let now = services.clock.now();
    match check_code(
        &services.db,
        &services.secret_box,
        now,
        user.id,
        code,
        &classes,
    )
    .await
    {
        Ok(CodeCheck::Valid { .. }) | Ok(CodeCheck::NoDevices) => Ok(()),
        Ok(CodeCheck::Invalid) => Err(("wrong code", INVALID)),
        Err(_) => Err(("storage error", INVALID)),
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
