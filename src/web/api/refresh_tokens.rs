//! `oauth2/refresh_tokens/`, in authentik's `TokenModel` shape: the refresh tokens handed
//! to OAuth clients. Users see and revoke their own; superusers everyone's (others'
//! tokens look absent). authentik's integer pk is the first 52 bits of the token's hash;
//! the hash itself is never shown. A token used up by rotation shows as revoked, as
//! authentik marks it.
//!
//! Deleting a token revokes its whole family (every refresh token of the grant, and
//! through the provider's revocation marker the family's access tokens), as the
//! revocation endpoint does; the revoked tokens stay listed until the expiry purge.

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, delete, get};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{EventAction, ProviderId, RefreshToken, Timestamp, UserId};
use crate::providers::oauth2::grants::revoke_grant;
use crate::store::{Page, ReadTx, RefreshTokenFilter, StoreResult};

use super::super::error::ApiError;
use super::super::extract::ApiCaller;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate};
use super::providers::render_oauth2;

const ORDERING: &[&str] = &["created", "expires", "provider"];

/// `user` and `provider` filters beside the list parameters (both integer pks).
#[derive(Debug, Default, Deserialize)]
pub struct RefreshTokenListParams {
    user: Option<i64>,
    provider: Option<i64>,
}

/// A token with its owner rendered (what needs the store); the provider comes from the
/// catalog afterwards.
struct Loaded {
    token: RefreshToken,
    owner: Value,
}

fn load(tx: &dyn ReadTx, token: RefreshToken) -> StoreResult<Loaded> {
    let owner = match tx.user_by_id(token.user)? {
        Some(owner) => super::users::render(tx, &owner)?,
        None => Value::Null,
    };
    Ok(Loaded { token, owner })
}

fn render(state: &AppState, caller: &ApiCaller, loaded: &Loaded, now: Timestamp) -> Value {
    let catalog = state.catalog.load();
    let token = &loaded.token;
    let mut provider = catalog
        .provider(token.provider)
        .map_or(Value::Null, |provider| {
            render_oauth2(state, &catalog, provider)
        });
    // The client secret is for admins; a user looking at their own grants has no use
    // for it.
    if !caller.is_superuser
        && let Some(secret) = provider.get_mut("client_secret")
    {
        *secret = json!("");
    }
    json!({
        "pk": token.api_pk(),
        "provider": provider,
        "user": loaded.owner,
        "is_expired": token.expires <= now,
        "expires": token.expires.to_rfc3339(),
        "scope": token.scopes,
        "id_token": "",
        "revoked": token.revoked || token.used,
    })
}

#[get("/api/v3/oauth2/refresh_tokens/")]
pub async fn list(
    state: Data<AppState>,
    caller: ApiCaller,
    params: Query<ListParams>,
    filter: Query<RefreshTokenListParams>,
) -> Result<HttpResponse, ApiError> {
    let requested = filter.user.map(UserId);
    let user = if caller.is_superuser {
        requested
    } else if requested.is_none_or(|user| user == caller.user.id) {
        Some(caller.user.id)
    } else {
        // Someone else's tokens: none that this caller may see.
        let empty: Page<Value> = Page {
            items: Vec::new(),
            total: 0,
        };
        return Ok(HttpResponse::Ok().json(paginate(&params, &empty, Clone::clone)));
    };
    let filter = RefreshTokenFilter {
        user,
        provider: filter.provider.map(ProviderId),
    };
    let query = params.query(ORDERING);
    let (total, loaded) = state
        .db
        .read(move |tx| {
            let page = tx.list_refresh_tokens(&query, filter)?;
            let loaded = page
                .items
                .into_iter()
                .map(|token| load(tx, token))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((page.total, loaded))
        })
        .await?;
    let now = state.clock.now();
    let page = Page {
        items: loaded,
        total,
    };
    let body = paginate(&params, &page, |loaded| {
        render(&state, &caller, loaded, now)
    });
    Ok(HttpResponse::Ok().json(body))
}

/// The token with this API id if the caller may see it.
async fn visible_token(
    state: &AppState,
    caller: &ApiCaller,
    api_pk: i64,
) -> Result<Loaded, ApiError> {
    let prefix = RefreshToken::hash_prefix_of(api_pk).ok_or(ApiError::NotFound)?;
    let (me, everyone) = (caller.user.id, caller.is_superuser);
    state
        .db
        .read(move |tx| {
            let found = tx
                .refresh_tokens_by_hash_prefix(&prefix)?
                .into_iter()
                .find(|token| everyone || token.user == me);
            found.map(|token| load(tx, token)).transpose()
        })
        .await?
        .ok_or(ApiError::NotFound)
}

#[get("/api/v3/oauth2/refresh_tokens/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    caller: ApiCaller,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let loaded = visible_token(&state, &caller, id.into_inner()).await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(render(&state, &caller, &loaded, now)))
}

#[delete("/api/v3/oauth2/refresh_tokens/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    caller: ApiCaller,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let api_pk = id.into_inner();
    let token = visible_token(&state, &caller, api_pk).await?.token;
    let catalog = state.catalog.load();
    let Some(oauth) = catalog
        .provider(token.provider)
        .and_then(|provider| provider.oauth2())
    else {
        // The provider is gone, and its tokens went with it.
        return Err(ApiError::NotFound);
    };
    let revoked = revoke_grant(&state.oauth, oauth, token.grant)
        .await
        .map_err(|error| ApiError::Internal(format!("{}: {}", error.code, error.description)))?;
    let application = catalog
        .application_of_provider(token.provider)
        .map(|application| application.slug.clone());
    state
        .audit(
            &caller,
            EventAction::TokenRevoked,
            json!({
                "model": "refresh_token",
                "pk": api_pk,
                "user": token.user,
                "application": application,
                "revoked": revoked,
            }),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}
