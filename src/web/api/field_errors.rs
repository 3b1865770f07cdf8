//! Field errors gathered over a whole request body, reported together in Django REST
//! framework's shape (`{"field": ["message", ...]}`), as authentik's clients expect.

use std::collections::BTreeMap;

use super::super::error::ApiError;

/// Messages by field name, in the order the checks ran.
#[derive(Debug, Default)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Records the outcome of a check and passes its value on.
    pub fn check<T>(&mut self, field: &str, outcome: Result<T, String>) -> Option<T> {
        outcome.map_err(|message| self.add(field, message)).ok()
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.0))
        }
    }
}
