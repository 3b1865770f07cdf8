//! Proxy mode: forwarding an authorized request to the provider's internal host and
//! streaming the answer back, WebSockets included.
//!
//! This file is the wire adapter (actix-web request in, actix-web response out); the
//! pieces below it (`upstream/`) know nothing of actix: the target URL, which headers
//! cross, the bodies, the client and the WebSocket tunnel.
//!
//! Why hyper 1 + hyper-util's pooled ("legacy") client + hyper-rustls, and not awc:
//! - nothing new to build: hyper, hyper-util, hyper-rustls and webpki-roots were all in
//!   Cargo.lock already (reqwest's), so the lock gains no crate; awc would add itself,
//!   h2 0.3 and more. HTTP/1.1 only, on rustls with the `ring` provider (no aws-lc, no
//!   OpenSSL, no h2).
//! - one `Upstreams` for the whole process: hyper's pool is `Send + Sync`, so it lives in
//!   app state and every worker shares its connections; awc's client is `!Send` (one
//!   per worker thread, one pool each).
//! - hyper's client upgrades give the WebSocket handshake for free: the upgrade request
//!   goes through the same connector (TLS, timeouts), a non-101 answer is an ordinary
//!   response to relay, and a 101 hands over the raw connection.
//!
//! The price is converting headers between actix-http's `http` 0.2 types and hyper's
//! `http` 1 types, done here at the edge.

mod body;
mod client;
mod headers;
mod target;
mod tunnel;

use std::time::Duration;

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use self::body::{ResponseChunks, UpstreamBody};
use self::client::{Failure, Pool};
use self::headers::ClientHop;
use self::target::Target;
use self::tunnel::TunnelReader;

/// How long to wait for a TCP connection to the internal host.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the response head once the request has been sent.
pub const RESPONSE_HEAD_TIMEOUT: Duration = Duration::from_secs(60);

/// The upstream connection pools. Built once at startup (held in app state), reused for
/// every request.
pub struct Upstreams {
    /// Certificates checked against the webpki roots.
    verified: Result<Pool, String>,
    /// Any certificate accepted (`internal_host_ssl_validation` off).
    any_certificate: Result<Pool, String>,
    response_head_timeout: Duration,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams")
            .field("verified", &self.verified.is_ok())
            .field("any_certificate", &self.any_certificate.is_ok())
            .field("response_head_timeout", &self.response_head_timeout)
            .finish()
    }
}

impl Default for Upstreams {
    fn default() -> Self {
        Upstreams::new()
    }
}

impl Upstreams {
    /// Pools with the default timeouts ([`CONNECT_TIMEOUT`], [`RESPONSE_HEAD_TIMEOUT`]).
    pub fn new() -> Upstreams {
        Upstreams::with_timeouts(CONNECT_TIMEOUT, RESPONSE_HEAD_TIMEOUT)
    }

    /// Pools with other timeouts: `connect` for the TCP connection, `response_head` for
    /// the wait between the end of the request body and the response head.
    pub fn with_timeouts(connect: Duration, response_head: Duration) -> Upstreams {
        let build = |verify_tls| client::pool(verify_tls, connect).map_err(|err| err.to_string());
        let upstreams = Upstreams {
            verified: build(true),
            any_certificate: build(false),
            response_head_timeout: response_head,
        };
        for error in [&upstreams.verified, &upstreams.any_certificate]
            .into_iter()
            .filter_map(|pool| pool.as_ref().err())
        {
            tracing::error!(%error, "proxy: cannot set up TLS for upstream connections");
        }
        upstreams
    }

