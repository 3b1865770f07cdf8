//! What an evaluation concluded, binding by binding, in a form an admin can read (the
//! "why was I denied" view) and the flow engine can act on (passing, messages for the
//! user, effects to apply).

use std::fmt;

use serde::Serialize;

use crate::model::{PolicyBindingId, PolicyEngineMode};
use crate::policy::PolicyEffect;

/// One binding's part in a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BindingOutcome {
    pub binding: PolicyBindingId,
    pub order: i32,
    /// "policy <name>", "group <name or id>" or "user <id>".
    pub subject: String,
    /// The binding's result: after negation, or the failure result on error.
    pub passing: bool,
    pub negated: bool,
    /// Reused from the result cache.
    pub cached: bool,
    /// For the user (the policy's own messages, or the error's).
    pub messages: Vec<String>,
    /// For admins only ("user is not a member").
    pub detail: Option<String>,
    pub duration_ms: u64,
    /// Set when the policy errored or timed out and `failure_result` was used.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyResult {
    pub passing: bool,
    pub mode: PolicyEngineMode,
    /// Every binding's messages, in binding order, without repeats.
    pub messages: Vec<String>,
    /// Changes the caller should make (e.g. mark an expired password unusable).
    #[serde(skip)]
    pub effects: Vec<PolicyEffect>,
    /// Evaluated bindings in order; disabled ones are left out.
    pub explanation: Vec<BindingOutcome>,
}

impl PolicyResult {
    /// Combines binding outcomes with the mode; no bindings pass, as in authentik.
    pub fn combine(
        mode: PolicyEngineMode,
        explanation: Vec<BindingOutcome>,
        effects: Vec<PolicyEffect>,
    ) -> PolicyResult {
        let passing = explanation.is_empty()
            || match mode {
                PolicyEngineMode::All => explanation.iter().all(|outcome| outcome.passing),
                PolicyEngineMode::Any => explanation.iter().any(|outcome| outcome.passing),
            };
        let mut messages: Vec<String> = Vec::new();
        for message in explanation.iter().flat_map(|outcome| &outcome.messages) {
            if !messages.contains(message) {
                messages.push(message.clone());
            }
        }
        PolicyResult {
            passing,
            mode,
            messages,
            effects,
            explanation,
        }
    }

    /// Several lines for an admin: the verdict, then one line per binding.
    pub fn explain(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for PolicyResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passing { "passed" } else { "failed" };
        let count = self.explanation.len();
        if count == 0 {
            return write!(f, "{verdict}: no bindings");
        }
        let plural = if count == 1 { "" } else { "s" };
        write!(
            f,
            "{verdict} (mode {}, {count} binding{plural})",
            self.mode.as_str()
        )?;
        for (index, outcome) in self.explanation.iter().enumerate() {
            write!(f, "\nbinding {} {outcome}", index.saturating_add(1))?;
        }
        Ok(())
    }
}

impl fmt::Display for BindingOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passing { "passed" } else { "failed" };
        write!(f, "({}): {verdict}", self.subject)?;
        if self.negated && self.error.is_none() {
            f.write_str(" (negated)")?;
        }
        if self.cached {
            f.write_str(" (cached)")?;
        }
        let mut reasons: Vec<String> = Vec::new();
        reasons.extend(self.detail.clone());
        if let Some(error) = &self.error {
            reasons.push(format!("error: {error}; failure result used"));
        } else {
            reasons.extend(self.messages.iter().map(|message| format!("\"{message}\"")));
        }
        if !reasons.is_empty() {
            write!(f, " — {}", reasons.join("; "))?;
        }
        if self.subject.starts_with("policy ") && !self.cached {
            write!(f, " [{} ms]", self.duration_ms)?;
        }
        Ok(())
    }
}
