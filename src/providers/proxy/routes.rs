//! Which proxy provider answers for a host: built from the catalog snapshot whenever it
//! changes (skip-path expressions compiled once), and consulted on every forward-auth
//! request without touching the database. Only providers assigned to the embedded
//! outpost and bound to an application are served, as in authentik.

use std::sync::Arc;

use arc_swap::ArcSwap;
use regex::RegexSet;

use crate::model::{Application, Outpost, Provider, ProviderId, ProxyMode, ProxyProvider};
use crate::store::{Catalog, CatalogHandle};

/// One served proxy provider, with what the hot path needs precomputed.
pub struct Route {
    pub provider: Provider,
    /// The provider's proxy settings (a copy, so no caller has to match the kind).
    pub proxy: ProxyProvider,
    pub application: Application,
    /// Lowercased host of the external host, and its port when one is written.
    pub hostname: String,
    pub port: Option<u16>,
    /// Whether the external host is `https` (cookies are then `Secure`).
    pub secure: bool,
    /// Domain mode: the lowercased cookie domain without a leading dot.
    pub cookie_domain: Option<String>,
    pub skip: Option<RegexSet>,
    /// `gatehouse_proxy_<id>`: one cookie per provider, so two on one domain coexist.
    pub cookie_name: String,
}

impl Route {
    pub fn mode(&self) -> ProxyMode {
        self.proxy.mode
    }

    pub fn skips(&self, path: &str) -> bool {
        self.skip.as_ref().is_some_and(|set| set.is_match(path))
    }

    /// Whether the browser may be sent back to a URL on `name` and `port` (as the `url`
    /// crate gives them: no port for the scheme's default) after signing in: the
    /// external host with its own port, or in domain mode any host in the cookie domain.
    pub fn returns_to(&self, name: &str, port: Option<u16>) -> bool {
        let name = name.trim_start_matches('[').trim_end_matches(']');
        (name.eq_ignore_ascii_case(&self.hostname) && port == self.port)
            || self
                .cookie_domain
                .as_deref()
                .is_some_and(|domain| in_domain(name, domain))
    }
}

/// The routes of one catalog snapshot.
pub struct Routes {
    catalog: Arc<Catalog>,
    routes: Vec<Route>,
    outpost_name: String,
}

impl Routes {
    pub fn build(catalog: Arc<Catalog>) -> Routes {
        let outpost = catalog.embedded_outpost();
        let assigned = |id: ProviderId| outpost.is_some_and(|o| o.providers.contains(&id));
        let routes = catalog
            .providers()
            .into_iter()
            .filter(|provider| provider.proxy().is_some() && assigned(provider.id))
            .filter_map(|provider| route(&catalog, provider))
            .collect();
        let outpost_name = outpost.map(|o| o.name.clone()).unwrap_or_default();
        Routes {
            catalog,
            routes,
            outpost_name,
        }
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    pub fn outpost(&self) -> Option<&Outpost> {
        self.catalog.embedded_outpost()
    }

    pub fn outpost_name(&self) -> &str {
        &self.outpost_name
    }

    pub fn by_provider(&self, id: ProviderId) -> Option<&Route> {
        self.routes.iter().find(|route| route.provider.id == id)
    }

    /// The route for a request's host: an exact external host first, then the longest
    /// cookie domain containing it.
    pub fn for_host(&self, host: &str) -> Option<&Route> {
        let (name, port) = split_host(host);
        let exact = self.routes.iter().find(|route| {
            route.hostname.eq_ignore_ascii_case(name) && ports_agree(port, route.port)
        });
        exact.or_else(|| {
            self.routes
                .iter()
                .filter(|route| {
                    route
                        .cookie_domain
                        .as_deref()
                        .is_some_and(|domain| in_domain(name, domain))
                })
                .max_by_key(|route| route.cookie_domain.as_deref().map_or(0, str::len))
        })
    }

    /// Whether `host` is the external host of a provider in proxy mode (gatehouse then
    /// serves the whole host).
    pub fn proxies_host(&self, host: &str) -> Option<&Route> {
        let (name, port) = split_host(host);
        self.routes.iter().find(|route| {
            route.mode() == ProxyMode::Proxy
                && route.hostname.eq_ignore_ascii_case(name)
                && ports_agree(port, route.port)
        })
    }
}

fn route(catalog: &Catalog, provider: &Provider) -> Option<Route> {
    let proxy = provider.proxy()?;
    let application = catalog.application_of_provider(provider.id)?.clone();
    let url = url::Url::parse(&proxy.external_host).ok()?;
    let hostname = url.host_str()?.to_ascii_lowercase();
    let skip = compile_skip_paths(&proxy.skip_path_regex, &provider.name);
    let cookie_domain = (proxy.mode == ProxyMode::ForwardDomain)
        .then(|| normalize_domain(&proxy.cookie_domain))
        .filter(|domain| !domain.is_empty());
    Some(Route {
        application,
        hostname,
        port: url.port(),
        secure: url.scheme() == "https",
        cookie_domain,
        skip,
        cookie_name: format!("gatehouse_proxy_{}", provider.id.0),
        proxy: proxy.clone(),
        provider: provider.clone(),
    })
}

/// One expression per non-empty line. Input was checked when saved; should one not
/// compile anyway the provider skips nothing (failing closed) and says so in the log.
fn compile_skip_paths(text: &str, provider: &str) -> Option<RegexSet> {
    let patterns = skip_path_lines(text);
    if patterns.is_empty() {
        return None;
    }
    match RegexSet::new(&patterns) {
        Ok(set) => Some(set),
        Err(error) => {
            tracing::error!(provider, %error, "proxy: skip_path_regex does not compile; no path is skipped");
            None
        }
    }
}

pub fn skip_path_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
}

