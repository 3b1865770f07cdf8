//! The OAuth2/OpenID Connect provider as clients and browsers meet it, refusals first:
//! redirect URIs, request errors and where they go, codes (replay, PKCE, expiry, the
//! wrong client), refresh rotation and reuse, access policies, deactivated users,
//! `prompt`, discovery checked by an independent relying party (the `openidconnect`
//! crate), forged and dead tokens, client credentials, the device grant, RP-initiated
//! logout, and the audit trail.

use std::collections::HashMap;

use gatehouse::crypto::SigningKey;
use gatehouse::model::EventAction;
use gatehouse::store::{ListQuery, StoreExt};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{AccessToken, AccessTokenHash, ClientId, ClientSecret, Nonce};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::flows::form_value;
use crate::harness::oidc::{
    Answer, Auth, DEVICE_GRANT, EXPLICIT_CONSENT, LOGIN_FLOW, NONCE, Pkce, Rp, STATE, Tokens,
    UserAgent, b64_json, flow_pk, jwt_parts, keypair_pk,
};

const RSA_KEY: &str = "goauthentik.io/crypto/self-signed";
const EC_KEY: &str = "gatehouse/crypto/ec-signing";

// --- helpers --------------------------------------------------------------------------

/// A server with one confidential client (`Grafana`, implicit consent) and a user.
async fn grafana_and_alice(overrides: Value) -> (TestServer, Rp, UserAgent) {
    let server = TestServer::spawn().await;
    let rp = Rp::create(&server, "Grafana", overrides).await;
    let ua = UserAgent::new(&server, "alice").await;
    (server, rp, ua)
}

/// The query of a 302 to `redirect_uri` (asserting both).
fn client_redirect(response: &reqwest::Response, redirect_uri: &str) -> HashMap<String, String> {
    assert_eq!(response.status(), 302, "a redirect to the client");
    let location = location(response).expect("a Location");
    let url = url::Url::parse(&location).unwrap();
    let mut bare = url.clone();
    bare.set_query(None);
    assert_eq!(bare.as_str(), redirect_uri, "sent to {location}");
    url.query_pairs().into_owned().collect()
}

fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
}

/// Asserts the query carries `error` with this code, our `state` and `iss`, and no code.
fn assert_client_error(params: &HashMap<String, String>, code: &str, rp: &Rp) {
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(code),
        "{params:?}"
    );
    assert!(params.contains_key("error_description"), "{params:?}");
    assert_eq!(params.get("state").map(String::as_str), Some(STATE));
    assert_eq!(params.get("iss"), Some(&rp.issuer()));
    assert!(!params.contains_key("code"), "{params:?}");
}

/// Status, Location and body of an HTML page answer.
async fn page(response: reqwest::Response) -> (u16, Option<String>, String) {
    let status = response.status().as_u16();
    let location = location(&response);
    if location.is_none() {
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/html"), "{content_type}");
    }
    (status, location, unescape(&response.text().await.unwrap()))
}

/// Undoes the template's HTML escaping, to read links and messages.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn assert_www_authenticate(answer: &Answer, expected: &str) {
    let header = answer
        .headers
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        header.contains(expected),
        "WWW-Authenticate {header:?} lacks {expected:?}"
    );
}

/// Userinfo refuses the token: 401 with an `invalid_token` challenge.
async fn assert_refused(rp: &Rp, token: &str, why: &str) {
    let answer = rp.userinfo(token).await;
    assert_eq!(answer.status, 401, "{why}: {}", answer.body);
    assert_eq!(answer.body["error"], "invalid_token", "{why}");
    assert_www_authenticate(&answer, "error=\"invalid_token\"");
}

async fn assert_inactive(rp: &Rp, token: &str, why: &str) {
    assert_eq!(
        rp.introspect(token).await,
        json!({"active": false}),
        "{why}"
    );
}

async fn create_group_with_access(server: &TestServer, name: &str, app_pk: &str) -> String {
    let group: Value = server
        .admin_send(Method::POST, "/api/v3/core/groups/", json!({"name": name}))
        .await
        .json()
        .await
        .unwrap();
    let pk = group["pk"].as_str().unwrap().to_owned();
    let bound = server
        .admin_send(
            Method::POST,
            "/api/v3/policies/bindings/",
            json!({"group": pk, "target": app_pk, "order": 0}),
        )
        .await;
    assert_eq!(bound.status(), 201);
    pk
}

async fn add_to_group(server: &TestServer, group: &str, user: i64) {
    let added = server
        .admin_send(
            Method::POST,
            &format!("/api/v3/core/groups/{group}/add_user/"),
            json!({"pk": user}),
        )
        .await;
    assert_eq!(added.status(), 204);
}

/// `GET /api/v3/core/users/me/` with exactly this session cookie (no jar).
async fn me_with_session(server: &TestServer, session: &str) -> u16 {
    reqwest::Client::new()
        .get(server.url("/api/v3/core/users/me/"))
        .header("Cookie", format!("gatehouse_session={session}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A key pair's signing key, read through the admin API (certificate and private key).
async fn signing_key_of(server: &TestServer, managed: &str) -> SigningKey {
    let pk = keypair_pk(server, managed).await;
    let pem = |what: &'static str| {
        let path = format!("/api/v3/crypto/certificatekeypairs/{pk}/view_{what}/");
        async move {
            let body: Value = server.admin_get(&path).await.json().await.unwrap();
            body["data"].as_str().unwrap().to_owned()
        }
    };
    SigningKey::from_pem(&pem("certificate").await, &pem("private_key").await).unwrap()
}

// --- 1. redirect URIs and clients that cannot be told --------------------------------

#[tokio::test]
async fn bad_redirect_uris_and_unknown_clients_get_a_page_never_a_redirect() {
    let server = TestServer::spawn().await;
    let lab = "https://grafana.lab.example/cb";
    let rp = Rp::create(
        &server,
        "Grafana",
        json!({"redirect_uris": [
            {"matching_mode": "strict", "url": "https://grafana.example.com/callback"},
            {"matching_mode": "regex", "url": r"https://[a-z]+\.lab\.example/cb"},
        ]}),
    )
    .await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let refused = [
        "https://evil.example/callback",
        "https://grafana.example.com/callback/",
        "https://grafana.example.com/callback?next=1",
        "https://grafana.example.com/Callback",
        "http://grafana.example.com/callback",
        "https://grafana.lab.example/cb/",
        "https://grafana.lab.example/cb.evil.example",
        "https://evil.example/?https://grafana.lab.example/cb",
        "https://GRAFANA.lab.example/cb",
    ];
    for uri in refused {
        // Even an error the client would otherwise be told about stays on the page.
        for extra in [vec![], vec![("response_type", "token")]] {
            let mut params = vec![("redirect_uri", uri)];
            params.extend(extra);
            let (status, location, html) = page(ua.get(&rp.authorize_url(&params)).await).await;
            assert_eq!((status, location), (400, None), "{uri}");
            assert!(
                html.contains("The redirect URI is not registered for this client."),
                "{uri}: {html}"
            );
            assert!(!html.contains("evil.example") && !html.contains("error="));
        }
    }

    // No redirect_uri with two registered: nothing to fall back on.
    let (status, location, html) =
        page(ua.get(&rp.authorize_url(&[("redirect_uri", "")])).await).await;
    assert_eq!((status, location), (400, None));
    assert!(html.contains("The request has no redirect_uri."), "{html}");

    // Unknown or missing client.
    for (client_id, message) in [
        ("no-such-client", "The client is unknown"),
        ("", "The request has no client_id."),
    ] {
        let (status, location, html) =
            page(ua.get(&rp.authorize_url(&[("client_id", client_id)])).await).await;
        assert_eq!((status, location), (400, None), "{client_id:?}");
        assert!(html.contains(message), "{html}");
    }

    // The regex entry admits a whole match, and the code is bound to that URI.
    let landing = ua.go(&rp.authorize_url(&[("redirect_uri", lab)])).await;
    let params = landing.at_client(lab);
    let code = params["code"].as_str();
    let exchanged = rp
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", lab),
        ])
        .await;
    Tokens::of(&exchanged);
}

