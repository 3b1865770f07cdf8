//! Token endpoint throughput next to the raw JWS signing rate, in one run.
//!
//! Starts the release binary (`target/release/gatehouse`, or `GATEHOUSE_BIN`) on a fresh
//! data directory, creates an RS256 and an ES256 OAuth provider through the API, signs in,
//! mints authorization codes through `/application/o/authorize/`, then measures:
//! - code exchanges per second (`grant_type=authorization_code`, id + access token,
//!   a refresh token stored), with `CONCURRENCY` clients on keep-alive connections;
//! - refreshes per second (rotation: one used, one new token per call);
//! - the raw signing rate of the same key type in this process (one access-token-sized
//!   JWT per signature), on one thread and on two.
//!
//! Figures, not pass/fail. `cargo bench --bench oauth_tokens` after `cargo build --release`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::crypto::SigningKey;
use gatehouse::crypto::keys;
use gatehouse::model::{KeyType, Timestamp};
use serde_json::{Map, Value, json};

const PASSWORD: &str = "bench-password-123";
const TOKEN: &str = "bench-api-token-0123456789";
const CODES: usize = 2000;
const CONCURRENCY: usize = 4;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let binary = std::env::var("GATEHOUSE_BIN")
        .unwrap_or_else(|_| format!("{}/target/release/gatehouse", env!("CARGO_MANIFEST_DIR")));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(binary)
        .arg("serve")
        .env("GATEHOUSE_DATA_DIR", dir.path())
        .env("GATEHOUSE_LISTEN__HTTP", format!("127.0.0.1:{port}"))
        .env(
            "GATEHOUSE_LISTEN__HTTPS",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("GATEHOUSE_LOG_LEVEL", "warn")
        .env("AUTHENTIK_BOOTSTRAP_PASSWORD", PASSWORD)
        .env("AUTHENTIK_BOOTSTRAP_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the release binary (cargo build --release first)");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    for _ in 0..500 {
        if let Ok(response) = http.get(format!("{base}/-/health/ready/")).send().await {
            if response.status() == 204 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("server did not become ready");
}

async fn api(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {value}");
    value
}

struct Client {
    client_id: String,
    client_secret: String,
}

async fn make_provider(http: &reqwest::Client, base: &str, name: &str, key_type: &str) -> Client {
    let mut flow_pks = Map::new();
    for slug in [
        "default-provider-authorization-implicit-consent",
        "default-provider-invalidation-flow",
    ] {
        let found = api(
            http,
            base,
            reqwest::Method::GET,
            &format!("/api/v3/flows/instances/?slug={slug}"),
            None,
        )
        .await;
        let flow = found["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["slug"] == slug)
            .unwrap_or_else(|| panic!("{found}"));
        flow_pks.insert(slug.to_owned(), flow["pk"].clone());
    }
    let flow_pk = |slug: &str| flow_pks[slug].clone();
    let mappings = api(
        http,
        base,
        reqwest::Method::GET,
        "/api/v3/propertymappings/provider/scope/?page_size=100",
        None,
    )
    .await;
    let mapping_pks: Vec<Value> = mappings["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["managed"]
                .as_str()
                .is_some_and(|m| m.starts_with("goauthentik.io/providers/oauth2/scope-"))
        })
        .map(|m| m["pk"].clone())
        .collect();
    let keypairs = api(
        http,
        base,
        reqwest::Method::GET,
        "/api/v3/crypto/certificatekeypairs/?page_size=100",
        None,
    )
    .await;
    let key = keypairs["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_type"] == key_type)
        .unwrap()["pk"]
        .clone();
    let provider = api(
        http,
        base,
        reqwest::Method::POST,
        "/api/v3/providers/oauth2/",
        Some(json!({
            "name": name,
            "authorization_flow": flow_pk("default-provider-authorization-implicit-consent"),
            "invalidation_flow": flow_pk("default-provider-invalidation-flow"),
            "client_type": "confidential",
            "redirect_uris": [{"matching_mode": "strict", "url": "http://127.0.0.1:9/cb"}],
            "property_mappings": mapping_pks,
            "signing_key": key,
        })),
    )
    .await;
    api(
        http,
        base,
        reqwest::Method::POST,
        "/api/v3/core/applications/",
        Some(json!({"name": name, "slug": name, "provider": provider["pk"]})),
    )
    .await;
    Client {
        client_id: provider["client_id"].as_str().unwrap().to_owned(),
        client_secret: provider["client_secret"].as_str().unwrap().to_owned(),
    }
}

async fn login(browser: &reqwest::Client, base: &str) {
    let url = format!("{base}/api/v3/flows/executor/default-authentication-flow/");
    browser.get(&url).send().await.unwrap();
    browser
        .post(&url)
        .json(&json!({"component": "ak-stage-identification", "uid_field": "akadmin"}))
        .send()
        .await
        .unwrap();
    let done: Value = browser
        .post(&url)
        .json(&json!({"component": "ak-stage-password", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
}

async fn mint_codes(
    browser: &reqwest::Client,
    base: &str,
    client: &Client,
    count: usize,
) -> Vec<String> {
    let mut codes = Vec::with_capacity(count);
    for _ in 0..count {
        let response = browser
            .get(format!("{base}/application/o/authorize/"))
            .query(&[
                ("client_id", client.client_id.as_str()),
                ("redirect_uri", "http://127.0.0.1:9/cb"),
                ("response_type", "code"),
                ("scope", "openid profile email"),
                ("state", "bench"),
            ])
            .send()
            .await
            .unwrap();
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let url = reqwest::Url::parse(&location).unwrap();
        let code = url
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap_or_else(|| panic!("no code in {location}"))
            .1
            .into_owned();
        codes.push(code);
    }
    codes
}

/// Runs `jobs` split over `CONCURRENCY` workers; returns requests per second.
async fn throughput<F, Fut>(jobs: Vec<String>, work: F) -> (f64, Vec<String>)
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = String> + Send,
{
    let work = Arc::new(work);
    let total = jobs.len();
    let mut chunks: Vec<Vec<String>> = vec![Vec::new(); CONCURRENCY];
    for (i, job) in jobs.into_iter().enumerate() {
        chunks[i % CONCURRENCY].push(job);
    }
    let start = Instant::now();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let work = Arc::clone(&work);
            tokio::spawn(async move {
                let mut out = Vec::new();
                for job in chunk {
                    out.push(work(job).await);
                }
                out
            })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.extend(handle.await.unwrap());
    }
    (total as f64 / start.elapsed().as_secs_f64(), results)
}

/// Token requests per second: one per job, the job's value under `field` beside
/// `fixed`; returns the rate and the refresh token of each answer.
async fn token_rate(
    http: &reqwest::Client,
    base: &str,
    client: &Client,
    jobs: Vec<String>,
    fixed: &'static [(&'static str, &'static str)],
    field: &'static str,
) -> (f64, Vec<String>) {
    let (http, base) = (http.clone(), base.to_owned());
    let (id, secret) = (client.client_id.clone(), client.client_secret.clone());
    throughput(jobs, move |job| {
        let (http, base, id, secret) = (http.clone(), base.clone(), id.clone(), secret.clone());
        async move {
            let mut form: Vec<(&str, &str)> = fixed.to_vec();
            form.push((field, &job));
            let body: Value = http
                .post(format!("{base}/application/o/token/"))
                .basic_auth(&id, Some(&secret))
                .form(&form)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["refresh_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned()
        }
    })
    .await
}

/// The same load against `/-/health/live/` (a handler that does nothing): the ceiling
/// this client and HTTP stack put on any endpoint in this run.
async fn baseline_rate(http: &reqwest::Client, base: &str, count: usize) -> f64 {
    let (http, base) = (http.clone(), base.to_owned());
    throughput(vec![String::new(); count], move |_| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let response = http
                .get(format!("{base}/-/health/live/"))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            String::new()
        }
    })
    .await
    .0
}

/// Signatures per second of an access-token-sized JWT, on `threads` threads.
fn raw_sign_rate(key_type: KeyType, threads: usize) -> f64 {
    let generated = keys::generate(key_type, "bench", &[], 30, Timestamp(1_700_000_000)).unwrap();
    let key = Arc::new(
        SigningKey::from_pem(&generated.certificate_pem, &generated.private_key_pem).unwrap(),
    );
    let claims = json!({
        "iss": "http://127.0.0.1:9000/application/o/bench/", "sub": "0123456789abcdef0123456789abcdef",
        "aud": "abcdefghijabcdefghijabcdefghijabcdefghij", "exp": 1_700_003_600, "iat": 1_700_000_000,
        "auth_time": 1_700_000_000, "jti": "0123456789abcdef0123456789abcdef", "scope": "openid profile email",
        "email": "user@example.com", "name": "Bench User", "preferred_username": "bench", "groups": ["admins"],
    });
    let per_thread = 3000;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let key = Arc::clone(&key);
            let claims = claims.clone();
            scope.spawn(move || {
                for _ in 0..per_thread {
                    key.sign_jwt(&Map::new(), &claims).unwrap();
                }
            });
        }
    });
    (threads * per_thread) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let codes_per_run = env_usize("BENCH_CODES", CODES);
    let server = start_server();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()
        .unwrap();
    wait_ready(&http, &server.base).await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    login(&browser, &server.base).await;
    let mut report = Map::new();
    let baseline = baseline_rate(&http, &server.base, codes_per_run * 2).await;
    report.insert("health_live_per_s".into(), json!(baseline.round()));
    for (label, key_type, api_key) in [
        ("es256", KeyType::EcP256, "ecdsa"),
        ("rs256", KeyType::Rsa, "rsa"),
    ] {
        let client = make_provider(&http, &server.base, &format!("bench-{label}"), api_key).await;
        let codes = mint_codes(&browser, &server.base, &client, codes_per_run).await;
        let raw_before = raw_sign_rate(key_type, 1);
        let exchange = &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
        ];
        let (exchanges, refresh_tokens) =
            token_rate(&http, &server.base, &client, codes, exchange, "code").await;
        let refresh = &[("grant_type", "refresh_token")];
        let (refreshes, _) = token_rate(
            &http,
            &server.base,
            &client,
            refresh_tokens,
            refresh,
            "refresh_token",
        )
        .await;
        let raw_after = raw_sign_rate(key_type, 1);
        let raw_two = raw_sign_rate(key_type, 2);
        let raw = (raw_before + raw_after) / 2.0;
        report.insert(
            label.into(),
            json!({
                "exchanges_per_s": exchanges.round(),
                "refreshes_per_s": refreshes.round(),
                "raw_signs_per_s_1_thread": raw.round(),
                "raw_signs_per_s_2_threads": raw_two.round(),
                "exchange_vs_raw_1_thread": (exchanges / raw * 1000.0).round() / 1000.0,
                "exchange_vs_health_live": (exchanges / baseline * 1000.0).round() / 1000.0,
                "refresh_vs_raw_1_thread": (refreshes / raw * 1000.0).round() / 1000.0,
            }),
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&Value::Object(report)).unwrap()
    );
}
