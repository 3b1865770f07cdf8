//! `TestServer`: a gatehouse started exactly as `main` starts it, on ephemeral ports with
//! a temporary data directory and a clock the test moves by hand.

pub mod flows;
pub mod oidc;
pub mod saml;
pub mod smtp;

use std::net::SocketAddr;
use std::sync::Arc;

use gatehouse::app::{KvChoice, RunningApp, start};
use gatehouse::clock::{Clock, ManualClock, SystemClock};
use gatehouse::config::{Secret, Settings};
use serde_json::Value;
use tempfile::TempDir;

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const ADMIN_TOKEN: &str = "bootstrap-token-0123456789abcdefghijklmnopqrstuvwxyz";

pub struct TestServer {
    pub app: Option<RunningApp>,
    pub dir: Arc<TempDir>,
    pub clock: ManualClock,
    pub settings: Settings,
}

pub struct Options {
    pub bootstrap: bool,
    pub https: bool,
    /// Send mail to this SMTP port on 127.0.0.1 (see `smtp::SmtpSink`).
    pub smtp_port: Option<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bootstrap: true,
            https: false,
            smtp_port: None,
        }
    }
}

#[allow(clippy::field_reassign_with_default)] // reads better as a list of overrides
pub fn test_settings(dir: &TempDir, options: &Options) -> Settings {
    let mut settings = Settings::default();
    settings.data_dir = dir.path().to_path_buf();
    settings.listen.http = Some("127.0.0.1:0".parse().unwrap());
    settings.listen.https = options.https.then(|| "127.0.0.1:0".parse().unwrap());
    settings.listen.metrics = None;
    settings.listen.ldap = None;
    settings.listen.ldaps = None;
    settings.listen.radius = None;
    // Cheap hashing keeps the suite fast; the parameters are not under test here.
    settings.password_hashing.memory_kib = 256;
    settings.password_hashing.iterations = 1;
    settings.web.workers = 1;
    if let Some(port) = options.smtp_port {
        settings.email.host = "127.0.0.1".into();
        settings.email.port = port;
        settings.email.from = "gatehouse@example.org".into();
        settings.email.timeout_secs = 5;
    }
    if options.bootstrap {
        settings.bootstrap.password = Some(Secret::new(ADMIN_PASSWORD));
        settings.bootstrap.token = Some(Secret::new(ADMIN_TOKEN));
        settings.bootstrap.email = Some("admin@example.com".into());
    }
    settings
}

impl TestServer {
    pub async fn spawn() -> TestServer {
        TestServer::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestServer {
        let dir = Arc::new(TempDir::new().unwrap());
        let settings = test_settings(&dir, &options);
        TestServer::start_in(dir, settings).await
    }

    pub async fn start_in(dir: Arc<TempDir>, settings: Settings) -> TestServer {
        let clock = ManualClock::starting_at(SystemClock.now());
        let app = start(settings.clone(), Arc::new(clock.clone()), KvChoice::Redb)
            .await
            .expect("server starts");
        let server = TestServer {
            app: Some(app),
            dir,
            clock,
            settings,
        };
        server.wait_until_live().await;
        server
    }

    /// The server task starts accepting once the runtime polls it: wait for that.
    async fn wait_until_live(&self) {
        for _ in 0..200 {
            if let Ok(response) = reqwest::get(self.url("/-/health/live/")).await {
                if response.status() == 204 {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("server did not come up");
    }

    fn app(&self) -> &RunningApp {
        self.app.as_ref().expect("server running")
    }

    pub fn addr(&self) -> SocketAddr {
        self.app().http_addr.expect("http listener")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    pub fn https_url(&self, path: &str) -> String {
        format!(
            "https://{}{path}",
            self.app().https_addr.expect("https listener")
        )
    }

    pub fn setup_path(&self) -> Option<String> {
        self.app().setup_path.clone()
    }

    /// Stops the server and starts a new one on the same data directory (new ports).
    pub async fn restart(mut self) -> TestServer {
        let app = self.app.take().expect("server running");
        app.stop().await;
        let mut settings = self.settings.clone();
        settings.bootstrap = Default::default();
        let app = start(settings, Arc::new(self.clock.clone()), KvChoice::Redb)
            .await
            .expect("server restarts");
        let server = TestServer {
            app: Some(app),
            dir: Arc::clone(&self.dir),
            clock: self.clock.clone(),
            settings: self.settings.clone(),
        };
        server.wait_until_live().await;
        server
    }

    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }

    /// A browser-like client: cookie jar, no automatic redirects (tests look at them).
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap()
    }

    /// An API client with the bootstrap admin token.
    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a user with a password through the API; returns its pk.
    pub async fn create_user(&self, username: &str, password: &str) -> i64 {
        let created = self
            .admin_send(reqwest::Method::POST, "/api/v3/core/users/", serde_json::json!({"username": username, "name": username, "email": format!("{username}@example.com")}))
            .await;
        assert_eq!(created.status(), 201, "user created");
        let pk = created.json::<Value>().await.unwrap()["pk"]
            .as_i64()
            .unwrap();
        let set = self
            .admin_send(
                reqwest::Method::POST,
                &format!("/api/v3/core/users/{pk}/set_password/"),
                serde_json::json!({"password": password}),
            )
            .await;
        assert_eq!(set.status(), 204);
        pk
    }
}
