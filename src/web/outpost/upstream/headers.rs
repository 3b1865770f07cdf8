//! Which headers cross the proxy: hop-by-hop headers (RFC 9110 section 7.6.1) stay on
//! their hop, `X-Forwarded-*` describe the client's hop, and the caller's headers (the
//! `X-authentik-*` identity) replace anything of the same name the client sent.

use std::net::IpAddr;

use hyper::HeaderMap;
use hyper::header::{
    CONNECTION, EXPECT, HOST, HeaderName, HeaderValue, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};

const KEEP_ALIVE: &str = "keep-alive";
const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_FORWARDED_HOST: &str = "x-forwarded-host";
/// The identity headers the proxy provider sets: only gatehouse may send them upstream.
const IDENTITY_PREFIX: &str = "x-authentik-";

/// What the proxy knows about the client's hop.
#[derive(Debug, Clone)]
pub(crate) struct ClientHop {
    /// The address the request came from (appended to `X-Forwarded-For`).
    pub ip: Option<IpAddr>,
    /// Whether the client spoke HTTPS to gatehouse (`X-Forwarded-Proto`).
    pub https: bool,
    /// The `Host` the client asked for (`X-Forwarded-Host`).
    pub host: Option<HeaderValue>,
}

/// `Connection: upgrade` with `Upgrade: websocket`.
pub(crate) fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    connection_tokens(headers)
        .iter()
        .any(|token| token == "upgrade")
        && headers.get_all(UPGRADE).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|protocol| protocol.trim().eq_ignore_ascii_case("websocket"))
            })
        })
}

/// The request headers to send upstream, built from the client's.
pub(crate) fn for_upstream(
    mut headers: HeaderMap,
    websocket: bool,
    client: &ClientHop,
    upstream_authority: &str,
    extra: HeaderMap,
) -> HeaderMap {
    strip_hop_by_hop(&mut headers, websocket);
    if websocket {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    }
    // The client's `Expect: 100-continue` was answered on the client's hop already.
    headers.remove(EXPECT);
    remove_where(&mut headers, |name| name.starts_with(IDENTITY_PREFIX));

    headers.remove(HOST);
    if let Ok(host) = HeaderValue::from_str(upstream_authority) {
        headers.insert(HOST, host);
    }

    let mut chain: Vec<&[u8]> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .map(HeaderValue::as_bytes)
        .filter(|value| !value.is_empty())
        .collect();
    let ip = client.ip.map(|ip| ip.to_string());
    if let Some(ip) = &ip {
        chain.push(ip.as_bytes());
    }
    let chain = chain.join(&b", "[..]);
    match HeaderValue::from_bytes(&chain) {
        Ok(value) if !chain.is_empty() => {
            headers.insert(X_FORWARDED_FOR, value);
        }
        _ => {
            headers.remove(X_FORWARDED_FOR);
        }
    }
    let proto = if client.https { "https" } else { "http" };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    match &client.host {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST, host.clone());
        }
        None => {
            headers.remove(X_FORWARDED_HOST);
        }
    }

    for name in extra.keys() {
        headers.remove(name);
    }
    // `HeaderMap`'s owning iterator names only the first value of each header.
    let mut current: Option<HeaderName> = None;
    for (name, value) in extra {
        if name.is_some() {
            current = name;
        }
        if let Some(name) = &current {
            headers.append(name.clone(), value);
        }
    }
    headers
}

/// The response headers to send back to the client. For a `101 Switching Protocols` the
/// `Upgrade` header is the answer itself and stays.
pub(crate) fn for_client(mut headers: HeaderMap, switching_protocols: bool) -> HeaderMap {
    strip_hop_by_hop(&mut headers, switching_protocols);
    headers
}

fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    for token in connection_tokens(headers) {
        if keep_upgrade && token == "upgrade" {
            continue;
        }
        if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
            headers.remove(name);
        }
    }
    for name in [CONNECTION, TE, TRAILER, TRANSFER_ENCODING] {
        headers.remove(name);
    }
    headers.remove(KEEP_ALIVE);
    if !keep_upgrade {
        headers.remove(UPGRADE);
    }
    // Proxy-Connection, Proxy-Authorization, Proxy-Authenticate and the like.
    remove_where(headers, |name| name.starts_with("proxy-"));
}

/// The options named in the `Connection` headers, lower-cased.
fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect()
}

