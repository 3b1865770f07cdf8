//! Who is asking: the client address and whether the request arrived over HTTPS.
//! `X-Forwarded-For` / `X-Forwarded-Proto` are believed only when the direct peer is in
//! `listen.trusted_proxy_cidrs`; otherwise anyone could claim any address.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::session::ClientInfo;

use super::state_of;

#[derive(Debug, Clone)]
pub struct ClientMeta {
    pub ip: Option<IpAddr>,
    pub https: bool,
    /// The host the browser asked for (`X-Forwarded-Host` from a trusted proxy, else
    /// `Host`), limited to host-name characters.
    pub host: String,
    pub user_agent: String,
}

impl ClientMeta {
    pub fn of(request: &HttpRequest) -> ClientMeta {
        let peer = request.peer_addr().map(|addr| addr.ip());
        let mut ip = peer;
        let mut https = request.app_config().secure();
        let mut host = header(request, "host");
        let trusted = |candidate: IpAddr| {
            state_of(request).is_some_and(|state| {
                state
                    .settings
                    .listen
                    .trusted_proxy_cidrs
                    .iter()
                    .any(|net| net.contains(&candidate))
            })
        };
        if peer.is_some_and(trusted) {
            if let Some(forwarded) = header(request, "x-forwarded-for") {
                // Right to left: the first hop we do not trust is the client.
                for hop in forwarded.rsplit(',') {
                    let Ok(hop) = hop.trim().parse::<IpAddr>() else {
                        break;
                    };
                    ip = Some(hop);
                    if !trusted(hop) {
                        break;
                    }
                }
            }
            if let Some(proto) = header(request, "x-forwarded-proto") {
                https = proto.trim().eq_ignore_ascii_case("https");
            }
            if let Some(forwarded_host) = header(request, "x-forwarded-host") {
                host = Some(forwarded_host);
            }
        }
        let host = host
            .map(|host| host.trim().to_owned())
            .filter(|host| {
                !host.is_empty()
                    && host.len() <= 255
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
            })
            .unwrap_or_else(|| "localhost".to_owned());
        ClientMeta {
            ip,
            https,
            host,
            user_agent: header(request, "user-agent")
                .unwrap_or_default()
                .chars()
                .take(256)
                .collect(),
        }
    }

    /// `scheme://host` as the client sees us: for absolute links in emails, issuers and
    /// the URLs an admin pastes into an application.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.host)
    }

    pub fn info(&self) -> ClientInfo {
        ClientInfo {
            ip: self.ip.map(|ip| ip.to_string()),
            user_agent: self.user_agent.clone(),
        }
    }
}

fn header(request: &HttpRequest, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

impl FromRequest for ClientMeta {
    type Error = actix_web::Error;
    type Future = Ready<Result<ClientMeta, actix_web::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientMeta::of(request)))
    }
}
