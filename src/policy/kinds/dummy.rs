//! Dummy policies, as authentik's: a fixed result after an optional wait. Handy to try a
//! binding layout, and for tests of the engine's timeouts and caching.

use std::time::Duration;

use crate::model::policy::DummyPolicy;
use crate::policy::PolicyOutcome;

pub async fn evaluate(policy: &DummyPolicy) -> PolicyOutcome {
    if policy.wait_ms > 0 {
        tokio::time::sleep(Duration::from_millis(policy.wait_ms)).await;
    }
    PolicyOutcome {
        passing: policy.result,
        ..PolicyOutcome::default()
    }
}
