//! Flows: a named journey (sign in, sign out, set up) made of ordered stage bindings.

use serde::{Deserialize, Serialize};

use super::policy::PolicyEngineMode;
use super::{BindingId, FlowId, StageId};

/// What a flow is for, as authentik names it; the defaults for each purpose are found by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowDesignation {
    Authentication,
    Authorization,
    Invalidation,
    Enrollment,
    Unenrollment,
    Recovery,
    StageConfiguration,
}

impl FlowDesignation {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowDesignation::Authentication => "authentication",
            FlowDesignation::Authorization => "authorization",
            FlowDesignation::Invalidation => "invalidation",
            FlowDesignation::Enrollment => "enrollment",
            FlowDesignation::Unenrollment => "unenrollment",
            FlowDesignation::Recovery => "recovery",
            FlowDesignation::StageConfiguration => "stage_configuration",
        }
    }

    pub fn parse(raw: &str) -> Option<FlowDesignation> {
        [
            FlowDesignation::Authentication,
            FlowDesignation::Authorization,
            FlowDesignation::Invalidation,
            FlowDesignation::Enrollment,
            FlowDesignation::Unenrollment,
            FlowDesignation::Recovery,
            FlowDesignation::StageConfiguration,
        ]
        .into_iter()
        .find(|designation| designation.as_str() == raw)
    }
}

/// Who may start a flow. `RequireSetupToken` is gatehouse's own: the initial-setup flow
/// opens only through the one-time link printed at first start (authentik leaves it open
/// to whoever reaches it first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowAuthentication {
    None,
    RequireAuthenticated,
    RequireUnauthenticated,
    RequireSuperuser,
    RequireSetupToken,
}

impl FlowAuthentication {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowAuthentication::None => "none",
            FlowAuthentication::RequireAuthenticated => "require_authenticated",
            FlowAuthentication::RequireUnauthenticated => "require_unauthenticated",
            FlowAuthentication::RequireSuperuser => "require_superuser",
            FlowAuthentication::RequireSetupToken => "require_setup_token",
        }
    }

    pub fn parse(raw: &str) -> Option<FlowAuthentication> {
        [
            FlowAuthentication::None,
            FlowAuthentication::RequireAuthenticated,
            FlowAuthentication::RequireUnauthenticated,
            FlowAuthentication::RequireSuperuser,
            FlowAuthentication::RequireSetupToken,
        ]
        .into_iter()
        .find(|mode| mode.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub id: FlowId,
    pub slug: String,
    pub name: String,
    pub title: String,
    pub designation: FlowDesignation,
    pub authentication: FlowAuthentication,
    /// authentik's layout names ("stacked", ...); the page renderer reads it.
    pub layout: String,
    /// How the flow's policy bindings combine; absent in older JSON, hence the default.
    #[serde(default)]
    pub policy_engine_mode: PolicyEngineMode,
}

/// A stage placed in a flow at a position. Lower `order` runs first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageBinding {
    pub id: BindingId,
    pub flow: FlowId,
    pub stage: StageId,
    pub order: i32,
    pub evaluate_on_plan: bool,
    pub re_evaluate_policies: bool,
    /// How the policy bindings on this stage binding combine.
    #[serde(default)]
    pub policy_engine_mode: PolicyEngineMode,
}
