//! The LDAP listener: the one file of the provider that speaks the wire (BER messages
//! through ldap3_proto's codec over TCP). Each connection is a task with its own bind
//! state; a malformed or oversized message, or an idle connection, ends that
//! connection only. The directory is read-only: writes are refused with a message.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindResponse, LdapExtendedResponse, LdapMsg, LdapOp, LdapResult,
    LdapResultCode, LdapSearchRequest, LdapSearchScope,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use crate::model::{Provider, ProviderId};

use super::LdapServices;
use super::bind::{BindOutcome, bind};
use super::dn;
use super::entry::Entry;
use super::search::{Found, Query, Selection};
use super::view::ViewSettings;
use super::wire::{Outgoing, WireCodec, write_entry};

/// Limits every listener applies.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub max_message_bytes: usize,
    pub idle_timeout: Duration,
    /// The most entries one search returns (a client's own limit may be lower).
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_message_bytes: 1024 * 1024,
            idle_timeout: Duration::from_secs(600),
            max_entries: 10_000,
        }
    }
}

const WHOAMI_OID: &str = "1.3.6.1.4.1.4203.1.11.3";
const STARTTLS_OID: &str = "1.3.6.1.4.1.1466.20037";
const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// How a listener speaks TLS: LDAPS (TLS from the first byte), or plain LDAP that
/// offers StartTLS when it has a certificate.
#[derive(Clone)]
pub enum Transport {
    Plain { starttls: Option<TlsAcceptor> },
    Ldaps(TlsAcceptor),
}

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    services: Arc<LdapServices>,
    limits: Limits,
    transport: Transport,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "ldap: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, "ldap: too many connections; closing the new one");
            continue;
        };
        // Answers go out as soon as they are written (a search's entries are flushed
        // once at the end), so no client waits on a delayed ACK.
        let _ = stream.set_nodelay(true);
        let services = Arc::clone(&services);
        let transport = transport.clone();
        tokio::spawn(async move {
            match transport {
                Transport::Plain { starttls } => {
                    plain_connection(stream, peer, &services, limits, starttls).await;
                }
                Transport::Ldaps(acceptor) => {
                    if let Some(tls) = handshake(&acceptor, stream, peer).await {
                        let mut framed = framed(tls, limits);
                        let mut bound = None;
                        let _ = run(&mut framed, peer, &services, limits, &mut bound, false).await;
                    }
                }
            }
            drop(permit);
        });
    }
}

/// Who is bound on a connection.
#[derive(Debug, Clone)]
struct Bound {
    provider: ProviderId,
    /// The user's entry DN, as served.
    dn: String,
    /// A superuser or member of the provider's search group sees the whole directory;
    /// anyone else only their own entry.
    can_search: bool,
}

fn framed<S: AsyncRead + AsyncWrite>(stream: S, limits: Limits) -> Framed<S, WireCodec> {
    Framed::new(stream, WireCodec::new(limits.max_message_bytes))
}

async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "ldap: TLS handshake failed");
            None
        }
        Err(_) => None,
    }
}

/// Plain LDAP, upgraded in place when the client asks for StartTLS.
async fn plain_connection(
    stream: TcpStream,
    peer: SocketAddr,
    services: &LdapServices,
    limits: Limits,
    starttls: Option<TlsAcceptor>,
) {
    let mut plain = framed(stream, limits);
    let mut bound = None;
    let upgrade = run(
        &mut plain,
        peer,
        services,
        limits,
        &mut bound,
        starttls.is_some(),
    )
    .await;
    let (Next::StartTls, Some(acceptor)) = (upgrade, starttls) else {
        return;
    };
    // The client waits for the StartTLS answer before its handshake, so nothing it sent
    // is left in the read buffer.
    let Some(tls) = handshake(&acceptor, plain.into_inner(), peer).await else {
        return;
    };
    let mut secured = framed(tls, limits);
    let _ = run(&mut secured, peer, services, limits, &mut bound, false).await;
}

/// Why a connection's message loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Close,
    /// StartTLS was accepted: the caller does the handshake and carries on.
    StartTls,
}

