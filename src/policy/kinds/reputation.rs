//! Reputation policies, with authentik's semantics (policies/reputation/models.py): the
//! policy PASSES when the client looks abusive, that is when a checked score (the client
//! IP's, the username's) is at or below `threshold`. Bind it negated to block such
//! clients, or as-is on a stage binding to add a captcha or MFA step for them only.
//! Scores come from `crate::policy::Reputation`; this file only reads them.

use serde_json::Value;

use crate::model::policy::ReputationPolicy;
use crate::policy::{PolicyOutcome, PolicyRequest, Reputation};

/// authentik's flow-context key for what was typed into the identification stage, used
/// when the request has no (known) user yet.
pub const PENDING_USER_IDENTIFIER: &str = "pending_user_identifier";

pub fn evaluate(
    policy: &ReputationPolicy,
    request: &PolicyRequest,
    reputation: &Reputation,
) -> PolicyOutcome {
    let mut scores = Vec::new();
    if policy.check_ip
        && let Some(ip) = request.client_ip
    {
        scores.push(reputation.score_ip(ip));
    }
    if policy.check_username
        && let Some(username) = username(request)
    {
        scores.push(reputation.score_username(&username));
    }
    // authentik sums the matching rows; with separate IP and username scores, the worse
    // of the two decides, so one failure is not counted twice.
    let score = scores.into_iter().min().unwrap_or(0);
    tracing::debug!(score, threshold = policy.threshold, "reputation policy");
    PolicyOutcome {
        passing: score <= policy.threshold,
        ..PolicyOutcome::default()
    }
}

fn username(request: &PolicyRequest) -> Option<String> {
    if let Some(user) = &request.user {
        return Some(user.username.as_str().to_owned());
    }
    request
        .context
        .get(PENDING_USER_IDENTIFIER)
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::IpAddr;
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::Timestamp;
    use crate::store::Ephemeral;
    use crate::store::memory_kv::MemoryKv;

    fn reputation() -> Reputation {
        let clock = ManualClock::starting_at(Timestamp(1_700_000_000));
        Reputation::new(Ephemeral::new(Arc::new(MemoryKv::new()), Arc::new(clock)))
    }

    fn request(ip: &str, identifier: &str) -> PolicyRequest {
        PolicyRequest {
            client_ip: Some(ip.parse().unwrap()),
            context: serde_json::from_value(serde_json::json!({
                PENDING_USER_IDENTIFIER: identifier
            }))
            .unwrap(),
            ..PolicyRequest::default()
        }
    }

    #[test]
    fn passes_only_for_clients_at_or_below_the_threshold() {
        let reputation = reputation();
        let policy = ReputationPolicy::default();
        let attacker: IpAddr = "198.51.100.4".parse().unwrap();
        assert!(!evaluate(&policy, &request("198.51.100.4", "root"), &reputation).passing);
        for _ in 0..5 {
            reputation.record_failure("root", Some(attacker)).unwrap();
        }
        assert!(evaluate(&policy, &request("198.51.100.4", "alice"), &reputation).passing);
        assert!(evaluate(&policy, &request("203.0.113.1", "ROOT"), &reputation).passing);
        assert!(!evaluate(&policy, &request("203.0.113.1", "alice"), &reputation).passing);
        let ip_only = ReputationPolicy {
            check_username: false,
            ..ReputationPolicy::default()
        };
        assert!(!evaluate(&ip_only, &request("203.0.113.1", "root"), &reputation).passing);
    }
}
