//! Signing in through the HTML pages: plain forms with CSRF tokens.

use crate::harness::flows::{form_value, post_form};
use crate::harness::{ADMIN_PASSWORD, TestServer};

const PAGE: &str = "/if/flow/default-authentication-flow/";

#[tokio::test]
async fn login_through_the_pages_and_back_to_next() {
    let server = TestServer::spawn().await;
    let browser = server.browser();
    let page_path = format!("{PAGE}?next=%2Fif%2Fadmin%2F");

    let first = post_form(&server, &browser, &page_path, &[("uid_field", "akadmin")]).await;
    assert_eq!(first.status(), 200);
    let html = first.text().await.unwrap();
    assert!(html.contains("name=\"password\""), "password page: {html}");
    assert!(html.contains("akadmin"));

    let done = post_form(
        &server,
        &browser,
        &page_path,
        &[("password", ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/if/admin/");

    let admin = browser.get(server.url("/if/admin/")).send().await.unwrap();
    assert_eq!(admin.status(), 200);
    assert!(admin.text().await.unwrap().contains("Recent events"));
}

#[tokio::test]
async fn wrong_password_shows_an_error_on_the_page() {
    let server = TestServer::spawn().await;
    let browser = server.browser();
    post_form(&server, &browser, PAGE, &[("uid_field", "akadmin")]).await;
    let again = post_form(&server, &browser, PAGE, &[("password", "wrong")]).await;
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("Invalid password"));
}

#[tokio::test]
async fn a_form_without_the_right_csrf_token_is_refused_and_the_server_stays_up() {
    let server = TestServer::spawn().await;
    let browser = server.browser();
    let page = browser
        .get(server.url(PAGE))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form_value(&page, "csrf_token").is_some());
    let forged = browser
        .post(server.url(PAGE))
        .form(&[("csrf_token", "forged"), ("uid_field", "akadmin")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    // A browser without the flow cookie (a cross-site form post) is refused too.
    let other = server.browser();
    let cross_site = other
        .post(server.url(PAGE))
        .form(&[("uid_field", "akadmin")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 400);
    let live = browser
        .get(server.url("/-/health/live/"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 204);
}

#[tokio::test]
async fn protected_pages_send_anonymous_visitors_to_login_and_back() {
    let server = TestServer::spawn().await;
    let browser = server.browser();
    let portal = browser.get(server.url("/if/user/")).send().await.unwrap();
    assert_eq!(portal.status(), 302);
    assert_eq!(
        portal.headers()["location"],
        "/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F"
    );
    let root = browser.get(server.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 302);
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let server = TestServer::spawn().await;
    let page = server.browser().get(server.url(PAGE)).send().await.unwrap();
    let headers = page.headers();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-frame-options"], "DENY");
}

#[tokio::test]
async fn a_flow_for_signed_in_users_sends_visitors_to_sign_in_and_back() {
    let server = TestServer::spawn().await;
    let browser = server.browser();
    let settings = browser
        .get(server.url("/if/flow/default-user-settings-flow/"))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 302);
    assert_eq!(
        settings.headers()["location"],
        "/if/flow/default-authentication-flow/?next=%2Fif%2Fflow%2Fdefault-user-settings-flow%2F"
    );
    let login =
        "/if/flow/default-authentication-flow/?next=%2Fif%2Fflow%2Fdefault-user-settings-flow%2F";
    post_form(&server, &browser, login, &[("uid_field", "akadmin")]).await;
    let done = post_form(&server, &browser, login, &[("password", ADMIN_PASSWORD)]).await;
    assert_eq!(
        done.headers()["location"],
        "/if/flow/default-user-settings-flow/"
    );
    let page = browser
        .get(server.url("/if/flow/default-user-settings-flow/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"email\""));
}
