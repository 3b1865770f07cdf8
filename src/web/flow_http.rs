//! What both flow renderers share: turning an HTTP request into a `FlowRequest`
//! (browser flow key, session, client, `next` and setup token) and turning the outcome's
//! session change into cookies.

use std::collections::HashMap;

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponseBuilder};
use serde::Deserialize;

use crate::crypto::random_token;
use crate::flow::{FlowRequest, SessionChange};

use super::extract::{ClientMeta, SESSION_COOKIE, load_session};
use super::state::AppState;

pub const FLOW_COOKIE: &str = "gatehouse_flow";

/// Query parameters of a flow URL. The JSON executor carries the page's own query string
/// in `query`, as authentik's does (`?query=next%3D%2Fif%2Fadmin%2F`).
#[derive(Debug, Default, Deserialize)]
pub struct FlowParams {
    pub next: Option<String>,
    pub token: Option<String>,
    pub itoken: Option<String>,
    pub flow_token: Option<String>,
    pub query: Option<String>,
}

/// The flow's own parameters, from the URL or from the executor's `query`.
struct Resolved {
    next: Option<String>,
    setup_token: Option<String>,
    invitation_token: Option<String>,
    flow_token: Option<String>,
}

impl FlowParams {
    fn resolved(&self) -> Resolved {
        let inner: HashMap<String, String> = self
            .query
            .as_deref()
            .and_then(|query| serde_urlencoded::from_str(query).ok())
            .unwrap_or_default();
        let pick =
            |own: &Option<String>, name: &str| own.clone().or_else(|| inner.get(name).cloned());
        Resolved {
            next: pick(&self.next, "next"),
            setup_token: pick(&self.token, "token"),
            invitation_token: pick(&self.itoken, "itoken"),
            flow_token: pick(&self.flow_token, "flow_token"),
        }
    }
}

/// A prepared flow request, and the flow cookie to set when the browser had none.
pub struct FlowCall {
    pub request: FlowRequest,
    pub new_flow_cookie: Option<Cookie<'static>>,
    pub client: ClientMeta,
}

pub fn flow_call(http: &HttpRequest, slug: String, params: &FlowParams) -> FlowCall {
    let client = ClientMeta::of(http);
    let existing = http
        .cookie(FLOW_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| value.len() >= 32 && value.len() <= 64);
    let (browser_key, new_flow_cookie) = match existing {
        Some(key) => (key, None),
        None => {
            let key = random_token(32);
            let mut cookie = base_cookie(FLOW_COOKIE, key.clone(), client.https, None);
            // It names the browser, and outlives a browser restart so that "remember
            // this device" of the MFA validation stage holds as long as configured
            // (400 days: what browsers keep a cookie at most).
            cookie.set_max_age(CookieDuration::days(400));
            (key, Some(cookie))
        }
    };
    let resolved = params.resolved();
    FlowCall {
        request: FlowRequest {
            slug,
            browser_key,
            session: load_session(http),
            client: client.info(),
            next: resolved.next,
            setup_token: resolved.setup_token,
            invitation_token: resolved.invitation_token,
            flow_token: resolved.flow_token,
            base_url: client.base_url(),
            initial_context: serde_json::Map::new(),
            headless: None,
        },
        new_flow_cookie,
        client,
    }
}

pub fn apply_cookies(
    response: &mut HttpResponseBuilder,
    call: &FlowCall,
    change: &SessionChange,
    state: &AppState,
) {
    if let Some(cookie) = &call.new_flow_cookie {
        response.cookie(cookie.clone());
    }
    let domain = state.settings.cookie_domain.clone();
    match change {
        SessionChange::Unchanged => {}
        SessionChange::Started {
            token,
            max_age_secs,
        } => {
            let mut cookie = base_cookie(SESSION_COOKIE, token.clone(), call.client.https, domain);
            if let Some(secs) = max_age_secs {
                cookie.set_max_age(CookieDuration::seconds(
                    i64::try_from(*secs).unwrap_or(i64::MAX),
                ));
            }
            response.cookie(cookie);
        }
        SessionChange::Ended => {
            let mut cookie = base_cookie(SESSION_COOKIE, String::new(), call.client.https, domain);
            cookie.make_removal();
            response.cookie(cookie);
        }
    }
}

/// HttpOnly, SameSite=Lax, path `/`, `Secure` whenever the browser came over HTTPS.
pub fn base_cookie(
    name: &'static str,
    value: String,
    https: bool,
    domain: Option<String>,
) -> Cookie<'static> {
    let mut cookie = Cookie::new(name, value);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_path("/");
    cookie.set_secure(https);
    if let Some(domain) = domain.filter(|domain| !domain.is_empty()) {
        cookie.set_domain(domain);
    }
    cookie
}
