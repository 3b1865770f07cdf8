//! `/static/...`: CSS, scripts and icons embedded in the binary.

use actix_web::web::Path;
use actix_web::{HttpResponse, get};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/static/"]
struct StaticAssets;

#[get("/static/{path:.*}")]
pub async fn asset(path: Path<String>) -> HttpResponse {
    let path = path.into_inner();
    match StaticAssets::get(&path) {
        Some(file) => HttpResponse::Ok()
            .content_type(file.metadata.mimetype())
            .insert_header(("Cache-Control", "public, max-age=3600"))
            .body(file.data.into_owned()),
        None => HttpResponse::NotFound().finish(),
    }
}
