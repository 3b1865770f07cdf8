//! `admin/version/`: what is running.

use actix_web::{HttpResponse, get};
use serde_json::json;

use super::super::extract::ApiCaller;

#[get("/api/v3/admin/version/")]
pub async fn version(_caller: ApiCaller) -> HttpResponse {
    let current = env!("CARGO_PKG_VERSION");
    HttpResponse::Ok().json(json!({
        "version_current": current,
        "version_latest": current,
        "version_latest_valid": false,
        "build_hash": option_env!("GATEHOUSE_BUILD_HASH").unwrap_or(""),
        "outdated": false,
        "outpost_outdated": false,
    }))
}
