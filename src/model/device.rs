//! Authenticator devices: a user's second factors (authentik's model). One record per
//! device whatever its kind; the kind's own data (a sealed TOTP secret, hashed recovery
//! codes, a WebAuthn credential, an email address) is a tagged JSON value.

use serde::{Deserialize, Serialize};

use super::{Timestamp, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub i64);

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// authentik's device classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    Totp,
    Webauthn,
    Static,
    Email,
}

impl DeviceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Totp => "totp",
            DeviceClass::Webauthn => "webauthn",
            DeviceClass::Static => "static",
            DeviceClass::Email => "email",
        }
    }

    pub fn parse(raw: &str) -> Option<DeviceClass> {
        match raw {
            "totp" => Some(DeviceClass::Totp),
            "webauthn" => Some(DeviceClass::Webauthn),
            "static" => Some(DeviceClass::Static),
            "email" => Some(DeviceClass::Email),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum DeviceData {
    Totp(TotpData),
    Static(StaticData),
    Webauthn(WebauthnData),
    Email(EmailData),
}

impl DeviceData {
    pub fn class(&self) -> DeviceClass {
        match self {
            DeviceData::Totp(_) => DeviceClass::Totp,
            DeviceData::Static(_) => DeviceClass::Static,
            DeviceData::Webauthn(_) => DeviceClass::Webauthn,
            DeviceData::Email(_) => DeviceClass::Email,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpData {
    /// The shared secret (base32), sealed with the installation's `SecretBox`.
    pub secret_sealed: String,
    pub digits: u32,
    pub period: u64,
    /// The last time step a code was accepted for: a code is good once (RFC 6238 §5.2).
    #[serde(default)]
    pub last_step: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticData {
    /// SHA-256 (hex) of each unused recovery code; a used code is removed.
    pub code_hashes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebauthnData {
    /// The credential as webauthn-rs serializes it (`Passkey`/`SecurityKey`), JSON.
    pub credential: serde_json::Value,
    /// Base64url of the credential id, to find the device from an assertion.
    pub credential_id: String,
    /// Whether it can sign in without a username (a discoverable credential).
    pub discoverable: bool,
    #[serde(default)]
    pub aaguid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailData {
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Assigned by the store on insert.
    pub id: DeviceId,
    pub user: UserId,
    pub name: String,
    /// Enrollment finished (a TOTP device is confirmed by its first valid code).
    pub confirmed: bool,
    pub created: Timestamp,
    pub last_updated: Timestamp,
    pub last_used: Option<Timestamp>,
    pub data: DeviceData,
}

impl Device {
    pub fn class(&self) -> DeviceClass {
        self.data.class()
    }
}
