//! Brands: the look and the default flows per domain (authentik's "tenants"/brands).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Brand {
    pub id: Uuid,
    /// The host this brand serves (`auth.example.com`); the default brand answers others.
    pub domain: String,
    pub default: bool,
    pub branding_title: String,
    pub branding_logo: String,
    pub branding_favicon: String,
    /// Extra CSS appended to every page of this brand.
    pub branding_custom_css: String,
    pub flow_authentication: Option<String>,
    pub flow_invalidation: Option<String>,
    pub flow_recovery: Option<String>,
    pub flow_enrollment: Option<String>,
    pub flow_user_settings: Option<String>,
    pub flow_unenrollment: Option<String>,
}
