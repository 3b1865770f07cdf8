//! The cookies the outpost sets on protected hosts, and reading one back without
//! parsing every cookie of the request (the hot path).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::COOKIE;

use crate::providers::proxy::routes::Route;

/// The value of cookie `name`, found by scanning the `Cookie` headers.
pub fn value<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get_all(COOKIE)
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// A cookie for the protected host: `HttpOnly`, `SameSite=Lax` (it must come along on
/// the top-level redirect back from sign-in), `Secure` on HTTPS hosts, and in domain
/// mode scoped to the cookie domain so every host in it shares the sign-in.
pub fn for_route(route: &Route, name: &str, value: String, max_age_secs: i64) -> Cookie<'static> {
    let mut cookie = Cookie::build(name.to_owned(), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(route.secure)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish();
    if let Some(domain) = &route.cookie_domain {
        cookie.set_domain(domain.clone());
    }
    cookie
}

/// The same cookie, expired.
pub fn removal(route: &Route, name: &str) -> Cookie<'static> {
    for_route(route, name, String::new(), 0)
}
