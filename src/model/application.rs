//! Applications: what users sign in to, as authentik models them. An application is the
//! launcher entry (name, icon, description, launch URL) and the access gate (its policy
//! bindings, combined with `policy_engine_mode`); the protocol side lives in a provider
//! that the application points at.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::PolicyEngineMode;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub id: Uuid,
    pub name: String,
    /// Unique; the API and the protocol endpoints address the application by it.
    pub slug: String,
    /// The protocol provider (OAuth2, SAML, proxy, ...); set when one is attached.
    #[serde(default)]
    pub provider: Option<super::ProviderId>,
    /// Where the launcher sends users; empty means "ask the provider" (none yet).
    #[serde(default)]
    pub meta_launch_url: String,
    #[serde(default)]
    pub meta_icon: String,
    #[serde(default)]
    pub meta_description: String,
    #[serde(default)]
    pub meta_publisher: String,
    /// The launcher section the application is listed under; empty for none.
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub open_in_new_tab: bool,
    #[serde(default)]
    pub policy_engine_mode: PolicyEngineMode,
}

impl Application {
    /// An application with only a name and a slug: no provider, no launcher details, and
    /// authentik's default mode (`any`).
    pub fn new(name: &str, slug: &str) -> Application {
        Application {
            id: Uuid::new_v4(),
            name: name.to_owned(),
            slug: slug.to_owned(),
            provider: None,
            meta_launch_url: String::new(),
            meta_icon: String::new(),
            meta_description: String::new(),
            meta_publisher: String::new(),
            group: String::new(),
            open_in_new_tab: false,
            policy_engine_mode: PolicyEngineMode::Any,
        }
    }

    /// The URL the launcher opens: the admin's `meta_launch_url` when set. Providers will
    /// supply a default later; until then an application without one has no launch URL.
    pub fn launch_url(&self) -> Option<&str> {
        Some(self.meta_launch_url.trim()).filter(|url| !url.is_empty())
    }
}

/// authentik's slug rule (Django's `SlugField`): ASCII letters, digits, `-` and `_`,
/// not empty.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_djangos_rule() {
        assert!(is_valid_slug("grafana"));
        assert!(is_valid_slug("home-assistant_2"));
        assert!(!is_valid_slug(""));
        assert!(!is_valid_slug("has space"));
        assert!(!is_valid_slug("ünïcode"));
        assert!(!is_valid_slug("a/b"));
    }

    #[test]
    fn the_launch_url_is_the_meta_url_when_set() {
        let mut app = Application::new("Grafana", "grafana");
        assert_eq!(app.launch_url(), None);
        app.meta_launch_url = " https://grafana.example.com ".into();
        assert_eq!(app.launch_url(), Some("https://grafana.example.com"));
    }
}
