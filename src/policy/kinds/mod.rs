//! Policy kinds, one file each, and the one `match` that sends a policy to its kind.
//! Kinds see the request and the services they need (reputation scores, the clock, the
//! expression runner); they never see bindings, negation or timeouts, which are the
//! engine's.

pub mod dummy;
pub mod expression;
pub mod geoip;
pub mod network;
pub mod password;
pub mod password_expiry;
pub mod reputation;

use std::sync::Arc;
use std::time::Instant;

use crate::clock::Clock;
use crate::model::policy::PolicyKind;
use crate::policy::{GeoipDatabases, PolicyError, PolicyOutcome, PolicyRequest, Reputation};

use expression::ExpressionRunner;

/// What the kinds may use; built once per engine.
#[derive(Clone)]
pub(crate) struct KindServices {
    pub reputation: Reputation,
    pub clock: Arc<dyn Clock>,
    pub expressions: ExpressionRunner,
    /// Empty unless `[geoip]` names database files.
    pub geoip: GeoipDatabases,
}

impl KindServices {
    /// Evaluates one policy; `deadline` is when the binding's timeout runs out (kinds
    /// that run blocking code must stop by then themselves).
    pub async fn evaluate(
        &self,
        kind: &PolicyKind,
        request: &Arc<PolicyRequest>,
        deadline: Instant,
    ) -> Result<PolicyOutcome, PolicyError> {
        match kind {
            PolicyKind::Expression(policy) => {
                self.expressions
                    .evaluate(&policy.expression, Arc::clone(request), deadline)
                    .await
            }
            PolicyKind::Password(policy) => password::evaluate(policy, request),
            PolicyKind::PasswordExpiry(policy) => {
                password_expiry::evaluate(policy, request, self.clock.as_ref())
            }
            PolicyKind::Reputation(policy) => {
                Ok(reputation::evaluate(policy, request, &self.reputation))
            }
            PolicyKind::Network(policy) => Ok(network::evaluate(policy, request)),
            PolicyKind::Geoip(policy) => geoip::evaluate(policy, request, &self.geoip),
            PolicyKind::Dummy(policy) => Ok(dummy::evaluate(policy).await),
        }
    }
}

/// Whether a kind's result may be reused for an identical request. Reputation reads
/// scores that change between identical requests (each failed login lowers them), so it
/// is always evaluated afresh.
pub(crate) fn is_cacheable(kind: &PolicyKind) -> bool {
    !matches!(kind, PolicyKind::Reputation(_))
}
