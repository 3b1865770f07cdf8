//! Password policies: static rules (length, character classes), a bundled list of common
//! passwords, and zxcvbn's strength estimate. The password is read from the flow context
//! (`prompt_data[password_field]`, then `context[password_field]`), as authentik's
//! password policy reads it (policies/password/models.py).
//!
//! authentik can also ask Have I Been Pwned (k-anonymity range API). gatehouse does not:
//! the engine makes no network calls and many homelab servers have none to spare. The
//! common-password list below is the offline stand-in; an HIBP check would be a new field
//! and an outbound client injected by `app.rs`, never a call from here.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde_json::Value;

use crate::model::policy::PasswordPolicy;
use crate::policy::{PolicyError, PolicyOutcome, PolicyRequest};

/// The 10,000 most common passwords, most common first, one per line, lower case: the
/// first 10,000 lines of the list Django ships as
/// `django/contrib/auth/common-passwords.txt.gz` (BSD-3-Clause; compiled by Royce
/// Williams from breach corpora), taken from the Django 5.2 wheel on PyPI.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// zxcvbn's matching grows faster than linearly with length; the first 100 characters
/// are plenty to judge a password (zxcvbn-ts caps its input the same way).
const ZXCVBN_MAX_CHARS: usize = 100;

pub fn evaluate(
    policy: &PasswordPolicy,
    request: &PolicyRequest,
) -> Result<PolicyOutcome, PolicyError> {
    let Some(password) = password_from_context(request, &policy.password_field) else {
        // authentik's wording; failing (not erroring) keeps the binding's result honest.
        return Ok(PolicyOutcome::fail("Password not set in context"));
    };
    if policy.check_static_rules {
        let broken = static_rule_failures(policy, &password);
        if !broken.is_empty() {
            let mut messages = Vec::new();
            if !policy.error_message.trim().is_empty() {
                messages.push(policy.error_message.clone());
            }
            messages.extend(broken);
            return Ok(PolicyOutcome {
                passing: false,
                messages,
                effects: Vec::new(),
            });
        }
    }
    if policy.check_common_passwords && is_common_password(&password) {
        return Ok(PolicyOutcome::fail(
            "This password is too common. Choose one that is harder to guess.",
        ));
    }
    if policy.check_zxcvbn {
        return Ok(check_strength(policy, &password, request));
    }
    Ok(PolicyOutcome::pass())
}

/// Non-string values (a number typed into a password prompt) are checked as text.
fn password_from_context(request: &PolicyRequest, field: &str) -> Option<String> {
    let from_prompt = request
        .context
        .get("prompt_data")
        .and_then(Value::as_object)
        .and_then(|prompt| prompt.get(field));
    let value = from_prompt.or_else(|| request.context.get(field))?;
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Null => return None,
        other => other.to_string(),
    };
    (!text.is_empty()).then_some(text)
}

/// A required amount, what it counts (for the message) and how to recognise one.
type CharClass<'a> = (u32, &'a str, &'a dyn Fn(char) -> bool);

fn static_rule_failures(policy: &PasswordPolicy, password: &str) -> Vec<String> {
    let count = |matches: &dyn Fn(char) -> bool| password.chars().filter(|c| matches(*c)).count();
    let mut failures = Vec::new();
    let length = password.chars().count();
    if length < as_count(policy.length_min) {
        failures.push(format!(
            "Password is too short (at least {} characters).",
            policy.length_min
        ));
    }
    let classes: [CharClass<'_>; 4] = [
        (
            policy.amount_uppercase,
            "uppercase letter",
            &char::is_uppercase,
        ),
        (
            policy.amount_lowercase,
            "lowercase letter",
            &char::is_lowercase,
        ),
        (policy.amount_digits, "digit", &char::is_numeric),
        (policy.amount_symbols, "symbol", &|c| {
            policy.symbol_charset.contains(c)
        }),
    ];
    for (required, what, matches) in classes {
        if required > 0 && count(matches) < as_count(required) {
            let plural = if required == 1 { "" } else { "s" };
            failures.push(format!(
                "Password needs at least {required} {what}{plural}."
            ));
        }
    }
    failures
}

fn as_count(amount: u32) -> usize {
    usize::try_from(amount).unwrap_or(usize::MAX)
}

/// Case-insensitive: "Password" is as guessable as "password".
pub fn is_common_password(password: &str) -> bool {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect()
    });
    list.contains(password.to_lowercase().as_str())
}

/// authentik's rule: the policy passes when the score is above the threshold; otherwise
/// zxcvbn's warning and suggestions are the messages.
fn check_strength(
    policy: &PasswordPolicy,
    password: &str,
    request: &PolicyRequest,
) -> PolicyOutcome {
    let inputs = user_inputs(request, &policy.password_field);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let truncated: String = password.chars().take(ZXCVBN_MAX_CHARS).collect();
    let estimate = zxcvbn::zxcvbn(&truncated, &inputs);
    if u8::from(estimate.score()) > policy.zxcvbn_score_threshold {
        return PolicyOutcome::pass();
    }
    let mut messages = vec!["Password is too weak.".to_owned()];
    if let Some(feedback) = estimate.feedback() {
        messages.extend(feedback.warning().map(|warning| warning.to_string()));
        messages.extend(feedback.suggestions().iter().map(ToString::to_string));
    }
    PolicyOutcome {
        passing: false,
        messages,
        effects: Vec::new(),
    }
}