async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S, WireCodec>,
    peer: SocketAddr,
    services: &LdapServices,
    limits: Limits,
    bound: &mut Option<Bound>,
    starttls: bool,
) -> Next {
    loop {
        let message = match tokio::time::timeout(limits.idle_timeout, framed.next()).await {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(error))) => {
                tracing::debug!(%peer, ?error, "ldap: malformed message; closing");
                return Next::Close;
            }
            Ok(None) | Err(_) => return Next::Close,
        };
        let msgid = message.msgid;
        let operation = operation_name(&message.op);
        let mut next = None;
        let answers: Vec<Outgoing> = match message.op {
            LdapOp::UnbindRequest => return Next::Close,
            LdapOp::AbandonRequest(_) => Vec::new(),
            LdapOp::BindRequest(request) => {
                let (answer, now_bound) =
                    handle_bind(services, msgid, &request.dn, request.cred, peer.ip()).await;
                *bound = now_bound;
                vec![answer.into()]
            }
            LdapOp::SearchRequest(request) => {
                let started = std::time::Instant::now();
                let answers = search(
                    services,
                    msgid,
                    &request,
                    &message.ctrl,
                    bound.as_ref(),
                    limits,
                )
                .await;
                tracing::debug!(
                    %peer,
                    bound = bound.as_ref().map_or("", |bound| bound.dn.as_str()),
                    base = %request.base,
                    scope = ?request.scope,
                    filter = ?request.filter,
                    took_us = started.elapsed().as_micros(),
                    "ldap: search"
                );
                answers
            }
            LdapOp::ExtendedRequest(request) if request.name == STARTTLS_OID && starttls => {
                next = Some(Next::StartTls);
                vec![
                    extended_answer(
                        msgid,
                        LdapResultCode::Success,
                        String::new(),
                        Some(STARTTLS_OID),
                        None,
                    )
                    .into(),
                ]
            }
            LdapOp::ExtendedRequest(request) => {
                vec![extended(msgid, &request.name, bound.as_ref()).into()]
            }
            LdapOp::CompareRequest(_) => vec![
                result(
                    msgid,
                    LdapOp::CompareResult,
                    LdapResultCode::UnwillingToPerform,
                    "Compare is not supported; search with an equality filter instead",
                )
                .into(),
            ],
            LdapOp::AddRequest(_) => vec![read_only(msgid, LdapOp::AddResponse).into()],
            LdapOp::ModifyRequest(_) => vec![read_only(msgid, LdapOp::ModifyResponse).into()],
            LdapOp::DelRequest(_) => vec![read_only(msgid, LdapOp::DelResponse).into()],
            LdapOp::ModifyDNRequest(_) => {
                vec![read_only(msgid, LdapOp::ModifyDNResponse).into()]
            }
            _ => {
                tracing::debug!(%peer, "ldap: unexpected operation; closing");
                return Next::Close;
            }
        };
        crate::metrics::global().ldap(operation, result_name(&answers));
        for answer in answers {
            if framed.feed(answer).await.is_err() {
                return Next::Close;
            }
        }
        if framed.flush().await.is_err() {
            return Next::Close;
        }
        if let Some(next) = next {
            return next;
        }
    }
}

/// The operation, for the `ldap_operations` metric.
fn operation_name(op: &LdapOp) -> &'static str {
    match op {
        LdapOp::BindRequest(_) => "bind",
        LdapOp::SearchRequest(_) => "search",
        LdapOp::ExtendedRequest(_) => "extended",
        LdapOp::CompareRequest(_) => "compare",
        LdapOp::AddRequest(_)
        | LdapOp::ModifyRequest(_)
        | LdapOp::DelRequest(_)
        | LdapOp::ModifyDNRequest(_) => "write",
        LdapOp::AbandonRequest(_) => "abandon",
        _ => "other",
    }
}

