//! WebAuthn in flows through the JSON executor, with a small software authenticator
//! (P-256 from `ring`, CBOR written here) standing in for the browser and the key: the
//! setup stage, the validation stage's `webauthn` answer (wrong key, replay, a counter
//! that goes back), and passwordless sign-in on the identification stage. The browser
//! side (Chromium with a virtual authenticator) is in tests/interop/webauthn/.
//!
//! Requests carry `Host: localhost:<port>`: a relying party id is a host name, never an
//! IP address, and gatehouse takes it from the host the client used.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::HOST;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::TestServer;
use crate::harness::flows::LOGIN;

const SETUP: &str = "/api/v3/flows/executor/default-authenticator-webauthn-setup/";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
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

/// An authenticator with one P-256 credential, resident or not.
struct SoftKey {
    key: EcdsaKeyPair,
    id: Vec<u8>,
    counter: u32,
    user_handle: Vec<u8>,
    resident: bool,
}

impl SoftKey {
    fn new(resident: bool) -> SoftKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let id = Sha256::digest(key.public_key().as_ref())[..16].to_vec();
        SoftKey {
            key,
            id,
            counter: 0,
            user_handle: Vec::new(),
            resident,
        }
    }

    fn client_data(kind: &str, challenge: &Value, origin: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false
        }))
        .unwrap()
    }

    /// `navigator.credentials.create` for `options` (the creation options themselves).
    fn create(&mut self, options: &Value, origin: &str) -> Value {
        let rp_id = options["rp"]["id"].as_str().unwrap();
        self.user_handle = URL_SAFE_NO_PAD
            .decode(options["user"]["id"].as_str().unwrap())
            .unwrap();
        let client_data = Self::client_data("webauthn.create", &options["challenge"], origin);
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
        auth_data.push(0x01 | 0x04 | 0x40);
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
                "transports": ["usb"],
            },
            "clientExtensionResults": {"credProps": {"rk": self.resident}},
        })
    }

    /// `navigator.credentials.get` for `options` (the request options themselves).
    fn get(&mut self, options: &Value, origin: &str) -> Value {
        let rp_id = options["rpId"].as_str().unwrap();
        let client_data = Self::client_data("webauthn.get", &options["challenge"], origin);
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
                "userHandle": if self.resident { Value::from(b64(&self.user_handle)) } else { Value::Null },
            },
            "clientExtensionResults": {},
        })
    }
}

/// A browser that reaches the server as `localhost`.
struct Browser<'a> {
    server: &'a TestServer,
    client: reqwest::Client,
    host: String,
}

impl<'a> Browser<'a> {
    fn new(server: &'a TestServer) -> Browser<'a> {
        Browser {
            server,
            client: server.browser(),
            host: format!("localhost:{}", server.addr().port()),
        }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.host)
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.server.url(path))
            .header(HOST, &self.host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(self.server.url(path))
            .header(HOST, &self.host)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "POST {path}");
        response.json().await.unwrap()
    }

    /// Username and password; returns the challenge that follows.
    async fn password(&self, username: &str, password: &str) -> Value {
        let first = self.get(LOGIN).await;
        assert_eq!(first["component"], "ak-stage-identification", "{first}");
        let next = self
            .post(
                LOGIN,
                json!({"component": "ak-stage-identification", "uid_field": username}),
            )
            .await;
        assert_eq!(next["component"], "ak-stage-password", "{next}");
        self.post(
            LOGIN,
            json!({"component": "ak-stage-password", "password": password}),
        )
        .await
    }

    async fn me(&self) -> Option<String> {
        let response = self
            .client
            .get(self.server.url("/api/v3/core/users/me/"))
            .header(HOST, &self.host)
            .send()
            .await
            .unwrap();
        if response.status() != 200 {
            return None;
        }
        let me: Value = response.json().await.unwrap();
        me["user"]["username"].as_str().map(str::to_owned)
    }
}

