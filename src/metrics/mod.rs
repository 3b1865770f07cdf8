//! Prometheus metrics, served on their own listener (`listen.metrics`, authentik's
//! `:9300`, path `/metrics`) so that scraping needs no route on the public port and the
//! public port never shows them.
//!
//! One registry for the process (`global()`): counters are bumped from the hot paths
//! (forward auth, the token endpoint, LDAP) where threading a handle through every
//! service would add nothing but parameters. A bump is a read-locked hash lookup and an
//! atomic add.

use std::borrow::Cow;
use std::sync::LazyLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub mod http;
pub mod listener;

type Labels<const N: usize> = [(&'static str, &'static str); N];
/// The route is the one allocation per request (actix hands the pattern out as a
/// `String`); method and status class are static.
type RouteLabels = [(&'static str, Cow<'static, str>); 3];

pub struct Metrics {
    registry: Registry,
    /// `flow`, `outcome` (`success`, `failure`), `stage` (where a failure happened).
    logins: Family<[(&'static str, String); 3], Counter>,
    /// `decision`: `allow`, `sign_in`, `deny`.
    forward_auth: Family<Labels<1>, Counter>,
    /// `grant`: authorization_code, refresh_token, client_credentials, ...
    tokens: Family<Labels<1>, Counter>,
    /// `operation` (bind, search, ...), `result` (LDAP result code name).
    ldap: Family<Labels<2>, Counter>,
    /// `route` (the route pattern, not the path), `method`, `status` class.
    http: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// `task`, `result`.
    tasks: Family<Labels<2>, Counter>,
    /// `result`: `pass`, `fail` — one per evaluation of a set of bindings.
    policies: Family<Labels<1>, Histogram, fn() -> Histogram>,
}

fn http_buckets() -> Histogram {
    // 0.1 ms to ~3 s: forward auth answers in tenths of a millisecond, a sign-in with
    // argon2 in tens of milliseconds.
    Histogram::new(exponential_buckets(0.0001, 4.0, 9))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("gatehouse");
        let build = Family::<Labels<1>, Gauge>::default();
        build
            .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);
        registry.register("build_info", "The running version", build);
        let metrics = Metrics {
            registry,
            logins: Family::default(),
            forward_auth: Family::default(),
            tokens: Family::default(),
            ldap: Family::default(),
            http: Family::new_with_constructor(http_buckets as fn() -> Histogram),
            tasks: Family::default(),
            policies: Family::new_with_constructor(http_buckets as fn() -> Histogram),
        };
        metrics.register()
    }

    fn register(mut self) -> Metrics {
        let registry = &mut self.registry;
        registry.register(
            "logins",
            "Sign-ins through flows (web and headless), by flow and outcome",
            self.logins.clone(),
        );
        registry.register(
            "forward_auth_decisions",
            "Forward-auth and proxy decisions",
            self.forward_auth.clone(),
        );
        registry.register(
            "tokens_issued",
            "OAuth2 token endpoint issuances by grant",
            self.tokens.clone(),
        );
        registry.register(
            "ldap_operations",
            "LDAP operations by type and result code",
            self.ldap.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request duration by route pattern",
            self.http.clone(),
        );
        registry.register(
            "policy_evaluation_seconds",
            "Evaluations of policy bindings (flows, stages, applications) and their time",
            self.policies.clone(),
        );
        registry.register(
            "worker_task_runs",
            "Background task runs by task and result",
            self.tasks.clone(),
        );
        self
    }

    pub fn login(&self, flow: &str, succeeded: bool, stage: &str) {
        let outcome = if succeeded { "success" } else { "failure" };
        self.logins
            .get_or_create(&[
                ("flow", flow.to_owned()),
                ("outcome", outcome.to_owned()),
                ("stage", stage.to_owned()),
            ])
            .inc();
    }

    pub fn forward_auth(&self, decision: &'static str) {
        self.forward_auth
            .get_or_create(&[("decision", decision)])
            .inc();
    }

    pub fn token_issued(&self, grant: &'static str) {
        self.tokens.get_or_create(&[("grant", grant)]).inc();
    }

    pub fn ldap(&self, operation: &'static str, result: &'static str) {
        self.ldap
            .get_or_create(&[("operation", operation), ("result", result)])
            .inc();
    }

    pub fn http(&self, route: Option<String>, method: &str, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let method = match method {
            "GET" => "GET",
            "POST" => "POST",
            "PUT" => "PUT",
            "PATCH" => "PATCH",
            "DELETE" => "DELETE",
            "HEAD" => "HEAD",
            "OPTIONS" => "OPTIONS",
            _ => "other",
        };
        let route = route.map_or(Cow::Borrowed("unmatched"), Cow::Owned);
        self.http
            .get_or_create(&[
                ("route", route),
                ("method", Cow::Borrowed(method)),
                ("status", Cow::Borrowed(class)),
            ])
            .observe(seconds);
    }

    pub fn policy_evaluation(&self, passing: bool, seconds: f64) {
        let result = if passing { "pass" } else { "fail" };
        self.policies
            .get_or_create(&[("result", result)])
            .observe(seconds);
    }

    pub fn task_run(&self, task: &'static str, succeeded: bool) {
        let result = if succeeded { "success" } else { "failure" };
        self.tasks
            .get_or_create(&[("task", task), ("result", result)])
            .inc();
    }

    /// The OpenMetrics text exposition of everything.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

pub fn global() -> &'static Metrics {
    &METRICS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_up_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.ldap("bind", "success");
        metrics.ldap("bind", "success");
        metrics.http(
            Some("/outpost.goauthentik.io/auth/nginx".to_owned()),
            "GET",
            200,
            0.0002,
        );
        metrics.login("default-authentication-flow", false, "password");
        metrics.policy_evaluation(true, 0.00003);
        let text = metrics.render();
        assert!(
            text.contains(
                r#"gatehouse_ldap_operations_total{operation="bind",result="success"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains("gatehouse_build_info{version=\""), "{text}");
        assert!(text.contains(
            r#"gatehouse_http_request_duration_seconds_count{route="/outpost.goauthentik.io/auth/nginx",method="GET",status="2xx"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"gatehouse_logins_total{flow="default-authentication-flow",outcome="failure",stage="password"} 1"#
        ), "{text}");
        assert!(
            text.contains(r#"gatehouse_policy_evaluation_seconds_count{result="pass"} 1"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
