//! The metrics listener: `GET /metrics` and nothing else, on its own port, one worker.

use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn exposition() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(OPENMETRICS)
        .body(super::global().render())
}

/// Binds `addr` and serves until the returned handle is stopped.
pub fn start(addr: SocketAddr) -> anyhow::Result<(SocketAddr, ServerHandle)> {
    let server = HttpServer::new(|| App::new().route("/metrics", web::get().to(exposition)))
        .workers(1)
        .disable_signals()
        .bind(addr)
        .with_context(|| format!("listening on {addr} (listen.metrics)"))?;
    let bound = server
        .addrs()
        .first()
        .copied()
        .context("the metrics listener has no address")?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((bound, handle))
}
