//! An OAuth client and a browser for the OAuth2/OpenID Connect provider: providers and
//! applications made through the admin API (`Rp`), the token-side requests a relying
//! party sends, and a user agent that follows the authorization redirects, signing in
//! and consenting through the flow executor as a person would (`UserAgent`).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::TestServer;

pub const IMPLICIT_CONSENT: &str = "default-provider-authorization-implicit-consent";
pub const EXPLICIT_CONSENT: &str = "default-provider-authorization-explicit-consent";
pub const INVALIDATION: &str = "default-invalidation-flow";
pub const LOGIN_FLOW: &str = "default-authentication-flow";
pub const STATE: &str = "state-7f3a";
pub const NONCE: &str = "nonce-19c2";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// An HTTP answer with its body as JSON (`null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    async fn of(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Asserts an OAuth JSON error: the status and the `error` code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.body["error"].as_str()),
            (status, Some(code)),
            "{}",
            self.body
        );
    }

    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.body);
        &self.body
    }
}

pub async fn flow_pk(server: &TestServer, slug: &str) -> String {
    let response = server
        .admin_get(&format!("/api/v3/flows/instances/{slug}/"))
        .await;
    assert_eq!(response.status(), 200, "flow {slug}");
    let flow: Value = response.json().await.unwrap();
    flow["pk"].as_str().unwrap().to_owned()
}

/// The pk of the managed mapping of a standard scope.
pub async fn scope_pk(server: &TestServer, scope: &str) -> String {
    let path = format!(
        "/api/v3/propertymappings/provider/scope/?managed=goauthentik.io/providers/oauth2/scope-{scope}"
    );
    let list: Value = server.admin_get(&path).await.json().await.unwrap();
    assert_eq!(list["pagination"]["count"], 1, "{list}");
    list["results"][0]["pk"].as_str().unwrap().to_owned()
}

/// The pk of the keypair the server made on first start with this managed key
/// (`goauthentik.io/crypto/self-signed` is RSA, `gatehouse/crypto/ec-signing` P-256).
pub async fn keypair_pk(server: &TestServer, managed: &str) -> String {
    let list: Value = server
        .admin_get("/api/v3/crypto/certificatekeypairs/")
        .await
        .json()
        .await
        .unwrap();
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|pair| pair["managed"] == managed)
        .unwrap_or_else(|| panic!("no keypair {managed}: {list}"))["pk"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A relying party: an OAuth2 provider with its application, made through the API.
pub struct Rp {
    pub base: String,
    pub provider_pk: i64,
    pub app_pk: String,
    pub slug: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub public: bool,
    http: reqwest::Client,
}

/// How the client authenticates at the token-side endpoints.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// `client_secret_post` (public clients: the bare `client_id`).
    Post,
    /// `client_secret_basic`.
    Basic,
    /// This id and secret in the form.
    As(&'a str, &'a str),
    /// Only the client's id in the form, even for a confidential client.
    IdOnly,
}

