//! The SAML wire: `/application/saml/<slug>/...` routes that hand the engine
//! (`providers::saml`) what the browser sent and turn its outcomes into redirects, the
//! auto-submitting form of the POST binding, metadata documents and pages.

use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Data, Path, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, get, post};
use serde::Deserialize;
use serde_json::json;

use crate::providers::saml::deliver::Delivery;
use crate::providers::saml::request::{Incoming, query_parameter};
use crate::providers::saml::slo::{self, LogoutOutcome};
use crate::providers::saml::sso::{self, Browser, Outcome};
use crate::providers::saml::{SamlServices, metadata};

use super::extract::{ClientMeta, SESSION_COOKIE, load_session};
use super::flow_http::{FlowParams, base_cookie, flow_call};
use super::oauth::message_page;
use super::state::AppState;

pub fn routes(config: &mut ServiceConfig) {
    config
        .service(metadata_document)
        .service(sso_redirect)
        .service(sso_post)
        .service(sso_init)
        .service(slo_redirect)
        .service(slo_post);
}

pub fn services(state: &AppState) -> SamlServices {
    SamlServices {
        db: state.db.clone(),
        ephemeral: state.ephemeral.clone(),
        catalog: state.catalog.clone(),
        secret_box: state.secret_box.clone(),
        policies: state.policies.clone(),
        events: state.events.clone(),
        sessions: state.sessions.clone(),
        flows: state.flows.clone(),
        clock: state.clock.clone(),
        subject_key: state.oauth.subject_key,
    }
}

/// The IdP metadata XML of an application, or `None` when it has no SAML provider.
pub fn metadata_xml(state: &AppState, base_url: &str, slug: &str) -> Option<String> {
    let services = services(state);
    let catalog = state.catalog.load();
    let (_, _, saml) = sso::saml_application(&catalog, slug).ok()?;
    let material = sso::signing_material(&catalog, &services, &saml);
    let der = material.as_ref().map(|(_, der)| der.as_slice());
    Some(metadata::idp_metadata(base_url, slug, &saml, der).to_document())
}

/// An XML document, as a file when `?download` is in the query.
pub fn xml_response(http: &HttpRequest, slug: &str, xml: String) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.content_type("application/samlmetadata+xml");
    let download = http
        .query_string()
        .split('&')
        .any(|pair| pair == "download" || pair.starts_with("download="));
    if download {
        response.insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{slug}_gatehouse_meta.xml\""),
        ));
    }
    response.body(xml)
}

#[get("/application/saml/{slug}/metadata/")]
async fn metadata_document(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
) -> HttpResponse {
    let base = ClientMeta::of(&http).base_url();
    match metadata_xml(&state, &base, &slug) {
        Some(xml) => xml_response(&http, &slug, xml),
        None => invalid_page(&state, &http, "This application does not use SAML."),
    }
}

fn invalid_page(state: &AppState, http: &HttpRequest, message: &str) -> HttpResponse {
    message_page(
        state,
        http,
        StatusCode::BAD_REQUEST,
        "This SAML request cannot be completed",
        message,
        None,
    )
}

/// The browser: its session, flow key and address.
fn browser(
    state: &AppState,
    http: &HttpRequest,
) -> (Browser, Option<actix_web::cookie::Cookie<'static>>) {
    let call = flow_call(http, String::new(), &FlowParams::default());
    let brand = super::brand::brand_of(state, http);
    let browser = Browser {
        session: call.request.session.clone(),
        browser_key: call.request.browser_key.clone(),
        client: call.request.client.clone(),
        base_url: call.client.base_url(),
        login_flow: super::brand::authentication_flow(&brand),
    };
    (browser, call.new_flow_cookie)
}

/// The POST binding's page: a form the script submits at once, with a visible button
/// for browsers without scripts. The form may post only to the SP's origin.
fn post_page(state: &AppState, http: &HttpRequest, delivery: &Delivery) -> HttpResponse {
    let Delivery::Post {
        url,
        field,
        message,
        relay_state,
    } = delivery
    else {
        return invalid_page(state, http, "Nothing to send.");
    };
    let origin = url::Url::parse(url)
        .map(|parsed| parsed.origin().ascii_serialization())
        .unwrap_or_default();
    let brand = super::brand::page_context(&super::brand::brand_of(state, http));
    let body = state.templates.render(
        "saml_post.html",
        json!({
            "title": "Continuing to the application",
            "explanation": "Sending you back to the application. Continue if nothing happens.",
            "action": url,
            "field": field,
            "message": message,
            "relay_state": relay_state,
            "brand": brand,
        }),
    );
    let Ok(body) = body else {
        return invalid_page(state, http, "The page could not be rendered.");
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Security-Policy",
            format!(
                "default-src 'self'; img-src 'self' data: https:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self' {origin}"
            ),
        ))
        .body(body)
}

