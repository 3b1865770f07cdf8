//! `/application/o/authorize/` (GET and POST, OIDC Core §3.1.2.1): starts or resumes an
//! authorization and answers with a redirect, or with a page when the client cannot be
//! told (unknown client, unregistered redirect URI) or the user is refused.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};
use serde::Deserialize;

use crate::providers::oauth2::authorize::{self, AuthorizeParams, Browser, Outcome};

use super::super::flow_http::{FlowParams, flow_call};
use super::super::state::AppState;
use super::message_page;

#[derive(Debug, Default, Deserialize)]
pub struct Resume {
    pending: Option<String>,
}

#[get("/application/o/authorize/")]
pub async fn authorize_get(
    state: Data<AppState>,
    http: HttpRequest,
    params: Query<AuthorizeParams>,
    resume: Query<Resume>,
) -> HttpResponse {
    handle(&state, &http, params.into_inner(), resume.into_inner()).await
}

#[post("/application/o/authorize/")]
pub async fn authorize_post(
    state: Data<AppState>,
    http: HttpRequest,
    body: actix_web::web::Bytes,
) -> HttpResponse {
    let params: AuthorizeParams = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    handle(&state, &http, params, Resume::default()).await
}

async fn handle(
    state: &AppState,
    http: &HttpRequest,
    params: AuthorizeParams,
    resume: Resume,
) -> HttpResponse {
    // The flow cookie identifies the browser, as for flows.
    let call = flow_call(http, String::new(), &FlowParams::default());
    let brand = super::super::brand::brand_of(state, http);
    let browser = Browser {
        session: call.request.session.clone(),
        browser_key: call.request.browser_key.clone(),
        client: call.request.client.clone(),
        base_url: super::base_url(http),
        login_flow: super::super::brand::authentication_flow(&brand),
    };
    let outcome = match resume.pending.as_deref() {
        Some(id) => authorize::resume(&state.oauth, id, &browser).await,
        None => match authorize::start(&state.oauth, &params, &browser) {
            Ok(id) => authorize::resume(&state.oauth, &id, &browser).await,
            Err(outcome) => outcome,
        },
    };
    let mut response = match outcome {
        Outcome::Redirect(to) => {
            let mut response = HttpResponse::Found();
            response.insert_header(("Location", to));
            response.insert_header(("Cache-Control", "no-store"));
            response.finish()
        }
        Outcome::Denied {
            message,
            back_to_client,
        } => message_page(
            state,
            http,
            StatusCode::FORBIDDEN,
            "Access denied",
            &message,
            back_to_client
                .as_deref()
                .map(|href| (href, "Return to the application")),
        ),
        Outcome::Invalid(message) => message_page(
            state,
            http,
            StatusCode::BAD_REQUEST,
            "This sign-in request cannot be completed",
            &message,
            None,
        ),
    };
    if let Some(cookie) = call.new_flow_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}
