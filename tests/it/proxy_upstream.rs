//! Proxy mode's forwarding (`Upstreams::forward`) between a real client, a small actix
//! server whose default service forwards everything, and upstreams started here: an
//! echo server (plain and TLS), canned raw-TCP answers, and a WebSocket echo.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use futures_util::StreamExt;
use gatehouse::web::outpost::upstream::Upstreams;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

// ---- the proxy under test ------------------------------------------------------------

struct ProxyConfig {
    upstreams: Upstreams,
    internal_host: String,
    verify_tls: bool,
    extra: Vec<(HeaderName, HeaderValue)>,
}

async fn proxy_handler(
    request: HttpRequest,
    payload: web::Payload,
    config: web::Data<ProxyConfig>,
) -> HttpResponse {
    config
        .upstreams
        .forward(
            &config.internal_host,
            config.verify_tls,
            &request,
            payload,
            &config.extra,
        )
        .await
}

/// Starts the forwarding server; returns its address.
fn start_proxy_with(
    internal_host: &str,
    verify_tls: bool,
    extra: &[(&str, &str)],
    upstreams: Upstreams,
) -> SocketAddr {
    let config = web::Data::new(ProxyConfig {
        upstreams,
        internal_host: internal_host.to_owned(),
        verify_tls,
        extra: extra
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            .default_service(web::to(proxy_handler))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    addr
}

fn start_proxy(internal_host: &str) -> SocketAddr {
    start_proxy_with(internal_host, true, &[], Upstreams::new())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(WAIT)
        .build()
        .unwrap()
}

// ---- upstreams -----------------------------------------------------------------------

/// Describes the request it received as JSON; `/echo-body` streams the body back;
/// `/bytes/N` answers N bytes with a Content-Length; `/first-chunk` answers with the
/// first chunk of the body without waiting for the rest.
async fn echo(request: HttpRequest, mut payload: web::Payload) -> HttpResponse {
    let path = request.path().to_owned();
    if path.ends_with("/echo-body") {
        return HttpResponse::Ok()
            .content_type("application/octet-stream")
            .streaming(payload);
    }
    if let Some(count) = path.rsplit_once("/bytes/").map(|(_, n)| n) {
        let count: usize = count.parse().unwrap();
        return HttpResponse::Ok().body(pattern(count));
    }
    if path.ends_with("/first-chunk") {
        let first = payload.next().await.unwrap().unwrap();
        return HttpResponse::Ok().body(format!("got:{}", String::from_utf8_lossy(&first)));
    }
    let mut body_len = 0;
    while let Some(chunk) = payload.next().await {
        body_len += chunk.unwrap().len();
    }
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "method": request.method().as_str(),
        "path": path,
        "query": request.query_string(),
        "headers": headers,
        "body_len": body_len,
    }))
}

pub(crate) fn start_echo_upstream(tls: Option<rustls::ServerConfig>) -> SocketAddr {
    let server = HttpServer::new(|| App::new().default_service(web::to(echo)))
        .workers(1)
        .disable_signals();
    let server = match tls {
        Some(tls) => server.bind_rustls_0_23("127.0.0.1:0", tls).unwrap(),
        None => server.bind("127.0.0.1:0").unwrap(),
    };
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    addr
}

/// The values of one header in an echo description, in order.
pub(crate) fn seen(echoed: &Value, name: &str) -> Vec<String> {
    echoed["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|pair| pair[1].as_str().unwrap().to_owned())
        .collect()
}

/// A raw TCP upstream: reads one request head, writes `answer`, then runs `after`.
async fn start_raw_upstream<F, Fut>(answer: &'static [u8], after: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let after = Arc::new(after);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let after = after.clone();
            tokio::spawn(async move {
                let _ = read_head(&mut stream).await;
                stream.write_all(answer).await.unwrap();
                after(stream).await;
            });
        }
    });
    addr
}