/// The result code of the answer that ends an operation, for the metric.
fn result_name(answers: &[Outgoing]) -> &'static str {
    let code = answers.iter().rev().find_map(|answer| match answer {
        Outgoing::Message(message) => match &message.op {
            LdapOp::BindResponse(response) => Some(&response.res.code),
            LdapOp::ExtendedResponse(response) => Some(&response.res.code),
            LdapOp::SearchResultDone(result)
            | LdapOp::CompareResult(result)
            | LdapOp::AddResponse(result)
            | LdapOp::ModifyResponse(result)
            | LdapOp::DelResponse(result)
            | LdapOp::ModifyDNResponse(result) => Some(&result.code),
            _ => None,
        },
        Outgoing::Encoded(_) => None,
    });
    match code {
        None => "none",
        Some(LdapResultCode::Success) => "success",
        Some(LdapResultCode::InvalidCredentials) => "invalid_credentials",
        Some(LdapResultCode::InsufficentAccessRights) => "insufficient_access_rights",
        Some(LdapResultCode::NoSuchObject) => "no_such_object",
        Some(LdapResultCode::SizeLimitExceeded) => "size_limit_exceeded",
        Some(LdapResultCode::UnwillingToPerform) => "unwilling_to_perform",
        Some(LdapResultCode::Unavailable) => "unavailable",
        Some(_) => "other",
    }
}

fn result(
    msgid: i32,
    op: fn(LdapResult) -> LdapOp,
    code: LdapResultCode,
    message: &str,
) -> LdapMsg {
    LdapMsg {
        msgid,
        op: op(LdapResult {
            code,
            matcheddn: String::new(),
            message: message.to_owned(),
            referral: Vec::new(),
        }),
        ctrl: Vec::new(),
    }
}

fn read_only(msgid: i32, op: fn(LdapResult) -> LdapOp) -> LdapMsg {
    result(
        msgid,
        op,
        LdapResultCode::UnwillingToPerform,
        "gatehouse's directory is read-only; change users and groups in gatehouse",
    )
}

fn bind_response(msgid: i32, code: LdapResultCode, message: &str) -> LdapMsg {
    LdapMsg {
        msgid,
        op: LdapOp::BindResponse(LdapBindResponse {
            res: LdapResult {
                code,
                matcheddn: String::new(),
                message: message.to_owned(),
                referral: Vec::new(),
            },
            saslcreds: None,
        }),
        ctrl: Vec::new(),
    }
}

/// The served LDAP providers (assigned to the embedded outpost, bound to an application).
fn served(services: &LdapServices) -> Vec<Provider> {
    served_in(&services.catalog.load())
        .into_iter()
        .cloned()
        .collect()
}

pub(super) fn served_in(catalog: &crate::store::Catalog) -> Vec<&Provider> {
    let Some(outpost) = catalog.embedded_outpost() else {
        return Vec::new();
    };
    outpost
        .providers
        .iter()
        .filter_map(|id| catalog.provider(*id))
        .filter(|provider| {
            provider.ldap().is_some() && catalog.application_of_provider(provider.id).is_some()
        })
        .collect()
}

/// The provider whose base DN holds `dn` (the longest match), or the only one when the
/// DN names no base (a bare username).
fn provider_for(providers: &[Provider], dn_text: &str) -> Option<Provider> {
    let normalized = dn::normalize(dn_text);
    let by_base = providers
        .iter()
        .filter(|provider| {
            provider
                .ldap()
                .is_some_and(|ldap| dn::is_within(&normalized, &dn::normalize(&ldap.base_dn)))
        })
        .max_by_key(|provider| provider.ldap().map_or(0, |ldap| ldap.base_dn.len()));
    match by_base {
        Some(provider) => Some(provider.clone()),
        None if !dn_text.contains('=') && providers.len() == 1 => providers.first().cloned(),
        None => None,
    }
}

