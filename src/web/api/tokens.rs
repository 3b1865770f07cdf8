//! `core/tokens/`: API tokens and app passwords. Users manage their own; superusers see
//! and manage everyone's. The key is shown at creation and through `view_key/` (which is
//! audited as a secret view).

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpResponse, delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::directory::tokens::{TokenDraft, build_token, generate_key, valid_identifier};
use crate::model::{EventAction, Timestamp, Token, TokenIntent, UserId};
use crate::store::{ReadTx, StoreError, StoreResult};

use super::super::error::ApiError;
use super::super::extract::ApiCaller;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate};
use super::serialize;

const ORDERING: &[&str] = &["identifier", "expires", "created"];
/// authentik's default lifetime for an expiring token created without `expires`.
const DEFAULT_LIFETIME_SECS: u64 = 30 * 60;

fn render(tx: &dyn ReadTx, token: &Token) -> StoreResult<Value> {
    let owner = match tx.user_by_id(token.user)? {
        Some(owner) => Some(super::users::render(tx, &owner)?),
        None => None,
    };
    Ok(serialize::token(token, owner))
}

#[get("/api/v3/core/tokens/")]
pub async fn list(
    state: Data<AppState>,
    caller: ApiCaller,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.query(ORDERING);
    let owner = (!caller.is_superuser).then_some(caller.user.id);
    let (page, rendered) = state
        .db
        .read(move |tx| {
            let page = tx.list_tokens(&query, owner)?;
            let rendered = page
                .items
                .iter()
                .map(|token| render(tx, token))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((page, rendered))
        })
        .await?;
    let mut rendered = rendered.into_iter();
    let body = paginate(&params, &page, |_| rendered.next().unwrap_or(Value::Null));
    Ok(HttpResponse::Ok().json(body))
}

/// The token if the caller may see it; others' tokens look absent to non-superusers.
async fn visible_token(
    state: &AppState,
    caller: &ApiCaller,
    identifier: String,
) -> Result<Token, ApiError> {
    let token = state
        .db
        .read(move |tx| tx.token_by_identifier(&identifier))
        .await?
        .ok_or(ApiError::NotFound)?;
    if caller.is_superuser || token.user == caller.user.id {
        Ok(token)
    } else {
        Err(ApiError::NotFound)
    }
}

#[get("/api/v3/core/tokens/{identifier}/")]
pub async fn retrieve(
    state: Data<AppState>,
    caller: ApiCaller,
    identifier: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = visible_token(&state, &caller, identifier.into_inner()).await?;
    let body = state.db.read(move |tx| render(tx, &token)).await?;
    Ok(HttpResponse::Ok().json(body))
}

#[get("/api/v3/core/tokens/{identifier}/view_key/")]
pub async fn view_key(
    state: Data<AppState>,
    caller: ApiCaller,
    identifier: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = visible_token(&state, &caller, identifier.into_inner()).await?;
    let key = state.secret_box.open(&token.key_sealed).ok_or_else(|| {
        ApiError::Internal("token key cannot be unsealed (secret key changed?)".into())
    })?;
    state
        .audit(
            &caller,
            EventAction::SecretView,
            json!({"token": token.identifier}),
        )
        .await;
    Ok(HttpResponse::Ok().json(json!({"key": key})))
}

#[derive(Debug, Deserialize)]
pub struct TokenInput {
    identifier: Option<String>,
    intent: Option<String>,
    user: Option<UserId>,
    description: Option<String>,
    expires: Option<String>,
    expiring: Option<bool>,
}

#[post("/api/v3/core/tokens/")]
pub async fn create(
    state: Data<AppState>,
    caller: ApiCaller,
    input: Json<TokenInput>,
) -> Result<HttpResponse, ApiError> {
    let input = input.into_inner();
    let identifier = input.identifier.unwrap_or_default();
    if !valid_identifier(&identifier) {
        return Err(ApiError::field(
            "identifier",
            "Enter 1 to 100 letters, digits, '-', '_' or '.'.",
        ));
    }
    let intent = match input.intent.as_deref() {
        None => TokenIntent::Api,
        Some(raw) => match TokenIntent::parse(raw) {
            Some(intent @ (TokenIntent::Api | TokenIntent::AppPassword)) => intent,
            _ => {
                return Err(ApiError::field(
                    "intent",
                    format!("\"{raw}\" is not a valid choice."),
                ));
            }
        },
    };
    let owner = input.user.unwrap_or(caller.user.id);
    if owner != caller.user.id && !caller.is_superuser {
        return Err(ApiError::Forbidden);
    }
    let now = state.clock.now();
    let expiring = input.expiring.unwrap_or(true);
    let expires = match input.expires.as_deref() {
        Some(text) => Some(Timestamp::parse_rfc3339(text).ok_or_else(|| {
            ApiError::field("expires", "Datetime has wrong format. Use RFC 3339.")
        })?),
        None if expiring => Some(now.plus_secs(DEFAULT_LIFETIME_SECS)),
        None => None,
    };
    let key = generate_key();
    let draft = TokenDraft {
        identifier,
        user: owner,
        intent,
        description: input.description.unwrap_or_default(),
        expires,
        expiring,
        managed: None,
    };
    let token = build_token(draft, &key, &state.secret_box, now);
    let body = state
        .db
        .write(move |tx| {
            if tx.user_by_id(token.user)?.is_none() {
                return Err(StoreError::Conflict("user".into()));
            }
            tx.insert_token(&token)?;
            render(tx, &token)
        })
        .await?;
    state
        .audit(
            &caller,
            EventAction::ModelCreated,
            json!({"model": "token", "identifier": body.get("identifier")}),
        )
        .await;
    Ok(HttpResponse::Created().json(body))
}

#[delete("/api/v3/core/tokens/{identifier}/")]
pub async fn remove(
    state: Data<AppState>,
    caller: ApiCaller,
    identifier: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = visible_token(&state, &caller, identifier.into_inner()).await?;
    let identifier = token.identifier.clone();
    state
        .db
        .write(move |tx| tx.delete_token(&identifier))
        .await?;
    state
        .audit(
            &caller,
            EventAction::ModelDeleted,
            json!({"model": "token", "identifier": token.identifier}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}
