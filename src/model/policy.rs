//! Policies and policy bindings, as authentik models them: a policy is a named check of
//! one kind (expression, password, reputation, ...); a binding attaches a policy, a group
//! or a user to a target (a flow, a stage binding, an application) with an order, a
//! negation and a result to use when the check cannot be evaluated. Kinds form one tagged
//! enum stored as a JSON column. Evaluation lives in `crate::policy`, not here.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{BindingId, FlowId, GroupId, PolicyBindingId, PolicyId, UserId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub id: PolicyId,
    pub name: String,
    /// authentik's "execution logging": log every evaluation, not only failures.
    #[serde(default)]
    pub execution_logging: bool,
    pub kind: PolicyKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicyKind {
    Expression(ExpressionPolicy),
    Password(PasswordPolicy),
    PasswordExpiry(PasswordExpiryPolicy),
    Reputation(ReputationPolicy),
    Network(NetworkPolicy),
    Geoip(GeoipPolicy),
    Dummy(DummyPolicy),
}

impl PolicyKind {
    /// authentik's component name for the policy's form (`ak-policy-<kind>-form`).
    pub fn component(&self) -> &'static str {
        match self {
            PolicyKind::Expression(_) => "ak-policy-expression-form",
            PolicyKind::Password(_) => "ak-policy-password-form",
            PolicyKind::PasswordExpiry(_) => "ak-policy-password-expiry-form",
            PolicyKind::Reputation(_) => "ak-policy-reputation-form",
            PolicyKind::Network(_) => "ak-policy-network-form",
            PolicyKind::Geoip(_) => "ak-policy-geoip-form",
            PolicyKind::Dummy(_) => "ak-policy-dummy-form",
        }
    }
}

/// A Rhai expression (authentik's are Python; the variables and helpers keep their names).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExpressionPolicy {
    pub expression: String,
}

/// The characters authentik counts as symbols (its `symbol_charset` default).
pub const DEFAULT_SYMBOL_CHARSET: &str = "!\\\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ ";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    /// Where the password is read from: `context.prompt_data[field]`, then `context[field]`.
    pub password_field: String,
    pub length_min: u32,
    pub amount_uppercase: u32,
    pub amount_lowercase: u32,
    pub amount_digits: u32,
    pub amount_symbols: u32,
    pub symbol_charset: String,
    pub check_static_rules: bool,
    pub check_zxcvbn: bool,
    /// Passwords whose zxcvbn score (0..=4) is at or below this fail, as in authentik.
    pub zxcvbn_score_threshold: u8,
    /// gatehouse's offline stand-in for authentik's Have I Been Pwned check.
    pub check_common_passwords: bool,
    /// Shown first when a static rule fails (authentik shows only this text).
    pub error_message: String,
}

impl Default for PasswordPolicy {
    /// authentik's defaults, except a minimum length of 8 and the common-password check
    /// on: a fresh install should refuse "password".
    fn default() -> Self {
        PasswordPolicy {
            password_field: "password".to_owned(),
            length_min: 8,
            amount_uppercase: 0,
            amount_lowercase: 0,
            amount_digits: 0,
            amount_symbols: 0,
            symbol_charset: DEFAULT_SYMBOL_CHARSET.to_owned(),
            check_static_rules: true,
            check_zxcvbn: false,
            zxcvbn_score_threshold: 2,
            check_common_passwords: true,
            error_message: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordExpiryPolicy {
    pub days: u32,
    /// `false`: the password is also made unusable, so the user must recover the account
    /// (authentik's behaviour); `true`: only deny.
    pub deny_only: bool,
}

impl Default for PasswordExpiryPolicy {
    fn default() -> Self {
        PasswordExpiryPolicy {
            days: 90,
            deny_only: false,
        }
    }
}

/// authentik's semantics (policies/reputation/models.py): the policy PASSES when the
/// reputation is bad (score at or below `threshold`), so it is bound negated to block, or
/// as-is to add a stage (captcha, MFA) for suspicious clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReputationPolicy {
    pub check_ip: bool,
    pub check_username: bool,
    pub threshold: i64,
}

impl Default for ReputationPolicy {
    fn default() -> Self {
        ReputationPolicy {
            check_ip: true,
            check_username: true,
            threshold: -5,
        }
    }
}

/// Client address rules: the address must be in one `allow` network (when any is set)
/// and in no `deny` network.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkPolicy {
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

/// authentik's GeoIP policy (policies/geoip/models.py): passes when the client address is
/// in one of `countries` OR announced by one of `asns`; an empty list is no check, and a
/// policy with both empty passes. authentik's distance checks (`check_history_distance`,
/// `check_impossible_travel` and their tolerances) are not implemented: they need the
/// login history with coordinates, which gatehouse does not keep yet.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GeoipPolicy {
    /// ISO 3166-1 alpha-2 codes, stored upper case.
    #[serde(deserialize_with = "country_codes")]
    pub countries: Vec<String>,
    /// Autonomous system numbers.
    pub asns: Vec<u32>,
}

/// Country codes as GeoIP databases spell them ("DE"): two ASCII letters, upper-cased, so
/// "de" from a hand-written blueprint matches and "Germany" is refused when saved rather
/// than never matching.
fn country_codes<'de, D: serde::Deserializer<'de>>(input: D) -> Result<Vec<String>, D::Error> {
    let codes = Vec::<String>::deserialize(input)?;
    codes
        .into_iter()
        .map(|code| {
            let code = code.trim();
            if code.len() == 2 && code.bytes().all(|byte| byte.is_ascii_alphabetic()) {
                Ok(code.to_ascii_uppercase())
            } else {
                Err(serde::de::Error::custom(format!(
                    "'{code}' is not an ISO 3166-1 alpha-2 country code (e.g. \"DE\")"
                )))
            }
        })
        .collect()
}

/// authentik's dummy policy: a fixed result after an optional wait (tests, demos).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DummyPolicy {
    pub result: bool,
    pub wait_ms: u64,
}