// --- 2. errors the client is told about ------------------------------------------------

#[tokio::test]
async fn request_errors_after_the_redirect_uri_is_checked_go_back_to_the_client() {
    let server = TestServer::spawn().await;
    let rp = Rp::create(&server, "Grafana", json!({})).await;
    let spa = Rp::create(&server, "Photos", json!({"client_type": "public"})).await;
    let ua = UserAgent::new(&server, "alice").await;
    let pkce = Pkce::new();
    // (client, parameters replaced, the error the client gets)
    type Case<'a> = (&'a Rp, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            &rp,
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            &rp,
            vec![("response_type", "id_token")],
            "unsupported_response_type",
        ),
        (
            &rp,
            vec![("response_type", "code id_token")],
            "unsupported_response_type",
        ),
        (
            &rp,
            vec![("response_type", "")],
            "unsupported_response_type",
        ),
        (
            &rp,
            vec![
                ("code_challenge", pkce.verifier.as_str()),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        // No method means plain (RFC 7636 §4.3): refused too.
        (
            &rp,
            vec![("code_challenge", pkce.challenge.as_str())],
            "invalid_request",
        ),
        (
            &rp,
            vec![
                ("code_challenge", "too-short"),
                ("code_challenge_method", "S256"),
            ],
            "invalid_request",
        ),
        (&rp, vec![("response_mode", "fragment")], "invalid_request"),
        (&rp, vec![("prompt", "none login")], "invalid_request"),
        (&rp, vec![("prompt", "sometimes")], "invalid_request"),
        (&rp, vec![("max_age", "soon")], "invalid_request"),
        (
            &rp,
            vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
        (
            &rp,
            vec![("request_uri", "https://evil.example/r")],
            "request_uri_not_supported",
        ),
        // A public client must use PKCE.
        (&spa, vec![], "invalid_request"),
    ];
    for (client, extra, code) in cases {
        let response = ua.get(&client.authorize_url(&extra)).await;
        let params = client_redirect(&response, &client.redirect_uri);
        assert_client_error(&params, code, client);
    }
    // Without a state, none comes back.
    let response = ua
        .get(&rp.authorize_url(&[("response_type", "token"), ("state", "")]))
        .await;
    let params = client_redirect(&response, &rp.redirect_uri);
    assert_eq!(params["error"], "unsupported_response_type");
    assert!(!params.contains_key("state"));

    // With PKCE the public client's request is parked and the browser sent to sign in.
    let response = ua.get(&spa.authorize_url(&pkce.params())).await;
    assert_eq!(response.status(), 302);
    let to = location(&response).unwrap();
    let next = to
        .strip_prefix(&format!("/if/flow/{LOGIN_FLOW}/?next="))
        .unwrap_or_else(|| panic!("{to}"));
    let next: String = url::form_urlencoded::parse(format!("n={next}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    assert!(
        next.starts_with("/application/o/authorize/?pending="),
        "{next}"
    );
}

// --- 3. code replay --------------------------------------------------------------------

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_the_first_exchange_issued() {
    let (_server, rp, mut ua) = grafana_and_alice(json!({})).await;
    let code = ua.code_for(&rp, &[]).await;
    let first = Tokens::of(&rp.exchange(&code, None).await);
    rp.userinfo(&first.access).await.assert_ok();

    rp.exchange(&code, None)
        .await
        .assert_error(400, "invalid_grant");
    assert_refused(&rp, &first.access, "access token of a replayed code").await;
    rp.refresh(first.refresh())
        .await
        .assert_error(400, "invalid_grant");
    assert_inactive(&rp, &first.access, "access token of a replayed code").await;
    assert_inactive(&rp, first.refresh(), "refresh token of a replayed code").await;

    // A code nobody issued; other authorizations of the same user are untouched.
    rp.exchange("made-up-code", None)
        .await
        .assert_error(400, "invalid_grant");
    let other = ua.tokens_for(&rp).await;
    rp.userinfo(&other.access).await.assert_ok();
}

// --- 4. PKCE -----------------------------------------------------------------------------

#[tokio::test]
async fn pkce_verifiers_must_match_the_challenge_and_a_failed_exchange_spends_the_code() {
    let server = TestServer::spawn().await;
    let spa = Rp::create(&server, "Photos", json!({"client_type": "public"})).await;
    let rp = Rp::create(&server, "Grafana", json!({})).await;
    let mut ua = UserAgent::new(&server, "alice").await;

    let pkce = Pkce::new();
    let code = ua.code_for(&spa, &pkce.params()).await;
    let wrong = Pkce::new();
    spa.exchange(&code, Some(&wrong.verifier))
        .await
        .assert_error(400, "invalid_grant");
    // The code was spent by the failed attempt.
    spa.exchange(&code, Some(&pkce.verifier))
        .await
        .assert_error(400, "invalid_grant");

    let code = ua.code_for(&spa, &pkce.params()).await;
    spa.exchange(&code, None)
        .await
        .assert_error(400, "invalid_grant");

    // The challenge itself is not a verifier.
    let code = ua.code_for(&spa, &pkce.params()).await;
    spa.exchange(&code, Some(&pkce.challenge))
        .await
        .assert_error(400, "invalid_grant");

    // A verifier for a request that had no challenge.
    let code = ua.code_for(&rp, &[]).await;
    rp.exchange(&code, Some(&pkce.verifier))
        .await
        .assert_error(400, "invalid_grant");

    let code = ua.code_for(&spa, &pkce.params()).await;
    let tokens = Tokens::of(&spa.exchange(&code, Some(&pkce.verifier)).await);
    spa.userinfo(&tokens.access).await.assert_ok();
}

// --- 5. lifetimes -------------------------------------------------------------------------

#[tokio::test]
async fn codes_and_refresh_tokens_expire_by_the_server_clock() {
    let (server, rp, mut ua) = grafana_and_alice(json!({
        "access_code_validity": "minutes=1",
        "refresh_token_validity": "minutes=10",
    }))
    .await;
    let code = ua.code_for(&rp, &[]).await;
    server.clock.advance(50);
    Tokens::of(&rp.exchange(&code, None).await);

    let code = ua.code_for(&rp, &[]).await;
    server.clock.advance(120);
    rp.exchange(&code, None)
        .await
        .assert_error(400, "invalid_grant");

    let tokens = ua.tokens_for(&rp).await;
    server.clock.advance(11 * 60);
    assert_inactive(&rp, tokens.refresh(), "expired refresh token").await;
    rp.refresh(tokens.refresh())
        .await
        .assert_error(400, "invalid_grant");
    // The access token (an hour) outlives it.
    rp.userinfo(&tokens.access).await.assert_ok();
}

// --- 6. client authentication and binding ------------------------------------------------

#[tokio::test]
async fn codes_belong_to_one_client_and_one_redirect_uri_and_secrets_are_checked() {
    let server = TestServer::spawn().await;
    let a = Rp::create(&server, "Grafana", json!({})).await;
    let b = Rp::create(&server, "Wiki", json!({})).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let code = ua.code_for(&a, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", a.redirect_uri.as_str()),
    ];

    // Wrong credentials, by post and by basic: 401 with a challenge, the code unspent.
    for auth in [
        Auth::As(&a.client_id, "wrong-secret"),
        Auth::As(&a.client_id, &b.client_secret),
        Auth::As("no-such-client", "secret"),
        Auth::IdOnly,
    ] {
        let answer = a.post("token", auth, &form).await;
        answer.assert_error(401, "invalid_client");
        assert_www_authenticate(&answer, "Basic realm=");
    }
    let basic = reqwest::Client::new()
        .post(server.url("/application/o/token/"))
        .basic_auth(&a.client_id, Some("wrong-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let answer = answer_of(basic).await;
    answer.assert_error(401, "invalid_client");
    assert_www_authenticate(&answer, "Basic realm=");
    // Both methods at once.
    let both = reqwest::Client::new()
        .post(server.url("/application/o/token/"))
        .basic_auth(&a.client_id, Some(&a.client_secret))
        .form(
            &[
                form.as_slice(),
                &[("client_secret", a.client_secret.as_str())],
            ]
            .concat(),
        )
        .send()
        .await
        .unwrap();
    answer_of(both).await.assert_error(400, "invalid_request");

    // Another client presenting A's code; the code is spent by the attempt.
    b.post("token", Auth::Post, &form)
        .await
        .assert_error(400, "invalid_grant");
    a.post("token", Auth::Post, &form)
        .await
        .assert_error(400, "invalid_grant");

    // The redirect URI must be the one of the request, and present.
    let code = ua.code_for(&a, &[]).await;
    a.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", "https://grafana.example.com/other"),
    ])
    .await
    .assert_error(400, "invalid_grant");
    let code = ua.code_for(&a, &[]).await;
    a.token(&[("grant_type", "authorization_code"), ("code", &code)])
        .await
        .assert_error(400, "invalid_grant");

    // client_secret_basic works, and another client learns nothing about A's tokens.
    let code = ua.code_for(&a, &[]).await;
    let tokens = Tokens::of(
        &a.post(
            "token",
            Auth::Basic,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &a.redirect_uri),
            ],
        )
        .await,
    );
    assert_inactive(&b, &tokens.access, "A's token asked about by B").await;
    assert_inactive(&b, tokens.refresh(), "A's refresh token asked about by B").await;
    b.revoke(&tokens.access).await;
    b.revoke(tokens.refresh()).await;
    a.userinfo(&tokens.access).await.assert_ok();
    assert_eq!(a.introspect(tokens.refresh()).await["active"], true);
    b.refresh(tokens.refresh())
        .await
        .assert_error(400, "invalid_grant");
    Tokens::of(&a.refresh(tokens.refresh()).await);

    // Malformed requests.
    a.token(&[
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "x"),
    ])
    .await
    .assert_error(400, "unsupported_grant_type");
    a.token(&[("code", "x")])
        .await
        .assert_error(400, "invalid_request");
    let code = ua.code_for(&a, &[]).await;
    a.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("code", &code),
        ("redirect_uri", &a.redirect_uri),
    ])
    .await
    .assert_error(400, "invalid_request");

    // A rotated secret: the old one stops working at once.
    let rotated = server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/providers/oauth2/{}/", a.provider_pk),
            json!({"client_secret": "rotated-secret-0123456789"}),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let client_credentials = [("grant_type", "client_credentials")];
    a.post("token", Auth::Post, &client_credentials)
        .await
        .assert_error(401, "invalid_client");
    let fresh = a
        .post(
            "token",
            Auth::As(&a.client_id, "rotated-secret-0123456789"),
            &client_credentials,
        )
        .await;
    Tokens::of(&fresh);
}

