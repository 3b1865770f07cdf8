//! OAuth errors as protocol data: the RFC 6749 error code and a description for the
//! client. Where an error goes (a JSON body, the client's redirect URI, a page) is decided
//! by the endpoint; a description never carries secrets or says whether a user exists.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            code,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_request", description)
    }

    pub fn invalid_client() -> OAuthError {
        OAuthError::new("invalid_client", "Client authentication failed.")
    }

    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_grant", description)
    }

    pub fn invalid_token(description: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_token", description)
    }

    pub fn access_denied() -> OAuthError {
        OAuthError::new("access_denied", "The user may not use this application.")
    }

    pub fn server_error() -> OAuthError {
        OAuthError::new("server_error", "The server could not complete the request.")
    }

    /// The HTTP status of a JSON error response (RFC 6749 §5.2, RFC 6750 §3.1).
    pub fn status(&self) -> u16 {
        match self.code {
            "invalid_client" | "invalid_token" => 401,
            "insufficient_scope" => 403,
            "server_error" => 500,
            _ => 400,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"error": self.code, "error_description": self.description})
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(error: crate::store::StoreError) -> OAuthError {
        tracing::error!(%error, "oauth: storage failed");
        OAuthError::server_error()
    }
}
