//! The provider's internal host as an address to forward to: `scheme://host[:port][/base]`,
//! and the upstream URL of one request (base path + request path, queries joined).

use hyper::Uri;

/// A parsed `internal_host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    https: bool,
    /// `host[:port]` as written: the upstream's `Host` header.
    authority: String,
    /// The base path without a trailing slash (`""` for none).
    base_path: String,
    base_query: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TargetError {
    #[error("not a URL: {0}")]
    Syntax(String),
    #[error("the scheme must be http or https")]
    Scheme,
    #[error("no host")]
    NoHost,
    #[error("credentials in the URL are not supported")]
    UserInfo,
}

impl Target {
    pub(crate) fn parse(internal_host: &str) -> Result<Target, TargetError> {
        let uri: Uri = internal_host
            .trim()
            .parse()
            .map_err(|err: hyper::http::uri::InvalidUri| TargetError::Syntax(err.to_string()))?;
        let https = match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => true,
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => false,
            _ => return Err(TargetError::Scheme),
        };
        let authority = uri.authority().ok_or(TargetError::NoHost)?;
        if authority.as_str().contains('@') {
            return Err(TargetError::UserInfo);
        }
        if authority.host().is_empty() {
            return Err(TargetError::NoHost);
        }
        Ok(Target {
            https,
            authority: authority.as_str().to_owned(),
            base_path: uri.path().trim_end_matches('/').to_owned(),
            base_query: uri
                .query()
                .filter(|query| !query.is_empty())
                .map(str::to_owned),
        })
    }

    /// The value of the `Host` header sent upstream.
    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    /// The upstream URL for a request whose target was `path_and_query` (origin form,
    /// kept byte for byte: no decoding, no normalisation).
    pub(crate) fn uri_for(&self, path_and_query: &str) -> Result<Uri, TargetError> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        // `OPTIONS *` and other non-origin forms have no path of their own.
        let path = if path.starts_with('/') { path } else { "/" };
        let query = match (self.base_query.as_deref(), query.filter(|q| !q.is_empty())) {
            (Some(base), Some(own)) => Some(format!("{base}&{own}")),
            (Some(base), None) => Some(base.to_owned()),
            (None, Some(own)) => Some(own.to_owned()),
            (None, None) => None,
        };
        let scheme = if self.https { "https" } else { "http" };
        let mut url = format!("{scheme}://{}{}{path}", self.authority, self.base_path);
        if let Some(query) = query {
            url.push('?');
            url.push_str(&query);
        }
        url.parse()
            .map_err(|err: hyper::http::uri::InvalidUri| TargetError::Syntax(err.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn url(internal_host: &str, path_and_query: &str) -> String {
        Target::parse(internal_host)
            .unwrap()
            .uri_for(path_and_query)
            .unwrap()
            .to_string()
    }

    #[test]
    fn joins_base_path_and_request_path() {
        assert_eq!(
            url("http://127.0.0.1:8080", "/a/b?x=1"),
            "http://127.0.0.1:8080/a/b?x=1"
        );
        assert_eq!(url("http://app:8080/", "/"), "http://app:8080/");
        assert_eq!(url("https://app/base", "/a"), "https://app/base/a");
        assert_eq!(url("https://app/base/", "/a/"), "https://app/base/a/");
        assert_eq!(url("https://app/base", "/"), "https://app/base/");
    }

    #[test]
    fn keeps_the_request_target_byte_for_byte() {
        assert_eq!(
            url("http://app", "/a%2Fb/c%20d?q=%26&r=%3D"),
            "http://app/a%2Fb/c%20d?q=%26&r=%3D"
        );
    }

    #[test]
    fn joins_queries() {
        assert_eq!(url("http://app/?k=v", "/x?y=1"), "http://app/x?k=v&y=1");
        assert_eq!(url("http://app/?k=v", "/x"), "http://app/x?k=v");
        assert_eq!(url("http://app", "/x?"), "http://app/x");
    }

    #[test]
    fn non_origin_forms_go_to_the_base() {
        assert_eq!(url("http://app/base", "*"), "http://app/base/");
    }

    #[test]
    fn host_header_is_the_authority() {
        let target = Target::parse("HTTPS://10.0.0.5:8443/x").unwrap();
        assert!(
            target
                .uri_for("/")
                .unwrap()
                .to_string()
                .starts_with("https://")
        );
        assert_eq!(target.authority(), "10.0.0.5:8443");
        let target = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(target.authority(), "[::1]:8080");
    }

    #[test]
    fn rejects_what_cannot_be_forwarded_to() {
        assert_eq!(Target::parse("ftp://app"), Err(TargetError::Scheme));
        assert_eq!(Target::parse("app:8080"), Err(TargetError::Scheme));
        assert_eq!(Target::parse("/just/a/path"), Err(TargetError::Scheme));
        assert_eq!(
            Target::parse("http://user:pw@app"),
            Err(TargetError::UserInfo)
        );
        assert!(matches!(
            Target::parse("http://a b"),
            Err(TargetError::Syntax(_))
        ));
    }
}
