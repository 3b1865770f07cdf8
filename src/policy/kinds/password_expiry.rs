//! Password expiry policies: deny a user whose password is older than `days`, as
//! authentik's (policies/expiry/models.py). With `deny_only` off authentik also makes the
//! password unusable; this engine stores nothing, so it returns that as an effect for the
//! caller to apply.

use crate::clock::Clock;
use crate::model::policy::PasswordExpiryPolicy;
use crate::policy::{PolicyEffect, PolicyError, PolicyOutcome, PolicyRequest};

const SECS_PER_DAY: i64 = 86_400;

pub fn evaluate(
    policy: &PasswordExpiryPolicy,
    request: &PolicyRequest,
    clock: &dyn Clock,
) -> Result<PolicyOutcome, PolicyError> {
    let user = request
        .user
        .as_ref()
        .ok_or(PolicyError::MissingInput("a user"))?;
    // authentik falls back to the join date for a password that was never changed.
    let changed = user.password_changed.unwrap_or(user.created);
    let age_days = clock
        .now()
        .0
        .saturating_sub(changed.0)
        .div_euclid(SECS_PER_DAY);
    let max_days = i64::from(policy.days);
    if age_days < max_days {
        return Ok(PolicyOutcome::pass());
    }
    if policy.deny_only {
        return Ok(PolicyOutcome::fail("Password has expired."));
    }
    let days_since_expiry = age_days.saturating_sub(max_days);
    Ok(PolicyOutcome {
        passing: false,
        messages: vec![format!(
            "Password expired {days_since_expiry} days ago. Please update your password."
        )],
        effects: vec![PolicyEffect::MarkPasswordUnusable(user.id)],
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::model::{Timestamp, User, UserId, UserType, Username};

    const START: i64 = 1_700_000_000;

    fn request(changed: Option<i64>) -> PolicyRequest {
        PolicyRequest {
            user: Some(User {
                id: UserId(3),
                uuid: uuid::Uuid::nil(),
                username: Username::parse("bob").unwrap(),
                name: String::new(),
                email: String::new(),
                is_active: true,
                user_type: UserType::Internal,
                path: "users".into(),
                attributes: serde_json::Map::new(),
                last_login: None,
                password_hash: Some("x".into()),
                password_changed: changed.map(Timestamp),
                created: Timestamp(START - 400 * SECS_PER_DAY),
            }),
            ..PolicyRequest::default()
        }
    }

    #[test]
    fn fresh_passwords_pass_and_old_ones_expire() {
        let clock = ManualClock::starting_at(Timestamp(START));
        let policy = PasswordExpiryPolicy {
            days: 90,
            deny_only: true,
        };
        let recent = request(Some(START - 89 * SECS_PER_DAY));
        assert!(evaluate(&policy, &recent, &clock).unwrap().passing);
        clock.advance(SECS_PER_DAY);
        let outcome = evaluate(&policy, &recent, &clock).unwrap();
        assert_eq!(outcome, PolicyOutcome::fail("Password has expired."));
    }

    #[test]
    fn expiry_without_deny_only_asks_to_make_the_password_unusable() {
        let clock = ManualClock::starting_at(Timestamp(START));
        let outcome = evaluate(&PasswordExpiryPolicy::default(), &request(None), &clock).unwrap();
        assert!(!outcome.passing);
        assert_eq!(
            outcome.effects,
            vec![PolicyEffect::MarkPasswordUnusable(UserId(3))]
        );
        assert!(
            outcome.messages[0].contains("310 days ago"),
            "{:?}",
            outcome.messages
        );
    }

    #[test]
    fn no_user_is_an_error() {
        let clock = ManualClock::starting_at(Timestamp(START));
        let error = evaluate(
            &PasswordExpiryPolicy::default(),
            &PolicyRequest::default(),
            &clock,
        );
        assert_eq!(error, Err(PolicyError::MissingInput("a user")));
    }
}
