//! Outposts, in authentik's model: an outpost serves the providers assigned to it. gatehouse
//! runs one, the embedded outpost, inside the server process; it is created on first start
//! and serves every proxy provider assigned to it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::ProviderId;

/// authentik's `managed` marker of the embedded outpost.
pub const EMBEDDED_OUTPOST_MANAGED: &str = "goauthentik.io/outposts/embedded";
pub const EMBEDDED_OUTPOST_NAME: &str = "authentik Embedded Outpost";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutpostType {
    #[default]
    Proxy,
    Ldap,
    Radius,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outpost {
    pub id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: OutpostType,
    pub providers: Vec<ProviderId>,
    /// authentik's outpost configuration object, kept whole so clients that write keys
    /// gatehouse does not use get them back; `authentik_host` is the one read here.
    pub config: Map<String, Value>,
    pub managed: Option<String>,
}

impl Outpost {
    /// The embedded outpost as first created: no providers, authentik's default config.
    pub fn embedded() -> Outpost {
        Outpost {
            id: Uuid::new_v4(),
            name: EMBEDDED_OUTPOST_NAME.into(),
            kind: OutpostType::Proxy,
            providers: Vec::new(),
            config: default_config(),
            managed: Some(EMBEDDED_OUTPOST_MANAGED.into()),
        }
    }

    pub fn is_embedded(&self) -> bool {
        self.managed.as_deref() == Some(EMBEDDED_OUTPOST_MANAGED)
    }

    fn config_url(&self, key: &str) -> Option<&str> {
        self.config
            .get(key)
            .and_then(Value::as_str)
            .map(|url| url.trim().trim_end_matches('/'))
            .filter(|url| !url.is_empty())
    }

    /// The URL browsers reach gatehouse at, for sign-in redirects from protected hosts:
    /// `authentik_host_browser`, else `authentik_host`.
    pub fn browser_base_url(&self) -> Option<&str> {
        self.config_url("authentik_host_browser")
            .or_else(|| self.config_url("authentik_host"))
    }
}

/// authentik's default outpost configuration (the keys its API shows).
pub fn default_config() -> Map<String, Value> {
    let config = json!({
        "log_level": "info",
        "authentik_host": "",
        "authentik_host_insecure": false,
        "authentik_host_browser": "",
        "refresh_interval": "minutes=5",
        "object_naming_template": "ak-outpost-%(name)s",
    });
    match config {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_url_prefers_the_browser_setting_and_ignores_blanks() {
        let mut outpost = Outpost::embedded();
        assert_eq!(outpost.browser_base_url(), None);
        outpost
            .config
            .insert("authentik_host".into(), json!("https://auth.example.com/"));
        assert_eq!(outpost.browser_base_url(), Some("https://auth.example.com"));
        outpost.config.insert(
            "authentik_host_browser".into(),
            json!("https://sso.example.com"),
        );
        assert_eq!(outpost.browser_base_url(), Some("https://sso.example.com"));
        let json = serde_json::to_value(&outpost).unwrap();
        assert_eq!(json["type"], "proxy");
        assert_eq!(serde_json::from_value::<Outpost>(json).unwrap(), outpost);
    }
}
