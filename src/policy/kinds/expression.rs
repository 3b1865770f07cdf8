//! Expression policies, written in Rhai (authentik's are Python; the variable and helper
//! names are kept so its examples translate line by line). It owns the sandbox: Rhai has
//! no file, network or process access of its own; `import` has no module resolver here,
//! `eval` is disabled, and operations, nesting, strings, arrays and maps are bounded, with
//! a wall-clock deadline checked from `on_progress` so `loop {}` ends at the binding's
//! timeout. Scripts are compiled once per text and the syntax trees cached.
//!
//! In scope: `request` (`user`, `client_ip`, `http_headers`, `context`), `context` and
//! `ak_client_ip` as authentik's shortcuts, and the helpers `ak_is_group_member(name)`,
//! `ip_in_network(ip, cidr)`, `ak_message(text)` and `regex_match(value, pattern)`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use ipnet::IpNet;
use rhai::packages::{Package, StandardPackage};
use rhai::{AST, Dynamic, Engine, EvalAltResult, Scope, Shared};
use serde_json::{Value, json};

use crate::policy::{PolicyError, PolicyOutcome, PolicyRequest};

/// Bounds for one evaluation. A policy is a few comparisons; these leave room for loops
/// over a user's groups or attributes and stop runaway scripts early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpressionLimits {
    pub max_operations: u64,
    pub max_expr_depth: usize,
    pub max_function_expr_depth: usize,
    pub max_call_levels: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    /// Messages beyond this many are dropped, so a loop cannot flood the page.
    pub max_messages: usize,
}

impl Default for ExpressionLimits {
    fn default() -> Self {
        ExpressionLimits {
            max_operations: 5_000_000,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_call_levels: 32,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_messages: 20,
        }
    }
}

/// Compiled scripts kept at most; past that the cache starts over (policies are few, so
/// this only bounds memory if expressions are generated).
const MAX_CACHED_SCRIPTS: usize = 512;
/// How often (in operations) the wall clock is read; reading it every operation would
/// cost more than most scripts.
const CLOCK_CHECK_INTERVAL: u64 = 256;
/// Bound on compiled regular expressions from `regex_match`, against patterns that blow
/// up in size.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles and runs expressions; cheap to clone.
#[derive(Clone)]
pub struct ExpressionRunner {
    inner: Arc<RunnerInner>,
}

struct RunnerInner {
    compiler: Engine,
    standard: Shared<rhai::Module>,
    limits: ExpressionLimits,
    scripts: Mutex<HashMap<String, Arc<AST>>>,
}

impl Default for ExpressionRunner {
    fn default() -> Self {
        ExpressionRunner::new(ExpressionLimits::default())
    }
}

