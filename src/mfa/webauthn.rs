//! WebAuthn: passkeys and security keys, as second factors and for passwordless sign-in.
//! Transport-free: the web layer hands in the origin the browser used, the flow stage a
//! binding (its flow execution), and the JSON the browser produced; out come the options
//! for `navigator.credentials.create/get` and the verified device data.
//!
//! - The relying party is the host the browser uses: rp id = that host, origin =
//!   `scheme://host[:port]`. One `WebauthnCore` per origin, built once and cached.
//! - A ceremony's state goes into the Kv under a random id for [`CEREMONY_TTL_SECS`],
//!   bound to the flow execution that started it, and is taken (read and deleted) once.
//! - Registration: passkeys (discoverable, user verification preferred) or security keys
//!   (second factor); attestation "none" unless the stage requires one.
//! - Authentication: a known user's credentials (allow-list), or discoverable
//!   (passwordless, conditional UI / autofill) where the credential names the user.
//!   Sign counters are checked (a counter that goes backwards is refused) and the new
//!   counter and backup state are written back into the device's credential.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticationState, AuthenticatorAttachment, Credential,
    Mediation, ParsedAttestationData, PublicKeyCredential, RegisterPublicKeyCredential,
    RegistrationState, RequestRegistrationExtensions, ResidentKeyRequirement,
    UserVerificationPolicy,
};

use crate::crypto::random_token;
use crate::model::device::{Device, DeviceData, WebauthnData};
use crate::store::{Ephemeral, StoreError};

/// How long a started ceremony can be finished (the browser's timeout is the same).
pub const CEREMONY_TTL_SECS: u64 = 300;
const KV_NAMESPACE: &str = "webauthn_ceremony";
/// Relying parties kept at once; the cache is emptied when full (the Host header is the
/// client's to choose, so it must not grow without bound).
const MAX_CACHED_ORIGINS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum WebauthnError {
    #[error("the origin {0:?} cannot be a WebAuthn relying party")]
    BadOrigin(String),
    #[error("no such ceremony (expired, already finished, or started elsewhere)")]
    UnknownCeremony,
    #[error("the user has no credential to sign in with")]
    NoCredentials,
    #[error("malformed credential from the browser: {0}")]
    Malformed(String),
    #[error("the credential is not one of this user's")]
    WrongCredential,
    #[error("the authenticator did not provide an attestation")]
    AttestationMissing,
    #[error("verification failed: {0}")]
    Rejected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// authentik's `user_verification` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    Required,
    #[default]
    Preferred,
    Discouraged,
}

impl UserVerification {
    fn policy(self) -> UserVerificationPolicy {
        match self {
            UserVerification::Required => UserVerificationPolicy::Required,
            UserVerification::Preferred => UserVerificationPolicy::Preferred,
            UserVerification::Discouraged => UserVerificationPolicy::Discouraged_DO_NOT_USE,
        }
    }
}

/// authentik's `resident_key_requirement` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidentKey {
    Discouraged,
    #[default]
    Preferred,
    Required,
}

/// authentik's `authenticator_attachment` setting (`None`: either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attachment {
    #[serde(rename = "platform")]
    Platform,
    #[serde(rename = "cross-platform")]
    CrossPlatform,
}

/// What a registration asks of the authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationOptions {
    pub user_verification: UserVerification,
    pub resident_key: ResidentKey,
    pub attachment: Option<Attachment>,
    /// Ask for a direct attestation and refuse authenticators that send none.
    pub require_attestation: bool,
}

impl RegistrationOptions {
    /// A passkey: a discoverable credential, to sign in without a username.
    pub fn passkey() -> RegistrationOptions {
        RegistrationOptions {
            user_verification: UserVerification::Preferred,
            resident_key: ResidentKey::Required,
            attachment: None,
            require_attestation: false,
        }
    }

    /// A security key as a second factor: no resident key needed.
    pub fn security_key() -> RegistrationOptions {
        RegistrationOptions {
            user_verification: UserVerification::Preferred,
            resident_key: ResidentKey::Discouraged,
            attachment: None,
            require_attestation: false,
        }
    }
}

/// The origin the browser uses, parsed from the request's scheme and Host header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    url: Url,
    rp_id: String,
}

