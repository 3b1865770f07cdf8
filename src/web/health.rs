//! `/-/health/live/` (the process answers) and `/-/health/ready/` (storage answers and
//! the background worker still ticks).

use actix_web::web::Data;
use actix_web::{HttpResponse, get};

use super::state::AppState;

#[get("/-/health/live/")]
pub async fn live() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

#[get("/-/health/ready/")]
pub async fn ready(state: Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let kv_ok = state.ephemeral.kv().get("health", "probe", now).is_ok();
    if state.worker.stalled() {
        tracing::warn!(
            silent_secs = state.worker.age().as_secs(),
            "readiness: the background worker stopped ticking"
        );
        return HttpResponse::ServiceUnavailable().finish();
    }
    match (state.db.check_health().await, kv_ok) {
        (Ok(()), true) => HttpResponse::NoContent().finish(),
        (Err(error), _) => {
            tracing::warn!(%error, "readiness: store unavailable");
            HttpResponse::ServiceUnavailable().finish()
        }
        (_, false) => HttpResponse::ServiceUnavailable().finish(),
    }
}
