//! `/recovery/use-token/<key>/`: the one-time login link printed by
//! `gatehouse recovery-key` (authentik's `ak create_recovery_key`). The token is deleted
//! on first use.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get};
use serde_json::json;

use crate::crypto::sha256_hex;
use crate::flow::SessionChange;
use crate::model::{EventAction, TokenIntent};

use super::super::error::PageError;
use super::super::extract::ClientMeta;
use super::super::flow_http::{FlowCall, FlowParams, apply_cookies, flow_call};
use super::super::state::AppState;

#[get("/recovery/use-token/{key}/")]
pub async fn use_token(
    state: Data<AppState>,
    http: HttpRequest,
    key: Path<String>,
) -> Result<HttpResponse, PageError> {
    let digest = sha256_hex(key.into_inner().as_bytes());
    let now = state.clock.now();
    let claimed = state
        .db
        .write(move |tx| {
            let Some(token) = tx.token_by_key_digest(&digest)? else {
                return Ok(None);
            };
            if token.intent != TokenIntent::Recovery {
                return Ok(None);
            }
            tx.delete_token(&token.identifier)?;
            if token.is_expired(now) {
                return Ok(None);
            }
            Ok(tx.user_by_id(token.user)?.filter(|user| user.is_active))
        })
        .await?;
    let Some(user) = claimed else {
        return Err(PageError::BadRequest(
            "This recovery link is invalid, expired or was already used.".into(),
        ));
    };
    let client = ClientMeta::of(&http);
    let (token, _) =
        state
            .sessions
            .create(user.id, &client.info(), None, vec!["recovery".into()])?;
    state
        .events
        .record(
            EventAction::Login,
            Some(&user),
            client.info().ip.as_deref(),
            json!({"auth_method": "recovery"}),
        )
        .await;
    let call: FlowCall = flow_call(&http, String::new(), &FlowParams::default());
    let mut response = HttpResponse::Found();
    let change = SessionChange::Started {
        token,
        max_age_secs: None,
    };
    apply_cookies(&mut response, &call, &change, &state);
    Ok(response.insert_header(("Location", "/if/user/")).finish())
}