async fn handle_bind(
    services: &LdapServices,
    msgid: i32,
    bind_dn: &str,
    cred: LdapBindCred,
    ip: IpAddr,
) -> (LdapMsg, Option<Bound>) {
    let LdapBindCred::Simple(password) = cred else {
        return (
            bind_response(
                msgid,
                LdapResultCode::AuthMethodNotSupported,
                "Only simple binds are supported",
            ),
            None,
        );
    };
    if bind_dn.is_empty() && password.is_empty() {
        // Anonymous: allowed, but it can read only the root DSE.
        return (bind_response(msgid, LdapResultCode::Success, ""), None);
    }
    let providers = served(services);
    let Some(provider) = provider_for(&providers, bind_dn) else {
        return (
            bind_response(
                msgid,
                LdapResultCode::InvalidCredentials,
                "Invalid credentials",
            ),
            None,
        );
    };
    let Some(ldap) = provider.ldap() else {
        return (
            bind_response(
                msgid,
                LdapResultCode::InvalidCredentials,
                "Invalid credentials",
            ),
            None,
        );
    };
    match bind(services, &provider, ldap, bind_dn, &password, Some(ip)).await {
        BindOutcome::Bound(proven) => {
            let can_search = proven
                .groups
                .iter()
                .any(|group| group.is_superuser || Some(group.id) == ldap.search_group);
            let dn = format!(
                "cn={},ou=users,{}",
                dn::escape_value(&proven.username),
                ldap.base_dn
            );
            (
                bind_response(msgid, LdapResultCode::Success, ""),
                Some(Bound {
                    provider: provider.id,
                    dn,
                    can_search,
                }),
            )
        }
        BindOutcome::Refused(message) => (
            bind_response(msgid, LdapResultCode::InvalidCredentials, message),
            None,
        ),
    }
}

fn extended(msgid: i32, name: &str, bound: Option<&Bound>) -> LdapMsg {
    let (code, message, value) = match name {
        WHOAMI_OID => {
            let authzid = bound
                .map(|bound| format!("dn:{}", bound.dn))
                .unwrap_or_default();
            (
                LdapResultCode::Success,
                String::new(),
                Some(authzid.into_bytes()),
            )
        }
        STARTTLS_OID => (
            LdapResultCode::OperationsError,
            "StartTLS is available on plain LDAP listeners only, once".to_owned(),
            None,
        ),
        _ => (
            LdapResultCode::ProtocolError,
            format!("Unknown extended operation {name}"),
            None,
        ),
    };
    extended_answer(msgid, code, message, None, value)
}

fn extended_answer(
    msgid: i32,
    code: LdapResultCode,
    message: String,
    name: Option<&str>,
    value: Option<Vec<u8>>,
) -> LdapMsg {
    LdapMsg {
        msgid,
        op: LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: LdapResult {
                code,
                matcheddn: String::new(),
                message,
                referral: Vec::new(),
            },
            name: name.map(str::to_owned),
            value,
        }),
        ctrl: Vec::new(),
    }
}

fn root_dse(services: &LdapServices) -> Entry {
    let mut entry = Entry::new(String::new());
    entry.add("objectClass", ["top"]);
    entry.add(
        "namingContexts",
        served(services)
            .iter()
            .filter_map(|provider| provider.ldap().map(|ldap| ldap.base_dn.clone())),
    );
    entry.add("supportedLDAPVersion", ["3"]);
    entry.add("supportedControl", [PAGED_RESULTS_OID]);
    entry.add("supportedExtension", [WHOAMI_OID, STARTTLS_OID]);
    entry.add("supportedSASLMechanisms", Vec::<String>::new());
    entry.add("subschemaSubentry", ["cn=subschema"]);
    entry.add("vendorName", ["gatehouse"]);
    entry.add("vendorVersion", [env!("CARGO_PKG_VERSION")]);
    entry
}

fn done(msgid: i32, code: LdapResultCode, message: &str, ctrl: Vec<LdapControl>) -> LdapMsg {
    let mut answer = result(msgid, LdapOp::SearchResultDone, code, message);
    answer.ctrl = ctrl;
    answer
}

/// The directory view of the provider the connection is bound to.
async fn bound_view(
    services: &LdapServices,
    bound: &Bound,
) -> Result<Arc<super::view::DirectoryView>, (LdapResultCode, &'static str)> {
    let catalog = services.catalog.load();
    let Some(ldap) = catalog.provider(bound.provider).and_then(Provider::ldap) else {
        return Err((LdapResultCode::Unavailable, "The provider is gone"));
    };
    let settings = ViewSettings {
        base_dn: ldap.base_dn.clone(),
        uid_start: ldap.uid_start_number,
        gid_start: ldap.gid_start_number,
    };
    let epoch = services.sessions.directory_epoch();
    services
        .directories
        .view(&services.db, epoch, bound.provider, &settings)
        .await
        .map_err(|error| {
            tracing::error!(%error, "ldap: loading the directory failed");
            (LdapResultCode::Unavailable, "The directory is unavailable")
        })
}

