//! The Prometheus listener: `/metrics` on its own port in OpenMetrics text, counting
//! sign-ins (and failures by stage), HTTP requests by route pattern and LDAP operations;
//! the public port does not serve it.

use std::sync::Arc;

use crate::harness::flows::executor_login;
use crate::harness::{Options, TestServer, test_settings};

#[tokio::test]
async fn metrics_are_served_on_their_own_port() {
    let dir = Arc::new(tempfile::TempDir::new().unwrap());
    let mut settings = test_settings(&dir, &Options::default());
    settings.listen.metrics = Some("127.0.0.1:0".parse().unwrap());
    let server = TestServer::start_in(dir, settings).await;
    server.create_user("meter", "meter-password-1").await;
    let browser = server.browser();
    let done = executor_login(&server, &browser, "meter", "meter-password-1").await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
    let browser = server.browser();
    executor_login(&server, &browser, "meter", "wrong-password").await;

    let addr = server.app.as_ref().unwrap().metrics_addr.unwrap();
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();
    // Other tests in this process count too (one registry per process): at least ours.
    let value = |line_start: &str| -> f64 {
        text.lines()
            .find(|line| line.starts_with(line_start))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
    };
    assert!(
        value(
            r#"gatehouse_logins_total{flow="default-authentication-flow",outcome="success",stage="user_login"}"#
        ) >= 1.0
    );
    assert!(
        value(
            r#"gatehouse_logins_total{flow="default-authentication-flow",outcome="failure",stage="password"}"#
        ) >= 1.0
    );
    assert!(
        value(
            r#"gatehouse_http_request_duration_seconds_count{route="/api/v3/flows/executor/{slug}/",method="POST",status="2xx"}"#
        ) >= 3.0
    );
    assert!(text.contains("gatehouse_build_info{version="), "{text}");
    assert!(text.ends_with("# EOF\n"));

    let public = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(public.status(), 404);
}