impl Origin {
    /// `scheme` is `http` or `https`, `host` the Host header (`name[:port]`). An IP
    /// address is refused: browsers do not accept one as a relying party id.
    pub fn new(scheme: &str, host: &str) -> Result<Origin, WebauthnError> {
        let bad = || WebauthnError::BadOrigin(format!("{scheme}://{host}"));
        if !matches!(scheme, "http" | "https")
            || host.is_empty()
            || host.contains(['/', '@', '?', '#', '\\'])
        {
            return Err(bad());
        }
        let url = Url::parse(&format!("{scheme}://{host}")).map_err(|_| bad())?;
        let rp_id = url.domain().ok_or_else(bad)?.to_ascii_lowercase();
        if rp_id.is_empty() || rp_id.ends_with('.') {
            return Err(bad());
        }
        Ok(Origin { url, rp_id })
    }

    /// `scheme://host[:port]`, as the browser writes it in `clientDataJSON`.
    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }
}

/// The relying parties this server has been one for: one per origin (and name).
#[derive(Default)]
pub struct RelyingParties {
    cache: Mutex<HashMap<(String, String), Arc<WebauthnCore>>>,
}

impl RelyingParties {
    pub fn new() -> RelyingParties {
        RelyingParties::default()
    }

    /// The relying party for `origin`; `name` is what authenticators show next to the
    /// credential (the brand's title).
    pub fn get(&self, origin: &Origin, name: &str) -> RelyingParty {
        let key = (origin.as_str().to_owned(), name.to_owned());
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let core = match cache.get(&key) {
            Some(core) => core.clone(),
            None => {
                if cache.len() >= MAX_CACHED_ORIGINS {
                    cache.clear();
                }
                let core = Arc::new(WebauthnCore::new_unsafe_experts_only(
                    name,
                    origin.rp_id(),
                    vec![origin.url.clone()],
                    Duration::from_secs(CEREMONY_TTL_SECS),
                    Some(false),
                    Some(false),
                ));
                cache.insert(key, core.clone());
                core
            }
        };
        RelyingParty {
            core,
            origin: origin.clone(),
        }
    }
}

/// The user a credential is created for.
pub struct WebauthnUser<'a> {
    /// The user handle the authenticator keeps (authentik's user uuid): how a
    /// discoverable credential names its user.
    pub uuid: Uuid,
    pub username: &'a str,
    pub display_name: &'a str,
}

/// A started ceremony: its id (to send back with the answer) and the options for
/// `navigator.credentials.create` (`{"publicKey": ...}`) or `.get`.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub ceremony: String,
    pub options: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    origin: String,
    binding: String,
    step: PendingStep,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
enum PendingStep {
    Register {
        state: RegistrationState,
        resident_key: ResidentKey,
        require_attestation: bool,
    },
    Authenticate {
        state: AuthenticationState,
        /// The allow-list (base64url ids); `None`: discoverable, any credential.
        allowed: Option<Vec<String>>,
    },
}

/// An authentication that was started and taken from the Kv, waiting for the device
/// the assertion names ([`assertion_credential_id`]).
pub struct PendingAuthentication {
    state: AuthenticationState,
    allowed: Option<Vec<String>>,
}

impl PendingAuthentication {
    /// A passwordless sign-in: the credential says who the user is.
    pub fn is_discoverable(&self) -> bool {
        self.allowed.is_none()
    }
}

/// A verified assertion: the device with its credential's new counter and backup state.
#[derive(Debug, Clone)]
pub struct Verified {
    pub device: Device,
    /// The counter or backup state changed: store the device.
    pub changed: bool,
    pub user_verified: bool,
}

/// One relying party (one origin).
#[derive(Clone)]
pub struct RelyingParty {
    core: Arc<WebauthnCore>,
    origin: Origin,
}

