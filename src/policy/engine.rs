//! `PolicyEngine`: evaluates the bindings of one target for one request, with authentik's
//! rules (policies/engine.py, policies/process.py): disabled bindings are skipped and no
//! enabled binding passes; bindings run in `order`; a group binding passes for members
//! of the group (or of a group below it), a user binding for that user, a policy binding
//! by running the policy; `negate` flips a result, but not the `failure_result` used when
//! a policy errors or runs past `timeout_secs`; mode `all` needs every binding to pass,
//! `any` one. Policy results are cached briefly (see `cache.rs`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::model::policy::DEFAULT_BINDING_TIMEOUT_SECS;
use crate::model::{
    BindingSubject, Group, GroupId, Policy, PolicyBinding, PolicyEngineMode, User, UserId,
};
use crate::policy::cache::{CacheKey, Fingerprint, ResultCache, fingerprint};
use crate::policy::kinds::expression::{ExpressionLimits, ExpressionRunner};
use crate::policy::kinds::{self, KindServices};
use crate::policy::{
    BindingOutcome, GeoipDatabases, PolicyEffect, PolicyError, PolicyOutcome, PolicyResult,
    Reputation,
};

/// Everything a policy may look at, gathered by the caller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyRequest {
    /// The user the request is about (signed in, or pending in a flow); `None` when
    /// anonymous.
    pub user: Option<User>,
    /// The user's groups including every ancestor (`directory::groups_with_ancestors`).
    pub groups: Vec<Group>,
    pub client_ip: Option<IpAddr>,
    /// Header names in lower case.
    pub http_headers: BTreeMap<String, String>,
    /// The flow context: `prompt_data`, `pending_user_identifier`, `application`, ...
    pub context: serde_json::Map<String, serde_json::Value>,
}

/// Cheap to clone: everything is behind one `Arc`.
#[derive(Clone)]
pub struct PolicyEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    services: KindServices,
    cache: ResultCache,
}

/// One binding's outcome plus the effects its policy asked for.
type Evaluated = (BindingOutcome, Vec<PolicyEffect>);

impl PolicyEngine {
    pub fn new(reputation: Reputation, clock: Arc<dyn Clock>) -> PolicyEngine {
        PolicyEngine::with_expression_limits(reputation, clock, ExpressionLimits::default())
    }

    pub fn with_expression_limits(
        reputation: Reputation,
        clock: Arc<dyn Clock>,
        limits: ExpressionLimits,
    ) -> PolicyEngine {
        PolicyEngine {
            inner: Arc::new(EngineInner {
                services: KindServices {
                    reputation,
                    clock,
                    expressions: ExpressionRunner::new(limits),
                    geoip: GeoipDatabases::default(),
                },
                cache: ResultCache::default(),
            }),
        }
    }

    /// The expression runner, shared with property mappings (one sandbox, one cache).
    pub fn expressions(&self) -> &ExpressionRunner {
        &self.inner.services.expressions
    }

    /// The same engine, with the GeoIP databases the GeoIP policy kind looks addresses
    /// up in (without them that kind errors, naming the missing setting). Meant for
    /// start-up: the result cache starts empty.
    pub fn with_geoip(self, geoip: GeoipDatabases) -> PolicyEngine {
        let mut services = self.inner.services.clone();
        services.geoip = geoip;
        PolicyEngine {
            inner: Arc::new(EngineInner {
                services,
                cache: ResultCache::default(),
            }),
        }
    }

    pub fn reputation(&self) -> &Reputation {
        &self.inner.services.reputation
    }

    /// Parses a Rhai expression with the engine's own sandboxed compiler, without running
    /// it, so an admin saving one (a policy, a scope mapping) hears about a syntax error
    /// at once: Rhai's message, with line and column.
    pub fn check_expression(&self, source: &str) -> Result<(), String> {
        self.inner
            .services
            .expressions
            .compile(source)
            .map(|_| ())
            .map_err(|error| match error {
                PolicyError::Expression(message) => message,
                other => other.to_string(),
            })
    }

    /// Forgets cached results; call after any policy, binding or group change.
    pub fn clear_cache(&self) {
        self.inner.cache.clear();
    }

