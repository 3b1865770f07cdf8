//! The request a reverse proxy asks about, from the headers it sends along: Traefik and
//! Caddy send `X-Forwarded-Proto/Host/Uri/Method`; nginx (authentik's documented
//! config) sends `X-Original-URL`. Requests that reach gatehouse directly (the callback,
//! `start`, proxy mode) are their own original. Borrowed from the request: the hot
//! path allocates nothing here.

use actix_web::HttpRequest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Original<'a> {
    pub scheme: &'a str,
    /// `name[:port]`.
    pub host: &'a str,
    /// Path and query, starting with `/`.
    pub uri: &'a str,
}

impl<'a> Original<'a> {
    /// What a forward-auth request is about.
    pub fn forwarded(request: &'a HttpRequest) -> Option<Original<'a>> {
        if let Some(original) = header(request, "x-original-url").and_then(parse_url) {
            return Some(original);
        }
        let host = header(request, "x-forwarded-host").or_else(|| header(request, "host"))?;
        let uri = header(request, "x-forwarded-uri")
            .or_else(|| header(request, "x-original-uri"))
            .unwrap_or("/");
        Some(Original {
            scheme: scheme(request),
            host: first_value(host),
            uri,
        })
    }

    /// A request that came to gatehouse itself on the protected host.
    pub fn direct(request: &'a HttpRequest) -> Option<Original<'a>> {
        if let Some(original) = header(request, "x-original-url").and_then(parse_url) {
            // nginx's `location /outpost.goauthentik.io` block: the URL as the browser asked.
            return Some(original);
        }
        let host = header(request, "x-forwarded-host").or_else(|| header(request, "host"))?;
        let uri = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        Some(Original {
            scheme: scheme(request),
            host: first_value(host),
            uri,
        })
    }

    pub fn path(&self) -> &'a str {
        self.uri.split_once('?').map_or(self.uri, |(path, _)| path)
    }

    pub fn query(&self) -> &'a str {
        self.uri.split_once('?').map_or("", |(_, query)| query)
    }

    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.uri)
    }
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// The first of a comma-separated list (proxies append).
fn first_value(value: &str) -> &str {
    value.split(',').next().unwrap_or(value).trim()
}

fn scheme(request: &HttpRequest) -> &'static str {
    let forwarded = header(request, "x-forwarded-proto").map(first_value);
    match forwarded {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        Some(_) => "http",
        None if request.app_config().secure() => "https",
        None => "http",
    }
}

/// `scheme://host[:port]/path?query` without allocating.
fn parse_url(url: &str) -> Option<Original<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme {
        s if s.eq_ignore_ascii_case("https") => "https",
        s if s.eq_ignore_ascii_case("http") => "http",
        _ => return None,
    };
    let (host, uri) = match rest.find('/') {
        Some(slash) => (rest.get(..slash)?, rest.get(slash..)?),
        None => (rest, "/"),
    };
    (!host.is_empty()).then_some(Original { scheme, host, uri })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn traefik_and_caddy_headers() {
        let request = TestRequest::default()
            .insert_header(("Host", "gatehouse:9000"))
            .insert_header(("X-Forwarded-Proto", "https"))
            .insert_header(("X-Forwarded-Host", "app.example.com"))
            .insert_header(("X-Forwarded-Uri", "/admin?tab=1"))
            .to_http_request();
        let original = Original::forwarded(&request).unwrap();
        assert_eq!(original.url(), "https://app.example.com/admin?tab=1");
        assert_eq!(original.path(), "/admin");
        assert_eq!(original.query(), "tab=1");
    }

    #[test]
    fn nginx_original_url() {
        let request = TestRequest::default()
            .insert_header(("Host", "app.example.com"))
            .insert_header(("X-Original-URL", "http://app.example.com:8080/x"))
            .to_http_request();
        let original = Original::forwarded(&request).unwrap();
        assert_eq!(
            (original.scheme, original.host, original.uri),
            ("http", "app.example.com:8080", "/x")
        );
        assert_eq!(parse_url("ftp://x/"), None);
        assert_eq!(parse_url("https://host").unwrap().uri, "/");
    }
}