impl RelyingParty {
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Starts registering a credential for `user`; `existing` are the user's devices
    /// (their credentials are excluded, so one authenticator is not registered twice).
    pub fn start_registration(
        &self,
        kv: &Ephemeral,
        binding: &str,
        user: &WebauthnUser<'_>,
        existing: &[Device],
        options: &RegistrationOptions,
    ) -> Result<Started, WebauthnError> {
        let exclude: Vec<_> = existing
            .iter()
            .filter_map(|device| match &device.data {
                DeviceData::Webauthn(data) => URL_SAFE_NO_PAD.decode(&data.credential_id).ok(),
                _ => None,
            })
            .collect();
        let extensions = RequestRegistrationExtensions {
            cred_protect: None,
            uvm: Some(true),
            cred_props: Some(true),
            min_pin_length: None,
            hmac_create_secret: None,
        };
        let display_name = if user.display_name.trim().is_empty() {
            user.username
        } else {
            user.display_name
        };
        let attestation = if options.require_attestation {
            AttestationConveyancePreference::Direct
        } else {
            AttestationConveyancePreference::None
        };
        let builder = self
            .core
            .new_challenge_register_builder(user.uuid.as_bytes(), user.username, display_name)
            .map_err(rejected)?
            .attestation(attestation)
            .user_verification_policy(options.user_verification.policy())
            .require_resident_key(options.resident_key == ResidentKey::Required)
            .authenticator_attachment(options.attachment.map(|attachment| match attachment {
                Attachment::Platform => AuthenticatorAttachment::Platform,
                Attachment::CrossPlatform => AuthenticatorAttachment::CrossPlatform,
            }))
            .exclude_credentials((!exclude.is_empty()).then_some(exclude))
            .extensions(Some(extensions));
        let (mut challenge, state) = self
            .core
            .generate_challenge_register(builder)
            .map_err(rejected)?;
        // The core knows "required" and "discouraged" only; "preferred" asks the
        // authenticator for a resident key when it can make one.
        if options.resident_key == ResidentKey::Preferred {
            if let Some(selection) = challenge.public_key.authenticator_selection.as_mut() {
                selection.resident_key = Some(ResidentKeyRequirement::Preferred);
            }
        }
        let options_json = to_json(&challenge)?;
        self.put(
            kv,
            binding,
            PendingStep::Register {
                state,
                resident_key: options.resident_key,
                require_attestation: options.require_attestation,
            },
            options_json,
        )
    }

    /// Finishes a registration with the browser's `PublicKeyCredential` (JSON, binary
    /// fields base64url). Returns the device data to store.
    pub fn finish_registration(
        &self,
        kv: &Ephemeral,
        binding: &str,
        ceremony: &str,
        response: &serde_json::Value,
    ) -> Result<WebauthnData, WebauthnError> {
        let PendingStep::Register {
            state,
            resident_key,
            require_attestation,
        } = self.take(kv, binding, ceremony)?
        else {
            return Err(WebauthnError::UnknownCeremony);
        };
        let credential: RegisterPublicKeyCredential = serde_json::from_value(response.clone())
            .map_err(|e| WebauthnError::Malformed(e.to_string()))?;
        let registered = self
            .core
            .register_credential(&credential, &state, None)
            .map_err(rejected)?;
        if require_attestation
            && !matches!(
                registered.attestation.data,
                ParsedAttestationData::Basic(_)
                    | ParsedAttestationData::AttCa(_)
                    | ParsedAttestationData::AnonCa(_)
            )
        {
            return Err(WebauthnError::AttestationMissing);
        }
        // credProps.rk is the browser's word (unsigned); without it, what was required.
        let discoverable = credential
            .extensions
            .cred_props
            .as_ref()
            .and_then(|props| props.rk)
            .unwrap_or(resident_key == ResidentKey::Required);
        Ok(WebauthnData {
            credential_id: URL_SAFE_NO_PAD.encode(registered.cred_id.as_slice()),
            aaguid: aaguid(&registered),
            credential: to_json(&registered)?,
            discoverable,
        })
    }

