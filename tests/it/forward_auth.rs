//! Forward authentication as a reverse proxy asks for it: the auth endpoints with the
//! headers Traefik, Caddy and nginx send, the sign-in through gatehouse's authorize
//! endpoint and back through the callback on the application's host (answered through
//! the auth endpoint itself, as the shortest configs need), the identity headers, skip
//! paths, intercepted credentials, access rules, sign-out, domain mode, and the API.
//! The real reverse proxies run in `tests/interop/forward_auth/`.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::oidc::{Landing, UserAgent, flow_pk, jwt_parts};

const IMPLICIT_CONSENT: &str = "default-provider-authorization-implicit-consent";
const APP: &str = "http://app.test";

/// A proxy provider with its application, assigned to the embedded outpost whose
/// `authentik_host` is the test server.
async fn protect(server: &TestServer, name: &str, overrides: Value) -> Value {
    let mut body = json!({
        "name": name,
        "authorization_flow": flow_pk(server, IMPLICIT_CONSENT).await,
        "external_host": APP,
        "mode": "forward_single",
    });
    for (key, value) in overrides.as_object().cloned().unwrap_or_default() {
        body[key] = value;
    }
    let created = server
        .admin_send(Method::POST, "/api/v3/providers/proxy/", body)
        .await;
    let status = created.status();
    let provider: Value = created.json().await.unwrap();
    assert_eq!(status, 201, "{provider}");
    let slug = name.to_ascii_lowercase();
    let app = server
        .admin_send(
            Method::POST,
            "/api/v3/core/applications/",
            json!({"name": name, "slug": slug, "provider": provider["pk"]}),
        )
        .await;
    assert_eq!(app.status(), 201);
    let outpost = embedded_outpost(server).await;
    let mut providers: Vec<Value> = outpost["providers"].as_array().unwrap().clone();
    providers.push(provider["pk"].clone());
    let mut config = outpost["config"].clone();
    config["authentik_host"] = json!(server.url(""));
    let patched = server
        .admin_send(
            Method::PATCH,
            &format!(
                "/api/v3/outposts/instances/{}/",
                outpost["pk"].as_str().unwrap()
            ),
            json!({"providers": providers, "config": config}),
        )
        .await;
    assert_eq!(patched.status(), 200, "{}", patched.text().await.unwrap());
    provider
}

async fn provider_client_id(server: &TestServer) -> String {
    let list: Value = server
        .admin_get("/api/v3/providers/proxy/")
        .await
        .json()
        .await
        .unwrap();
    list["results"][0]["client_id"].as_str().unwrap().to_owned()
}

async fn embedded_outpost(server: &TestServer) -> Value {
    let list: Value = server
        .admin_get("/api/v3/outposts/instances/?managed=goauthentik.io/outposts/embedded")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["pagination"]["count"], 1, "{list}");
    list["results"][0].clone()
}

/// A reverse proxy's view: cookies per host kept by hand (the app hosts do not exist),
/// requests to the auth endpoints with forwarded headers.
struct Proxy<'a> {
    server: &'a TestServer,
    http: reqwest::Client,
    /// Cookies the browser holds for the protected hosts: name → value.
    cookies: HashMap<String, String>,
}

