//! The pooled HTTP/1.1 client that talks to internal hosts, its TLS settings, and what
//! can go wrong on the way (each failure becomes a gateway page).

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::sync::watch;

use super::body::UpstreamBody;

/// Idle upstream connections are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(90);

pub(crate) type Pool = Client<HttpsConnector<HttpConnector>, UpstreamBody>;

/// Why no upstream response could be relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `internal_host` cannot be forwarded to (not an http(s) URL, TLS set-up failed).
    Misconfigured,
    /// No connection: refused, no route, DNS, connect timeout, TLS handshake refused.
    Unreachable,
    /// Connected, but no response head in time.
    Timeout,
    /// Connected, but the answer was not HTTP or the connection broke.
    Broken,
}

impl Failure {
    /// The gateway page: status code and the sentence it says.
    pub(crate) fn page(self, internal_host: &str) -> (u16, String) {
        match self {
            Failure::Misconfigured => (
                502,
                format!("Bad gateway: {internal_host} is not a usable upstream address"),
            ),
            Failure::Unreachable => (502, format!("Bad gateway: {internal_host} is unreachable")),
            Failure::Timeout => (
                504,
                format!("Gateway timeout: {internal_host} did not answer in time"),
            ),
            Failure::Broken => (
                502,
                format!("Bad gateway: {internal_host} did not give a valid answer"),
            ),
        }
    }
}

/// A pool for upstreams whose certificates are verified against the webpki roots, or
/// (`verify_tls == false`) one that accepts any certificate, as homelab services with
/// self-signed certificates need. Two pools, so a connection opened without checks is
/// never reused for a provider that wants them.
pub(crate) fn pool(verify_tls: bool, connect_timeout: Duration) -> Result<Pool, rustls::Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(verify_tls)?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE)
        .build(connector))
}

fn tls_config(verify_tls: bool) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    Ok(if verify_tls {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    })
}

/// Sends `request` and waits for the response head, at most `head_timeout` after the
/// request body has been handed over. While the body is still moving (`body_progress`
/// reports each chunk, and closes when the body is done; `None` when there is no body),
/// the wait is reset by every chunk: a slow upload is not a slow upstream, but a stalled
/// one (an upstream that neither reads nor answers) still ends.
pub(crate) async fn send(
    pool: &Pool,
    request: Request<UpstreamBody>,
    body_progress: Option<watch::Receiver<()>>,
    head_timeout: Duration,
) -> Result<Response<Incoming>, (Failure, String)> {
    let deadline = async move {
        if let Some(mut progress) = body_progress {
            loop {
                tokio::select! {
                    moved = progress.changed() => if moved.is_err() {
                        break;
                    },
                    () = tokio::time::sleep(head_timeout) => return,
                }
            }
        }
        tokio::time::sleep(head_timeout).await;
    };
    tokio::select! {
        result = pool.request(request) => result.map_err(|err| {
            let failure = if err.is_connect() {
                Failure::Unreachable
            } else {
                Failure::Broken
            };
            (failure, chain(&err))
        }),
        () = deadline => Err((
            Failure::Timeout,
            format!("no response head within {} s", head_timeout.as_secs_f32()),
        )),
    }
}

/// An error and its causes, for the log.
fn chain(err: &hyper_util::client::legacy::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Accepts any server certificate, but still checks that the server holds its key (the
/// handshake signature), so the connection is at least encrypted to whoever answered.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn both_tls_settings_build_on_ring() {
        assert!(tls_config(true).is_ok());
        assert!(tls_config(false).is_ok());
    }

    #[tokio::test]
    async fn a_stalled_upload_still_times_out() {
        // An upstream that accepts, then neither reads nor answers: the body backs up,
        // and the response-head clock runs from the last chunk that moved.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let holder = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        });
        let pool = pool(true, Duration::from_secs(5)).unwrap();
        let (sender, body) = UpstreamBody::channel();
        let (progress, body_progress) = watch::channel(());
        let endless = futures_util::stream::repeat_with(|| {
            Ok::<_, std::convert::Infallible>(hyper::body::Bytes::from(vec![0u8; 64 * 1024]))
        });
        tokio::spawn(super::super::body::feed(endless, sender, progress));
        let request = Request::post(format!("http://{addr}/upload"))
            .body(body)
            .unwrap();
        let started = std::time::Instant::now();
        let outcome = send(
            &pool,
            request,
            Some(body_progress),
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(outcome.unwrap_err().0, Failure::Timeout);
        assert!(started.elapsed() < Duration::from_secs(5));
        holder.abort();
    }

    #[tokio::test]
    async fn a_slow_upload_is_not_a_slow_upstream() {
        // Ten chunks 100 ms apart, a 300 ms response-head timeout: the upstream reads it
        // all and answers, and the wait is never cut short while the body moves.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buffer = [0u8; 1024];
            loop {
                let n = socket.read(&mut buffer).await.unwrap();
                assert!(n > 0);
                seen.extend(buffer.iter().take(n));
                let text = String::from_utf8_lossy(&seen);
                if text
                    .split_once("\r\n\r\n")
                    .is_some_and(|(_, body)| body.len() == 100)
                {
                    break;
                }
            }
            socket
                .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
        });
        let pool = pool(true, Duration::from_secs(5)).unwrap();
        let (sender, body) = UpstreamBody::channel();
        let (progress, body_progress) = watch::channel(());
        let slow = futures_util::stream::unfold(0, |sent| async move {
            (sent < 10).then_some(())?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let chunk = hyper::body::Bytes::from_static(b"0123456789");
            Some((Ok::<_, std::convert::Infallible>(chunk), sent + 1))
        });
        tokio::spawn(super::super::body::feed(slow, sender, progress));
        let request = Request::post(format!("http://{addr}/upload"))
            .header("content-length", "100")
            .body(body)
            .unwrap();
        let response = send(
            &pool,
            request,
            Some(body_progress),
            Duration::from_millis(300),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 204);
    }

    #[test]
    fn gateway_pages_name_the_host() {
        assert_eq!(
            Failure::Unreachable.page("http://127.0.0.1:8080"),
            (
                502,
                "Bad gateway: http://127.0.0.1:8080 is unreachable".to_owned()
            )
        );
        assert_eq!(Failure::Timeout.page("http://app").0, 504);
    }
}
