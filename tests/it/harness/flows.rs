//! Driving flows as a script or a browser would: the JSON executor and the HTML forms.

use serde_json::{Value, json};

use super::TestServer;

pub const LOGIN: &str = "/api/v3/flows/executor/default-authentication-flow/";

pub async fn executor_post(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    body: Value,
) -> Value {
    let response = client
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "executor answers 200");
    response.json().await.unwrap()
}

pub async fn executor_get(server: &TestServer, client: &reqwest::Client, path: &str) -> Value {
    let response = client.get(server.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Signs in through the JSON executor; returns the final challenge.
pub async fn executor_login(
    server: &TestServer,
    client: &reqwest::Client,
    uid: &str,
    password: &str,
) -> Value {
    let first = executor_get(server, client, LOGIN).await;
    assert_eq!(first["component"], "ak-stage-identification");
    let second = executor_post(
        server,
        client,
        LOGIN,
        json!({"component": "ak-stage-identification", "uid_field": uid}),
    )
    .await;
    assert_eq!(second["component"], "ak-stage-password", "{second}");
    executor_post(
        server,
        client,
        LOGIN,
        json!({"component": "ak-stage-password", "password": password}),
    )
    .await
}

/// The value of `name="<field>" value="..."` in a page.
pub fn form_value(html: &str, field: &str) -> Option<String> {
    let marker = format!("name=\"{field}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Posts a form on a flow page with the page's CSRF token.
pub async fn post_form(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = client.get(server.url(path)).send().await.unwrap();
    let html = page.text().await.unwrap();
    let csrf = form_value(&html, "csrf_token").expect("page has a CSRF token");
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    client
        .post(server.url(path))
        .form(&form)
        .send()
        .await
        .unwrap()
}