impl Rp {
    /// Creates a provider named `name` (implicit consent, the four standard scopes, one
    /// strict redirect URI `https://<slug>.example.com/callback`) with `overrides` merged
    /// into the body, and an application with slug `<slug>` for it.
    pub async fn create(server: &TestServer, name: &str, overrides: Value) -> Rp {
        let slug: String = name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let redirect_uri = format!("https://{slug}.example.com/callback");
        let mut mappings = Vec::new();
        for scope in ["openid", "email", "profile", "offline_access"] {
            mappings.push(scope_pk(server, scope).await);
        }
        let mut body = json!({
            "name": name,
            "authorization_flow": flow_pk(server, IMPLICIT_CONSENT).await,
            "invalidation_flow": flow_pk(server, INVALIDATION).await,
            "client_type": "confidential",
            "redirect_uris": [{"matching_mode": "strict", "url": redirect_uri}],
            "property_mappings": mappings,
        });
        for (key, value) in overrides.as_object().cloned().unwrap_or_default() {
            body[key] = value;
        }
        let created = server
            .admin_send(Method::POST, "/api/v3/providers/oauth2/", body)
            .await;
        assert_eq!(created.status(), 201, "provider {name}");
        let provider: Value = created.json().await.unwrap();
        let app = server
            .admin_send(
                Method::POST,
                "/api/v3/core/applications/",
                json!({"name": name, "slug": slug, "provider": provider["pk"]}),
            )
            .await;
        assert_eq!(app.status(), 201, "application {slug}");
        let app: Value = app.json().await.unwrap();
        Rp {
            base: server.url(""),
            provider_pk: provider["pk"].as_i64().unwrap(),
            app_pk: app["pk"].as_str().unwrap().to_owned(),
            slug,
            client_id: provider["client_id"].as_str().unwrap().to_owned(),
            client_secret: provider["client_secret"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            redirect_uri: provider["redirect_uris"][0]["url"]
                .as_str()
                .unwrap()
                .to_owned(),
            public: provider["client_type"] == "public",
            http: reqwest::Client::new(),
        }
    }

    /// What `iss` is for this application (per-provider issuer mode).
    pub fn issuer(&self) -> String {
        format!("{}/application/o/{}/", self.base, self.slug)
    }

    /// An authorization request URL: code flow, the standard scopes, `STATE` and
    /// `NONCE`; `extra` replaces parameters (an empty value removes one).
    pub fn authorize_url(&self, extra: &[(&str, &str)]) -> String {
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("response_type", "code"),
            ("scope", "openid email profile offline_access"),
            ("state", STATE),
            ("nonce", NONCE),
        ];
        for (name, value) in extra {
            params.retain(|(existing, _)| existing != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        format!(
            "{}/application/o/authorize/?{}",
            self.base,
            serde_urlencoded::to_string(&params).unwrap()
        )
    }

    /// POSTs a form to an endpoint under `/application/o/`, authenticating as `auth`.
    pub async fn post(&self, endpoint: &str, auth: Auth<'_>, form: &[(&str, &str)]) -> Answer {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut request = self
            .http
            .post(format!("{}/application/o/{endpoint}/", self.base));
        match auth {
            Auth::Post => {
                fields.push(("client_id", &self.client_id));
                if !self.public {
                    fields.push(("client_secret", &self.client_secret));
                }
            }
            Auth::Basic => {
                request = request.basic_auth(&self.client_id, Some(&self.client_secret));
            }
            Auth::As(id, secret) => {
                fields.push(("client_id", id));
                fields.push(("client_secret", secret));
            }
            Auth::IdOnly => fields.push(("client_id", &self.client_id)),
        }
        Answer::of(request.form(&fields).send().await.unwrap()).await
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> Answer {
        self.post("token", Auth::Post, form).await
    }

    /// Exchanges a code sent to this client's redirect URI.
    pub async fn exchange(&self, code: &str, verifier: Option<&str>) -> Answer {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        self.token(&form).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    pub async fn introspect(&self, token: &str) -> Value {
        let answer = self
            .post("introspect", Auth::Basic, &[("token", token)])
            .await;
        answer.assert_ok().clone()
    }

    pub async fn revoke(&self, token: &str) {
        let answer = self.post("revoke", Auth::Basic, &[("token", token)]).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }

    /// `GET /application/o/userinfo/` with the token as a bearer.
    pub async fn userinfo(&self, access_token: &str) -> Answer {
        let response = self
            .http
            .get(format!("{}/application/o/userinfo/", self.base))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap();
        Answer::of(response).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        Answer::of(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn discovery(&self) -> Value {
        let path = format!(
            "/application/o/{}/.well-known/openid-configuration",
            self.slug
        );
        self.get(&path).await.assert_ok().clone()
    }

    pub async fn jwks(&self) -> Value {
        let path = format!("/application/o/{}/jwks/", self.slug);
        self.get(&path).await.assert_ok().clone()
    }
}

/// A PKCE pair (RFC 7636, S256).
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        Pkce {
            challenge: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            verifier,
        }
    }

    /// The authorization request's PKCE parameters.
    pub fn params(&self) -> [(&str, &str); 2] {
        [
            ("code_challenge", self.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
    }
}

/// The tokens of a successful token response.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
    pub id: Option<String>,
}

impl Tokens {
    pub fn of(answer: &Answer) -> Tokens {
        let body = answer.assert_ok();
        assert_eq!(body["token_type"], "Bearer", "{body}");
        Tokens {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().map(str::to_owned),
            id: body["id_token"].as_str().map(str::to_owned),
        }
    }

    pub fn refresh(&self) -> &str {
        self.refresh.as_deref().expect("a refresh token")
    }

    pub fn id(&self) -> &str {
        self.id.as_deref().expect("an id token")
    }
}

/// The decoded header and claims of a compact JWS (unverified).
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut decode = || -> Value {
        let part = parts.next().expect("a JWS part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let header = decode();
    (header, decode())
}

pub fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Where the browser ended up.
#[derive(Debug)]
pub enum Landing {
    /// Sent off the server: to the client's redirect URI (or elsewhere).
    Client(url::Url),
    /// A page the server answered with instead of a redirect.
    Page { status: u16, html: String },
}

impl Landing {
    /// The query of the client redirect, asserting it went to `redirect_uri`.
    pub fn at_client(&self, redirect_uri: &str) -> HashMap<String, String> {
        match self {
            Landing::Client(url) => {
                let mut bare = url.clone();
                bare.set_query(None);
                assert_eq!(bare.as_str(), redirect_uri, "landed at {url}");
                url.query_pairs().into_owned().collect()
            }
            Landing::Page { status, html } => {
                panic!("expected a redirect to the client, got a {status} page: {html}")
            }
        }
    }

    pub fn page(&self) -> (u16, &str) {
        match self {
            Landing::Page { status, html } => (*status, html),
            Landing::Client(url) => panic!("expected a page, was sent to {url}"),
        }
    }
}

/// A person with a browser: a cookie jar, and their username and password for the
/// sign-in flow. Records the flows and stages it went through.
pub struct UserAgent {
    pub base: String,
    pub http: reqwest::Client,
    pub jar: Arc<Jar>,
    pub username: String,
    pub password: String,
    pub pk: i64,
    /// Flow slugs run, in order.
    pub flows: Vec<String>,
    /// Challenge components met, in order.
    pub components: Vec<String>,
    /// Whether to agree when asked for consent (otherwise the walk stops there).
    pub consents: bool,
    /// Second-factor codes to type, in order, when a flow asks for one (otherwise the
    /// walk stops at the validation stage).
    pub mfa_codes: Vec<String>,
}

impl UserAgent {
    /// A new user (through the API) with a fresh browser, not signed in.
    pub async fn new(server: &TestServer, username: &str) -> UserAgent {
        let password = format!("{username}-pw-Quiet-Harbor-42");
        let pk = server.create_user(username, &password).await;
        UserAgent::for_user(server, username, &password, pk)
    }

    /// A fresh browser for an existing user.
    pub fn for_user(server: &TestServer, username: &str, password: &str, pk: i64) -> UserAgent {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(Arc::clone(&jar))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        UserAgent {
            base: server.url(""),
            http,
            jar,
            username: username.to_owned(),
            password: password.to_owned(),
            pk,
            flows: Vec::new(),
            components: Vec::new(),
            consents: true,
            mfa_codes: Vec::new(),
        }
    }

    /// Signs in through the authentication flow, as a visit to the portal would.
    pub async fn sign_in(&mut self) {
        let to = self
            .run_flow(LOGIN_FLOW, "next=%2Fif%2Fuser%2F")
            .await
            .expect("sign-in completes");
        assert_eq!(to, "/if/user/");
    }

    /// The value of a cookie this browser holds for the server.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = url::Url::parse(&self.base).unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().unwrap().split("; ").find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
    }

    /// Runs a flow through the JSON executor with the page's query; returns where its
    /// final redirect points, or `None` when it stopped at a consent the user refuses
    /// or at an access-denied challenge.
    pub async fn run_flow(&mut self, slug: &str, query: &str) -> Option<String> {
        self.flows.push(slug.to_owned());
        let url = format!(
            "{}/api/v3/flows/executor/{slug}/?query={}",
            self.base,
            url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        );
        let mut challenge = self.executor(self.http.get(&url)).await;
        for _ in 0..12 {
            let component = challenge["component"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            self.components.push(component.clone());
            assert!(
                challenge["response_errors"].is_null() || challenge["response_errors"] == json!({}),
                "flow {slug}: {challenge}"
            );
            let answer = match component.as_str() {
                "xak-flow-redirect" => return Some(challenge["to"].as_str().unwrap().to_owned()),
                "ak-stage-access-denied" => return None,
                "ak-stage-identification" => {
                    let mut answer = json!({"component": component, "uid_field": self.username});
                    if challenge["password_fields"] == true {
                        answer["password"] = json!(self.password);
                    }
                    answer
                }
                "ak-stage-password" => json!({"component": component, "password": self.password}),
                "ak-stage-consent" if self.consents => {
                    json!({"component": component, "token": challenge["token"]})
                }
                "ak-stage-consent" => return None,
                "ak-stage-authenticator-validate" if !self.mfa_codes.is_empty() => {
                    json!({"component": component, "code": self.mfa_codes.remove(0)})
                }
                "ak-stage-authenticator-validate" => return None,
                _ => panic!("flow {slug}: unexpected challenge {challenge}"),
            };
            challenge = self.executor(self.http.post(&url).json(&answer)).await;
        }
        panic!("flow {slug} did not finish: {:?}", self.components)
    }

    async fn executor(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "executor answers 200");
        response.json().await.unwrap()
    }

    /// Opens `start` and follows redirects on the server, running the flows it is sent
    /// to, until it is sent off the server or answered with a page.
    pub async fn go(&mut self, start: &str) -> Landing {
        let mut url = start.to_owned();
        for _ in 0..20 {
            let absolute = if url.starts_with('/') {
                format!("{}{url}", self.base)
            } else {
                url.clone()
            };
            let Some(local) = absolute.strip_prefix(&self.base) else {
                return Landing::Client(url::Url::parse(&absolute).unwrap());
            };
            if let Some(rest) = local.strip_prefix("/if/flow/") {
                let (slug, query) = rest.split_once('/').unwrap();
                let query = query.strip_prefix('?').unwrap_or_default().to_owned();
                match self.run_flow(slug, &query).await {
                    Some(to) => url = to,
                    None => {
                        return Landing::Page {
                            status: 200,
                            html: format!("stopped in flow {slug}"),
                        };
                    }
                }
                continue;
            }
            let response = self.http.get(&absolute).send().await.unwrap();
            let status = response.status().as_u16();
            if (300..400).contains(&status) {
                url = response.headers()["location"].to_str().unwrap().to_owned();
                continue;
            }
            let html = response.text().await.unwrap();
            return Landing::Page { status, html };
        }
        panic!("too many redirects from {start}")
    }

    /// The first answer to `url`, without following it.
    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    /// Authorizes `rp` with `extra` parameters and returns the code the client got,
    /// checking `state` and `iss` on the way.
    pub async fn code_for(&mut self, rp: &Rp, extra: &[(&str, &str)]) -> String {
        let landing = self.go(&rp.authorize_url(extra)).await;
        let params = landing.at_client(&rp.redirect_uri);
        assert_eq!(params.get("state").map(String::as_str), Some(STATE));
        assert_eq!(params.get("iss"), Some(&rp.issuer()));
        params
            .get("code")
            .unwrap_or_else(|| panic!("no code: {params:?}"))
            .clone()
    }

    /// Signs in (if needed), authorizes and exchanges the code: the tokens.
    pub async fn tokens_for(&mut self, rp: &Rp) -> Tokens {
        let code = self.code_for(rp, &[]).await;
        Tokens::of(&rp.exchange(&code, None).await)
    }
}