/// A WebSocket upstream: checks the upgrade, answers 101 with the right
/// `Sec-WebSocket-Accept` (and the path it saw in `X-Upstream-Path`), then echoes every
/// byte. Raw bytes `bye` make it answer `bye!` and close first.
async fn start_websocket_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let (head, leftover) = read_head(&mut stream).await;
                assert!(leftover.is_empty(), "no bytes before the 101");
                let lower = head.to_ascii_lowercase();
                assert!(lower.contains("\r\nupgrade: websocket\r\n"), "{head}");
                assert!(lower.contains("\r\nconnection: upgrade\r\n"), "{head}");
                let key = header_value(&head, "sec-websocket-key").unwrap();
                let path = head.split(' ').nth(1).unwrap().to_owned();
                let answer = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\
                     X-Upstream-Path: {path}\r\n\r\n",
                    websocket_accept(&key)
                );
                stream.write_all(answer.as_bytes()).await.unwrap();
                let mut buffer = [0u8; 4096];
                loop {
                    let n = stream.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    if &buffer[..n] == b"bye" {
                        stream.write_all(b"bye!").await.unwrap();
                        break;
                    }
                    stream.write_all(&buffer[..n]).await.unwrap();
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

fn websocket_accept(key: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// An address nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

// ---- raw HTTP helpers ----------------------------------------------------------------

/// Reads up to the end of a message head; returns the head and the bytes read past it.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> (String, Vec<u8>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return (String::from_utf8(buffer).unwrap(), rest);
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("head in time")
            .unwrap();
        assert!(n > 0, "connection closed inside a head: {buffer:?}");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn header_value(head: &str, name: &str) -> Option<String> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// Reads exactly `count` bytes, starting with `already`.
async fn read_exactly(stream: &mut TcpStream, mut already: Vec<u8>, count: usize) -> Vec<u8> {
    let mut chunk = [0u8; 4096];
    while already.len() < count {
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("bytes in time")
            .unwrap();
        assert!(n > 0, "closed after {} of {count} bytes", already.len());
        already.extend_from_slice(&chunk[..n]);
    }
    already
}

/// Reads a response body framed by the head (Content-Length or chunked).
async fn read_body(stream: &mut TcpStream, head: &str, mut buffer: Vec<u8>) -> Vec<u8> {
    if let Some(length) = header_value(head, "content-length") {
        return read_exactly(stream, buffer, length.parse().unwrap()).await;
    }
    assert_eq!(
        header_value(head, "transfer-encoding").as_deref(),
        Some("chunked")
    );
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(end) = buffer.windows(2).position(|w| w == b"\r\n") {
                break end;
            }
            let more = read_exactly(stream, buffer.clone(), buffer.len() + 1).await;
            buffer = more;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&buffer[..line_end]).unwrap().trim(), 16)
                .unwrap();
        let needed = line_end + 2 + size + 2;
        buffer = read_exactly(stream, buffer, needed).await;
        body.extend_from_slice(&buffer[line_end + 2..line_end + 2 + size]);
        buffer.drain(..needed);
        if size == 0 {
            return body;
        }
    }
}

fn pattern(count: usize) -> Vec<u8> {
    (0..count)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 11)) as u8)
        .collect()
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

// ---- tests ---------------------------------------------------------------------------

#[tokio::test]
async fn get_passes_method_path_query_and_headers() {
    let upstream = start_echo_upstream(None);
    let internal_host = format!("http://{upstream}/base");
    let proxy = start_proxy(&internal_host);

    let response = client()
        .get(format!("http://{proxy}/some/path?x=1&y=two%20three"))
        .header("Host", "app.example.org")
        .header("X-Custom", "abc")
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["method"], "GET");
    assert_eq!(echoed["path"], "/base/some/path");
    assert_eq!(echoed["query"], "x=1&y=two%20three");
    assert_eq!(echoed["body_len"], 0);
    assert_eq!(seen(&echoed, "x-custom"), ["abc"]);
    assert_eq!(seen(&echoed, "host"), [upstream.to_string()]);
    assert_eq!(seen(&echoed, "x-forwarded-host"), ["app.example.org"]);
    assert_eq!(seen(&echoed, "x-forwarded-proto"), ["http"]);
    assert_eq!(seen(&echoed, "x-forwarded-for"), ["203.0.113.7, 127.0.0.1"]);

    // Other methods and a small body.
    let response = client()
        .delete(format!("http://{proxy}/item/7"))
        .body("why not")
        .send()
        .await
        .unwrap();
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["method"], "DELETE");
    assert_eq!(echoed["path"], "/base/item/7");
    assert_eq!(echoed["body_len"], 7);
}