    /// Starts authenticating a known user (a second factor): the browser may use only
    /// the credentials of `devices` (WebAuthn devices; others are ignored).
    pub fn start_authentication(
        &self,
        kv: &Ephemeral,
        binding: &str,
        devices: &[Device],
        user_verification: UserVerification,
    ) -> Result<Started, WebauthnError> {
        let credentials: Vec<Credential> = devices
            .iter()
            .filter(|device| device.confirmed)
            .filter_map(|device| credential_of(device).ok())
            .collect();
        if credentials.is_empty() {
            return Err(WebauthnError::NoCredentials);
        }
        let allowed = credentials
            .iter()
            .map(|credential| URL_SAFE_NO_PAD.encode(credential.cred_id.as_slice()))
            .collect();
        let builder = self
            .core
            .new_challenge_authenticate_builder(credentials, Some(user_verification.policy()))
            .map_err(rejected)?
            .allow_backup_eligible_upgrade(true);
        let (challenge, state) = self
            .core
            .generate_challenge_authenticate(builder)
            .map_err(rejected)?;
        let options = to_json(&challenge)?;
        self.put(
            kv,
            binding,
            PendingStep::Authenticate {
                state,
                allowed: Some(allowed),
            },
            options,
        )
    }

    /// Starts a passwordless sign-in: no username, an empty allow-list, and
    /// `mediation: "conditional"` so the browser can offer its passkeys in the username
    /// field's autofill (the page may also call `get` without it, from a button).
    pub fn start_discoverable(
        &self,
        kv: &Ephemeral,
        binding: &str,
        user_verification: UserVerification,
    ) -> Result<Started, WebauthnError> {
        let builder = self
            .core
            .new_challenge_authenticate_builder(Vec::new(), Some(user_verification.policy()))
            .map_err(rejected)?
            .allow_backup_eligible_upgrade(true);
        let (mut challenge, state) = self
            .core
            .generate_challenge_authenticate(builder)
            .map_err(rejected)?;
        challenge.mediation = Some(Mediation::Conditional);
        let options = to_json(&challenge)?;
        self.put(
            kv,
            binding,
            PendingStep::Authenticate {
                state,
                allowed: None,
            },
            options,
        )
    }

    /// Takes a started authentication from the Kv (once).
    pub fn take_authentication(
        &self,
        kv: &Ephemeral,
        binding: &str,
        ceremony: &str,
    ) -> Result<PendingAuthentication, WebauthnError> {
        match self.take(kv, binding, ceremony)? {
            PendingStep::Authenticate { state, allowed } => {
                Ok(PendingAuthentication { state, allowed })
            }
            PendingStep::Register { .. } => Err(WebauthnError::UnknownCeremony),
        }
    }

    /// Verifies the browser's assertion against `device` (the device its credential id
    /// names, [`assertion_credential_id`]) whose user has the handle `user_uuid`.
    /// A discoverable sign-in also checks the user handle the authenticator returned.
    pub fn finish_authentication(
        &self,
        pending: &PendingAuthentication,
        response: &serde_json::Value,
        device: &Device,
        user_uuid: Uuid,
    ) -> Result<Verified, WebauthnError> {
        let assertion: PublicKeyCredential = serde_json::from_value(response.clone())
            .map_err(|e| WebauthnError::Malformed(e.to_string()))?;
        let DeviceData::Webauthn(data) = &device.data else {
            return Err(WebauthnError::WrongCredential);
        };
        if !device.confirmed || URL_SAFE_NO_PAD.encode(&assertion.raw_id) != data.credential_id {
            return Err(WebauthnError::WrongCredential);
        }
        match &pending.allowed {
            Some(allowed) => {
                if !allowed.contains(&data.credential_id) {
                    return Err(WebauthnError::WrongCredential);
                }
            }
            None => {
                if assertion.get_user_unique_id() != Some(user_uuid.as_bytes().as_slice()) {
                    return Err(WebauthnError::WrongCredential);
                }
            }
        }
        let mut credential = credential_of(device)?;
        let result = self
            .core
            .authenticate_single_credential(&assertion, &pending.state, &credential)
            .map_err(rejected)?;
        let changed = result.needs_update();
        if changed {
            if result.counter() > credential.counter {
                credential.counter = result.counter();
            }
            credential.backup_state = result.backup_state();
            credential.backup_eligible = result.backup_eligible();
        }
        let mut device = device.clone();
        if let DeviceData::Webauthn(data) = &mut device.data {
            data.credential = to_json(&credential)?;
        }
        Ok(Verified {
            device,
            changed,
            user_verified: result.user_verified(),
        })
    }

