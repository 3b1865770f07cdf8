//! Building the redirects to the client: parameters added to a registered URI.

use super::super::OAuthError;

/// The client's redirect URI with `error`, `error_description`, `state` and `iss`.
pub fn error_redirect(
    redirect_uri: &str,
    error: &OAuthError,
    state: Option<&str>,
    issuer: &str,
) -> String {
    let mut params = vec![
        ("error", error.code),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    append_query(redirect_uri, &params)
}

/// Adds parameters to a URI that may already have a query (RFC 6749 §3.1.2 keeps it).
pub fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params.iter().copied());
            url.to_string()
        }
        Err(_) => {
            let separator = if uri.contains('?') { '&' } else { '?' };
            let encoded = serde_urlencoded::to_string(params).unwrap_or_default();
            format!("{uri}{separator}{encoded}")
        }
    }
}

pub(super) fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
