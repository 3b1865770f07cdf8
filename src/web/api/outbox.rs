//! `admin/outbox/`: the email outbox, so an admin sees what was sent, what is retrying
//! (and why) and what failed for good — an email is never silently lost.

use actix_web::web::{Data, Query};
use actix_web::{HttpResponse, get};
use serde_json::{Value, json};

use crate::model::OutboxEntry;

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate};

const ORDERING: &[&str] = &["created", "next_attempt_at", "status", "to"];

fn render(entry: &OutboxEntry) -> Value {
    let status = if entry.is_retrying() {
        "retrying"
    } else {
        entry.status.as_str()
    };
    json!({
        "pk": entry.id,
        "to": entry.to,
        "subject": entry.subject,
        "status": status,
        "attempts": entry.attempts,
        "next_attempt_at": entry.next_attempt_at.to_rfc3339(),
        "last_error": entry.last_error,
        "created": entry.created.to_rfc3339(),
        "sent_at": entry.sent_at.map(|at| at.to_rfc3339()),
    })
}

#[get("/api/v3/admin/outbox/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.query(ORDERING);
    let page = state.db.read(move |tx| tx.list_outbox(&query)).await?;
    Ok(HttpResponse::Ok().json(paginate(&params, &page, render)))
}