async fn answer_of(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

// --- 7. refresh rotation -----------------------------------------------------------------

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_whole_family() {
    let (_server, rp, mut ua) = grafana_and_alice(json!({})).await;
    let first = ua.tokens_for(&rp).await;
    let second = Tokens::of(&rp.refresh(first.refresh()).await);
    assert_ne!(second.refresh(), first.refresh());
    assert_ne!(second.access, first.access);
    assert!(second.id.is_some(), "an id token on refresh too");
    assert_inactive(&rp, first.refresh(), "a used refresh token").await;
    let live = rp.introspect(second.refresh()).await;
    assert_eq!(live["active"], true, "{live}");
    assert_eq!(live["token_type"], "refresh_token");

    // The old one again: refused, and everything of the family dies.
    rp.refresh(first.refresh())
        .await
        .assert_error(400, "invalid_grant");
    rp.refresh(second.refresh())
        .await
        .assert_error(400, "invalid_grant");
    assert_inactive(
        &rp,
        second.refresh(),
        "newest refresh token of a revoked family",
    )
    .await;
    assert_inactive(&rp, first.refresh(), "reused refresh token").await;
    assert_refused(&rp, &second.access, "access token of a revoked family").await;
    assert_refused(&rp, &first.access, "first access token of a revoked family").await;
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scopes_but_not_widen_them() {
    let (_server, rp, mut ua) = grafana_and_alice(json!({})).await;
    let tokens = ua.tokens_for(&rp).await;
    let narrowed = refresh_with_scope(&rp, tokens.refresh(), "openid email").await;
    assert_eq!(narrowed.assert_ok()["scope"], "openid email");
    let narrowed = Tokens::of(&narrowed);
    let info = rp.userinfo(&narrowed.access).await;
    assert!(
        info.body.get("email").is_some() && info.body.get("name").is_none(),
        "{}",
        info.body
    );
    // Not even back to what the first authorization granted.
    refresh_with_scope(&rp, narrowed.refresh(), "openid email profile")
        .await
        .assert_error(400, "invalid_scope");
}

#[tokio::test]
async fn a_refused_refresh_leaves_the_refresh_token_usable() {
    let (_server, rp, mut ua) = grafana_and_alice(json!({})).await;
    let tokens = ua.tokens_for(&rp).await;
    refresh_with_scope(&rp, tokens.refresh(), "openid goauthentik.io/api")
        .await
        .assert_error(400, "invalid_scope");
    Tokens::of(&rp.refresh(tokens.refresh()).await);
}

async fn refresh_with_scope(rp: &Rp, refresh_token: &str, scope: &str) -> Answer {
    rp.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("scope", scope),
    ])
    .await
}