    /// Forwards `request` (and its body `payload`, streamed, never buffered whole) to
    /// `internal_host` (`scheme://host[:port][/base-path]`); adds `extra_headers` (they
    /// replace same-named headers the client sent); returns the upstream's response
    /// streamed back.
    ///
    /// What the upstream sees: the request path and query appended to the base path;
    /// method, headers and body as sent, less the hop-by-hop headers (`Upgrade` stays for
    /// a WebSocket upgrade), less any `X-authentik-*` the client sent (only
    /// `extra_headers` can set those); `Host` is the internal host's;
    /// `X-Forwarded-For` gets the direct peer's address appended, `X-Forwarded-Proto` and
    /// `X-Forwarded-Host` describe the client's connection to this server. Behind a
    /// trusted reverse proxy, pass the client's real values in `extra_headers` instead.
    ///
    /// A WebSocket upgrade that the upstream accepts (101) becomes a tunnel: the 101 and
    /// then raw bytes both ways until either side closes. Failures answer a small HTML
    /// page: 502 when the internal host is unreachable or answers nonsense, 504 when it
    /// sends no response head in time.
    pub async fn forward(
        &self,
        internal_host: &str,
        verify_tls: bool,
        request: &HttpRequest,
        payload: web::Payload,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) -> HttpResponse {
        let target = match Target::parse(internal_host) {
            Ok(target) => target,
            Err(err) => {
                tracing::warn!(internal_host, error = %err, "proxy: unusable internal host");
                return gateway_page(Failure::Misconfigured, internal_host);
            }
        };
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |path_and_query| path_and_query.as_str());
        let uri = match target.uri_for(path_and_query) {
            Ok(uri) => uri,
            Err(err) => {
                tracing::warn!(internal_host, error = %err, "proxy: cannot build the upstream URL");
                return gateway_page(Failure::Misconfigured, internal_host);
            }
        };
        let pool = match (verify_tls, &self.verified, &self.any_certificate) {
            (true, Ok(pool), _) | (false, _, Ok(pool)) => pool,
            _ => return gateway_page(Failure::Misconfigured, internal_host),
        };

        let incoming = to_upstream_headers(request.headers());
        let websocket = headers::is_websocket_upgrade(&incoming);
        let client = ClientHop {
            ip: request.peer_addr().map(|addr| addr.ip()),
            https: request.app_config().secure(),
            host: request
                .headers()
                .get(header::HOST)
                .and_then(|host| hyper::header::HeaderValue::from_bytes(host.as_bytes()).ok()),
        };
        let extra = to_upstream_headers(extra_headers.iter().map(|(name, value)| (name, value)));
        let sent_headers =
            headers::for_upstream(incoming, websocket, &client, target.authority(), extra);

        let Ok(method) = hyper::Method::from_bytes(request.method().as_str().as_bytes()) else {
            return HttpResponse::BadRequest().finish();
        };
        let mut tunnel_payload = None;
        let (body, body_progress) = if websocket {
            // The bytes after the head belong to the tunnel, not to the upgrade request.
            tunnel_payload = Some(payload);
            (UpstreamBody::empty(), None)
        } else if has_body(request.headers()) {
            let (sender, body) = UpstreamBody::channel();
            let (progress, body_progress) = watch::channel(());
            actix_web::rt::spawn(body::feed(payload, sender, progress));
            (body, Some(body_progress))
        } else {
            (UpstreamBody::empty(), None)
        };

        let mut upstream_request = hyper::Request::new(body);
        *upstream_request.method_mut() = method;
        *upstream_request.uri_mut() = uri;
        *upstream_request.version_mut() = hyper::Version::HTTP_11;
        *upstream_request.headers_mut() = sent_headers;

        let response = match client::send(
            pool,
            upstream_request,
            body_progress,
            self.response_head_timeout,
        )
        .await
        {
            Ok(response) => response,
            Err((failure, cause)) => {
                tracing::warn!(internal_host, %cause, ?failure, "proxy: no upstream response");
                return gateway_page(failure, internal_host);
            }
        };
        match tunnel_payload {
            Some(payload) if response.status() == hyper::StatusCode::SWITCHING_PROTOCOLS => {
                open_tunnel(response, payload, internal_host).await
            }
            _ => relay(response, internal_host),
        }
    }
}

