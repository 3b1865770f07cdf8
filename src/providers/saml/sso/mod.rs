//! Web Browser SSO (SAML profiles §4.1). A request (or an IdP-initiated start) is checked
//! and parked in the Kv as a pending sign-in bound to the browser; the browser signs in
//! (the brand's authentication flow) and runs the provider's authorization flow as
//! needed, coming back to `resume` each time, until a Response can be sent. Whatever is
//! wrong with the request itself is shown on a page; only once the ACS URL is known to be
//! the configured one do errors travel to the SP as SAML status codes.

mod answer;
mod resume;
mod start;

use serde::{Deserialize, Serialize};

use crate::model::{ProviderId, Timestamp};
use crate::session::{ActiveSession, ClientInfo};

use super::deliver::Delivery;

pub use answer::{saml_application, session_index, signing_material};
pub use resume::resume;
pub use start::{start_idp_initiated, start_sp_initiated};

/// A pending sign-in waits this long for the user.
const PENDING_TTL_SECS: u64 = 1800;
/// How old an AuthnRequest may be, and how far in the future (clock skew).
const REQUEST_MAX_AGE_SECS: i64 = 600;
const REQUEST_MAX_SKEW_SECS: i64 = 180;

/// A checked request, parked while the browser signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSso {
    pub app_slug: String,
    pub provider: ProviderId,
    /// The AuthnRequest's ID; `None` for IdP-initiated sign-ins.
    pub request_id: Option<String>,
    pub relay_state: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id_format: Option<String>,
    pub created: Timestamp,
    /// Only the browser that started the sign-in may finish it.
    pub browser_key: String,
}

/// The browser as the transport sees it.
pub struct Browser {
    pub session: Option<ActiveSession>,
    pub browser_key: String,
    pub client: ClientInfo,
    /// `scheme://host`.
    pub base_url: String,
    /// The brand's authentication flow, where a browser without a session signs in.
    pub login_flow: String,
}

/// What the transport does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send the browser to a gatehouse page (sign-in, a flow).
    Redirect(String),
    /// Hand the SP its Response (success or a SAML error status).
    Deliver(Delivery),
    /// The request cannot be answered to the SP: a page saying why.
    Invalid(String),
}

/// Where the browser comes back to while a sign-in is pending.
pub fn resume_path(slug: &str, id: &str) -> String {
    format!("/application/saml/{slug}/sso/binding/redirect/?pending={id}")
}