// --- 8. access policies --------------------------------------------------------------------

#[tokio::test]
async fn a_user_without_access_is_refused_and_the_client_gets_access_denied_never_a_code() {
    let server = TestServer::spawn().await;
    let rp = Rp::create(&server, "Grafana", json!({})).await;
    let staff = create_group_with_access(&server, "staff", &rp.app_pk).await;
    let mut alice = UserAgent::new(&server, "alice").await;

    let landing = alice.go(&rp.authorize_url(&[])).await;
    let (status, html) = landing.page();
    let html = unescape(html);
    assert_eq!(status, 403, "{html}");
    assert!(
        html.contains("You do not have access to Grafana."),
        "{html}"
    );
    assert!(!html.contains("code="), "{html}");
    let back = hrefs(&html)
        .into_iter()
        .find(|href| href.starts_with(&rp.redirect_uri))
        .unwrap_or_else(|| panic!("no link back to the client: {html}"));
    assert!(html.contains("Return to the application"));
    let back = url::Url::parse(&back).unwrap();
    assert_client_error(
        &back.query_pairs().into_owned().collect(),
        "access_denied",
        &rp,
    );

    // Signed in now: prompt=none answers the client at once.
    let response = alice.get(&rp.authorize_url(&[("prompt", "none")])).await;
    assert_client_error(
        &client_redirect(&response, &rp.redirect_uri),
        "access_denied",
        &rp,
    );

    // A member gets a code.
    let mut bob = UserAgent::new(&server, "bob").await;
    add_to_group(&server, &staff, bob.pk).await;
    bob.code_for(&rp, &[]).await;

    // The provider's service account is no member either.
    rp.token(&[("grant_type", "client_credentials")])
        .await
        .assert_error(400, "access_denied");

    // Nor can she approve a device for it.
    let (device_code, user_code) = device_codes(&rp).await;
    let (status, html) = answer_device(&alice, &user_code, "approve").await;
    assert_eq!(status, 403, "{html}");
    assert!(
        html.contains("You do not have access to Grafana."),
        "{html}"
    );
    poll(&rp, &device_code)
        .await
        .assert_error(400, "access_denied");
}

// --- 9. deactivated users --------------------------------------------------------------------

#[tokio::test]
async fn a_deactivated_users_tokens_stop_working() {
    let (server, rp, mut ua) = grafana_and_alice(json!({})).await;
    let tokens = ua.tokens_for(&rp).await;
    rp.userinfo(&tokens.access).await.assert_ok();
    let patched = server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/core/users/{}/", ua.pk),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(patched.status(), 200);

    assert_refused(&rp, &tokens.access, "access token of a deactivated user").await;
    assert_inactive(&rp, &tokens.access, "access token of a deactivated user").await;
    assert_inactive(&rp, tokens.refresh(), "refresh token of a deactivated user").await;
    rp.refresh(tokens.refresh())
        .await
        .assert_error(400, "invalid_grant");
    // Nor does the browser get a new code.
    let response = ua.get(&rp.authorize_url(&[("prompt", "none")])).await;
    assert_client_error(
        &client_redirect(&response, &rp.redirect_uri),
        "login_required",
        &rp,
    );
}

// --- 10. prompt and consent ------------------------------------------------------------------

#[tokio::test]
async fn prompt_none_login_and_consent_and_remembered_consent() {
    let server = TestServer::spawn().await;
    let explicit = flow_pk(&server, EXPLICIT_CONSENT).await;
    let rp = Rp::create(&server, "Grafana", json!({"authorization_flow": explicit})).await;
    let mut ua = UserAgent::new(&server, "alice").await;

    let response = ua.get(&rp.authorize_url(&[("prompt", "none")])).await;
    assert_client_error(
        &client_redirect(&response, &rp.redirect_uri),
        "login_required",
        &rp,
    );

    ua.sign_in().await;
    let response = ua.get(&rp.authorize_url(&[("prompt", "none")])).await;
    assert_client_error(
        &client_redirect(&response, &rp.redirect_uri),
        "consent_required",
        &rp,
    );

    // The consent page; refusing to go on leaves no code, agreeing gives one.
    let response = ua.get(&rp.authorize_url(&[])).await;
    assert_eq!(
        location(&response).as_deref(),
        Some(format!("/if/flow/{EXPLICIT_CONSENT}/").as_str())
    );
    ua.consents = false;
    let stopped = ua.go(&rp.authorize_url(&[])).await;
    assert_eq!(
        stopped.page().1,
        format!("stopped in flow {EXPLICIT_CONSENT}")
    );
    ua.consents = true;
    ua.components.clear();
    ua.code_for(&rp, &[]).await;
    assert!(
        ua.components.iter().any(|c| c == "ak-stage-consent"),
        "{:?}",
        ua.components
    );

    // The default consent stage asks every time (authentik's `always_require`).
    ua.components.clear();
    ua.code_for(&rp, &[]).await;
    assert!(ua.components.iter().any(|c| c == "ak-stage-consent"));

    // Remembered once the stage keeps consents: asked once more, then never again,
    // and prompt=none succeeds.
    remember_consents(&server).await;
    ua.components.clear();
    ua.code_for(&rp, &[]).await;
    assert!(ua.components.iter().any(|c| c == "ak-stage-consent"));
    ua.components.clear();
    ua.flows.clear();
    ua.code_for(&rp, &[]).await;
    ua.code_for(&rp, &[("prompt", "none")]).await;
    assert!(
        ua.flows.is_empty(),
        "no flow page was shown: {:?}",
        ua.flows
    );
    assert!(ua.components.is_empty(), "{:?}", ua.components);

    // prompt=consent asks again.
    ua.code_for(&rp, &[("prompt", "consent")]).await;
    assert_eq!(ua.flows, [EXPLICIT_CONSENT]);
    assert!(ua.components.iter().any(|c| c == "ak-stage-consent"));

    // prompt=login sends a signed-in browser to sign in again, then on to the client.
    server.clock.advance(5);
    ua.flows.clear();
    let response = ua.get(&rp.authorize_url(&[("prompt", "login")])).await;
    let to = location(&response).unwrap();
    assert!(
        to.starts_with(&format!("/if/flow/{LOGIN_FLOW}/?next=")),
        "{to}"
    );
    ua.code_for(&rp, &[("prompt", "login")]).await;
    assert_eq!(ua.flows, [LOGIN_FLOW]);

    // max_age: a session older than that signs in again, a younger one does not.
    server.clock.advance(120);
    ua.flows.clear();
    ua.code_for(&rp, &[("max_age", "3600")]).await;
    assert!(ua.flows.is_empty(), "{:?}", ua.flows);
    ua.code_for(&rp, &[("max_age", "60")]).await;
    assert_eq!(ua.flows, [LOGIN_FLOW]);
}

