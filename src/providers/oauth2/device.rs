//! The device authorization grant (RFC 8628): a device without a browser asks for a
//! code pair here, shows the user code, and polls the token endpoint while the user
//! approves on another device at `/device/`. State lives in the Kv for the code's life.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::crypto::{random_token, sha256_hex};
use crate::model::{EventAction, ProviderId, Timestamp, User, UserId};

use super::client::{self, Client, PresentedClient};
use super::{OAuthError, OAuthServices, claims, ns};

/// How long a device code lives (authentik's default is ten minutes too).
pub const DEVICE_CODE_TTL_SECS: u64 = 600;
/// The polling interval asked of clients; faster polls get `slow_down`.
pub const POLL_INTERVAL_SECS: i64 = 5;
/// Consonants only, no look-alikes: codes are read aloud and typed on phones (RFC 8628
/// §6.1 recommends such a set); 20^8 ≈ 2.6e10 combinations.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeviceStatus {
    Pending,
    Approved {
        user: UserId,
        auth_time: Timestamp,
        amr: Vec<String>,
    },
    Denied,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceGrant {
    pub provider: ProviderId,
    pub scopes: Vec<String>,
    pub user_code: String,
    pub status: DeviceStatus,
    pub last_poll: Option<i64>,
    pub expires: Timestamp,
}

fn user_code() -> String {
    let mut bytes = [0u8; 8];
    rand::Rng::fill(&mut rand::rng(), &mut bytes[..]);
    let letters: String = bytes
        .iter()
        .map(|b| {
            let index = usize::from(*b) % USER_CODE_ALPHABET.len();
            char::from(USER_CODE_ALPHABET.get(index).copied().unwrap_or(b'B'))
        })
        .collect();
    format!(
        "{}-{}",
        letters.get(..4).unwrap_or_default(),
        letters.get(4..).unwrap_or_default()
    )
}

/// What users type is matched without case, spaces or dashes.
pub fn normalize_user_code(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// POST `/application/o/device/`: a new device code pair.
pub fn authorize_device(
    services: &OAuthServices,
    presented: &PresentedClient,
    scope: Option<&str>,
    base_url: &str,
) -> Result<Value, OAuthError> {
    let catalog = services.catalog.load();
    let client = client::authenticate(&catalog, &services.secret_box, presented)?;
    let scopes = claims::granted_scopes(&catalog, client.oauth(), scope.unwrap_or("openid"));
    let device_code = random_token(32);
    let code = user_code();
    let now = services.clock.now();
    let grant = DeviceGrant {
        provider: client.provider.id,
        scopes,
        user_code: code.clone(),
        status: DeviceStatus::Pending,
        last_poll: None,
        expires: now.plus_secs(DEVICE_CODE_TTL_SECS),
    };
    let device_hash = sha256_hex(device_code.as_bytes());
    services
        .ephemeral
        .put(ns::DEVICE_CODES, &device_hash, &grant, DEVICE_CODE_TTL_SECS)?;
    services.ephemeral.put(
        ns::USER_CODES,
        &normalize_user_code(&code),
        &device_hash,
        DEVICE_CODE_TTL_SECS,
    )?;
    let verification_uri = format!("{base_url}/device/");
    Ok(json!({
        "device_code": device_code,
        "user_code": code,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?code={code}"),
        "expires_in": DEVICE_CODE_TTL_SECS,
        "interval": POLL_INTERVAL_SECS,
    }))
}

/// A pending device request, found by the code the user typed.
pub struct PendingDevice {
    pub device_hash: String,
    pub grant: DeviceGrant,
    pub client: Client,
}

pub fn find_pending(
    services: &OAuthServices,
    typed: &str,
) -> Result<Option<PendingDevice>, OAuthError> {
    let Some(device_hash) = services
        .ephemeral
        .get::<String>(ns::USER_CODES, &normalize_user_code(typed))?
    else {
        return Ok(None);
    };
    let Some(grant) = services
        .ephemeral
        .get::<DeviceGrant>(ns::DEVICE_CODES, &device_hash)?
    else {
        return Ok(None);
    };
    if grant.status != DeviceStatus::Pending {
        return Ok(None);
    }
    let catalog = services.catalog.load();
    let Some(provider) = catalog.provider(grant.provider) else {
        return Ok(None);
    };
    let Some(client) = provider
        .client_id()
        .and_then(|id| client::find(&catalog, id))
    else {
        return Ok(None);
    };
    Ok(Some(PendingDevice {
        device_hash,
        grant,
        client,
    }))
}

/// The user's answer on the device page. The user code is spent either way.
pub async fn decide(
    services: &OAuthServices,
    pending: PendingDevice,
    user: &User,
    auth_time: Timestamp,
    amr: Vec<String>,
    approve: bool,
    client_ip: Option<&str>,
) -> Result<(), OAuthError> {
    let PendingDevice {
        device_hash,
        mut grant,
        client,
    } = pending;
    services
        .ephemeral
        .delete(ns::USER_CODES, &normalize_user_code(&grant.user_code))?;
    grant.status = if approve {
        DeviceStatus::Approved {
            user: user.id,
            auth_time,
            amr,
        }
    } else {
        DeviceStatus::Denied
    };
    services
        .ephemeral
        .put_until(ns::DEVICE_CODES, &device_hash, &grant, grant.expires)?;
    services
        .events
        .record(
            if approve {
                EventAction::AuthorizeApplication
            } else {
                EventAction::AccessDenied
            },
            Some(user),
            client_ip,
            json!({"application": client.application.slug, "grant": "device_code", "scopes": grant.scopes}),
        )
        .await;
    Ok(())
}
