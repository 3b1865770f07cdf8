//! The browser session: `MaybeSession` for pages that work either way, `PageUser` for
//! pages that need a signed-in user (others are sent to the login flow and back).

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};

use crate::model::User;
use crate::session::ActiveSession;

use super::state_of;

pub const SESSION_COOKIE: &str = "gatehouse_session";

/// Finds the live session named by the request's cookie. A storage error counts as no
/// session (and is logged): the visitor is asked to sign in again rather than shown a 500.
pub fn load_session(request: &HttpRequest) -> Option<ActiveSession> {
    let cookie = request.cookie(SESSION_COOKIE)?;
    let state = state_of(request)?;
    match state.sessions.lookup(cookie.value()) {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(%error, "session lookup failed");
            None
        }
    }
}

pub struct MaybeSession(pub Option<ActiveSession>);

impl FromRequest for MaybeSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<MaybeSession, actix_web::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(MaybeSession(load_session(request))))
    }
}

/// A signed-in, active user on an HTML page.
pub struct PageUser {
    pub session: ActiveSession,
    pub user: User,
    pub is_superuser: bool,
}

/// Sends the browser to the login flow, returning to `next` afterwards.
#[derive(Debug, thiserror::Error)]
#[error("login required")]
pub struct LoginRequired {
    next: String,
    flow: String,
}

impl ResponseError for LoginRequired {
    fn status_code(&self) -> StatusCode {
        StatusCode::FOUND
    }

    fn error_response(&self) -> HttpResponse {
        let next: String = url_encode(&self.next);
        HttpResponse::Found()
            .insert_header(("Location", format!("/if/flow/{}/?next={next}", self.flow)))
            .finish()
    }
}

pub fn url_encode(text: &str) -> String {
    serde_urlencoded::to_string([("v", text)])
        .map(|encoded| encoded.trim_start_matches("v=").to_owned())
        .unwrap_or_default()
}

impl FromRequest for PageUser {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<PageUser, actix_web::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = load_session(request);
        let state = state_of(request);
        let next = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let flow = state
            .as_ref()
            .map(|state| {
                super::super::brand::authentication_flow(&super::super::brand::brand_of(
                    state, request,
                ))
            })
            .unwrap_or_else(|| "default-authentication-flow".into());
        Box::pin(async move {
            let login = || {
                actix_web::Error::from(LoginRequired {
                    next: next.clone(),
                    flow: flow.clone(),
                })
            };
            let (Some(session), Some(state)) = (session, state) else {
                return Err(login());
            };
            let user_id = session.record.user;
            let found = state
                .db
                .read(move |tx| {
                    let user = tx.user_by_id(user_id)?;
                    let superuser = crate::directory::is_superuser(tx, user_id)?;
                    Ok(user.map(|user| (user, superuser)))
                })
                .await
                .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
            match found {
                Some((user, is_superuser)) if user.is_active => Ok(PageUser {
                    session,
                    user,
                    is_superuser,
                }),
                _ => Err(login()),
            }
        })
    }
}