#[tokio::test]
async fn known_lengths_stay_known_and_head_has_no_body() {
    let upstream = start_echo_upstream(None);
    let proxy = start_proxy(&format!("http://{upstream}"));

    let response = client()
        .get(format!("http://{proxy}/bytes/3000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(3_000_000));
    let body = response.bytes().await.unwrap();
    assert_eq!(sha256(&body), sha256(&pattern(3_000_000)));

    let response = client()
        .head(format!("http://{proxy}/bytes/1234"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-length"].to_str().unwrap(),
        "1234"
    );
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_five_megabyte_upload_is_streamed_there_and_back() {
    let upstream = start_echo_upstream(None);
    let proxy = start_proxy(&format!("http://{upstream}/app"));
    let sent = pattern(5 * 1024 * 1024);

    let response = client()
        .post(format!("http://{proxy}/echo-body"))
        .header("Content-Type", "application/octet-stream")
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let received = response.bytes().await.unwrap();
    assert_eq!(received.len(), sent.len());
    assert_eq!(sha256(&received), sha256(&sent));
}

#[tokio::test]
async fn a_chunked_upload_arrives_whole() {
    let upstream = start_echo_upstream(None);
    let proxy = start_proxy(&format!("http://{upstream}"));

    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(
            b"POST /echo-body HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
    let (head, rest) = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(read_body(&mut stream, &head, rest).await, b"hello world");
}

#[tokio::test]
async fn bodies_stream_without_waiting_for_their_end() {
    // Request: the upstream answers from the first chunk while the client still owes
    // the rest of the body.
    let upstream = start_echo_upstream(None);
    let proxy = start_proxy(&format!("http://{upstream}"));
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(b"POST /first-chunk HTTP/1.1\r\nHost: app\r\nContent-Length: 10\r\n\r\nhello")
        .await
        .unwrap();
    let (head, rest) = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(read_body(&mut stream, &head, rest).await, b"got:hello");

    // Response: the client gets the first chunk while the upstream holds the second.
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
    let upstream = start_raw_upstream(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n",
        move |mut stream| {
            let released = released.clone();
            async move {
                let released = released.lock().await.take().unwrap();
                let _ = released.await;
                stream.write_all(b"6\r\nsecond\r\n0\r\n\r\n").await.unwrap();
            }
        },
    )
    .await;
    let proxy = start_proxy(&format!("http://{upstream}"));
    let mut response = client()
        .get(format!("http://{proxy}/drip"))
        .send()
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, response.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"first");
    release.send(()).unwrap();
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(rest, b"second");
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502_page() {
    let nowhere = format!("http://{}", closed_port().await);
    let proxy = start_proxy(&nowhere);

    let response = client()
        .get(format!("http://{proxy}/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains(&format!("Bad gateway: {nowhere} is unreachable")),
        "{page}"
    );

    // A request with a body fails the same way (the body task must not hang anything).
    let response = client()
        .post(format!("http://{proxy}/anything"))
        .body(vec![7u8; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_a_504_page() {
    let silent = start_raw_upstream(b"", |stream| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let internal_host = format!("http://{silent}");
    let upstreams = Upstreams::with_timeouts(Duration::from_secs(10), Duration::from_millis(500));
    let proxy = start_proxy_with(&internal_host, true, &[], upstreams);

    let started = std::time::Instant::now();
    let response = client()
        .get(format!("http://{proxy}/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(5));
    let page = response.text().await.unwrap();
    assert!(page.contains(&format!("{internal_host} did not answer in time")));
}

#[tokio::test]
async fn hop_by_hop_headers_are_not_forwarded() {
    let upstream = start_echo_upstream(None);
    let proxy = start_proxy(&format!("http://{upstream}"));

    let response = client()
        .get(format!("http://{proxy}/"))
        .header("Connection", "keep-alive, X-Drop-Me")
        .header("X-Drop-Me", "1")
        .header("Keep-Alive", "timeout=5")
        .header("Proxy-Authorization", "Basic Zm9vOmJhcg==")
        .header("TE", "trailers")
        .header("Upgrade", "h2c")
        .header("X-Keep", "yes")
        .send()
        .await
        .unwrap();
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(seen(&echoed, "x-keep"), ["yes"]);
    for gone in [
        "x-drop-me",
        "keep-alive",
        "proxy-authorization",
        "te",
        "upgrade",
    ] {
        assert!(seen(&echoed, gone).is_empty(), "{gone} was forwarded");
    }
    for value in seen(&echoed, "connection") {
        assert!(!value.to_ascii_lowercase().contains("x-drop-me"), "{value}");
    }

    // And on the way back.
    let upstream = start_raw_upstream(
        b"HTTP/1.1 200 OK\r\nConnection: X-Secret-Hop\r\nX-Secret-Hop: 1\r\n\
          Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nX-Visible: yes\r\n\
          Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok",
        |_| async {},
    )
    .await;
    let proxy = start_proxy(&format!("http://{upstream}"));
    let response = client()
        .get(format!("http://{proxy}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["x-visible"], "yes");
    let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    for gone in ["x-secret-hop", "keep-alive", "proxy-authenticate"] {
        assert!(!headers.contains_key(gone), "{gone} was relayed");
    }
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn extra_headers_replace_what_the_client_sent() {
    let upstream = start_echo_upstream(None);
    let proxy = start_proxy_with(
        &format!("http://{upstream}"),
        true,
        &[
            ("X-authentik-username", "alice"),
            ("X-authentik-uid", "42"),
            ("X-Forwarded-Proto", "https"),
        ],
        Upstreams::new(),
    );

    let response = client()
        .get(format!("http://{proxy}/whoami"))
        .header("X-authentik-username", "akadmin")
        .header("X-Authentik-Groups", "authentik Admins")
        .header("X-Forwarded-Proto", "gopher")
        .send()
        .await
        .unwrap();
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(seen(&echoed, "x-authentik-username"), ["alice"]);
    assert_eq!(seen(&echoed, "x-authentik-uid"), ["42"]);
    // Not among the caller's headers, but an identity header all the same.
    assert!(seen(&echoed, "x-authentik-groups").is_empty());
    assert_eq!(seen(&echoed, "x-forwarded-proto"), ["https"]);
}

#[tokio::test]
async fn tls_upstreams_verify_certificates_unless_told_not_to() {
    let dir = tempfile::TempDir::new().unwrap();
    let tls = gatehouse::crypto::tls::https_config(
        gatehouse::crypto::tls::load_or_create_certified_key(dir.path()).unwrap(),
    )
    .unwrap();
    let upstream = start_echo_upstream(Some((*tls).clone()));
    let internal_host = format!("https://localhost:{}/secure", upstream.port());

    let trusting = start_proxy_with(&internal_host, false, &[], Upstreams::new());
    let response = client()
        .get(format!("http://{trusting}/page?q=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["path"], "/secure/page");
    assert_eq!(echoed["query"], "q=1");
    assert_eq!(
        seen(&echoed, "host"),
        [format!("localhost:{}", upstream.port())]
    );

    // A self-signed certificate is not among the webpki roots.
    let verifying = start_proxy_with(&internal_host, true, &[], Upstreams::new());
    let response = client()
        .get(format!("http://{verifying}/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
}

const WEBSOCKET_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

async fn open_websocket(proxy: SocketAddr, path: &str) -> (TcpStream, String, Vec<u8>) {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: app.example.org\r\nConnection: keep-alive, Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: {WEBSOCKET_KEY}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (head, rest) = read_head(&mut stream).await;
    (stream, head, rest)
}

#[tokio::test]
async fn websocket_round_trip() {
    let upstream = start_websocket_upstream().await;
    let proxy = start_proxy(&format!("http://{upstream}/base"));

    let (mut stream, head, rest) = open_websocket(proxy, "/chat?room=1").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(
        header_value(&head, "sec-websocket-accept").as_deref(),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(
        header_value(&head, "upgrade").unwrap().to_ascii_lowercase(),
        "websocket"
    );
    assert!(
        header_value(&head, "connection")
            .unwrap()
            .to_ascii_lowercase()
            .contains("upgrade")
    );
    assert_eq!(
        header_value(&head, "x-upstream-path").as_deref(),
        Some("/base/chat?room=1")
    );
    assert_eq!(header_value(&head, "transfer-encoding"), None);

    // A masked text frame "hello", echoed byte for byte.
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | 5];
    frame.extend_from_slice(&mask);
    frame.extend(b"hello".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).await.unwrap();
    let echoed = read_exactly(&mut stream, rest, frame.len()).await;
    assert_eq!(echoed, frame);

    // Twice, to be sure the tunnel stays open.
    stream.write_all(&frame).await.unwrap();
    assert_eq!(
        read_exactly(&mut stream, Vec::new(), frame.len()).await,
        frame
    );

    // The client closes; the upstream sees it and closes too.
    stream.shutdown().await.unwrap();
    let mut tail = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut tail))
        .await
        .expect("the tunnel closes")
        .unwrap();
    assert!(tail.is_empty());
}

#[tokio::test]
async fn websocket_closed_by_the_upstream_closes_the_client() {
    let upstream = start_websocket_upstream().await;
    let proxy = start_proxy(&format!("http://{upstream}"));

    let (mut stream, head, rest) = open_websocket(proxy, "/").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"bye").await.unwrap();
    let mut tail = rest;
    tokio::time::timeout(WAIT, stream.read_to_end(&mut tail))
        .await
        .expect("the client's connection closes")
        .unwrap();
    assert_eq!(tail, b"bye!");
}

#[tokio::test]
async fn websocket_refused_by_the_upstream_is_relayed() {
    let upstream = start_raw_upstream(
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nno ws!",
        |_| async {},
    )
    .await;
    let proxy = start_proxy(&format!("http://{upstream}"));

    let (mut stream, head, rest) = open_websocket(proxy, "/ws").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert_eq!(read_body(&mut stream, &head, rest).await, b"no ws!");
}