    /// Evaluates `bindings` (each with its policy resolved by the caller when the
    /// subject is a policy) for `request`.
    pub async fn evaluate(
        &self,
        bindings: &[(PolicyBinding, Option<Policy>)],
        mode: PolicyEngineMode,
        request: &PolicyRequest,
    ) -> PolicyResult {
        let started = std::time::Instant::now();
        let mut enabled: Vec<&(PolicyBinding, Option<Policy>)> = bindings
            .iter()
            .filter(|(binding, _)| binding.enabled)
            .collect();
        enabled.sort_by_key(|(binding, _)| (binding.order, binding.id));
        let needs_policies = enabled
            .iter()
            .any(|(binding, _)| matches!(binding.subject, BindingSubject::Policy(_)));
        let shared = needs_policies.then(|| PolicyShared::new(request));
        let evaluations = enabled.iter().map(|(binding, policy)| {
            let shared = shared.as_ref();
            async move {
                match (binding.subject, shared) {
                    (BindingSubject::Group(group), _) => group_outcome(binding, group, request),
                    (BindingSubject::User(user), _) => user_outcome(binding, user, request),
                    (BindingSubject::Policy(_), Some(shared)) => {
                        self.policy_outcome(binding, policy.as_ref(), shared).await
                    }
                    (BindingSubject::Policy(_), None) => {
                        failed(binding, "policy".to_owned(), PolicyError::PolicyMissing, 0)
                    }
                }
            }
        });
        let mut explanation = Vec::new();
        let mut effects = Vec::new();
        for (outcome, outcome_effects) in join_all(evaluations).await {
            explanation.push(outcome);
            effects.extend(outcome_effects);
        }
        let result = PolicyResult::combine(mode, explanation, effects);
        if !enabled.is_empty() {
            crate::metrics::global()
                .policy_evaluation(result.passing, started.elapsed().as_secs_f64());
        }
        result
    }

    /// Runs one policy outside any binding (an admin's "test policy"): no cache, the
    /// default timeout.
    pub async fn test_policy(
        &self,
        policy: &Policy,
        request: &PolicyRequest,
    ) -> Result<PolicyOutcome, PolicyError> {
        let timeout = Duration::from_secs(u64::from(DEFAULT_BINDING_TIMEOUT_SECS));
        let request = Arc::new(request.clone());
        self.run_with_timeout(policy, &request, timeout).await
    }

    async fn policy_outcome(
        &self,
        binding: &PolicyBinding,
        policy: Option<&Policy>,
        shared: &PolicyShared,
    ) -> Evaluated {
        let started = Instant::now();
        let policy = match policy {
            Some(policy) if binding.subject == BindingSubject::Policy(policy.id) => policy,
            _ => return failed(binding, "policy".to_owned(), PolicyError::PolicyMissing, 0),
        };
        let subject = format!("policy {}", policy.name);
        let key = kinds::is_cacheable(&policy.kind)
            .then(|| shared.cache_key(binding, policy))
            .flatten();
        let now = self.inner.services.clock.now();
        let cached = key.as_ref().and_then(|key| self.inner.cache.get(key, now));
        let was_cached = cached.is_some();
        let result = match cached {
            Some(outcome) => Ok(outcome),
            None => {
                let timeout = binding_timeout(binding);
                self.run_with_timeout(policy, &shared.request, timeout)
                    .await
            }
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        log_execution(policy, binding, &result);
        match result {
            Ok(outcome) => {
                if let Some(key) = key.filter(|_| !was_cached) {
                    self.inner.cache.put(key, outcome.clone(), now);
                }
                let evaluated = passed(binding, subject, outcome, duration_ms);
                (
                    BindingOutcome {
                        cached: was_cached,
                        ..evaluated.0
                    },
                    evaluated.1,
                )
            }
            Err(error) => failed(binding, subject, error, duration_ms),
        }
    }

    async fn run_with_timeout(
        &self,
        policy: &Policy,
        request: &Arc<PolicyRequest>,
        timeout: Duration,
    ) -> Result<PolicyOutcome, PolicyError> {
        let deadline = Instant::now() + timeout;
        let evaluation = self
            .inner
            .services
            .evaluate(&policy.kind, request, deadline);
        tokio::time::timeout(timeout, evaluation)
            .await
            .unwrap_or(Err(PolicyError::Timeout(timeout.as_secs())))
    }
}

/// The request as the policies of one evaluation share it: behind an `Arc` (expressions
/// run on other threads) and fingerprinted once for the cache.
struct PolicyShared {
    request: Arc<PolicyRequest>,
    /// `None` when the request cannot be serialised; then nothing is cached.
    fingerprint: Option<Vec<u8>>,
}

impl PolicyShared {
    fn new(request: &PolicyRequest) -> PolicyShared {
        PolicyShared {
            request: Arc::new(request.clone()),
            fingerprint: serde_json::to_vec(request).ok(),
        }
    }

