//! Remembered consent: a user agreed that an application may receive some data.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Timestamp, UserId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    pub id: Uuid,
    pub user: UserId,
    /// The application's id (its UUID).
    pub application: Uuid,
    /// What was agreed to (scope names); a request for more asks again.
    pub permissions: Vec<String>,
    /// `None` = remembered permanently.
    pub expires: Option<Timestamp>,
}

impl Consent {
    /// The consent's id in the API, where authentik has an integer pk: the first 48 bits
    /// of its (random) UUID.
    pub fn api_pk(&self) -> i64 {
        i64::try_from(self.id.as_u128() >> 80).unwrap_or_default()
    }

    /// The start of the hyphenated UUID an API id stands for (`"xxxxxxxx-xxxx"`); `None`
    /// for a number no consent can have.
    pub fn id_prefix_of(api_pk: i64) -> Option<String> {
        let hex = (0..1_i64 << 48)
            .contains(&api_pk)
            .then(|| format!("{api_pk:012x}"))?;
        let (first, second) = hex.split_at(8);
        Some(format!("{first}-{second}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn api_ids_are_uuid_prefixes() {
        let consent = Consent {
            id: Uuid::parse_str("0123abcd-ef45-4678-9abc-def012345678").unwrap(),
            user: UserId(1),
            application: Uuid::new_v4(),
            permissions: Vec::new(),
            expires: None,
        };
        assert_eq!(consent.api_pk(), 0x0123_abcd_ef45);
        assert_eq!(
            Consent::id_prefix_of(consent.api_pk()).as_deref(),
            Some("0123abcd-ef45")
        );
        assert_eq!(Consent::id_prefix_of(-3), None);
        assert_eq!(Consent::id_prefix_of(1 << 48), None);
    }
}
