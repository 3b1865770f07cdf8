//! The brand serving a request: chosen by the host the browser asked for (without the
//! port), else the default brand; its title, logo, favicon and custom CSS dress every
//! page, and its flows answer `/flows/-/default/...`.

use actix_web::HttpRequest;
use serde_json::{Value, json};

use crate::model::Brand;

use super::extract::ClientMeta;
use super::state::AppState;

/// The brand for this request (a built-in fallback when none is configured).
pub fn brand_of(state: &AppState, http: &HttpRequest) -> Brand {
    let client = ClientMeta::of(http);
    let host = strip_port(&client.host);
    state
        .catalog
        .load()
        .brand_for_host(host)
        .cloned()
        .unwrap_or_else(fallback)
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // [::1]:9000
        return host
            .split(']')
            .next()
            .map(|h| h.trim_start_matches('['))
            .unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn fallback() -> Brand {
    Brand::new("", true)
}

/// What templates see as `brand`.
pub fn page_context(brand: &Brand) -> Value {
    json!({
        "title": brand.branding_title,
        "logo": if brand.branding_logo.is_empty() { "/static/logo.svg" } else { &brand.branding_logo },
        "favicon": if brand.branding_favicon.is_empty() { "/static/logo.svg" } else { &brand.branding_favicon },
        // Served from our own origin (the CSP allows no inline styles).
        "custom_css_url": (!brand.branding_custom_css.trim().is_empty()).then(|| format!("/-/brand/{}/custom.css", brand.id)),
    })
}

pub fn authentication_flow(brand: &Brand) -> String {
    brand
        .flow_authentication
        .clone()
        .unwrap_or_else(|| "default-authentication-flow".into())
}

/// The brand's sign-in page, coming back to `next` (a same-origin path) afterwards.
pub fn sign_in_url(brand: &Brand, next: &str) -> String {
    format!(
        "/if/flow/{}/?next={}",
        authentication_flow(brand),
        super::extract::url_encode(next)
    )
}

pub fn invalidation_flow(brand: &Brand) -> String {
    brand
        .flow_invalidation
        .clone()
        .unwrap_or_else(|| "default-invalidation-flow".into())
}

#[cfg(test)]
mod tests {
    use super::strip_port;

    #[test]
    fn ports_are_stripped_from_hosts() {
        assert_eq!(strip_port("auth.example.com:9000"), "auth.example.com");
        assert_eq!(strip_port("auth.example.com"), "auth.example.com");
        assert_eq!(strip_port("[::1]:9000"), "::1");
    }
}
