//! Sessions: cookie flags, logout, expiry, and surviving a restart.

use serde_json::json;

use crate::harness::flows::{LOGIN, executor_get, executor_login, executor_post};
use crate::harness::{ADMIN_PASSWORD, Options, TestServer};

/// Logs in and returns the `Set-Cookie` header that carries the session.
async fn session_set_cookie(base: &str) -> String {
    login_set_cookie(&format!("{base}{LOGIN}"), &[]).await
}

/// Logs in at `url`, sending `headers` with every request (e.g. `X-Forwarded-Proto`),
/// and returns the session's `Set-Cookie` header.
async fn login_set_cookie(url: &str, headers: &[(&str, &str)]) -> String {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let send = |request: reqwest::RequestBuilder| {
        headers
            .iter()
            .fold(request, |request, (name, value)| {
                request.header(*name, *value)
            })
            .send()
    };
    send(client.get(url)).await.unwrap();
    let identify = json!({"component": "ak-stage-identification", "uid_field": "akadmin"});
    send(client.post(url).json(&identify)).await.unwrap();
    let password = json!({"component": "ak-stage-password", "password": ADMIN_PASSWORD});
    let done = send(client.post(url).json(&password)).await.unwrap();
    done.headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("gatehouse_session="))
        .expect("session cookie set")
}

#[tokio::test]
async fn session_cookie_is_httponly_lax_and_secure_under_https() {
    let server = TestServer::spawn_with(Options {
        https: true,
        ..Options::default()
    })
    .await;
    let plain = session_set_cookie(&server.url("")).await;
    assert!(plain.contains("HttpOnly"), "{plain}");
    assert!(plain.contains("SameSite=Lax"), "{plain}");
    assert!(
        !plain.contains("Secure"),
        "no Secure flag over plain HTTP: {plain}"
    );
    assert!(
        !plain.contains("Max-Age"),
        "a browser-session cookie by default: {plain}"
    );
    let tls = session_set_cookie(&server.https_url("")).await;
    assert!(tls.contains("Secure"), "{tls}");
    assert!(tls.contains("HttpOnly"));
}

#[tokio::test]
async fn forwarded_proto_is_trusted_only_from_trusted_proxies() {
    let server = TestServer::spawn().await;
    let https = [("x-forwarded-proto", "https")];
    // 127.0.0.1 is a trusted proxy by default: X-Forwarded-Proto: https makes the cookie Secure.
    let cookie = login_set_cookie(&server.url(LOGIN), &https).await;
    assert!(cookie.contains("Secure"), "{cookie}");

    let mut settings = server.settings.clone();
    settings.listen.trusted_proxy_cidrs = vec!["10.0.0.0/8".parse().unwrap()];
    settings.bootstrap = Default::default();
    let dir = std::sync::Arc::clone(&server.dir);
    server.stop().await;
    let untrusting = TestServer::start_in(dir, settings).await;
    let cookie = login_set_cookie(&untrusting.url(LOGIN), &https).await;
    assert!(
        !cookie.contains("Secure"),
        "untrusted peer cannot claim HTTPS: {cookie}"
    );
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .trim_start_matches("gatehouse_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let server = TestServer::spawn().await;
    let value = cookie_value(&session_set_cookie(&server.url("")).await);
    let with_cookie = |path: &str| {
        reqwest::Client::new()
            .get(server.url(path))
            .header("cookie", format!("gatehouse_session={value}"))
            .send()
    };
    assert_eq!(
        with_cookie("/api/v3/core/users/me/")
            .await
            .unwrap()
            .status(),
        200
    );

    let logout = with_cookie("/api/v3/flows/executor/default-invalidation-flow/")
        .await
        .unwrap();
    let removal = logout
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("gatehouse_session="))
        .expect("logout clears the cookie");
    assert!(
        removal.contains("Max-Age=0") || removal.contains("expires="),
        "{removal}"
    );
    let body: serde_json::Value = logout.json().await.unwrap();
    assert_eq!(body["component"], "xak-flow-redirect", "{body}");

    // The old cookie, replayed by someone who copied it, is dead.
    assert_eq!(
        with_cookie("/api/v3/core/users/me/")
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn sessions_expire_when_idle_too_long() {
    let server = TestServer::spawn().await;
    let browser = server.browser();
    executor_login(&server, &browser, "akadmin", ADMIN_PASSWORD).await;
    assert_eq!(
        browser
            .get(server.url("/api/v3/core/users/me/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let idle = i64::try_from(server.settings.session.idle_timeout_secs).unwrap();
    server.clock.advance(idle - 120);
    assert_eq!(
        browser
            .get(server.url("/api/v3/core/users/me/"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "activity refreshes the idle clock"
    );
    server.clock.advance(idle + 1);
    assert_eq!(
        browser
            .get(server.url("/api/v3/core/users/me/"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn users_and_sessions_survive_a_restart() {
    let server = TestServer::spawn().await;
    server.create_user("alice", "alice-password").await;
    let cookie = session_set_cookie(&server.url("")).await;
    let value = cookie_value(&cookie);

    let server = server.restart().await;
    let me = reqwest::Client::new()
        .get(server.url("/api/v3/core/users/me/"))
        .header("cookie", format!("gatehouse_session={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "session survives the restart");
    let browser = server.browser();
    let done = executor_login(&server, &browser, "alice", "alice-password").await;
    assert_eq!(
        done["component"], "xak-flow-redirect",
        "user survives the restart"
    );
    // A flow in progress survives as well.
    let flow = server.browser();
    executor_get(&server, &flow, LOGIN).await;
    executor_post(
        &server,
        &flow,
        LOGIN,
        json!({"component": "ak-stage-identification", "uid_field": "alice"}),
    )
    .await;
    let server = server.restart().await;
    let done = executor_post(
        &server,
        &flow,
        LOGIN,
        json!({"component": "ak-stage-password", "password": "alice-password"}),
    )
    .await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
}