async fn search(
    services: &LdapServices,
    msgid: i32,
    request: &LdapSearchRequest,
    controls: &[LdapControl],
    bound: Option<&Bound>,
    limits: Limits,
) -> Vec<Outgoing> {
    let refused = |code, message: &str| vec![done(msgid, code, message, Vec::new()).into()];
    let selection = Selection::new(&request.attrs);
    let base = dn::normalize(&request.base);
    if request.scope == LdapSearchScope::Base && (base.is_empty() || base == "cn=subschema") {
        let entry = if base.is_empty() {
            root_dse(services)
        } else {
            // Bound clients also learn the names of the user and group attributes their
            // directory holds (schema-checking clients refuse filters on unknown names).
            let view = match bound {
                Some(bound) => bound_view(services, bound).await.ok(),
                None => None,
            };
            let custom = view.iter().flat_map(|view| view.attribute_names());
            super::schema::subschema(custom)
        };
        let mut encoded = Vec::new();
        if super::filter::matches(&entry, &request.filter) {
            write_entry(&mut encoded, msgid, &entry.dn, selection.of(&entry));
        }
        return vec![
            Outgoing::Encoded(encoded),
            done(msgid, LdapResultCode::Success, "", Vec::new()).into(),
        ];
    }
    let Some(bound) = bound else {
        return refused(
            LdapResultCode::InsufficentAccessRights,
            "Bind first: anonymous clients may read only the root DSE",
        );
    };
    let view = match bound_view(services, bound).await {
        Ok(view) => view,
        Err((code, message)) => return refused(code, message),
    };
    let client_limit = usize::try_from(request.sizelimit).unwrap_or(0);
    let size_limit = match client_limit {
        0 => limits.max_entries,
        n => n.min(limits.max_entries),
    };
    let found = view.search(&Query {
        base: &request.base,
        scope: request.scope.clone(),
        filter: &request.filter,
        size_limit: 0,
    });
    let mut entries = match found {
        Found::All(entries) | Found::Truncated(entries) => entries,
        Found::NoSuchBase => {
            return refused(
                LdapResultCode::NoSuchObject,
                "The base DN is not in this directory",
            );
        }
    };
    if !bound.can_search {
        // Without search rights a user sees their own entry only.
        let own = dn::normalize(&bound.dn);
        entries.retain(|entry| entry.dn_norm == own);
    }
    // Simple Paged Results (RFC 2696): the cookie is the offset of the next page.
    let paged = controls.iter().find_map(|control| match control {
        LdapControl::SimplePagedResults { size, cookie } => Some((*size, cookie.clone())),
        _ => None,
    });
    let (start, page_size) = match &paged {
        Some((size, cookie)) => {
            let offset = std::str::from_utf8(cookie)
                .ok()
                .and_then(|text| text.parse::<usize>().ok())
                .unwrap_or(0);
            (
                offset,
                usize::try_from(*size)
                    .ok()
                    .filter(|size| *size > 0)
                    .unwrap_or(size_limit),
            )
        }
        None => (0, size_limit),
    };
    let total = entries.len();
    let end = start.saturating_add(page_size).min(total);
    let page = entries.get(start.min(total)..end).unwrap_or_default();
    let mut encoded = Vec::with_capacity(page.len() * 512);
    for entry in page {
        write_entry(&mut encoded, msgid, &entry.dn, selection.of(entry));
    }
    let done = match paged {
        Some((_, _)) => {
            let cookie = if end < total {
                end.to_string().into_bytes()
            } else {
                Vec::new()
            };
            let size = i64::try_from(total).unwrap_or(i64::MAX);
            done(
                msgid,
                LdapResultCode::Success,
                "",
                vec![LdapControl::SimplePagedResults { size, cookie }],
            )
        }
        None if end < total => done(
            msgid,
            LdapResultCode::SizeLimitExceeded,
            "Size limit exceeded",
            Vec::new(),
        ),
        None => done(msgid, LdapResultCode::Success, "", Vec::new()),
    };
    vec![Outgoing::Encoded(encoded), done.into()]
}