fn answer(state: &AppState, http: &HttpRequest, outcome: Outcome) -> HttpResponse {
    match outcome {
        Outcome::Redirect(to) | Outcome::Deliver(Delivery::Redirect(to)) => HttpResponse::Found()
            .insert_header(("Location", to))
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Outcome::Deliver(delivery) => post_page(state, http, &delivery),
        Outcome::Invalid(message) => invalid_page(state, http, &message),
    }
}

#[derive(Debug, Default, Deserialize)]
struct Pending {
    pending: Option<String>,
}

#[get("/application/saml/{slug}/sso/binding/redirect/")]
async fn sso_redirect(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
) -> HttpResponse {
    let services = services(&state);
    let (browser, cookie) = browser(&state, &http);
    let raw_query = http.query_string();
    let resume: Pending = serde_urlencoded::from_str(raw_query).unwrap_or_default();
    let outcome = match resume.pending.as_deref() {
        Some(id) if query_parameter(raw_query, "SAMLRequest").is_none() => {
            sso::resume(&services, id, &browser).await
        }
        _ => match sso::start_sp_initiated(
            &services,
            &slug,
            Incoming::Redirect { raw_query },
            "redirect",
            &browser,
        ) {
            Ok(id) => sso::resume(&services, &id, &browser).await,
            Err(outcome) => outcome,
        },
    };
    with_cookie(answer(&state, &http, outcome), cookie)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PostedMessage {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    relay_state: Option<String>,
}

#[post("/application/saml/{slug}/sso/binding/post/")]
async fn sso_post(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let services = services(&state);
    let (browser, cookie) = browser(&state, &http);
    let form: PostedMessage = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let Some(message) = form.saml_request.as_deref() else {
        return with_cookie(
            invalid_page(&state, &http, "The request carries no SAML message."),
            cookie,
        );
    };
    let incoming = Incoming::Post {
        message,
        relay_state: form.relay_state.as_deref(),
    };
    let outcome = match sso::start_sp_initiated(&services, &slug, incoming, "post", &browser) {
        Ok(id) => sso::resume(&services, &id, &browser).await,
        Err(outcome) => outcome,
    };
    with_cookie(answer(&state, &http, outcome), cookie)
}

#[get("/application/saml/{slug}/sso/binding/init/")]
async fn sso_init(state: Data<AppState>, http: HttpRequest, slug: Path<String>) -> HttpResponse {
    let services = services(&state);
    let (browser, cookie) = browser(&state, &http);
    let outcome = match sso::start_idp_initiated(&services, &slug, &browser) {
        Ok(id) => sso::resume(&services, &id, &browser).await,
        Err(outcome) => outcome,
    };
    with_cookie(answer(&state, &http, outcome), cookie)
}

fn with_cookie(
    mut response: HttpResponse,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

async fn logout(
    state: &AppState,
    http: &HttpRequest,
    slug: &str,
    incoming: Incoming<'_>,
) -> HttpResponse {
    let services = services(state);
    let session = load_session(http);
    let base = ClientMeta::of(http).base_url();
    let (outcome, ended) = slo::logout(&services, slug, incoming, &base, session.as_ref()).await;
    let mut response = match outcome {
        LogoutOutcome::Deliver(delivery) => answer(state, http, Outcome::Deliver(delivery)),
        LogoutOutcome::SignedOut => message_page(
            state,
            http,
            StatusCode::OK,
            "Signed out",
            "You have been signed out.",
            Some(("/", "Go to the start page")),
        ),
        LogoutOutcome::Invalid(message) => return invalid_page(state, http, &message),
    };
    if ended {
        let https = ClientMeta::of(http).https;
        let mut cookie = base_cookie(
            SESSION_COOKIE,
            String::new(),
            https,
            state.settings.cookie_domain.clone(),
        );
        cookie.make_removal();
        let _ = response.add_cookie(&cookie);
    }
    response
}

#[get("/application/saml/{slug}/slo/binding/redirect/")]
async fn slo_redirect(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
) -> HttpResponse {
    let raw_query = http.query_string().to_owned();
    logout(
        &state,
        &http,
        &slug,
        Incoming::Redirect {
            raw_query: &raw_query,
        },
    )
    .await
}

#[post("/application/saml/{slug}/slo/binding/post/")]
async fn slo_post(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let form: PostedMessage = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let Some(message) = form.saml_request.as_deref() else {
        return invalid_page(&state, &http, "The request carries no SAML message.");
    };
    let incoming = Incoming::Post {
        message,
        relay_state: form.relay_state.as_deref(),
    };
    logout(&state, &http, &slug, incoming).await
}