impl ExpressionRunner {
    pub fn new(limits: ExpressionLimits) -> ExpressionRunner {
        ExpressionRunner {
            inner: Arc::new(RunnerInner {
                compiler: sandboxed_engine(limits),
                standard: StandardPackage::new().as_shared_module(),
                limits,
                scripts: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Parses `source` (or takes it from the cache). A syntax error is a policy error
    /// that carries Rhai's message with the line and column.
    pub fn compile(&self, source: &str) -> Result<Arc<AST>, PolicyError> {
        if let Some(ast) = self.scripts().get(source) {
            return Ok(Arc::clone(ast));
        }
        let ast = Arc::new(
            self.inner
                .compiler
                .compile(source)
                .map_err(|error| PolicyError::Expression(error.to_string()))?,
        );
        let mut scripts = self.scripts();
        if scripts.len() >= MAX_CACHED_SCRIPTS {
            scripts.clear();
        }
        scripts.insert(source.to_owned(), Arc::clone(&ast));
        Ok(ast)
    }

    /// Runs `source` on the blocking pool (a script is CPU work that must not stall the
    /// async executor), stopping it at `deadline`.
    pub async fn evaluate(
        &self,
        source: &str,
        request: Arc<PolicyRequest>,
        deadline: Instant,
    ) -> Result<PolicyOutcome, PolicyError> {
        let ast = self.compile(source)?;
        let runner = self.clone();
        tokio::task::spawn_blocking(move || runner.run(&ast, &request, deadline))
            .await
            .map_err(|error| PolicyError::Internal(error.to_string()))?
    }

    /// Runs a compiled script on the current thread.
    pub fn run(
        &self,
        ast: &AST,
        request: &PolicyRequest,
        deadline: Instant,
    ) -> Result<PolicyOutcome, PolicyError> {
        let messages = Arc::new(Mutex::new(Vec::new()));
        let mut engine = sandboxed_engine(self.inner.limits);
        engine.register_global_module(Arc::clone(&self.inner.standard));
        register_helpers(&mut engine, request, &messages, self.inner.limits);
        engine.on_progress(move |operations| {
            let check = operations % CLOCK_CHECK_INTERVAL == 0;
            (check && Instant::now() >= deadline).then(|| Dynamic::from("deadline"))
        });
        let mut scope = request_scope(request)?;
        let value = engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, ast)
            .map_err(|error| describe_failure(&error))?;
        let passing = value
            .as_bool()
            .map_err(|type_name| PolicyError::NotBoolean(type_name.to_owned()))?;
        let messages = std::mem::take(&mut *lock(&messages));
        Ok(PolicyOutcome {
            passing,
            messages,
            effects: Vec::new(),
        })
    }

    /// Runs a property-mapping script (a scope mapping's claims): the same sandbox and
    /// variables as a policy, plus `user` as authentik's mappings have it, and the result
    /// must be a map (the claims to add). Runs on the blocking pool.
    pub async fn evaluate_claims(
        &self,
        source: &str,
        request: Arc<PolicyRequest>,
        deadline: Instant,
    ) -> Result<serde_json::Map<String, Value>, PolicyError> {
        let ast = self.compile(source)?;
        let runner = self.clone();
        tokio::task::spawn_blocking(move || {
            let messages = Arc::new(Mutex::new(Vec::new()));
            let mut engine = sandboxed_engine(runner.inner.limits);
            engine.register_global_module(Arc::clone(&runner.inner.standard));
            register_helpers(&mut engine, &request, &messages, runner.inner.limits);
            engine.on_progress(move |operations| {
                let check = operations % CLOCK_CHECK_INTERVAL == 0;
                (check && Instant::now() >= deadline).then(|| Dynamic::from("deadline"))
            });
            let mut scope = request_scope(&request)?;
            let user = rhai::serde::to_dynamic(user_value(&request))
                .map_err(|error| PolicyError::Internal(error.to_string()))?;
            scope.push_constant("user", user);
            let value = engine
                .eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
                .map_err(|error| describe_failure(&error))?;
            match rhai::serde::from_dynamic::<Value>(&value) {
                Ok(Value::Object(claims)) => Ok(claims),
                Ok(Value::Null) => Ok(serde_json::Map::new()),
                _ => Err(PolicyError::Expression(format!(
                    "a mapping must return a map of claims, not {}",
                    value.type_name()
                ))),
            }
        })
        .await
        .map_err(|error| PolicyError::Internal(error.to_string()))?
    }

    fn scripts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<AST>>> {
        lock(&self.inner.scripts)
    }
}

/// Every map and vector behind these locks is changed in single calls, so a panic while
/// one is held cannot leave it half-updated: a poisoned lock is safe to keep using.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An engine with no packages and no module resolver (so `import` cannot read files),
/// and with every limit set.
fn sandboxed_engine(limits: ExpressionLimits) -> Engine {
    let mut engine = Engine::new_raw();
    engine
        .set_max_operations(limits.max_operations)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_modules(0);
    // `eval` would compile text at run time, outside the script cache; not needed.
    engine.disable_symbol("eval");
    // `print` and `debug` go to the log (authentik's `ak_logger`), never to stdout.
    engine.on_print(|text| tracing::debug!(target: "gatehouse::policy::expression", "{text}"));
    engine.on_debug(|text, _source, position| {
        tracing::debug!(target: "gatehouse::policy::expression", %position, "{text}");
    });
    engine
}

fn register_helpers(
    engine: &mut Engine,
    request: &PolicyRequest,
    messages: &Arc<Mutex<Vec<String>>>,
    limits: ExpressionLimits,
) {
    let group_names: Arc<Vec<String>> =
        Arc::new(request.groups.iter().map(|g| g.name.clone()).collect());
    engine.register_fn("ak_is_group_member", move |name: &str| {
        group_names.iter().any(|group| group == name)
    });
    // authentik's form, `ak_is_group_member(request.user, name="admins")`, written
    // `ak_is_group_member(request.user, "admins")`: reads the groups of the user map given.
    engine.register_fn("ak_is_group_member", |user: rhai::Map, name: &str| {
        user.get("groups")
            .and_then(|groups| {
                groups
                    .read_lock::<rhai::Array>()
                    .map(|groups| groups.clone())
            })
            .is_some_and(|groups| groups.iter().any(|group| group.to_string() == name))
    });
    let sink = Arc::clone(messages);
    engine.register_fn("ak_message", move |text: Dynamic| {
        let mut messages = lock(&sink);
        if messages.len() < limits.max_messages {
            messages.push(text.to_string());
        }
    });
    engine.register_fn("ip_in_network", ip_in_network);
    engine.register_fn("regex_match", regex_match);
}

/// authentik's `ip_address(ip) in ip_network(net)`. An address that does not parse (for
/// example the empty `client_ip` of a request without one) is in no network; a network
/// that does not parse is the script author's mistake and an error.
fn ip_in_network(ip: &str, network: &str) -> Result<bool, Box<EvalAltResult>> {
    let network: IpNet = network
        .trim()
        .parse()
        .or_else(|_| network.trim().parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("ip_in_network: '{network}' is not a network (e.g. 10.0.0.0/8)"))?;
    Ok(ip
        .trim()
        .parse::<IpAddr>()
        .is_ok_and(|ip| network.contains(&ip)))
}

/// Unanchored search, as Python's `re.search` (use `^...$` to match the whole value).
fn regex_match(value: &str, pattern: &str) -> Result<bool, Box<EvalAltResult>> {
    let regex = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| format!("regex_match: invalid pattern: {error}"))?;
    Ok(regex.is_match(value))
}

fn request_scope(request: &PolicyRequest) -> Result<Scope<'static>, PolicyError> {
    let to_dynamic = |value: Value| {
        rhai::serde::to_dynamic(value).map_err(|error| PolicyError::Internal(error.to_string()))
    };
    let client_ip = request
        .client_ip
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let context = Value::Object(request.context.clone());
    let request_value = json!({
        "user": user_value(request),
        "client_ip": client_ip,
        "http_headers": request.http_headers,
        "context": context,
    });
    let mut scope = Scope::new();
    scope.push_constant("request", to_dynamic(request_value)?);
    scope.push_constant("context", to_dynamic(context)?);
    scope.push_constant("ak_client_ip", client_ip);
    Ok(scope)
}

/// The user as authentik's templates see it; without a user, an anonymous one
/// (`is_authenticated` false, empty username) so scripts need no null checks.
fn user_value(request: &PolicyRequest) -> Value {
    let groups: Vec<&str> = request.groups.iter().map(|g| g.name.as_str()).collect();
    match &request.user {
        Some(user) => json!({
            "pk": user.id.0,
            "uuid": user.uuid.to_string(),
            "username": user.username.as_str(),
            "name": user.name,
            "email": user.email,
            "is_active": user.is_active,
            "is_authenticated": true,
            "type": user.user_type.as_str(),
            "path": user.path,
            "attributes": user.attributes,
            "groups": groups,
        }),
        None => json!({
            "pk": null,
            "username": "",
            "name": "",
            "email": "",
            "is_active": false,
            "is_authenticated": false,
            "attributes": {},
            "groups": [],
        }),
    }
}

fn describe_failure(error: &EvalAltResult) -> PolicyError {
    match error {
        EvalAltResult::ErrorTerminated(..) => {
            PolicyError::Expression("expression ran past its time limit".to_owned())
        }
        EvalAltResult::ErrorTooManyOperations(..) => {
            PolicyError::Expression("expression exceeded its operation limit".to_owned())
        }
        other => PolicyError::Expression(other.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{Group, GroupId, Timestamp, User, UserId, UserType, Username};

    fn user() -> User {
        User {
            id: UserId(42),
            uuid: uuid::Uuid::nil(),
            username: Username::parse("alice").unwrap(),
            name: "Alice".into(),
            email: "alice@example.com".into(),
            is_active: true,
            user_type: UserType::Internal,
            path: "users".into(),
            attributes: serde_json::from_value(json!({"team": "infra"})).unwrap(),
            last_login: None,
            password_hash: None,
            password_changed: None,
            created: Timestamp(0),
        }
    }

    fn request() -> PolicyRequest {
        PolicyRequest {
            user: Some(user()),
            groups: vec![Group {
                id: GroupId::random(),
                num_pk: 1,
                name: "admins".into(),
                parent: None,
                is_superuser: true,
                attributes: serde_json::Map::new(),
            }],
            client_ip: Some("10.1.2.3".parse().unwrap()),
            http_headers: [("user-agent".to_owned(), "curl/8".to_owned())].into(),
            context: serde_json::from_value(json!({"prompt_data": {"email": "a@b.c"}})).unwrap(),
        }
    }

    fn run(source: &str, request: &PolicyRequest) -> Result<PolicyOutcome, PolicyError> {
        let runner = ExpressionRunner::default();
        let ast = runner.compile(source)?;
        runner.run(&ast, request, Instant::now() + Duration::from_secs(5))
    }

    fn passes(source: &str) -> bool {
        run(source, &request()).unwrap().passing
    }

    #[test]
    fn request_variables_are_in_scope() {
        assert!(passes(
            r#"request.user.username == "alice" && request.user.pk == 42"#
        ));
        assert!(passes(r#"request.user.attributes.team == "infra""#));
        assert!(passes(r#""admins" in request.user.groups"#));
        assert!(passes(
            r#"request.client_ip == "10.1.2.3" && ak_client_ip == "10.1.2.3""#
        ));
        assert!(passes(
            r#"request.http_headers["user-agent"].starts_with("curl")"#
        ));
        assert!(passes(r#"request.context.prompt_data.email == "a@b.c""#));
        assert!(passes(r#"context.prompt_data.email == "a@b.c""#));
        assert!(passes("if request.user.is_active { return true; } false"));
    }

    #[test]
    fn anonymous_requests_see_an_anonymous_user() {
        let anonymous = PolicyRequest::default();
        let outcome = run(
            "!request.user.is_authenticated && request.user.username == \"\"",
            &anonymous,
        );
        assert!(outcome.unwrap().passing);
        let outcome = run(
            r#"ip_in_network(request.client_ip, "10.0.0.0/8")"#,
            &anonymous,
        );
        assert!(!outcome.unwrap().passing);
    }

    #[test]
    fn helpers_work() {
        assert!(passes(r#"ak_is_group_member("admins")"#));
        assert!(!passes(r#"ak_is_group_member("Admins")"#));
        assert!(passes(r#"ak_is_group_member(request.user, "admins")"#));
        assert!(!passes(r#"ak_is_group_member(request.user, "staff")"#));
        assert!(passes(r#"ip_in_network(request.client_ip, "10.0.0.0/8")"#));
        assert!(!passes(
            r#"ip_in_network(request.client_ip, "192.168.0.0/16")"#
        ));
        assert!(passes(r#"ip_in_network("10.1.2.3", "10.1.2.3")"#));
        assert!(passes(
            r#"regex_match(request.user.email, "@example\\.com$")"#
        ));
        assert!(!passes(r#"regex_match("alice", "^bob")"#));
        assert!(passes(
            r#"print("to the log"); debug(request.user.pk); true"#
        ));
        let outcome = run(
            r#"ak_message("not today"); ak_message(7); false"#,
            &request(),
        )
        .unwrap();
        assert!(!outcome.passing);
        assert_eq!(
            outcome.messages,
            vec!["not today".to_owned(), "7".to_owned()]
        );
    }

    #[test]
    fn helper_misuse_is_an_error() {
        let error = run(r#"ip_in_network("10.0.0.1", "ten")"#, &request()).unwrap_err();
        assert!(error.to_string().contains("is not a network"), "{error}");
        let error = run(r#"regex_match("a", "(")"#, &request()).unwrap_err();
        assert!(error.to_string().contains("invalid pattern"), "{error}");
    }

    #[test]
    fn non_boolean_results_and_syntax_errors_are_errors() {
        let error = run("42", &request()).unwrap_err();
        assert_eq!(error, PolicyError::NotBoolean("i64".into()));
        let error = run("let x = ;", &request()).unwrap_err();
        assert!(
            matches!(error, PolicyError::Expression(ref text) if text.contains("line 1")),
            "{error}"
        );
        let error = run("undefined_function()", &request()).unwrap_err();
        assert!(error.to_string().contains("undefined_function"), "{error}");
    }

    #[test]
    fn the_sandbox_refuses_imports_and_eval() {
        assert!(run(r#"import "/etc/passwd" as p; true"#, &request()).is_err());
        assert!(run(r#"eval("true")"#, &request()).is_err());
    }

    #[test]
    fn runaway_scripts_stop_at_the_limits() {
        let runner = ExpressionRunner::new(ExpressionLimits {
            max_operations: u64::MAX,
            ..ExpressionLimits::default()
        });
        let ast = runner.compile("loop {}").unwrap();
        let started = Instant::now();
        let error = runner
            .run(&ast, &request(), started + Duration::from_millis(200))
            .unwrap_err();
        assert!(error.to_string().contains("time limit"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(2));

        let error = run("let s = \"x\"; loop { s += s; }", &request()).unwrap_err();
        assert!(error.to_string().contains("ength"), "{error}");
        let error = run("let n = 0; loop { n += 1; }", &request()).unwrap_err();
        assert!(error.to_string().contains("operation limit"), "{error}");
    }

    #[test]
    fn scripts_are_compiled_once() {
        let runner = ExpressionRunner::default();
        let first = runner.compile("true").unwrap();
        let second = runner.compile("true").unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[tokio::test]
    async fn evaluation_runs_off_the_executor() {
        let runner = ExpressionRunner::default();
        let deadline = Instant::now() + Duration::from_secs(5);
        let outcome = runner
            .evaluate(
                "ak_is_group_member(\"admins\")",
                Arc::new(request()),
                deadline,
            )
            .await
            .unwrap();
        assert!(outcome.passing);
    }
}
