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

impl Brand {
    /// A brand with gatehouse's look and the default sign-in and sign-out flows; the
    /// other flows are left for the admin to choose.
    pub fn new(domain: &str, default: bool) -> Brand {
        Brand {
            id: Uuid::new_v4(),
            domain: domain.to_owned(),
            default,
            branding_title: "gatehouse".into(),
            branding_logo: "/static/logo.svg".into(),
            branding_favicon: "/static/logo.svg".into(),
            branding_custom_css: String::new(),
            flow_authentication: Some("default-authentication-flow".into()),
            flow_invalidation: Some("default-invalidation-flow".into()),
            flow_recovery: None,
            flow_enrollment: None,
            flow_user_settings: None,
            flow_unenrollment: None,
        }
    }
}