/// Switches the default consent stage to remembering consents for good.
async fn remember_consents(server: &TestServer) {
    let stages: Value = server
        .admin_get("/api/v3/stages/consent/")
        .await
        .json()
        .await
        .unwrap();
    let stage = stages["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stage| stage["name"] == "default-provider-authorization-consent")
        .unwrap_or_else(|| panic!("{stages}"));
    let patched = server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/stages/consent/{}/", stage["pk"].as_str().unwrap()),
            json!({"mode": "permanent"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
}

#[tokio::test]
async fn a_pending_authorization_cannot_be_finished_in_another_browser() {
    let (server, rp, ua) = grafana_and_alice(json!({})).await;
    let response = ua.get(&rp.authorize_url(&[])).await;
    let to = location(&response).unwrap();
    let next = to.split("next=").nth(1).unwrap();
    let resume: String = url::form_urlencoded::parse(format!("n={next}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    let mut mallory = UserAgent::new(&server, "mallory").await;
    mallory.sign_in().await;
    let (status, location, html) = page(mallory.get(&server.url(&resume)).await).await;
    assert_eq!((status, location), (400, None));
    assert!(html.contains("started in another browser"), "{html}");
    assert!(mallory.cookie("gatehouse_session").is_some());

    // The browser that started it finishes it, once: the pending URL is then spent.
    let mut ua = ua;
    let landing = ua.go(&resume).await;
    assert!(landing.at_client(&rp.redirect_uri).contains_key("code"));
    let (status, location, html) = page(ua.get(&server.url(&resume)).await).await;
    assert_eq!((status, location), (400, None), "{html}");
}

// --- 11. discovery, and an independent relying party ---------------------------------------

#[tokio::test]
async fn discovery_lists_only_served_endpoints_and_an_independent_rp_verifies_the_id_token() {
    let server = TestServer::spawn().await;
    let ec_key = keypair_pk(&server, EC_KEY).await;
    let rsa = Rp::create(&server, "Grafana", json!({})).await;
    let ec = Rp::create(&server, "Wiki", json!({"signing_key": ec_key})).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    for (rp, alg) in [(&rsa, "RS256"), (&ec, "ES256")] {
        let doc = rp.discovery().await;
        assert_eq!(doc["issuer"], rp.issuer().as_str());
        assert_eq!(doc["id_token_signing_alg_values_supported"], json!([alg]));
        for (field, method) in [
            ("authorization_endpoint", Method::GET),
            ("token_endpoint", Method::POST),
            ("userinfo_endpoint", Method::GET),
            ("end_session_endpoint", Method::GET),
            ("introspection_endpoint", Method::POST),
            ("revocation_endpoint", Method::POST),
            ("device_authorization_endpoint", Method::POST),
            ("jwks_uri", Method::GET),
        ] {
            let url = doc[field].as_str().unwrap_or_else(|| panic!("{field}"));
            assert!(url.starts_with(&server.url("/")), "{field}: {url}");
            let status = plain.request(method, url).send().await.unwrap().status();
            assert!(
                status != 404 && status != 405,
                "{field} {url} answered {status}"
            );
        }

        let tokens = ua.tokens_for(rp).await;
        let (header, id_claims) = jwt_parts(tokens.id());
        let (access_header, access_claims) = jwt_parts(&tokens.access);
        assert_eq!(header["alg"], alg);
        assert_eq!(access_header["alg"], alg);
        assert_eq!(access_header["typ"], "at+jwt");
        assert_eq!(id_claims["iss"], doc["issuer"]);
        assert_eq!(access_claims["iss"], doc["issuer"]);

        // The openidconnect crate as the relying party: metadata, JWKS, id token.
        let metadata: CoreProviderMetadata = serde_json::from_value(doc.clone()).unwrap();
        let jwks_doc = plain
            .get(metadata.jwks_uri().url().as_str())
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        let jwks: CoreJsonWebKeySet = serde_json::from_value(jwks_doc).unwrap();
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(rp.client_id.clone()),
            ClientSecret::new(rp.client_secret.clone()),
            metadata.issuer().clone(),
            jwks.clone(),
        )
        .set_allowed_algs(metadata.id_token_signing_alg_values_supported().clone());
        let id_token: CoreIdToken = tokens.id().parse().unwrap();
        let claims = id_token
            .claims(&verifier, &Nonce::new(NONCE.to_owned()))
            .unwrap();
        assert_eq!(claims.issuer(), metadata.issuer());
        assert_eq!(claims.audiences().len(), 1);
        assert_eq!(claims.audiences()[0].as_str(), rp.client_id);
        assert_eq!(
            claims.nonce().map(Nonce::secret).map(String::as_str),
            Some(NONCE)
        );
        let at_hash = AccessTokenHash::from_token(
            &AccessToken::new(tokens.access.clone()),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&at_hash));

        // And it refuses what it should: another nonce, another client.
        assert!(
            id_token
                .claims(&verifier, &Nonce::new("other".into()))
                .is_err()
        );
        let stranger = CoreIdTokenVerifier::new_public_client(
            ClientId::new("someone-else".into()),
            metadata.issuer().clone(),
            jwks,
        )
        .set_allowed_algs(metadata.id_token_signing_alg_values_supported().clone());
        assert!(
            id_token
                .claims(&stranger, &Nonce::new(NONCE.into()))
                .is_err()
        );
    }

    // Without the openid scope: plain OAuth, no id token.
    let code = ua.code_for(&rsa, &[("scope", "email")]).await;
    let plain_oauth = Tokens::of(&rsa.exchange(&code, None).await);
    assert!(plain_oauth.id.is_none());
    assert!(plain_oauth.refresh.is_some());
    let info = rsa.userinfo(&plain_oauth.access).await;
    assert_eq!(info.assert_ok()["email"], "alice@example.com");

    // Each application's keys verify only its own tokens.
    let rsa_jwks: CoreJsonWebKeySet = serde_json::from_value(rsa.jwks().await).unwrap();
    let ec_token: CoreIdToken = ua.tokens_for(&ec).await.id().parse().unwrap();
    let cross = CoreIdTokenVerifier::new_public_client(
        ClientId::new(ec.client_id.clone()),
        openidconnect::IssuerUrl::new(ec.issuer()).unwrap(),
        rsa_jwks,
    )
    .set_allowed_algs([openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    assert!(ec_token.claims(&cross, &Nonce::new(NONCE.into())).is_err());
}

// --- 12. tokens userinfo must refuse -----------------------------------------------------------

#[tokio::test]
async fn forged_misused_expired_and_revoked_tokens_are_refused_at_userinfo() {
    let (server, rp, mut ua) = grafana_and_alice(json!({})).await;
    let ec_key = keypair_pk(&server, EC_KEY).await;
    let _other = Rp::create(&server, "Wiki", json!({"signing_key": ec_key})).await;
    let tokens = ua.tokens_for(&rp).await;
    let (header, claims) = jwt_parts(&tokens.access);
    let signing_input =
        |header: &Value, claims: &Value| format!("{}.{}", b64_json(header), b64_json(claims));

    // alg none, with and without the original signature.
    let none = json!({"alg": "none", "typ": "at+jwt"});
    let original_signature = tokens.access.rsplit('.').next().unwrap();
    assert_refused(
        &rp,
        &format!("{}.", signing_input(&none, &claims)),
        "alg none",
    )
    .await;
    assert_refused(
        &rp,
        &format!("{}.{original_signature}", signing_input(&none, &claims)),
        "alg none with a signature",
    )
    .await;

    // HS256 keyed with the client secret (algorithm confusion).
    let hs = json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]});
    let input = signing_input(&hs, &claims);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, rp.client_secret.as_bytes());
    let mac = ring::hmac::sign(&key, input.as_bytes());
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        mac.as_ref(),
    );
    assert_refused(
        &rp,
        &format!("{input}.{encoded}"),
        "HS256 with the client secret",
    )
    .await;

    // Claims changed under the original signature.
    let mut widened = claims.clone();
    widened["scope"] = json!("openid email profile offline_access goauthentik.io/api");
    assert_refused(
        &rp,
        &format!("{}.{original_signature}", signing_input(&header, &widened)),
        "altered claims",
    )
    .await;

    // The id token is no access token.
    assert_refused(&rp, tokens.id(), "an id token").await;

    // Signed with another provider's key; the same claims signed with our own key pass,
    // so it is the key that is refused.
    let at = serde_json::Map::from_iter([("typ".to_owned(), json!("at+jwt"))]);
    let foreign = signing_key_of(&server, EC_KEY)
        .await
        .sign_jwt(&at, &claims)
        .unwrap();
    assert_refused(&rp, &foreign, "signed by another provider's key").await;
    let own = signing_key_of(&server, RSA_KEY)
        .await
        .sign_jwt(&at, &claims)
        .unwrap();
    rp.userinfo(&own).await.assert_ok();

    // Revoked at /revoke/.
    let revoked = ua.tokens_for(&rp).await;
    rp.revoke(&revoked.access).await;
    assert_refused(&rp, &revoked.access, "a revoked access token").await;
    assert_inactive(&rp, &revoked.access, "a revoked access token").await;
    // Revoking a refresh token ends its grant, access tokens included.
    let family = ua.tokens_for(&rp).await;
    rp.revoke(family.refresh()).await;
    assert_refused(
        &rp,
        &family.access,
        "access token of a revoked refresh token",
    )
    .await;
    rp.refresh(family.refresh())
        .await
        .assert_error(400, "invalid_grant");

    // Expired: past access_token_validity (an hour).
    rp.userinfo(&tokens.access).await.assert_ok();
    server.clock.advance(3601);
    assert_refused(&rp, &tokens.access, "an expired access token").await;
    assert_inactive(&rp, &tokens.access, "an expired access token").await;

    // A token of a provider deleted since.
    let gone = Rp::create(&server, "Notes", json!({})).await;
    let orphan = ua.tokens_for(&gone).await;
    gone.userinfo(&orphan.access).await.assert_ok();
    let deleted = server
        .admin_send(
            Method::DELETE,
            &format!("/api/v3/providers/oauth2/{}/", gone.provider_pk),
            json!({}),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_refused(&rp, &orphan.access, "a token of a deleted provider").await;

    // No token at all.
    let bare = rp.get("/application/o/userinfo/").await;
    assert_eq!(bare.status, 401);
    assert_www_authenticate(&bare, "Bearer realm=");
}

// --- 13. client credentials ---------------------------------------------------------------------

#[tokio::test]
async fn client_credentials_with_the_client_secret_or_an_app_password() {
    let (server, rp, _ua) = grafana_and_alice(json!({})).await;
    let spa = Rp::create(&server, "Photos", json!({"client_type": "public"})).await;

    // The client's own secret: tokens for the provider's service account, no refresh.
    let answer = rp
        .post(
            "token",
            Auth::Basic,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "openid profile"),
            ],
        )
        .await;
    let tokens = Tokens::of(&answer);
    assert!(tokens.refresh.is_none());
    let account = "ak-Grafana-client_credentials";
    let seen = rp.introspect(&tokens.access).await;
    assert_eq!(
        (seen["active"].clone(), seen["username"].clone()),
        (json!(true), json!(account)),
        "{seen}"
    );
    let users: Value = server
        .admin_get("/api/v3/core/users/?search=client_credentials")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users["pagination"]["count"], 1, "{users}");
    assert_eq!(users["results"][0]["username"], account);
    assert_eq!(users["results"][0]["type"], "internal_service_account");
    rp.post(
        "token",
        Auth::As(&rp.client_id, "wrong"),
        &[("grant_type", "client_credentials")],
    )
    .await
    .assert_error(401, "invalid_client");

    // A user's app password (client identified by id only).
    let alice_pk = {
        let list: Value = server
            .admin_get("/api/v3/core/users/?search=alice")
            .await
            .json()
            .await
            .unwrap();
        list["results"][0]["pk"].as_i64().unwrap()
    };
    for (identifier, intent) in [("alice-backup", "app_password"), ("alice-api", "api")] {
        let created = server
            .admin_send(
                Method::POST,
                "/api/v3/core/tokens/",
                json!({"identifier": identifier, "intent": intent, "user": alice_pk, "expiring": false}),
            )
            .await;
        assert_eq!(created.status(), 201);
    }
    let key = |identifier: &'static str| {
        let server = &server;
        async move {
            let body: Value = server
                .admin_get(&format!("/api/v3/core/tokens/{identifier}/view_key/"))
                .await
                .json()
                .await
                .unwrap();
            body["key"].as_str().unwrap().to_owned()
        }
    };
    let app_password = key("alice-backup").await;
    let api_key = key("alice-api").await;
    let with = |username: &'static str, password: String| {
        let rp = &rp;
        async move {
            rp.post(
                "token",
                Auth::IdOnly,
                &[
                    ("grant_type", "client_credentials"),
                    ("username", username),
                    ("password", &password),
                    ("scope", "openid"),
                ],
            )
            .await
        }
    };
    let tokens = Tokens::of(&with("alice", app_password.clone()).await);
    let seen = rp.introspect(&tokens.access).await;
    assert_eq!(
        (seen["active"].clone(), seen["username"].clone()),
        (json!(true), json!("alice"))
    );
    with("alice", "not-the-password".into())
        .await
        .assert_error(400, "invalid_grant");
    with("bob", app_password.clone())
        .await
        .assert_error(400, "invalid_grant");
    with("alice", api_key)
        .await
        .assert_error(400, "invalid_grant");
    with("alice", "alice-pw-Quiet-Harbor-42".into())
        .await
        .assert_error(400, "invalid_grant");

    // Public clients have no credentials of their own.
    spa.token(&[("grant_type", "client_credentials")])
        .await
        .assert_error(400, "unauthorized_client");
}