fn assert_done(challenge: &Value) {
    assert_eq!(challenge["component"], "xak-flow-redirect", "{challenge}");
}

/// Signs in with a password and runs the setup flow with `key`; returns the user's pk.
async fn enroll(server: &TestServer, username: &str, key: &mut SoftKey) -> i64 {
    let pk = server.create_user(username, "Sup3r-secret-pass").await;
    let browser = Browser::new(server);
    assert_done(&browser.password(username, "Sup3r-secret-pass").await);
    let challenge = browser.get(SETUP).await;
    assert_eq!(
        challenge["component"], "ak-stage-authenticator-webauthn",
        "{challenge}"
    );
    let answer = key.create(&challenge["registration"], &browser.origin());
    assert_done(
        &browser
            .post(
                SETUP,
                json!({"component": "ak-stage-authenticator-webauthn", "response": answer}),
            )
            .await,
    );
    pk
}

#[tokio::test]
async fn setup_stage_offers_creation_options_and_keeps_the_key() {
    let server = TestServer::spawn().await;
    let pk = server.create_user("wendy", "Sup3r-secret-pass").await;
    let browser = Browser::new(&server);
    assert_done(&browser.password("wendy", "Sup3r-secret-pass").await);

    let challenge = browser.get(SETUP).await;
    assert_eq!(challenge["component"], "ak-stage-authenticator-webauthn");
    assert_eq!(challenge["pending_user"], "wendy");
    let options = &challenge["registration"];
    assert_eq!(options["rp"]["id"], "localhost", "{options}");
    assert_eq!(options["user"]["name"], "wendy");
    assert_eq!(options["attestation"], "none");
    assert_eq!(
        options["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "preferred"
    );

    // Something that is not a credential: asked again, with an error and a new challenge.
    let retry = browser
        .post(
            SETUP,
            json!({"component": "ak-stage-authenticator-webauthn", "response": {"id": "x"}}),
        )
        .await;
    assert!(retry["response_errors"]["response"].is_array(), "{retry}");
    assert_ne!(retry["registration"]["challenge"], options["challenge"]);

    // A credential made for another origin is refused.
    let mut key = SoftKey::new(true);
    let wrong_origin = key.create(&retry["registration"], "http://evil.localhost");
    let again = browser
        .post(
            SETUP,
            json!({"component": "ak-stage-authenticator-webauthn", "response": wrong_origin}),
        )
        .await;
    assert!(again["response_errors"]["response"].is_array(), "{again}");

    // A form posts the credential as JSON text.
    let answer = key.create(&again["registration"], &browser.origin());
    assert_done(
        &browser
            .post(
                SETUP,
                json!({"component": "ak-stage-authenticator-webauthn",
                       "response": answer.to_string()}),
            )
            .await,
    );
    let devices: Value = server
        .admin_get(&format!("/api/v3/authenticators/admin/webauthn/?user={pk}"))
        .await
        .json()
        .await
        .unwrap();
    let devices = devices.get("results").unwrap_or(&devices).clone();
    assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
    assert_eq!(devices[0]["name"], "Passkey");
}

#[tokio::test]
async fn a_security_key_is_the_second_factor_after_the_password() {
    let server = TestServer::spawn().await;
    let mut key = SoftKey::new(false);
    enroll(&server, "sam", &mut key).await;

    let browser = Browser::new(&server);
    let challenge = browser.password("sam", "Sup3r-secret-pass").await;
    assert_eq!(
        challenge["component"], "ak-stage-authenticator-validate",
        "{challenge}"
    );
    let device = &challenge["device_challenges"][0];
    assert_eq!(device["device_class"], "webauthn");
    assert_eq!(
        device["challenge"]["allowCredentials"][0]["id"],
        b64(&key.id)
    );
    assert_eq!(device["challenge"]["rpId"], "localhost");

    // Another key (not sam's) is refused, and counted.
    let mut stranger = SoftKey::new(false);
    stranger.id = key.id.clone();
    let forged = stranger.get(&device["challenge"], &browser.origin());
    let retry = browser
        .post(
            LOGIN,
            json!({"component": "ak-stage-authenticator-validate", "webauthn": forged}),
        )
        .await;
    assert!(retry["response_errors"]["webauthn"].is_array(), "{retry}");
    assert_eq!(browser.me().await, None, "not signed in");

    // The real key, on the new challenge.
    let options = &retry["device_challenges"][0]["challenge"];
    let assertion = key.get(options, &browser.origin());
    assert_done(
        &browser
            .post(
                LOGIN,
                json!({"component": "ak-stage-authenticator-validate", "webauthn": assertion}),
            )
            .await,
    );
    assert_eq!(browser.me().await.as_deref(), Some("sam"));

    // The same assertion again, in another sign-in: its challenge is spent.
    let other = Browser::new(&server);
    let challenge = other.password("sam", "Sup3r-secret-pass").await;
    let replay = other
        .post(
            LOGIN,
            json!({"component": "ak-stage-authenticator-validate", "webauthn": assertion}),
        )
        .await;
    assert!(replay["response_errors"]["webauthn"].is_array(), "{replay}");

    // A cloned key whose counter went back is refused.
    key.counter = 0;
    let options = &replay["device_challenges"][0]["challenge"];
    assert_ne!(options, &challenge["device_challenges"][0]["challenge"]);
    let cloned = key.get(options, &other.origin());
    let refused = other
        .post(
            LOGIN,
            json!({"component": "ak-stage-authenticator-validate", "webauthn": cloned}),
        )
        .await;
    assert!(
        refused["response_errors"]["webauthn"].is_array(),
        "{refused}"
    );
    assert_eq!(other.me().await, None);
}

#[tokio::test]
async fn a_passkey_signs_in_without_username_or_password() {
    let server = TestServer::spawn().await;
    let mut key = SoftKey::new(true);
    enroll(&server, "pat", &mut key).await;

    let browser = Browser::new(&server);
    let first = browser.get(LOGIN).await;
    assert_eq!(first["component"], "ak-stage-identification");
    let offer = &first["passkey_challenge"];
    assert_eq!(offer["mediation"], "conditional", "{first}");
    assert_eq!(offer["publicKey"]["userVerification"], "required");
    let allowed = &offer["publicKey"]["allowCredentials"];
    assert!(
        allowed.is_null() || allowed.as_array().is_some_and(Vec::is_empty),
        "no allow-list: {offer}"
    );
    let assertion = key.get(&offer["publicKey"], &browser.origin());
    assert_done(
        &browser
            .post(
                LOGIN,
                json!({"component": "ak-stage-identification", "webauthn": assertion}),
            )
            .await,
    );
    assert_eq!(browser.me().await.as_deref(), Some("pat"));

    // A key that is not registered here names nobody.
    let other = Browser::new(&server);
    let first = other.get(LOGIN).await;
    let mut unknown = SoftKey::new(true);
    unknown.user_handle = key.user_handle.clone();
    let assertion = unknown.get(&first["passkey_challenge"]["publicKey"], &other.origin());
    let retry = other
        .post(
            LOGIN,
            json!({"component": "ak-stage-identification", "webauthn": assertion}),
        )
        .await;
    assert_eq!(retry["component"], "ak-stage-identification", "{retry}");
    assert!(retry["response_errors"]["webauthn"].is_array(), "{retry}");
    assert_eq!(other.me().await, None);
}

#[tokio::test]
async fn no_passkey_offer_for_an_ip_address() {
    let server = TestServer::spawn().await;
    let client = server.browser();
    let first: Value = client
        .get(server.url(LOGIN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["component"], "ak-stage-identification");
    assert!(first.get("passkey_challenge").is_none(), "{first}");
}
