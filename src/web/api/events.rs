//! `events/events/`, in authentik's `Event` shape, for superusers: the audit trail, newest
//! first, with authentik's `action` (part of the name), `username` and `client_ip`
//! filters. Events are written by the code that decides, never through this API.
//! gatehouse keeps events without an expiry of their own; `expires` shows authentik's
//! default retention (a year after `created`).

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, get};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::model::Event;
use crate::store::EventFilter;

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate};

const ORDERING: &[&str] = &["created", "action"];
/// authentik's default event retention.
const RETENTION_SECS: u64 = 365 * 24 * 60 * 60;

/// The filters beside the list parameters.
#[derive(Debug, Default, Deserialize)]
pub struct EventListParams {
    action: Option<String>,
    username: Option<String>,
    client_ip: Option<String>,
}

fn render(event: &Event) -> Value {
    let user = event.user.as_ref().map_or_else(
        || json!({}),
        |user| json!({"pk": user.pk, "username": user.username}),
    );
    let action = event.action.authentik_name();
    let mut context = event.context.clone();
    if action != event.action.as_str() {
        if let Value::Object(map) = &mut context {
            map.insert("action".into(), json!(event.action.as_str()));
        }
    }
    json!({
        "pk": event.id,
        "user": user,
        "action": action,
        "app": "gatehouse",
        "context": context,
        "client_ip": event.client_ip,
        "created": event.created.to_rfc3339(),
        "expires": event.created.plus_secs(RETENTION_SECS).to_rfc3339(),
        "brand": {},
    })
}

#[get("/api/v3/events/events/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
    filter: Query<EventListParams>,
) -> Result<HttpResponse, ApiError> {
    let non_empty = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let filter = EventFilter {
        action: non_empty(&filter.action),
        username: non_empty(&filter.username),
        client_ip: non_empty(&filter.client_ip),
    };
    let query = params.query(ORDERING);
    let page = state
        .db
        .read(move |tx| tx.list_events_filtered(&query, &filter))
        .await?;
    Ok(HttpResponse::Ok().json(paginate(&params, &page, render)))
}

#[get("/api/v3/events/events/{event_uuid}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let event = state
        .db
        .read(move |tx| tx.event(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(render(&event)))
}