    fn cache_key(&self, binding: &PolicyBinding, policy: &Policy) -> Option<CacheKey> {
        let request = self.fingerprint.as_deref()?;
        let policy = serde_json::to_vec(policy).ok()?;
        let fingerprint: Fingerprint = fingerprint(&[&policy, request]);
        Some(CacheKey {
            binding: binding.id,
            user: self.request.user.as_ref().map(|user| user.id),
            client_ip: self.request.client_ip,
            fingerprint,
        })
    }
}

/// authentik's binding timeout; 0 (never useful) means the default.
fn binding_timeout(binding: &PolicyBinding) -> Duration {
    let secs = match binding.timeout_secs {
        0 => DEFAULT_BINDING_TIMEOUT_SECS,
        secs => secs,
    };
    Duration::from_secs(u64::from(secs))
}

fn group_outcome(binding: &PolicyBinding, group: GroupId, request: &PolicyRequest) -> Evaluated {
    let found = request
        .groups
        .iter()
        .find(|candidate| candidate.id == group);
    let subject = match found {
        Some(found) => format!("group {}", found.name),
        None => format!("group {group}"),
    };
    let (member, detail) = match (&request.user, found) {
        (None, _) => (false, "no user"),
        (Some(_), Some(_)) => (true, "user is a member"),
        (Some(_), None) => (false, "user is not a member"),
    };
    cheap(binding, subject, member, detail)
}

fn user_outcome(binding: &PolicyBinding, user: UserId, request: &PolicyRequest) -> Evaluated {
    let (matches, detail) = match &request.user {
        None => (false, "no user"),
        Some(current) if current.id == user => (true, "is this user"),
        Some(_) => (false, "is another user"),
    };
    cheap(binding, format!("user {user}"), matches, detail)
}

fn cheap(binding: &PolicyBinding, subject: String, result: bool, detail: &str) -> Evaluated {
    let outcome = BindingOutcome {
        binding: binding.id,
        order: binding.order,
        subject,
        passing: result != binding.negate,
        negated: binding.negate,
        cached: false,
        messages: Vec::new(),
        detail: Some(detail.to_owned()),
        duration_ms: 0,
        error: None,
    };
    (outcome, Vec::new())
}

fn passed(
    binding: &PolicyBinding,
    subject: String,
    outcome: PolicyOutcome,
    duration_ms: u64,
) -> Evaluated {
    let binding_outcome = BindingOutcome {
        binding: binding.id,
        order: binding.order,
        subject,
        passing: outcome.passing != binding.negate,
        negated: binding.negate,
        cached: false,
        messages: outcome.messages,
        detail: None,
        duration_ms,
        error: None,
    };
    (binding_outcome, outcome.effects)
}

/// The user sees that a policy could not be evaluated, not why: the cause (an
/// expression's error text) is for admins, in `error` and the log.
fn failed(
    binding: &PolicyBinding,
    subject: String,
    error: PolicyError,
    duration_ms: u64,
) -> Evaluated {
    let message = match &error {
        PolicyError::Timeout(_) => "A policy took too long to evaluate.",
        _ => "A policy could not be evaluated.",
    };
    let outcome = BindingOutcome {
        binding: binding.id,
        order: binding.order,
        subject,
        passing: binding.failure_result,
        negated: binding.negate,
        cached: false,
        messages: vec![message.to_owned()],
        detail: None,
        duration_ms,
        error: Some(error.to_string()),
    };
    (outcome, Vec::new())
}

/// authentik logs every execution when the policy asks for it, and errors always.
fn log_execution(
    policy: &Policy,
    binding: &PolicyBinding,
    result: &Result<PolicyOutcome, PolicyError>,
) {
    match result {
        Err(error) => tracing::warn!(
            policy = %policy.name, binding = %binding.id, %error, "policy evaluation failed"
        ),
        Ok(outcome) if policy.execution_logging => tracing::info!(
            policy = %policy.name,
            binding = %binding.id,
            passing = outcome.passing,
            messages = ?outcome.messages,
            "policy executed"
        ),
        Ok(_) => {}
    }
}