/// What a binding is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum PolicyTarget {
    Flow(FlowId),
    StageBinding(BindingId),
    Application(Uuid),
}

/// What a binding checks: a policy, or membership of a group, or being a given user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum BindingSubject {
    Policy(PolicyId),
    Group(GroupId),
    User(UserId),
}

/// authentik's binding timeout default, in seconds.
pub const DEFAULT_BINDING_TIMEOUT_SECS: u32 = 30;

fn default_timeout_secs() -> u32 {
    DEFAULT_BINDING_TIMEOUT_SECS
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyBinding {
    pub id: PolicyBindingId,
    pub target: PolicyTarget,
    pub subject: BindingSubject,
    /// Lower runs first.
    #[serde(default)]
    pub order: i32,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Flips the subject's result (not `failure_result`), as authentik does.
    #[serde(default)]
    pub negate: bool,
    /// 0 means the default (30 s).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u32,
    /// The result when the policy errors or times out.
    #[serde(default)]
    pub failure_result: bool,
}

/// How the bindings of one target combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyEngineMode {
    /// One passing binding is enough (authentik's default for new objects).
    #[default]
    Any,
    /// Every binding must pass.
    All,
}

impl PolicyEngineMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyEngineMode::Any => "any",
            PolicyEngineMode::All => "all",
        }
    }

    pub fn parse(raw: &str) -> Option<PolicyEngineMode> {
        [PolicyEngineMode::Any, PolicyEngineMode::All]
            .into_iter()
            .find(|mode| mode.as_str() == raw)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_with_a_snake_case_tag() {
        let policy = Policy {
            id: PolicyId::random(),
            name: "expiry".into(),
            execution_logging: false,
            kind: PolicyKind::PasswordExpiry(PasswordExpiryPolicy::default()),
        };
        let json = serde_json::to_value(&policy).unwrap();
        assert_eq!(json["kind"]["kind"], "password_expiry");
        assert_eq!(json["kind"]["days"], 90);
        let back: Policy = serde_json::from_value(json).unwrap();
        assert_eq!(back, policy);
    }

    #[test]
    fn bindings_fill_authentik_defaults() {
        let json = serde_json::json!({
            "id": uuid::Uuid::nil(),
            "target": {"type": "flow", "id": uuid::Uuid::nil()},
            "subject": {"type": "user", "id": 7},
        });
        let binding: PolicyBinding = serde_json::from_value(json).unwrap();
        assert!(binding.enabled);
        assert_eq!(binding.timeout_secs, 30);
        assert!(!binding.negate && !binding.failure_result);
        assert_eq!(binding.subject, BindingSubject::User(UserId(7)));
        let mode: PolicyEngineMode = serde_json::from_str("\"all\"").unwrap();
        assert_eq!(mode, PolicyEngineMode::All);
        assert_eq!(PolicyEngineMode::parse("any"), Some(PolicyEngineMode::Any));
        assert_eq!(PolicyEngineMode::parse("first"), None);
    }
}