// --- 14. device authorization --------------------------------------------------------------------

/// Starts a device authorization; returns (device_code, user_code).
async fn device_codes(rp: &Rp) -> (String, String) {
    let answer = rp
        .post("device", Auth::Basic, &[("scope", "openid profile")])
        .await;
    let body = answer.assert_ok();
    assert_eq!(body["interval"], 5);
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["verification_uri"], format!("{}/device/", rp.base));
    let user_code = body["user_code"].as_str().unwrap().to_owned();
    assert_eq!(
        body["verification_uri_complete"],
        format!("{}/device/?code={user_code}", rp.base)
    );
    (body["device_code"].as_str().unwrap().to_owned(), user_code)
}

async fn poll(rp: &Rp, device_code: &str) -> Answer {
    rp.post(
        "token",
        Auth::Basic,
        &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
    )
    .await
}

/// The user's answer on `/device/`, with the page's CSRF token.
async fn answer_device(ua: &UserAgent, user_code: &str, action: &str) -> (u16, String) {
    let shown = ua
        .get(&format!("{}/device/?code={user_code}", ua.base))
        .await;
    assert_eq!(shown.status(), 200);
    let html = unescape(&shown.text().await.unwrap());
    assert!(html.contains("<strong>Grafana</strong>"), "{html}");
    let csrf = form_value(&html, "csrf_token").unwrap();
    let response = ua
        .http
        .post(format!("{}/device/", ua.base))
        .form(&[
            ("code", user_code),
            ("csrf_token", &csrf),
            ("action", action),
        ])
        .send()
        .await
        .unwrap();
    let (status, _, html) = page(response).await;
    (status, html)
}