fn remove_where(headers: &mut HeaderMap, condition: impl Fn(&str) -> bool) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| condition(name.as_str()))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    }

    fn hop() -> ClientHop {
        ClientHop {
            ip: Some("192.0.2.9".parse().unwrap()),
            https: true,
            host: Some(HeaderValue::from_static("app.example.org")),
        }
    }

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let client = map(&[
            ("connection", "keep-alive, X-Drop"),
            ("x-drop", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic Zm9v"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("expect", "100-continue"),
            ("accept", "text/html"),
            ("content-length", "5"),
        ]);
        let sent = for_upstream(client, false, &hop(), "app:8080", HeaderMap::new());
        let mut names: Vec<&str> = sent.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "accept",
                "content-length",
                "host",
                "x-forwarded-for",
                "x-forwarded-host",
                "x-forwarded-proto"
            ]
        );
        assert_eq!(values(&sent, "host"), ["app:8080"]);
    }

    #[test]
    fn websocket_upgrade_keeps_its_upgrade() {
        let client = map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
        ]);
        assert!(is_websocket_upgrade(&client));
        let sent = for_upstream(client, true, &hop(), "app", HeaderMap::new());
        assert_eq!(values(&sent, "connection"), ["upgrade"]);
        assert_eq!(values(&sent, "upgrade"), ["websocket"]);
        assert_eq!(values(&sent, "sec-websocket-version"), ["13"]);
    }

    #[test]
    fn what_is_not_a_websocket_upgrade() {
        assert!(!is_websocket_upgrade(&map(&[("upgrade", "websocket")])));
        assert!(!is_websocket_upgrade(&map(&[
            ("connection", "upgrade"),
            ("upgrade", "h2c")
        ])));
        assert!(is_websocket_upgrade(&map(&[
            ("connection", "Upgrade"),
            ("upgrade", "WebSocket")
        ])));
    }

    #[test]
    fn forwarded_headers_describe_the_client_hop() {
        let client = map(&[
            ("host", "app.example.org"),
            ("x-forwarded-for", "203.0.113.1"),
            ("x-forwarded-for", "198.51.100.2"),
            ("x-forwarded-proto", "gopher"),
            ("x-forwarded-host", "evil.example"),
        ]);
        let sent = for_upstream(client, false, &hop(), "10.0.0.5:8443", HeaderMap::new());
        assert_eq!(values(&sent, "host"), ["10.0.0.5:8443"]);
        assert_eq!(
            values(&sent, "x-forwarded-for"),
            ["203.0.113.1, 198.51.100.2, 192.0.2.9"]
        );
        assert_eq!(values(&sent, "x-forwarded-proto"), ["https"]);
        assert_eq!(values(&sent, "x-forwarded-host"), ["app.example.org"]);
    }

    #[test]
    fn the_callers_headers_replace_the_clients_and_identity_cannot_be_spoofed() {
        let client = map(&[
            ("x-authentik-username", "admin"),
            ("X-authentik-groups", "admins"),
            ("authorization", "Bearer client"),
            ("x-forwarded-proto", "http"),
        ]);
        let extra = map(&[
            ("x-authentik-username", "alice"),
            ("x-authentik-entitlements", "a"),
            ("x-authentik-entitlements", "b"),
            ("authorization", "Basic YWxpY2U6cHc="),
        ]);
        let sent = for_upstream(client, false, &hop(), "app", extra);
        assert_eq!(values(&sent, "x-authentik-username"), ["alice"]);
        assert!(values(&sent, "x-authentik-groups").is_empty());
        assert_eq!(values(&sent, "x-authentik-entitlements"), ["a", "b"]);
        assert_eq!(values(&sent, "authorization"), ["Basic YWxpY2U6cHc="]);
    }

    #[test]
    fn no_client_address_no_invented_chain() {
        let anonymous = ClientHop {
            ip: None,
            https: false,
            host: None,
        };
        let sent = for_upstream(HeaderMap::new(), false, &anonymous, "app", HeaderMap::new());
        assert!(values(&sent, "x-forwarded-for").is_empty());
        assert!(values(&sent, "x-forwarded-host").is_empty());
        assert_eq!(values(&sent, "x-forwarded-proto"), ["http"]);
    }

    #[test]
    fn response_hop_by_hop_headers_stay_behind() {
        let upstream = map(&[
            ("connection", "x-secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("upgrade", "websocket"),
        ]);
        let relayed = for_client(upstream.clone(), false);
        let names: Vec<&str> = relayed.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["set-cookie"]);
        assert_eq!(values(&relayed, "set-cookie"), ["a=1", "b=2"]);
        let switched = for_client(upstream, true);
        assert_eq!(values(&switched, "upgrade"), ["websocket"]);
    }
}
