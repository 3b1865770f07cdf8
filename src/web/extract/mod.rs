//! Request extractors. Authorization is a type: a handler that takes `PageUser`,
//! `ApiCaller` or `ApiAdmin` cannot run without the check having passed.

mod api_auth;
mod client;
mod session;

pub use api_auth::{ApiAdmin, ApiCaller};
pub use client::ClientMeta;
pub use session::{MaybeSession, PageUser, SESSION_COOKIE, load_session, url_encode};

use actix_web::HttpRequest;
use actix_web::web::Data;

use super::state::AppState;

/// The shared state; `app.rs` always registers it, so its absence is a wiring bug that
/// the first request reveals.
pub(crate) fn state_of(request: &HttpRequest) -> Option<Data<AppState>> {
    request.app_data::<Data<AppState>>().cloned()
}