#[tokio::test]
async fn device_grant_pending_slow_down_approve_deny_and_spent_codes() {
    let (server, rp, mut ua) = grafana_and_alice(json!({})).await;
    let (device_code, user_code) = device_codes(&rp).await;
    poll(&rp, &device_code)
        .await
        .assert_error(400, "authorization_pending");
    poll(&rp, &device_code).await.assert_error(400, "slow_down");
    server.clock.advance(6);
    poll(&rp, &device_code)
        .await
        .assert_error(400, "authorization_pending");
    poll(&rp, "made-up")
        .await
        .assert_error(400, "expired_token");
    // Another client cannot poll it.
    let other = Rp::create(&server, "Wiki", json!({})).await;
    poll(&other, &device_code)
        .await
        .assert_error(400, "invalid_grant");

    // Not signed in: sent to sign in, coming back to the code.
    let response = ua
        .get(&format!("{}/device/?code={user_code}", ua.base))
        .await;
    let to = location(&response).unwrap();
    assert!(
        to.starts_with(&format!("/if/flow/{LOGIN_FLOW}/?next=%2Fdevice%2F")),
        "{to}"
    );
    ua.sign_in().await;

    // Without the right CSRF token the answer is refused and changes nothing.
    for csrf in ["", "forged-token"] {
        let response = ua
            .http
            .post(format!("{}/device/", ua.base))
            .form(&[
                ("code", user_code.as_str()),
                ("csrf_token", csrf),
                ("action", "approve"),
            ])
            .send()
            .await
            .unwrap();
        let (status, _, html) = page(response).await;
        assert_eq!(status, 400, "{html}");
        assert!(html.contains("did not come from this site"), "{html}");
    }
    server.clock.advance(6);
    poll(&rp, &device_code)
        .await
        .assert_error(400, "authorization_pending");

    // An unknown code.
    let unknown = ua.get(&format!("{}/device/?code=BCDF-GHJK", ua.base)).await;
    assert!(
        unescape(&unknown.text().await.unwrap()).contains("This code is unknown or has expired.")
    );

    let (status, html) = answer_device(&ua, &user_code, "approve").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Device connected"), "{html}");
    let tokens = Tokens::of(&poll(&rp, &device_code).await);
    assert!(tokens.id.is_some() && tokens.refresh.is_some());
    let info = rp.userinfo(&tokens.access).await;
    assert_eq!(info.assert_ok()["preferred_username"], "alice");
    poll(&rp, &device_code)
        .await
        .assert_error(400, "expired_token");

    // Denied.
    let (device_code, user_code) = device_codes(&rp).await;
    let (status, html) = answer_device(&ua, &user_code, "deny").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Request denied"), "{html}");
    poll(&rp, &device_code)
        .await
        .assert_error(400, "access_denied");
    poll(&rp, &device_code)
        .await
        .assert_error(400, "expired_token");

    // Expired before anyone answered.
    let (device_code, _) = device_codes(&rp).await;
    server.clock.advance(601);
    poll(&rp, &device_code)
        .await
        .assert_error(400, "expired_token");
}

// --- 15. RP-initiated logout ---------------------------------------------------------------------

#[tokio::test]
async fn end_session_with_a_hint_signs_out_and_returns_only_to_registered_uris() {
    let server = TestServer::spawn().await;
    let logged_out = "https://grafana.example.com/logged-out";
    let rp = Rp::create(
        &server,
        "Grafana",
        json!({"redirect_uris": [
            {"matching_mode": "strict", "url": "https://grafana.example.com/callback"},
            {"matching_mode": "strict", "url": logged_out},
        ]}),
    )
    .await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let tokens = ua.tokens_for(&rp).await;
    let session = ua.cookie("gatehouse_session").expect("a session cookie");
    assert_eq!(me_with_session(&server, &session).await, 200);
    let end = |params: &[(&str, &str)]| {
        format!(
            "{}/application/o/{}/end-session/?{}",
            rp.base,
            rp.slug,
            serde_urlencoded::to_string(params).unwrap()
        )
    };

    // Refused without ending anything: an unregistered URI, a hint that is no id token.
    for params in [
        vec![
            ("id_token_hint", tokens.id()),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![
            ("id_token_hint", tokens.access.as_str()),
            ("post_logout_redirect_uri", logged_out),
        ],
        vec![
            ("id_token_hint", "garbage"),
            ("post_logout_redirect_uri", logged_out),
        ],
    ] {
        let (status, location, html) = page(ua.get(&end(&params)).await).await;
        assert_eq!((status, location), (400, None), "{params:?}: {html}");
    }
    // No hint: the user decides in the invalidation flow.
    let response = ua
        .get(&end(&[("post_logout_redirect_uri", logged_out)]))
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response).unwrap(),
        "/if/flow/default-invalidation-flow/"
    );
    assert_eq!(
        me_with_session(&server, &session).await,
        200,
        "still signed in"
    );

    let response = ua
        .get(&end(&[
            ("id_token_hint", tokens.id()),
            ("post_logout_redirect_uri", logged_out),
            ("state", "bye-1"),
        ]))
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response).unwrap(),
        format!("{logged_out}?state=bye-1")
    );
    // 401: no valid credentials, the API's answer to anonymous callers.
    assert_eq!(
        me_with_session(&server, &session).await,
        401,
        "the session ended"
    );
    assert_eq!(
        ua.get(&server.url("/api/v3/core/users/me/")).await.status(),
        401
    );
}