/// Words zxcvbn should treat as easy to guess for this person: who they are and what
/// they typed into the other prompt fields (authentik passes the same).
fn user_inputs(request: &PolicyRequest, password_field: &str) -> Vec<String> {
    let mut inputs = Vec::new();
    if let Some(user) = &request.user {
        inputs.push(user.username.as_str().to_owned());
        inputs.extend(user.name.split_whitespace().map(str::to_owned));
        inputs.push(user.email.clone());
        inputs.extend(user.email.split('@').next().map(str::to_owned));
    }
    if let Some(prompt) = request
        .context
        .get("prompt_data")
        .and_then(Value::as_object)
    {
        for (key, value) in prompt {
            if key != password_field
                && let Some(text) = value.as_str()
            {
                inputs.push(text.to_owned());
            }
        }
    }
    inputs.retain(|input| !input.is_empty());
    inputs
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request_with(password: &str) -> PolicyRequest {
        PolicyRequest {
            context: serde_json::from_value(json!({
                "prompt_data": {"password": password, "username": "jdoe"}
            }))
            .unwrap(),
            ..PolicyRequest::default()
        }
    }

    fn static_only() -> PasswordPolicy {
        PasswordPolicy {
            check_common_passwords: false,
            check_zxcvbn: false,
            ..PasswordPolicy::default()
        }
    }

    #[test]
    fn missing_password_fails() {
        let outcome = evaluate(&PasswordPolicy::default(), &PolicyRequest::default()).unwrap();
        assert_eq!(outcome, PolicyOutcome::fail("Password not set in context"));
    }

    #[test]
    fn short_passwords_fail_with_the_custom_message_first() {
        let policy = PasswordPolicy {
            error_message: "Choose a better password".into(),
            ..static_only()
        };
        let outcome = evaluate(&policy, &request_with("short")).unwrap();
        assert!(!outcome.passing);
        assert_eq!(outcome.messages[0], "Choose a better password");
        assert!(outcome.messages[1].starts_with("Password is too short"));
    }

    #[test]
    fn character_classes_are_counted() {
        let policy = PasswordPolicy {
            amount_uppercase: 2,
            amount_lowercase: 1,
            amount_digits: 1,
            amount_symbols: 1,
            ..static_only()
        };
        let outcome = evaluate(&policy, &request_with("abcdefgh")).unwrap();
        assert_eq!(
            outcome.messages,
            vec![
                "Password needs at least 2 uppercase letters.",
                "Password needs at least 1 digit.",
                "Password needs at least 1 symbol.",
            ]
        );
        assert!(
            evaluate(&policy, &request_with("ABcdef1!"))
                .unwrap()
                .passing
        );
    }

    #[test]
    fn the_password_can_come_from_the_context_root() {
        let request = PolicyRequest {
            context: serde_json::from_value(json!({"password": "x"})).unwrap(),
            ..PolicyRequest::default()
        };
        let outcome = evaluate(&static_only(), &request).unwrap();
        assert!(outcome.messages[0].starts_with("Password is too short"));
    }

    #[test]
    fn common_passwords_fail_whatever_their_case() {
        assert!(is_common_password("password123"));
        assert!(is_common_password("PassWord123"));
        assert!(!is_common_password("correct horse battery staple 9"));
        let outcome = evaluate(&PasswordPolicy::default(), &request_with("password123")).unwrap();
        assert!(!outcome.passing);
        assert!(outcome.messages[0].contains("too common"));
        let outcome = evaluate(
            &PasswordPolicy::default(),
            &request_with("v3ry-unusual-Phrase"),
        )
        .unwrap();
        assert!(outcome.passing);
    }

    #[test]
    fn zxcvbn_rejects_weak_passwords() {
        let policy = PasswordPolicy {
            check_zxcvbn: true,
            check_common_passwords: false,
            ..PasswordPolicy::default()
        };
        let outcome = evaluate(&policy, &request_with("aaaaaaaa")).unwrap();
        assert!(!outcome.passing);
        assert_eq!(outcome.messages[0], "Password is too weak.");
        assert!(outcome.messages.len() > 1, "zxcvbn feedback expected");
        // The user's own words count as guessable.
        let outcome = evaluate(&policy, &request_with("jdoejdoe1")).unwrap();
        assert!(!outcome.passing);
        let outcome = evaluate(&policy, &request_with("Tr0mbone-Gl4cier-Mosaic")).unwrap();
        assert!(outcome.passing, "{:?}", outcome.messages);
    }
}
