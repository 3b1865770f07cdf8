//! Network policies: the client's address must be inside one of the `allow` networks
//! (when any are set) and outside every `deny` network. A request without a client
//! address fails: a rule about addresses cannot vouch for an unknown one.

use crate::model::policy::NetworkPolicy;
use crate::policy::{PolicyOutcome, PolicyRequest};

pub fn evaluate(policy: &NetworkPolicy, request: &PolicyRequest) -> PolicyOutcome {
    let Some(ip) = request.client_ip else {
        return PolicyOutcome::fail("Client address unknown.");
    };
    // An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) must match IPv4 rules.
    let ip = ip.to_canonical();
    if policy.deny.iter().any(|net| net.contains(&ip)) {
        return PolicyOutcome::fail("Access from this network is not allowed.");
    }
    if !policy.allow.is_empty() && !policy.allow.iter().any(|net| net.contains(&ip)) {
        return PolicyOutcome::fail("Access from this network is not allowed.");
    }
    PolicyOutcome::pass()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> NetworkPolicy {
        NetworkPolicy {
            allow: allow.iter().map(|net| net.parse().unwrap()).collect(),
            deny: deny.iter().map(|net| net.parse().unwrap()).collect(),
        }
    }

    fn from(ip: &str) -> PolicyRequest {
        PolicyRequest {
            client_ip: Some(ip.parse().unwrap()),
            ..PolicyRequest::default()
        }
    }

    #[test]
    fn allow_and_deny_lists_apply() {
        let lan = policy(&["10.0.0.0/8", "fd00::/8"], &["10.9.0.0/16"]);
        assert!(evaluate(&lan, &from("10.1.2.3")).passing);
        assert!(evaluate(&lan, &from("fd12::1")).passing);
        assert!(!evaluate(&lan, &from("10.9.0.1")).passing);
        assert!(!evaluate(&lan, &from("192.0.2.1")).passing);
        assert!(evaluate(&lan, &from("::ffff:10.1.2.3")).passing);
        let deny_only = policy(&[], &["192.0.2.0/24"]);
        assert!(evaluate(&deny_only, &from("198.51.100.1")).passing);
        assert!(!evaluate(&deny_only, &from("192.0.2.9")).passing);
    }

    #[test]
    fn an_unknown_client_address_fails() {
        let open = policy(&[], &[]);
        assert!(!evaluate(&open, &PolicyRequest::default()).passing);
        assert!(evaluate(&open, &from("203.0.113.5")).passing);
    }
}