/// `.Example.com` → `example.com`.
pub fn normalize_domain(domain: &str) -> String {
    domain.trim().trim_start_matches('.').to_ascii_lowercase()
}

fn in_domain(name: &str, domain: &str) -> bool {
    name.eq_ignore_ascii_case(domain)
        || (name.len() > domain.len()
            && name
                .get(name.len() - domain.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(domain))
            && name.as_bytes().get(name.len() - domain.len() - 1) == Some(&b'.'))
}

/// A port given on only one side matches: reverse proxies differ in whether they keep
/// the port in `X-Forwarded-Host`.
fn ports_agree(request: Option<u16>, route: Option<u16>) -> bool {
    match (request, route) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// `name[:port]`, IPv6 literals in brackets included.
pub fn split_host(host: &str) -> (&str, Option<u16>) {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((name, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (name, port);
        }
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, port.parse().ok()),
        _ => (host, None),
    }
}

/// Keeps the routes of the current catalog, rebuilding them when the snapshot changes
/// (checked by pointer on each request: one atomic load).
#[derive(Default)]
pub struct RoutesCache {
    current: ArcSwap<Option<Arc<Routes>>>,
}

impl RoutesCache {
    pub fn current(&self, catalog: &CatalogHandle) -> Arc<Routes> {
        let snapshot = catalog.load();
        if let Some(routes) = self.current.load().as_ref() {
            if Arc::ptr_eq(&routes.catalog, &snapshot) {
                return Arc::clone(routes);
            }
        }
        let routes = Arc::new(Routes::build(snapshot));
        self.current.store(Arc::new(Some(Arc::clone(&routes))));
        routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_split_and_domains_match_on_label_boundaries() {
        assert_eq!(
            split_host("App.Example.com:8443"),
            ("App.Example.com", Some(8443))
        );
        assert_eq!(split_host("[::1]:9000"), ("::1", Some(9000)));
        assert_eq!(split_host("example.com"), ("example.com", None));
        assert!(in_domain("a.example.com", "example.com"));
        assert!(in_domain("EXAMPLE.com", "example.com"));
        assert!(!in_domain("badexample.com", "example.com"));
        assert!(!in_domain("example.com.evil", "example.com"));
        assert_eq!(normalize_domain(" .Example.COM"), "example.com");
    }
}