// --- 16. the audit trail ---------------------------------------------------------------------------

#[tokio::test]
async fn authorizations_and_token_issues_are_recorded_as_events() {
    let (server, rp, mut ua) = grafana_and_alice(json!({})).await;
    ua.tokens_for(&rp).await;
    // There is no events API yet: read the store as the CLI does.
    let store = gatehouse::app::open_store_for_cli(&server.settings).unwrap();
    let events = store
        .read(|tx| tx.list_events(&ListQuery::default()))
        .unwrap()
        .items;
    let of = |action: EventAction| {
        events
            .iter()
            .filter(|event| event.action == action)
            .collect::<Vec<_>>()
    };
    let authorized = of(EventAction::AuthorizeApplication);
    assert_eq!(authorized.len(), 1, "{events:?}");
    let event = authorized[0];
    assert_eq!(event.user.as_ref().unwrap().username, "alice");
    assert_eq!(
        event.context["authorized_application"]["slug"],
        rp.slug.as_str()
    );
    assert_eq!(event.context["authorized_application"]["name"], "Grafana");
    assert_eq!(event.context["flow"], "authorization_code");
    assert_eq!(
        event.context["scopes"],
        json!(["openid", "email", "profile", "offline_access"])
    );
    let issued = of(EventAction::TokenIssued);
    assert_eq!(issued.len(), 1, "{events:?}");
    assert_eq!(issued[0].context["client_id"], rp.client_id.as_str());
    assert!(
        !serde_json::to_string(&events)
            .unwrap()
            .contains(&rp.client_secret),
        "no secret in the log"
    );
}

// --- browser-based clients: CORS ----------------------------------------------------------

#[tokio::test]
async fn browser_clients_may_call_the_token_endpoints_from_their_own_origin() {
    let (server, rp, _) = grafana_and_alice(json!({})).await;
    let http = reqwest::Client::new();
    for endpoint in ["token", "userinfo", "revoke", "introspect", "device"] {
        let preflight = http
            .request(
                reqwest::Method::OPTIONS,
                server.url(&format!("/application/o/{endpoint}/")),
            )
            .header("Origin", "https://spa.example")
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), 204, "{endpoint}");
        assert_eq!(
            preflight.headers()["access-control-allow-origin"],
            "*",
            "{endpoint}"
        );
        assert!(
            preflight.headers()["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
    }
    // The error of a real token request is readable cross-origin too.
    let refused = http
        .post(server.url("/application/o/token/"))
        .header("Origin", "https://spa.example")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "nope"),
            ("client_id", rp.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.headers()["access-control-allow-origin"], "*");
    // So are a refused userinfo call and a revocation.
    let userinfo = http
        .get(server.url("/application/o/userinfo/"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    assert_eq!(userinfo.headers()["access-control-allow-origin"], "*");
    let revoked = http
        .post(server.url("/application/o/revoke/"))
        .basic_auth(&rp.client_id, Some(&rp.client_secret))
        .form(&[("token", "unknown")])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(revoked.headers()["access-control-allow-origin"], "*");
    // The authorization endpoint is navigated to, never fetched: no CORS there.
    let authorize = http
        .request(
            reqwest::Method::OPTIONS,
            server.url("/application/o/authorize/"),
        )
        .send()
        .await
        .unwrap();
    assert!(
        authorize
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

// --- custom scope mappings ----------------------------------------------------------------

async fn custom_mapping(server: &TestServer, name: &str, scope: &str, expression: &str) -> String {
    let created = server
        .admin_send(
            Method::POST,
            "/api/v3/propertymappings/provider/scope/",
            json!({"name": name, "scope_name": scope, "expression": expression}),
        )
        .await;
    assert_eq!(created.status(), 201, "mapping {name}");
    let body: Value = created.json().await.unwrap();
    body["pk"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn custom_scope_mappings_add_claims_and_a_broken_one_is_left_out() {
    let server = TestServer::spawn().await;
    // The seed guides' Gitea example: group membership becomes a `gitea` claim.
    let gitea = custom_mapping(
        &server,
        "Gitea claims",
        "gitea",
        r#"#{ gitea: if "gitadmin" in user.groups { "admin" } else { "user" } }"#,
    )
    .await;
    // A mapping cannot overwrite the token's own claims.
    let sneaky = custom_mapping(
        &server,
        "Sneaky",
        "sneaky",
        r#"#{ sub: "root", house: "gatehouse" }"#,
    )
    .await;
    // A mapping that fails at run time costs its own claims, nothing else.
    let broken = custom_mapping(
        &server,
        "Broken",
        "broken",
        r#"#{ oops: user.attributes.missing.deeper }"#,
    )
    .await;
    let mut mappings = Vec::new();
    for scope in ["openid", "email", "profile"] {
        mappings.push(json!(crate::harness::oidc::scope_pk(&server, scope).await));
    }
    mappings.extend([json!(gitea), json!(sneaky), json!(broken)]);
    let rp = Rp::create(
        &server,
        "Gitea",
        json!({"property_mappings": mappings, "sub_mode": "user_username"}),
    )
    .await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let group: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/core/groups/",
            json!({"name": "gitadmin"}),
        )
        .await
        .json()
        .await
        .unwrap();
    add_to_group(&server, group["pk"].as_str().unwrap(), ua.pk).await;

    let code = ua
        .code_for(&rp, &[("scope", "openid profile gitea sneaky broken")])
        .await;
    let answer = rp.exchange(&code, None).await;
    let tokens = Tokens::of(&answer);
    let (_, id_claims) = jwt_parts(tokens.id());
    assert_eq!(id_claims["gitea"], "admin");
    assert_eq!(id_claims["house"], "gatehouse");
    assert_eq!(id_claims["sub"], "alice", "mappings cannot replace sub");
    assert!(id_claims.get("oops").is_none());
    assert_eq!(
        id_claims["preferred_username"], "alice",
        "the standard scopes still work"
    );
    let info = rp.userinfo(&tokens.access).await;
    let info = info.assert_ok();
    assert_eq!(info["gitea"], "admin");
    assert_eq!(info["sub"], "alice");

    // Scopes the client did not ask for add nothing.
    let code = ua.code_for(&rp, &[("scope", "openid")]).await;
    let tokens = Tokens::of(&rp.exchange(&code, None).await);
    let (_, id_claims) = jwt_parts(tokens.id());
    assert!(id_claims.get("gitea").is_none());
    assert!(id_claims.get("preferred_username").is_none());
}
