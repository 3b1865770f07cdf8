//! authentik's `OAuth2ProviderSetupURLs`: the endpoints an admin copies into the client
//! application, as absolute URLs on the host the admin reached us by. Endpoints named
//! after the application are empty until one uses the provider, as in authentik.

use serde_json::{Value, json};

use crate::model::{IssuerMode, OAuth2Provider};

/// `base` is `scheme://host`; `application` the slug of the application using the
/// provider, if any.
pub fn setup_urls(base: &str, oauth: &OAuth2Provider, application: Option<&str>) -> Value {
    let per_application = |path: &str| {
        application
            .map(|slug| format!("{base}/application/o/{slug}/{path}"))
            .unwrap_or_default()
    };
    let issuer = match oauth.issuer_mode {
        IssuerMode::Global => format!("{base}/application/o/"),
        IssuerMode::PerProvider => per_application(""),
    };
    json!({
        "issuer": issuer,
        "authorize": format!("{base}/application/o/authorize/"),
        "token": format!("{base}/application/o/token/"),
        "user_info": format!("{base}/application/o/userinfo/"),
        "provider_info": per_application(".well-known/openid-configuration"),
        "logout": per_application("end-session/"),
        "jwks": per_application("jwks/"),
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_issuer_mode_and_the_application() {
        let mut oauth = OAuth2Provider::new("id".into(), String::new());
        let urls = setup_urls("https://sso.example.com", &oauth, Some("grafana"));
        assert_eq!(
            urls["issuer"],
            "https://sso.example.com/application/o/grafana/"
        );
        assert_eq!(
            urls["provider_info"],
            "https://sso.example.com/application/o/grafana/.well-known/openid-configuration"
        );
        assert_eq!(
            urls["jwks"],
            "https://sso.example.com/application/o/grafana/jwks/"
        );
        assert_eq!(
            urls["logout"],
            "https://sso.example.com/application/o/grafana/end-session/"
        );
        assert_eq!(
            urls["token"],
            "https://sso.example.com/application/o/token/"
        );
        oauth.issuer_mode = IssuerMode::Global;
        let unattached = setup_urls("http://localhost:9000", &oauth, None);
        assert_eq!(unattached["issuer"], "http://localhost:9000/application/o/");
        assert_eq!(unattached["jwks"], "");
        assert_eq!(
            unattached["authorize"],
            "http://localhost:9000/application/o/authorize/"
        );
    }
}
