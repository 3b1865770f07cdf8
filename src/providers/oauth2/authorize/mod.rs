//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2). A request is checked in
//! the order the RFC asks: client and redirect URI first — errors there are shown on a
//! page, never sent to an unverified URI (§4.1.2.1) — then everything else, whose errors
//! go back to the client. A valid request is parked in the Kv as a pending authorization
//! bound to the browser; the browser signs in (the brand's authentication flow) and runs
//! the provider's authorization flow (consent) as needed, coming back to `resume` each
//! time, until a code can be issued.

mod redirect;
mod resume;
mod start;

use serde::{Deserialize, Serialize};

use crate::model::Timestamp;
use crate::session::{ActiveSession, ClientInfo};

pub use redirect::{append_query, error_redirect};
pub use resume::{may_use, resume};
pub use start::start;

/// A pending authorization waits this long for the user to sign in and consent.
const PENDING_TTL_SECS: u64 = 1800;

/// The query parameters, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// A checked request, parked while the browser signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt_none: bool,
    pub prompt_consent: bool,
    /// The session must have started at or after this (`prompt=login`, `max_age`).
    pub auth_after: Option<Timestamp>,
    pub login_hint: Option<String>,
    /// The browser's flow key: only the browser that started the request may finish it.
    pub browser_key: String,
}

/// The browser as the transport sees it.
pub struct Browser {
    pub session: Option<ActiveSession>,
    pub browser_key: String,
    pub client: ClientInfo,
    /// `scheme://host`, for the issuer.
    pub base_url: String,
    /// The brand's authentication flow, where a browser without a session signs in.
    pub login_flow: String,
}

/// What the transport does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Send the browser there (the client with a code or an error, a sign-in or a flow).
    Redirect(String),
    /// The user may not use the application: a page, with a link that tells the client.
    Denied {
        message: String,
        back_to_client: Option<String>,
    },
    /// The request cannot be answered to the client (bad client or redirect URI).
    Invalid(String),
}

/// The path the browser comes back to while a pending authorization is in progress.
pub fn resume_path(id: &str) -> String {
    format!("/application/o/authorize/?pending={id}")
}