    fn put(
        &self,
        kv: &Ephemeral,
        binding: &str,
        step: PendingStep,
        options: serde_json::Value,
    ) -> Result<Started, WebauthnError> {
        let ceremony = random_token(24);
        let pending = Pending {
            origin: self.origin.as_str().to_owned(),
            binding: binding.to_owned(),
            step,
        };
        kv.put(KV_NAMESPACE, &ceremony, &pending, CEREMONY_TTL_SECS)?;
        Ok(Started { ceremony, options })
    }

    fn take(
        &self,
        kv: &Ephemeral,
        binding: &str,
        ceremony: &str,
    ) -> Result<PendingStep, WebauthnError> {
        if ceremony.is_empty() || ceremony.len() > 64 {
            return Err(WebauthnError::UnknownCeremony);
        }
        let pending: Pending = kv
            .take(KV_NAMESPACE, ceremony)?
            .ok_or(WebauthnError::UnknownCeremony)?;
        if pending.binding != binding || pending.origin != self.origin.as_str() {
            return Err(WebauthnError::UnknownCeremony);
        }
        Ok(pending.step)
    }
}

/// The credential id (base64url) an assertion names, to find its device.
pub fn assertion_credential_id(response: &serde_json::Value) -> Option<String> {
    let raw = response
        .get("rawId")
        .or_else(|| response.get("id"))?
        .as_str()?;
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored credential of a WebAuthn device (also read in webauthn-rs's `Passkey` /
/// `SecurityKey` shape, `{"cred": ...}`).
fn credential_of(device: &Device) -> Result<Credential, WebauthnError> {
    let DeviceData::Webauthn(data) = &device.data else {
        return Err(WebauthnError::WrongCredential);
    };
    let value = match data.credential.get("cred_id") {
        Some(_) => &data.credential,
        None => data.credential.get("cred").unwrap_or(&data.credential),
    };
    serde_json::from_value(value.clone()).map_err(|e| WebauthnError::Malformed(e.to_string()))
}

fn aaguid(credential: &Credential) -> Option<String> {
    use webauthn_rs_core::proto::AttestationMetadata;
    match &credential.attestation.metadata {
        AttestationMetadata::Packed { aaguid } | AttestationMetadata::Tpm { aaguid, .. } => {
            Some(aaguid.to_string())
        }
        _ => None,
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, WebauthnError> {
    serde_json::to_value(value).map_err(|e| WebauthnError::Malformed(e.to_string()))
}

fn rejected(error: webauthn_rs_core::error::WebauthnError) -> WebauthnError {
    WebauthnError::Rejected(error.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    //! Whole ceremonies against a small software authenticator (P-256 from `ring`, the
    //! CBOR written by hand), since webauthn-rs ships no test authenticator without
    //! OpenSSL.

    use std::sync::Arc;

    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::device::Device;
    use crate::model::{DeviceId, Timestamp, UserId};
    use crate::store::memory_kv::MemoryKv;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn unb64(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    fn cbor_head(major: u8, len: usize, out: &mut Vec<u8>) {
        let major = major << 5;
        if len < 24 {
            out.push(major | len as u8);
        } else if len < 256 {
            out.extend([major | 24, len as u8]);
        } else {
            out.push(major | 25);
            out.extend((len as u16).to_be_bytes());
        }
    }

    fn cbor_int(value: i64, out: &mut Vec<u8>) {
        if value >= 0 {
            cbor_head(0, value as usize, out);
        } else {
            cbor_head(1, (-1 - value) as usize, out);
        }
    }

    fn cbor_bytes(bytes: &[u8], out: &mut Vec<u8>) {
        cbor_head(2, bytes.len(), out);
        out.extend(bytes);
    }

    fn cbor_text(text: &str, out: &mut Vec<u8>) {
        cbor_head(3, text.len(), out);
        out.extend(text.as_bytes());
    }

    /// A platform authenticator with one resident P-256 credential.
    struct SoftKey {
        key: EcdsaKeyPair,
        id: Vec<u8>,
        counter: u32,
        user_handle: Vec<u8>,
    }

    impl SoftKey {
        fn new() -> SoftKey {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
            let key =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap();
            SoftKey {
                key,
                id: random_token(16).into_bytes(),
                counter: 0,
                user_handle: Vec::new(),
            }
        }

        fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
            serde_json::to_vec(&json!({
                "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false
            }))
            .unwrap()
        }

        fn create(&mut self, options: &Value, origin: &str) -> Value {
            let public_key = &options["publicKey"];
            let rp_id = public_key["rp"]["id"].as_str().unwrap();
            self.user_handle = unb64(public_key["user"]["id"].as_str().unwrap());
            let client_data = Self::client_data(
                "webauthn.create",
                public_key["challenge"].as_str().unwrap(),
                origin,
            );
            let point = self.key.public_key().as_ref();
            let mut cose = Vec::new();
            cbor_head(5, 5, &mut cose);
            for (label, value) in [(1, 2), (3, -7), (-1, 1)] {
                cbor_int(label, &mut cose);
                cbor_int(value, &mut cose);
            }
            cbor_int(-2, &mut cose);
            cbor_bytes(&point[1..33], &mut cose);
            cbor_int(-3, &mut cose);
            cbor_bytes(&point[33..65], &mut cose);
            let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
            auth_data.push(0x01 | 0x04 | 0x40); // UP, UV, attested credential data
            auth_data.extend(self.counter.to_be_bytes());
            auth_data.extend([0u8; 16]);
            auth_data.extend((self.id.len() as u16).to_be_bytes());
            auth_data.extend(&self.id);
            auth_data.extend(cose);
            let mut attestation = Vec::new();
            cbor_head(5, 3, &mut attestation);
            cbor_text("fmt", &mut attestation);
            cbor_text("none", &mut attestation);
            cbor_text("attStmt", &mut attestation);
            cbor_head(5, 0, &mut attestation);
            cbor_text("authData", &mut attestation);
            cbor_bytes(&auth_data, &mut attestation);
            json!({
                "id": b64(&self.id), "rawId": b64(&self.id), "type": "public-key",
                "response": {
                    "attestationObject": b64(&attestation),
                    "clientDataJSON": b64(&client_data),
                },
                "clientExtensionResults": {"credProps": {"rk": true}},
            })
        }

        fn get(&mut self, options: &Value, origin: &str) -> Value {
            let public_key = &options["publicKey"];
            let rp_id = public_key["rpId"].as_str().unwrap();
            let client_data = Self::client_data(
                "webauthn.get",
                public_key["challenge"].as_str().unwrap(),
                origin,
            );
            self.counter += 1;
            let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
            auth_data.push(0x01 | 0x04);
            auth_data.extend(self.counter.to_be_bytes());
            let mut signed = auth_data.clone();
            signed.extend(Sha256::digest(&client_data));
            let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
            json!({
                "id": b64(&self.id), "rawId": b64(&self.id), "type": "public-key",
                "response": {
                    "authenticatorData": b64(&auth_data),
                    "clientDataJSON": b64(&client_data),
                    "signature": b64(signature.as_ref()),
                    "userHandle": b64(&self.user_handle),
                },
                "clientExtensionResults": {},
            })
        }
    }

    struct Fixture {
        kv: Ephemeral,
        clock: ManualClock,
        rp: RelyingParty,
        user: Uuid,
    }

    fn fixture() -> Fixture {
        let clock = ManualClock::starting_at(Timestamp(1_700_000_000));
        let kv = Ephemeral::new(Arc::new(MemoryKv::new()), Arc::new(clock.clone()));
        let parties = RelyingParties::new();
        let rp = parties.get(&Origin::new("http", "localhost:9000").unwrap(), "gatehouse");
        Fixture {
            kv,
            clock,
            rp,
            user: Uuid::new_v4(),
        }
    }

    const ORIGIN: &str = "http://localhost:9000";

    fn device(data: WebauthnData) -> Device {
        Device {
            id: DeviceId(1),
            user: UserId(7),
            name: "key".into(),
            confirmed: true,
            created: Timestamp(0),
            last_updated: Timestamp(0),
            last_used: None,
            data: DeviceData::Webauthn(data),
        }
    }

    fn register(f: &Fixture, key: &mut SoftKey, options: &RegistrationOptions) -> Device {
        let user = WebauthnUser {
            uuid: f.user,
            username: "akadmin",
            display_name: "Admin",
        };
        let started =
            f.rp.start_registration(&f.kv, "flow-1", &user, &[], options)
                .unwrap();
        let answer = key.create(&started.options, ORIGIN);
        device(
            f.rp.finish_registration(&f.kv, "flow-1", &started.ceremony, &answer)
                .unwrap(),
        )
    }

    #[test]
    fn origin_gives_rp_id_and_refuses_addresses_and_junk() {
        let origin = Origin::new("https", "Id.Example.com:8443").unwrap();
        assert_eq!(origin.as_str(), "https://id.example.com:8443");
        assert_eq!(origin.rp_id(), "id.example.com");
        assert_eq!(
            Origin::new("https", "id.example.com:443").unwrap().as_str(),
            "https://id.example.com"
        );
        for (scheme, host) in [
            ("https", "127.0.0.1:9000"),
            ("https", "[::1]"),
            ("ftp", "example.com"),
            ("https", "a@example.com"),
            ("https", "example.com/x"),
            ("https", ""),
        ] {
            assert!(Origin::new(scheme, host).is_err(), "{scheme}://{host}");
        }
    }

    #[test]
    fn passkey_options_ask_for_a_resident_key_and_preferred_verification() {
        let f = fixture();
        let user = WebauthnUser {
            uuid: f.user,
            username: "akadmin",
            display_name: "",
        };
        let existing = device(WebauthnData {
            credential: json!({}),
            credential_id: b64(b"old-key"),
            discoverable: false,
            aaguid: None,
        });
        let started =
            f.rp.start_registration(
                &f.kv,
                "flow-1",
                &user,
                &[existing],
                &RegistrationOptions::passkey(),
            )
            .unwrap();
        let public_key = &started.options["publicKey"];
        assert_eq!(public_key["rp"]["id"], "localhost");
        assert_eq!(public_key["user"]["displayName"], "akadmin");
        assert_eq!(
            public_key["authenticatorSelection"]["residentKey"],
            "required"
        );
        assert_eq!(
            public_key["authenticatorSelection"]["userVerification"],
            "preferred"
        );
        assert_eq!(public_key["attestation"], "none");
        assert_eq!(public_key["excludeCredentials"][0]["id"], b64(b"old-key"));

        let preferred = RegistrationOptions {
            resident_key: ResidentKey::Preferred,
            ..RegistrationOptions::security_key()
        };
        let started =
            f.rp.start_registration(&f.kv, "flow-1", &user, &[], &preferred)
                .unwrap();
        assert_eq!(
            started.options["publicKey"]["authenticatorSelection"]["residentKey"],
            "preferred"
        );
    }

    #[test]
    fn register_then_sign_in_as_second_factor_and_counter_is_written_back() {
        let f = fixture();
        let mut key = SoftKey::new();
        let device = register(&f, &mut key, &RegistrationOptions::security_key());
        let DeviceData::Webauthn(data) = &device.data else {
            panic!()
        };
        assert!(data.discoverable, "credProps.rk was true");
        assert_eq!(data.credential_id, b64(&key.id));

        let started =
            f.rp.start_authentication(
                &f.kv,
                "flow-2",
                std::slice::from_ref(&device),
                UserVerification::Preferred,
            )
            .unwrap();
        assert_eq!(
            started.options["publicKey"]["allowCredentials"][0]["id"],
            b64(&key.id)
        );
        let answer = key.get(&started.options, ORIGIN);
        assert_eq!(
            assertion_credential_id(&answer).as_deref(),
            Some(data.credential_id.as_str())
        );
        let pending =
            f.rp.take_authentication(&f.kv, "flow-2", &started.ceremony)
                .unwrap();
        let verified =
            f.rp.finish_authentication(&pending, &answer, &device, f.user)
                .unwrap();
        assert!(verified.changed && verified.user_verified);
        let DeviceData::Webauthn(updated) = &verified.device.data else {
            panic!()
        };
        assert_eq!(updated.credential["counter"], 1);

        // Taken once: the same ceremony cannot be finished again.
        assert!(matches!(
            f.rp.take_authentication(&f.kv, "flow-2", &started.ceremony),
            Err(WebauthnError::UnknownCeremony)
        ));

        // A counter that does not move forward is refused (a cloned authenticator).
        let started =
            f.rp.start_authentication(
                &f.kv,
                "flow-3",
                std::slice::from_ref(&verified.device),
                UserVerification::Preferred,
            )
            .unwrap();
        key.counter = 0;
        let answer = key.get(&started.options, ORIGIN);
        let pending =
            f.rp.take_authentication(&f.kv, "flow-3", &started.ceremony)
                .unwrap();
        assert!(matches!(
            f.rp.finish_authentication(&pending, &answer, &verified.device, f.user),
            Err(WebauthnError::Rejected(_))
        ));
    }

    #[test]
    fn discoverable_sign_in_checks_the_user_handle() {
        let f = fixture();
        let mut key = SoftKey::new();
        let device = register(&f, &mut key, &RegistrationOptions::passkey());

        let started =
            f.rp.start_discoverable(&f.kv, "flow-4", UserVerification::Preferred)
                .unwrap();
        assert_eq!(started.options["mediation"], "conditional");
        assert!(
            started.options["publicKey"]["allowCredentials"]
                .as_array()
                .is_none_or(Vec::is_empty)
        );
        let answer = key.get(&started.options, ORIGIN);
        let pending =
            f.rp.take_authentication(&f.kv, "flow-4", &started.ceremony)
                .unwrap();
        assert!(pending.is_discoverable());
        assert!(matches!(
            f.rp.finish_authentication(&pending, &answer, &device, Uuid::new_v4()),
            Err(WebauthnError::WrongCredential)
        ));
        assert!(
            f.rp.finish_authentication(&pending, &answer, &device, f.user)
                .is_ok()
        );
    }

    #[test]
    fn ceremonies_are_bound_to_their_flow_origin_and_lifetime() {
        let f = fixture();
        let mut key = SoftKey::new();
        let device = register(&f, &mut key, &RegistrationOptions::passkey());
        let start = || {
            f.rp.start_authentication(
                &f.kv,
                "flow-5",
                std::slice::from_ref(&device),
                UserVerification::Preferred,
            )
            .unwrap()
        };

        let started = start();
        assert!(matches!(
            f.rp.take_authentication(&f.kv, "another-flow", &started.ceremony),
            Err(WebauthnError::UnknownCeremony)
        ));

        let started = start();
        let other = RelyingParties::new().get(
            &Origin::new("https", "id.example.com").unwrap(),
            "gatehouse",
        );
        assert!(
            other
                .take_authentication(&f.kv, "flow-5", &started.ceremony)
                .is_err()
        );

        let started = start();
        f.clock.advance(CEREMONY_TTL_SECS as i64 + 1);
        assert!(matches!(
            f.rp.take_authentication(&f.kv, "flow-5", &started.ceremony),
            Err(WebauthnError::UnknownCeremony)
        ));

        // An assertion made for another origin fails verification.
        let started = start();
        let answer = key.get(&started.options, "http://evil.localhost:9000");
        let pending =
            f.rp.take_authentication(&f.kv, "flow-5", &started.ceremony)
                .unwrap();
        assert!(matches!(
            f.rp.finish_authentication(&pending, &answer, &device, f.user),
            Err(WebauthnError::Rejected(_))
        ));
    }

    #[test]
    fn required_attestation_refuses_format_none() {
        let f = fixture();
        let mut key = SoftKey::new();
        let user = WebauthnUser {
            uuid: f.user,
            username: "akadmin",
            display_name: "Admin",
        };
        let options = RegistrationOptions {
            require_attestation: true,
            ..RegistrationOptions::security_key()
        };
        let started =
            f.rp.start_registration(&f.kv, "flow-6", &user, &[], &options)
                .unwrap();
        assert_eq!(started.options["publicKey"]["attestation"], "direct");
        let answer = key.create(&started.options, ORIGIN);
        assert!(
            f.rp.finish_registration(&f.kv, "flow-6", &started.ceremony, &answer)
                .is_err()
        );
    }

    #[test]
    fn a_passkey_shaped_credential_is_read_too() {
        let f = fixture();
        let mut key = SoftKey::new();
        let mut device = register(&f, &mut key, &RegistrationOptions::passkey());
        if let DeviceData::Webauthn(data) = &mut device.data {
            data.credential = json!({"cred": data.credential.clone()});
        }
        assert!(credential_of(&device).is_ok());
    }
}