impl<'a> Proxy<'a> {
    fn new(server: &'a TestServer) -> Proxy<'a> {
        Proxy {
            server,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps the cookies a response sets (an empty value deletes).
    fn remember(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all("set-cookie") {
            let text = header.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// Traefik/Caddy asking about `url` (on a protected host).
    async fn traefik(&mut self, url: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let url = url::Url::parse(url).unwrap();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap()),
            None => url.host_str().unwrap().to_owned(),
        };
        let uri = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let mut request = self
            .http
            .get(self.server.url("/outpost.goauthentik.io/auth/traefik"))
            .header("X-Forwarded-Proto", url.scheme())
            .header("X-Forwarded-Host", host)
            .header("X-Forwarded-Uri", uri)
            .header("X-Forwarded-Method", "GET")
            .header("Cookie", self.cookie_header());
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    /// nginx `auth_request` about `url`.
    async fn nginx(&self, url: &str) -> reqwest::Response {
        self.http
            .get(self.server.url("/outpost.goauthentik.io/auth/nginx"))
            .header("X-Original-URL", url)
            .header("Cookie", self.cookie_header())
            .send()
            .await
            .unwrap()
    }

    /// A request the reverse proxy routes to gatehouse itself on the protected host.
    async fn direct(&mut self, host: &str, path: &str) -> reqwest::Response {
        let response = self
            .http
            .get(self.server.url(path))
            .header("X-Forwarded-Host", host)
            .header("Cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.remember(&response);
        response
    }

    /// Signs `ua` in for `url`: the 302 to authorize, the walk through gatehouse, the
    /// callback through the auth endpoint. Returns where the callback sent the browser.
    async fn sign_in(&mut self, ua: &mut UserAgent, url: &str) -> String {
        let first = self.traefik(url, &[]).await;
        assert_eq!(first.status(), 302);
        let authorize = location(&first);
        assert!(
            authorize.starts_with(&self.server.url("/application/o/authorize/?")),
            "{authorize}"
        );
        let callback = match ua.go(&authorize).await {
            Landing::Client(url) => url.to_string(),
            Landing::Page { status, html } => panic!("{status}: {html}"),
        };
        assert!(
            callback.contains("/outpost.goauthentik.io/callback?X-authentik-auth-callback=true"),
            "{callback}"
        );
        let back = self.traefik(&callback, &[]).await;
        assert_eq!(back.status(), 302, "{}", back.text().await.unwrap());
        location(&back)
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn sign_in_through_the_auth_endpoint_and_pass_with_identity_headers() {
    let server = TestServer::spawn().await;
    protect(&server, "Dashboard", json!({})).await;
    let group = server
        .admin_send(
            Method::POST,
            "/api/v3/core/groups/",
            json!({"name": "admins"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let mut ua = UserAgent::new(&server, "alice").await;
    server
        .admin_send(
            Method::POST,
            &format!(
                "/api/v3/core/groups/{}/add_user/",
                group["pk"].as_str().unwrap()
            ),
            json!({"pk": ua.pk}),
        )
        .await;
    let mut proxy = Proxy::new(&server);

    // Not signed in: nginx hears 401, Traefik/Caddy get a redirect to sign in.
    assert_eq!(proxy.nginx("http://app.test/dash").await.status(), 401);
    let back = proxy.sign_in(&mut ua, "http://app.test/dash?tab=2").await;
    assert_eq!(back, "http://app.test/dash?tab=2");
    assert!(
        proxy
            .cookies
            .keys()
            .any(|name| name.starts_with("gatehouse_proxy_"))
    );

    let ok = proxy.traefik("http://app.test/dash", &[]).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "x-authentik-username"), "alice");
    assert_eq!(header(&ok, "x-authentik-email"), "alice@example.com");
    assert_eq!(header(&ok, "x-authentik-name"), "alice");
    assert_eq!(header(&ok, "x-authentik-groups"), "admins");
    assert_eq!(header(&ok, "x-authentik-meta-app"), "dashboard");
    assert_eq!(header(&ok, "x-authentik-meta-provider"), "Dashboard");
    assert_eq!(
        header(&ok, "x-authentik-meta-outpost"),
        "authentik Embedded Outpost"
    );
    assert!(!header(&ok, "x-authentik-uid").is_empty());
    let (jwt_header, claims) = jwt_parts(&header(&ok, "x-authentik-jwt"));
    assert_eq!(jwt_header["typ"], "at+jwt");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["sub"], header(&ok, "x-authentik-uid"));
    // The same session passes nginx too.
    let nginx = proxy.nginx("http://app.test/other").await;
    assert_eq!(nginx.status(), 200);
    assert_eq!(header(&nginx, "x-authentik-username"), "alice");
    // Another host is not this provider's.
    let elsewhere = proxy.traefik("http://other.test/", &[]).await;
    assert_eq!(elsewhere.status(), 404);
}

#[tokio::test]
async fn the_callback_refuses_other_browsers_replays_and_foreign_redirects() {
    let server = TestServer::spawn().await;
    protect(&server, "Dashboard", json!({})).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let mut proxy = Proxy::new(&server);
    // The original URL points off the provider's hosts: it is not followed.
    let first = proxy.traefik("http://app.test/", &[]).await;
    let authorize = location(&first);
    let callback = match ua.go(&authorize).await {
        Landing::Client(url) => url.to_string(),
        other => panic!("{:?}", other.page()),
    };
    // An attacker's browser (without the nonce cookie) cannot use the callback link.
    let mut attacker = Proxy::new(&server);
    let stolen = attacker.traefik(&callback, &[]).await;
    assert_eq!(stolen.status(), 400);
    assert!(attacker.cookies.is_empty());
    // The right browser can, once; a replay fails.
    let back = proxy.traefik(&callback, &[]).await;
    assert_eq!(back.status(), 302);
    let replay = proxy.traefik(&callback, &[]).await;
    assert_eq!(replay.status(), 400);

    // A forged `rd` on start is replaced by the external host.
    let mut fresh = Proxy::new(&server);
    let start = fresh
        .direct(
            "app.test",
            "/outpost.goauthentik.io/start?rd=https%3A%2F%2Fevil.example%2F",
        )
        .await;
    assert_eq!(start.status(), 302);
    let mut ua2 = UserAgent::new(&server, "bob").await;
    let callback = match ua2.go(&location(&start)).await {
        Landing::Client(url) => url.to_string(),
        other => panic!("{:?}", other.page()),
    };
    let back = fresh.traefik(&callback, &[]).await;
    assert_eq!(location(&back), "http://app.test/");

    // Nor does one with a user part or another port on the right host.
    for rd in ["http://evil.test@app.test/", "http://app.test:8080/"] {
        let mut fresh = Proxy::new(&server);
        let query = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect::<String>();
        let start = fresh
            .direct(
                "app.test",
                &format!("/outpost.goauthentik.io/start?rd={query}"),
            )
            .await;
        let callback = match ua2.go(&location(&start)).await {
            Landing::Client(url) => url.to_string(),
            other => panic!("{:?}", other.page()),
        };
        let back = fresh.traefik(&callback, &[]).await;
        assert_eq!(location(&back), "http://app.test/", "{rd}");
    }
}

#[tokio::test]
async fn skip_paths_pass_and_a_user_without_access_is_refused() {
    let server = TestServer::spawn().await;
    protect(
        &server,
        "Dashboard",
        json!({"skip_path_regex": "^/api/health$\n^/public/"}),
    )
    .await;
    let mut proxy = Proxy::new(&server);
    let health = proxy.traefik("http://app.test/api/health", &[]).await;
    assert_eq!(health.status(), 200);
    // Named but empty (Caddy 2.6 would otherwise copy its placeholder text).
    assert_eq!(
        health
            .headers()
            .get("x-authentik-username")
            .map(|v| v.as_bytes()),
        Some(&b""[..])
    );
    assert_eq!(
        proxy
            .traefik("http://app.test/public/x.css", &[])
            .await
            .status(),
        200
    );
    assert_eq!(
        proxy
            .traefik("http://app.test/api/healthz", &[])
            .await
            .status(),
        302
    );

    // Only members of "staff" may use the application.
    let group: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/core/groups/",
            json!({"name": "staff"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let app: Value = server
        .admin_get("/api/v3/core/applications/dashboard/")
        .await
        .json()
        .await
        .unwrap();
    let bound = server
        .admin_send(
            Method::POST,
            "/api/v3/policies/bindings/",
            json!({"target": app["pk"], "group": group["pk"], "order": 0}),
        )
        .await;
    assert_eq!(bound.status(), 201);
    let mut outsider = UserAgent::new(&server, "mallory").await;
    let first = proxy.traefik("http://app.test/", &[]).await;
    match outsider.go(&location(&first)).await {
        Landing::Page { status, .. } => assert_eq!(status, 403),
        Landing::Client(url) => panic!("an outsider was sent back to {url}"),
    }
}

#[tokio::test]
async fn losing_access_or_signing_out_ends_the_session() {
    let server = TestServer::spawn().await;
    protect(&server, "Dashboard", json!({})).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let mut proxy = Proxy::new(&server);
    proxy.sign_in(&mut ua, "http://app.test/").await;
    assert_eq!(proxy.traefik("http://app.test/", &[]).await.status(), 200);

    // Deactivated: the next request is no longer admitted.
    let patched = server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/core/users/{}/", ua.pk),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(proxy.traefik("http://app.test/", &[]).await.status(), 302);

    // Active again, signed in again; then signing out on the app's host ends it, and
    // the gatehouse session with it.
    server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/core/users/{}/", ua.pk),
            json!({"is_active": true}),
        )
        .await;
    let mut ua = UserAgent::for_user(&server, "alice", &ua.password.clone(), ua.pk);
    let mut proxy = Proxy::new(&server);
    proxy.sign_in(&mut ua, "http://app.test/").await;
    assert_eq!(proxy.traefik("http://app.test/", &[]).await.status(), 200);
    let out = proxy
        .direct("app.test", "/outpost.goauthentik.io/sign_out")
        .await;
    assert_eq!(out.status(), 302);
    assert!(
        !proxy
            .cookies
            .keys()
            .any(|name| name.starts_with("gatehouse_proxy_") && name != "gatehouse_proxy_nonce")
    );
    assert!(
        ua.cookie("gatehouse_session").is_some(),
        "the browser still has the cookie"
    );
    let me = ua.get(&server.url("/api/v3/core/users/me/")).await;
    assert_eq!(me.status(), 401, "the gatehouse session ended too");
}

#[tokio::test]
async fn intercepted_app_passwords_pass_without_a_browser() {
    let server = TestServer::spawn().await;
    protect(&server, "Dashboard", json!({})).await;
    let ua = UserAgent::new(&server, "alice").await;
    let token = server
        .admin_send(
            Method::POST,
            "/api/v3/core/tokens/",
            json!({"identifier": "alice-phone", "intent": "app_password", "user": ua.pk}),
        )
        .await;
    assert_eq!(token.status(), 201, "{}", token.text().await.unwrap());
    let key: Value = server
        .admin_get("/api/v3/core/tokens/alice-phone/view_key/")
        .await
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap();
    let basic = |user: &str, secret: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
        )
    };
    let mut proxy = Proxy::new(&server);
    let ok = proxy
        .traefik(
            "http://app.test/api",
            &[("Authorization", &basic("alice", key))],
        )
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "x-authentik-username"), "alice");
    // Cached: the second request is answered the same.
    let again = proxy
        .traefik(
            "http://app.test/api",
            &[("Authorization", &basic("alice", key))],
        )
        .await;
    assert_eq!(again.status(), 200);
    // The account password, a wrong key or another user's name do not pass.
    for wrong in [
        basic("alice", &ua.password),
        basic("alice", "nope"),
        basic("bob", key),
    ] {
        let refused = proxy
            .traefik("http://app.test/api", &[("Authorization", &wrong)])
            .await;
        assert_eq!(refused.status(), 302, "{wrong}");
    }
    // A machine client trades the app password for an access token of this provider
    // (client credentials, authentik's documented way) and sends it as a Bearer token.
    let client_id = provider_client_id(&server).await;
    let token: Value = reqwest::Client::new()
        .post(server.url("/application/o/token/"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("username", "alice"),
            ("password", key),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let ok = proxy
        .traefik("http://app.test/api", &[("Authorization", &bearer)])
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "x-authentik-username"), "alice");
    let forged = format!("{bearer}x");
    let refused = proxy
        .traefik("http://app.test/api", &[("Authorization", &forged)])
        .await;
    assert_eq!(refused.status(), 302);
    // Deleting the app password ends its access.
    let deleted = server
        .admin_send(
            Method::DELETE,
            "/api/v3/core/tokens/alice-phone/",
            json!({}),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let gone = proxy
        .traefik(
            "http://app.test/api",
            &[("Authorization", &basic("alice", key))],
        )
        .await;
    assert_eq!(gone.status(), 302);
}

#[tokio::test]
async fn basic_auth_is_sent_upstream_from_attributes() {
    let server = TestServer::spawn().await;
    protect(
        &server,
        "Legacy",
        json!({
            "basic_auth_enabled": true,
            "basic_auth_user_attribute": "legacy_user",
            "basic_auth_password_attribute": "legacy_password",
        }),
    )
    .await;
    let mut ua = UserAgent::new(&server, "alice").await;
    server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/core/users/{}/", ua.pk),
            json!({"attributes": {"legacy_user": "al", "legacy_password": "s3cret",
                                  "additionalHeaders": {"X-Tenant": "blue"}}}),
        )
        .await;
    let mut proxy = Proxy::new(&server);
    proxy.sign_in(&mut ua, "http://app.test/").await;
    let ok = proxy.traefik("http://app.test/", &[]).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "authorization"), "Basic YWw6czNjcmV0"); // al:s3cret
    assert_eq!(header(&ok, "x-tenant"), "blue");
}

#[tokio::test]
async fn domain_mode_signs_in_once_for_every_host_in_the_domain() {
    let server = TestServer::spawn().await;
    let provider = protect(
        &server,
        "Home",
        json!({
            "mode": "forward_domain",
            "external_host": "http://auth.home.test",
            "cookie_domain": ".home.test",
        }),
    )
    .await;
    assert_eq!(provider["cookie_domain"], "home.test");
    let mut ua = UserAgent::new(&server, "alice").await;
    let mut proxy = Proxy::new(&server);
    let first = proxy.traefik("http://a.home.test/x", &[]).await;
    assert_eq!(first.status(), 302);
    let set_cookie = header(&first, "set-cookie");
    assert!(set_cookie.contains("Domain=home.test"), "{set_cookie}");
    let callback = match ua.go(&location(&first)).await {
        Landing::Client(url) => url,
        other => panic!("{:?}", other.page()),
    };
    assert_eq!(callback.host_str(), Some("auth.home.test"));
    // The callback is on gatehouse's own host in domain mode.
    let path = format!("{}?{}", callback.path(), callback.query().unwrap());
    let back = proxy.direct("auth.home.test", &path).await;
    assert_eq!(back.status(), 302);
    assert_eq!(location(&back), "http://a.home.test/x");
    assert!(header(&back, "set-cookie").contains("Domain=home.test"));
    for url in ["http://a.home.test/", "http://b.home.test/y"] {
        let ok = proxy.traefik(url, &[]).await;
        assert_eq!(ok.status(), 200, "{url}");
        assert_eq!(header(&ok, "x-authentik-username"), "alice");
    }
}

#[tokio::test]
async fn the_proxy_provider_api_checks_its_fields() {
    let server = TestServer::spawn().await;
    let flow = flow_pk(&server, IMPLICIT_CONSENT).await;
    let bad = server
        .admin_send(
            Method::POST,
            "/api/v3/providers/proxy/",
            json!({
                "name": "Bad",
                "authorization_flow": flow,
                "external_host": "app.test",
                "mode": "proxy",
                "skip_path_regex": "^/ok$\n(unclosed",
                "basic_auth_enabled": true,
            }),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let errors: Value = bad.json().await.unwrap();
    for field in [
        "external_host",
        "internal_host",
        "skip_path_regex",
        "basic_auth_password_attribute",
    ] {
        assert!(errors.get(field).is_some(), "{field}: {errors}");
    }
    let provider = protect(
        &server,
        "Dashboard",
        json!({"internal_host": "http://10.0.0.5:3000/"}),
    )
    .await;
    assert_eq!(provider["client_id"].as_str().unwrap().len(), 40);
    assert_eq!(
        provider["redirect_uris"][0]["url"],
        "http://app.test/outpost.goauthentik.io/callback?X-authentik-auth-callback=true"
    );
    assert_eq!(provider["internal_host"], "http://10.0.0.5:3000");
    assert_eq!(provider["mode"], "forward_single");
    assert_eq!(provider["component"], "ak-provider-proxy-form");
    let pk = provider["pk"].as_i64().unwrap();
    let fetched: Value = server
        .admin_get(&format!("/api/v3/providers/proxy/{pk}/"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["outpost_set"].as_array().unwrap().len(), 1);
    // Not listed as an OAuth2 provider, listed under all.
    let oauth: Value = server
        .admin_get("/api/v3/providers/oauth2/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(oauth["pagination"]["count"], 0);
    let all: Value = server
        .admin_get("/api/v3/providers/all/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["results"][0]["verbose_name"], "Proxy Provider");
    // A second provider cannot take the same external host.
    let twin = server
        .admin_send(
            Method::POST,
            "/api/v3/providers/proxy/",
            json!({"name": "Twin", "authorization_flow": flow, "external_host": "http://app.test/"}),
        )
        .await;
    assert_eq!(twin.status(), 400);
    // Deleting the provider takes it off the outpost.
    let deleted = server
        .admin_send(
            Method::DELETE,
            &format!("/api/v3/providers/proxy/{pk}/"),
            json!({}),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(embedded_outpost(&server).await["providers"], json!([]));
    // The embedded outpost stays.
    let outpost = embedded_outpost(&server).await;
    let refused = server
        .admin_send(
            Method::DELETE,
            &format!(
                "/api/v3/outposts/instances/{}/",
                outpost["pk"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn proxy_mode_serves_the_upstream_after_sign_in() {
    let server = TestServer::spawn().await;
    let upstream = crate::proxy_upstream::start_echo_upstream(None);
    protect(
        &server,
        "Wiki",
        json!({
            "mode": "proxy",
            "external_host": "http://wiki.test",
            "internal_host": format!("http://{upstream}"),
        }),
    )
    .await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let mut proxy = Proxy::new(&server);
    // Any path on the host goes to the upstream's guard: first, a sign-in.
    let first = proxy.direct("wiki.test", "/page?x=1").await;
    assert_eq!(first.status(), 302);
    let callback = match ua.go(&location(&first)).await {
        Landing::Client(url) => url,
        other => panic!("{:?}", other.page()),
    };
    assert_eq!(callback.host_str(), Some("wiki.test"));
    let path = format!("{}?{}", callback.path(), callback.query().unwrap());
    let back = proxy.direct("wiki.test", &path).await;
    assert_eq!(back.status(), 302);
    assert_eq!(location(&back), "http://wiki.test/page?x=1");

    let page = proxy.direct("wiki.test", "/page?x=1").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers().get("content-security-policy").is_none(),
        "the app's own headers"
    );
    let echoed: Value = page.json().await.unwrap();
    assert_eq!(echoed["path"], "/page");
    assert_eq!(echoed["query"], "x=1");
    assert_eq!(
        crate::proxy_upstream::seen(&echoed, "x-authentik-username"),
        ["alice"]
    );
    // gatehouse's own pages on its own host are unaffected.
    let own = proxy
        .http
        .get(server.url("/-/health/live/"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 204);
}
