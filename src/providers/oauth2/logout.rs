//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at
//! `/application/o/<slug>/end-session/`. With an `id_token_hint` we issued (expired is
//! fine: it only identifies the client) the session ends at once and the browser goes to
//! the `post_logout_redirect_uri` when that URI is registered for the client; without a
//! hint, the provider's invalidation flow asks and signs out.

use serde::Deserialize;
use serde_json::Value;

use crate::model::FlowDesignation;
use crate::session::ActiveSession;

use super::authorize::append_query;
use super::client::redirect_uri_allowed;
use super::jwt::{self, Kind};
use super::{OAuthError, OAuthServices};

#[derive(Debug, Default, Deserialize)]
pub struct EndSessionParams {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

#[derive(Debug, PartialEq)]
pub enum EndSession {
    /// The session ended; go there.
    Redirect { to: String, ended: bool },
    /// A page explaining what is wrong.
    Invalid(String),
}

pub async fn end_session(
    services: &OAuthServices,
    app_slug: &str,
    params: &EndSessionParams,
    session: Option<&ActiveSession>,
) -> EndSession {
    let catalog = services.catalog.load();
    let Some(provider) = catalog
        .application(app_slug)
        .and_then(|app| app.provider)
        .and_then(|id| catalog.provider(id))
    else {
        return EndSession::Invalid("This application has no OpenID provider.".into());
    };
    let Some(oauth) = provider.oauth2() else {
        return EndSession::Invalid("This application has no OpenID provider.".into());
    };
    let hint_ok = params.id_token_hint.as_deref().is_some_and(|hint| {
        jwt::verify(
            &catalog,
            &services.secret_box,
            hint,
            Kind::Id,
            services.clock.now(),
            true,
        )
        .is_ok_and(|verified| {
            verified.client_id == oauth.client_id
                && verified.claims.get("aud").and_then(Value::as_str) == Some(&oauth.client_id)
        })
    });
    if params.id_token_hint.is_some() && !hint_ok {
        return EndSession::Invalid(
            "The id_token_hint is not a token this provider issued.".into(),
        );
    }
    if let Some(client_id) = params.client_id.as_deref() {
        if client_id != oauth.client_id {
            return EndSession::Invalid("The client_id does not match this application.".into());
        }
    }
    let post_logout = params
        .post_logout_redirect_uri
        .as_deref()
        .filter(|uri| !uri.is_empty());
    if let Some(uri) = post_logout {
        if !redirect_uri_allowed(oauth, uri) {
            return EndSession::Invalid(
                "The post_logout_redirect_uri is not registered for this client.".into(),
            );
        }
    }
    if !hint_ok {
        // Nothing proves the client asked: let the user decide in the invalidation flow.
        let flow = provider
            .invalidation_flow
            .and_then(|id| catalog.flow_by_id(id))
            .or_else(|| catalog.default_flow(FlowDesignation::Invalidation));
        return match flow {
            Some(flow) => EndSession::Redirect {
                to: format!("/if/flow/{}/", flow.slug),
                ended: false,
            },
            None => EndSession::Invalid("No invalidation flow is configured.".into()),
        };
    }
    let mut ended = false;
    if let Some(session) = session {
        ended = services
            .sessions
            .revoke_digest(&session.digest)
            .unwrap_or(false);
        let user_id = session.record.user;
        if let Ok(Some(user)) = services.db.read(move |tx| tx.user_by_id(user_id)).await {
            services
                .events
                .record(
                    crate::model::EventAction::Logout,
                    Some(&user),
                    None,
                    serde_json::json!({"application": app_slug, "via": "end_session"}),
                )
                .await;
        }
    }
    let to = match post_logout {
        Some(uri) => match params.state.as_deref() {
            Some(state) => append_query(uri, &[("state", state)]),
            None => uri.to_owned(),
        },
        None => "/".to_owned(),
    };
    EndSession::Redirect { to, ended }
}

impl From<OAuthError> for EndSession {
    fn from(error: OAuthError) -> EndSession {
        EndSession::Invalid(error.description)
    }
}
