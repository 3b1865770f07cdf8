//! `core/user_consent/`, in authentik's `UserConsent` shape: the consents users gave
//! applications. Users see and withdraw their own; superusers everyone's (others' look
//! absent). authentik's integer pk is the first 48 bits of the consent's UUID. Withdrawn,
//! a consent is asked for again at the application's next authorization.

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, delete, get};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::model::{Consent, EventAction, UserId};
use crate::store::{Catalog, ConsentFilter, Page, ReadTx, StoreResult};

use super::super::error::ApiError;
use super::super::extract::ApiCaller;
use super::super::state::AppState;
use super::applications;
use super::pagination::{ListParams, paginate};

const ORDERING: &[&str] = &["application", "expires"];

/// `user` (integer pk) and `application` (UUID) filters beside the list parameters.
#[derive(Debug, Default, Deserialize)]
pub struct ConsentListParams {
    user: Option<i64>,
    application: Option<Uuid>,
}

/// A consent with its user rendered (what needs the store); the application comes from
/// the catalog afterwards.
struct Loaded {
    consent: Consent,
    user: Value,
}

fn load(tx: &dyn ReadTx, consent: Consent) -> StoreResult<Loaded> {
    let user = match tx.user_by_id(consent.user)? {
        Some(user) => super::users::render(tx, &user)?,
        None => Value::Null,
    };
    Ok(Loaded { consent, user })
}

fn render(catalog: &Catalog, loaded: &Loaded) -> Value {
    let consent = &loaded.consent;
    let application = catalog
        .application_by_id(consent.application)
        .map_or(Value::Null, |application| {
            applications::render(catalog, application)
        });
    json!({
        "pk": consent.api_pk(),
        "expires": consent.expires.map(|at| at.to_rfc3339()),
        "expiring": consent.expires.is_some(),
        "user": loaded.user,
        "application": application,
        // authentik keeps the agreed scopes as one space-separated string.
        "permissions": consent.permissions.join(" "),
    })
}

#[get("/api/v3/core/user_consent/")]
pub async fn list(
    state: Data<AppState>,
    caller: ApiCaller,
    params: Query<ListParams>,
    filter: Query<ConsentListParams>,
) -> Result<HttpResponse, ApiError> {
    let requested = filter.user.map(UserId);
    let user = if caller.is_superuser {
        requested
    } else if requested.is_none_or(|user| user == caller.user.id) {
        Some(caller.user.id)
    } else {
        // Someone else's consents: none that this caller may see.
        let empty: Page<Value> = Page {
            items: Vec::new(),
            total: 0,
        };
        return Ok(HttpResponse::Ok().json(paginate(&params, &empty, Clone::clone)));
    };
    let filter = ConsentFilter {
        user,
        application: filter.application,
    };
    let query = params.query(ORDERING);
    let (total, loaded) = state
        .db
        .read(move |tx| {
            let page = tx.list_consents(&query, filter)?;
            let loaded = page
                .items
                .into_iter()
                .map(|consent| load(tx, consent))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((page.total, loaded))
        })
        .await?;
    let catalog = state.catalog.load();
    let page = Page {
        items: loaded,
        total,
    };
    let body = paginate(&params, &page, |loaded| render(&catalog, loaded));
    Ok(HttpResponse::Ok().json(body))
}

/// The consent with this API id if the caller may see it.
async fn visible_consent(
    state: &AppState,
    caller: &ApiCaller,
    api_pk: i64,
) -> Result<Loaded, ApiError> {
    let prefix = Consent::id_prefix_of(api_pk).ok_or(ApiError::NotFound)?;
    let (me, everyone) = (caller.user.id, caller.is_superuser);
    state
        .db
        .read(move |tx| {
            let found = tx
                .consents_by_id_prefix(&prefix)?
                .into_iter()
                .find(|consent| everyone || consent.user == me);
            found.map(|consent| load(tx, consent)).transpose()
        })
        .await?
        .ok_or(ApiError::NotFound)
}

#[get("/api/v3/core/user_consent/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    caller: ApiCaller,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let loaded = visible_consent(&state, &caller, id.into_inner()).await?;
    let catalog = state.catalog.load();
    Ok(HttpResponse::Ok().json(render(&catalog, &loaded)))
}

#[delete("/api/v3/core/user_consent/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    caller: ApiCaller,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let api_pk = id.into_inner();
    let consent = visible_consent(&state, &caller, api_pk).await?.consent;
    let id = consent.id;
    state.db.write(move |tx| tx.delete_consent(id)).await?;
    let catalog = state.catalog.load();
    let application = catalog
        .application_by_id(consent.application)
        .map(|application| application.slug.clone());
    state
        .audit(
            &caller,
            EventAction::ModelDeleted,
            json!({
                "model": "user_consent",
                "pk": api_pk,
                "user": consent.user,
                "application": application,
                "permissions": consent.permissions,
            }),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}