/// The upstream's response, streamed back to the client.
fn relay(response: hyper::Response<Incoming>, internal_host: &str) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status = match StatusCode::from_u16(parts.status.as_u16()) {
        // A 101 the client did not ask for cannot be relayed.
        Ok(status) if status != StatusCode::SWITCHING_PROTOCOLS => status,
        _ => {
            tracing::warn!(internal_host, status = %parts.status, "proxy: unexpected upstream status");
            return gateway_page(Failure::Broken, internal_host);
        }
    };
    let relayed = headers::for_client(parts.headers, false);
    let length = relayed
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    let mut builder = HttpResponse::build(status);
    let mut response = if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        builder.finish()
    } else if let Some(length) = length {
        // A known length stays known (download progress, range requests, HEAD).
        builder.body(SizedStream::new(length, ResponseChunks::new(body)))
    } else {
        builder.streaming(ResponseChunks::new(body))
    };
    append_to_client(response.headers_mut(), &relayed);
    response
}

/// After the upstream's 101: answer the client's upgrade with it, then copy bytes both
/// ways. Once a handler has answered 101, actix-web's HTTP/1 dispatcher hands the
/// request's `Payload` every raw byte the client sends after the head, and writes a
/// streaming response body to the client unframed.
async fn open_tunnel(
    mut response: hyper::Response<Incoming>,
    payload: web::Payload,
    internal_host: &str,
) -> HttpResponse {
    let upgraded = match hyper::upgrade::on(&mut response).await {
        Ok(upgraded) => upgraded,
        Err(err) => {
            tracing::warn!(internal_host, error = %err, "proxy: upstream upgrade failed");
            return gateway_page(Failure::Broken, internal_host);
        }
    };
    let relayed = headers::for_client(std::mem::take(response.headers_mut()), true);
    let (from_upstream, to_upstream) = tokio::io::split(TokioIo::new(upgraded));
    let pump = actix_web::rt::spawn(tunnel::pump(payload, to_upstream));

    let mut builder = HttpResponse::build(StatusCode::SWITCHING_PROTOCOLS);
    let protocol = relayed
        .get(hyper::header::UPGRADE)
        .and_then(|value| HeaderValue::from_bytes(value.as_bytes()).ok())
        .unwrap_or(HeaderValue::from_static("websocket"));
    builder.upgrade(protocol);
    let mut response = builder.streaming(TunnelReader::new(from_upstream, pump));
    let mut relayed = relayed;
    relayed.remove(hyper::header::UPGRADE);
    append_to_client(response.headers_mut(), &relayed);
    response
}

/// A small HTML page for a failed forward; the cause is in the log.
fn gateway_page(failure: Failure, internal_host: &str) -> HttpResponse {
    let (status, sentence) = failure.page(internal_host);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let title = status.canonical_reason().unwrap_or("Bad gateway");
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{}</p></body></html>\n",
        escape_html(&sentence)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page)
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Whether the client announced a body (`Content-Length` above 0, or chunked).
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim() != "0")
}

/// actix-http's headers (`http` 0.2) as hyper's (`http` 1). Both validate the same
/// grammar, so nothing valid is lost.
fn to_upstream_headers<'a>(
    headers: impl IntoIterator<Item = (&'a HeaderName, &'a HeaderValue)>,
) -> hyper::HeaderMap {
    let mut converted = hyper::HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            hyper::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            converted.append(name, value);
        }
    }
    converted
}

fn append_to_client(headers: &mut HeaderMap, relayed: &hyper::HeaderMap) {
    for (name, value) in relayed {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gateway_page_is_escaped_html() {
        let page = gateway_page(Failure::Unreachable, "http://app/<x>");
        assert_eq!(page.status(), StatusCode::BAD_GATEWAY);
        let body = actix_web::body::to_bytes(page.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("Bad gateway: http://app/&lt;x&gt; is unreachable"));
    }

    #[test]
    fn has_body_reads_the_framing_headers() {
        let mut headers = HeaderMap::new();
        assert!(!has_body(&headers));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        assert!(!has_body(&headers));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("12"));
        assert!(has_body(&headers));
        let mut chunked = HeaderMap::new();
        chunked.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        assert!(has_body(&chunked));
    }
}
