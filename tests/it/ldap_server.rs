//! The LDAP listener with a client speaking the wire format (ldap3_proto's codec on a
//! TCP stream): the root DSE, binds (DN, wrong password, service tokens), WhoAmI,
//! searches with filters, scopes and paging, search rights, read-only refusals, a
//! malformed message that ends only its own connection, and directory changes seen at
//! once. (Real clients — ldapsearch, Python ldap3 — are for the interop layer.)

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapAddRequest, LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapExtendedRequest,
    LdapFilter, LdapMsg, LdapOp, LdapResultCode, LdapSearchRequest, LdapSearchScope,
};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::harness::oidc::flow_pk;
use crate::harness::{Options, TestServer, test_settings};

const BASE: &str = "DC=ldap,DC=goauthentik,DC=io";

async fn ldap_server() -> TestServer {
    let dir = Arc::new(tempfile::TempDir::new().unwrap());
    let mut settings = test_settings(&dir, &Options::default());
    settings.listen.ldap = Some("127.0.0.1:0".parse().unwrap());
    TestServer::start_in(dir, settings).await
}

fn ldap_addr(server: &TestServer) -> std::net::SocketAddr {
    server.app.as_ref().unwrap().ldap_addr.unwrap()
}

struct Client {
    framed: Framed<TcpStream, LdapCodec>,
    next_id: i32,
}

impl Client {
    async fn connect(server: &TestServer) -> Client {
        let stream = TcpStream::connect(ldap_addr(server)).await.unwrap();
        Client {
            framed: Framed::new(stream, LdapCodec::default()),
            next_id: 1,
        }
    }

    /// Sends `op` and collects answers up to the one that ends it.
    async fn call(&mut self, op: LdapOp, ctrl: Vec<LdapControl>) -> Vec<LdapMsg> {
        let msgid = self.next_id;
        self.next_id += 1;
        self.framed.send(LdapMsg { msgid, op, ctrl }).await.unwrap();
        let mut answers = Vec::new();
        loop {
            let answer = self.framed.next().await.unwrap().unwrap();
            assert_eq!(answer.msgid, msgid);
            let last = !matches!(answer.op, LdapOp::SearchResultEntry(_));
            answers.push(answer);
            if last {
                return answers;
            }
        }
    }

    async fn bind(&mut self, dn: &str, password: &str) -> (LdapResultCode, String) {
        let answers = self
            .call(
                LdapOp::BindRequest(LdapBindRequest {
                    version: 3,
                    dn: dn.into(),
                    cred: LdapBindCred::Simple(password.into()),
                }),
                Vec::new(),
            )
            .await;
        match &answers[0].op {
            LdapOp::BindResponse(response) => {
                (response.res.code.clone(), response.res.message.clone())
            }
            other => panic!("{other:?}"),
        }
    }

    /// Entry DNs (with their attributes) and the final result code.
    async fn search(
        &mut self,
        base: &str,
        scope: LdapSearchScope,
        filter: LdapFilter,
        attrs: &[&str],
        ctrl: Vec<LdapControl>,
    ) -> (
        Vec<(String, Vec<(String, Vec<String>)>)>,
        LdapResultCode,
        Vec<LdapControl>,
    ) {
        let answers = self
            .call(
                LdapOp::SearchRequest(LdapSearchRequest {
                    base: base.into(),
                    scope,
                    aliases: LdapDerefAliases::Never,
                    sizelimit: 0,
                    timelimit: 0,
                    typesonly: false,
                    filter,
                    attrs: attrs.iter().map(|a| (*a).to_owned()).collect(),
                }),
                ctrl,
            )
            .await;
        let mut entries = Vec::new();
        let mut code = LdapResultCode::Other;
        let mut controls = Vec::new();
        for answer in answers {
            match answer.op {
                LdapOp::SearchResultEntry(entry) => entries.push((
                    entry.dn,
                    entry
                        .attributes
                        .into_iter()
                        .map(|a| {
                            (
                                a.atype,
                                a.vals
                                    .into_iter()
                                    .map(|v| String::from_utf8(v).unwrap())
                                    .collect(),
                            )
                        })
                        .collect(),
                )),
                LdapOp::SearchResultDone(result) => {
                    code = result.code;
                    controls = answer.ctrl;
                }
                other => panic!("{other:?}"),
            }
        }
        (entries, code, controls)
    }
}

fn eq(attribute: &str, value: &str) -> LdapFilter {
    LdapFilter::Equality(attribute.into(), value.into())
}

/// An LDAP provider with its application, served by the embedded outpost, whose search
/// group is "ldap-search"; alice is in it, bob is not.
async fn directory(server: &TestServer) -> (i64, i64) {
    let flow = flow_pk(server, "default-authentication-flow").await;
    let group: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/core/groups/",
            json!({"name": "ldap-search"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let provider: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/providers/ldap/",
            json!({"name": "Directory", "authorization_flow": flow, "search_group": group["pk"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let app = server
        .admin_send(
            Method::POST,
            "/api/v3/core/applications/",
            json!({"name": "Directory", "slug": "directory", "provider": provider["pk"]}),
        )
        .await;
    assert_eq!(app.status(), 201);
    let outposts: Value = server
        .admin_get("/api/v3/outposts/instances/")
        .await
        .json()
        .await
        .unwrap();
    let outpost = &outposts["results"][0];
    let patched = server
        .admin_send(
            Method::PATCH,
            &format!(
                "/api/v3/outposts/instances/{}/",
                outpost["pk"].as_str().unwrap()
            ),
            json!({"providers": [provider["pk"]]}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let alice = server.create_user("alice", "alice-password-1").await;
    let bob = server.create_user("bob", "bob-password-1").await;
    let added = server
        .admin_send(
            Method::POST,
            &format!(
                "/api/v3/core/groups/{}/add_user/",
                group["pk"].as_str().unwrap()
            ),
            json!({"pk": alice}),
        )
        .await;
    assert_eq!(added.status(), 204);
    (alice, bob)
}

#[tokio::test]
async fn binds_searches_and_rights() {
    let server = ldap_server().await;
    directory(&server).await;
    let mut client = Client::connect(&server).await;

    // Anonymous: the root DSE only.
    let (entries, code, _) = client
        .search(
            "",
            LdapSearchScope::Base,
            LdapFilter::Present("objectClass".into()),
            &["namingContexts", "supportedLDAPVersion"],
            Vec::new(),
        )
        .await;
    assert_eq!(code, LdapResultCode::Success);
    assert_eq!(
        entries[0].1,
        vec![
            ("namingContexts".to_owned(), vec![BASE.to_owned()]),
            ("supportedLDAPVersion".to_owned(), vec!["3".to_owned()])
        ]
    );
    let (_, code, _) = client
        .search(
            BASE,
            LdapSearchScope::Subtree,
            eq("cn", "bob"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(code, LdapResultCode::InsufficentAccessRights);

    // Wrong password, unknown user: the same answer.
    let alice_dn = format!("cn=alice,ou=users,{BASE}");
    assert_eq!(
        client.bind(&alice_dn, "nope").await.0,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        client
            .bind(&format!("cn=nobody,ou=users,{BASE}"), "nope")
            .await
            .0,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        client.bind(&alice_dn, "alice-password-1").await.0,
        LdapResultCode::Success
    );
    let whoami = client
        .call(
            LdapOp::ExtendedRequest(LdapExtendedRequest {
                name: "1.3.6.1.4.1.4203.1.11.3".into(),
                value: None,
            }),
            Vec::new(),
        )
        .await;
    match &whoami[0].op {
        LdapOp::ExtendedResponse(response) => {
            assert_eq!(
                response.value.as_deref(),
                Some(format!("dn:{alice_dn}").as_bytes())
            );
        }
        other => panic!("{other:?}"),
    }

    // A search-group member searches everything.
    let (entries, code, _) = client
        .search(
            BASE,
            LdapSearchScope::Subtree,
            eq("uid", "BOB"),
            &["uid", "memberOf", "uidNumber"],
            Vec::new(),
        )
        .await;
    assert_eq!(code, LdapResultCode::Success);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, format!("cn=bob,ou=users,{BASE}"));
    let group_dn = format!("cn=ldap-search,ou=groups,{BASE}");
    let (members, _, _) = client
        .search(
            BASE,
            LdapSearchScope::Subtree,
            LdapFilter::And(vec![eq("objectClass", "user"), eq("memberOf", &group_dn)]),
            &["cn"],
            Vec::new(),
        )
        .await;
    assert_eq!(
        members.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        [alice_dn.as_str()]
    );
    // Paged: one entry per page, the cookie carries on.
    let users_ou = format!("ou=users,{BASE}");
    let mut cookie = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (page, code, controls) = client
            .search(
                &users_ou,
                LdapSearchScope::OneLevel,
                LdapFilter::Present("objectClass".into()),
                &["cn"],
                vec![LdapControl::SimplePagedResults {
                    size: 1,
                    cookie: cookie.clone(),
                }],
            )
            .await;
        assert_eq!(code, LdapResultCode::Success);
        seen.extend(page.into_iter().map(|e| e.0));
        cookie = match controls.first() {
            Some(LdapControl::SimplePagedResults { cookie, .. }) => cookie.clone(),
            other => panic!("{other:?}"),
        };
        if cookie.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 3, "akadmin, alice, bob: {seen:?}");

    // Writes are refused.
    let add = client
        .call(
            LdapOp::AddRequest(LdapAddRequest {
                dn: format!("cn=eve,ou=users,{BASE}"),
                attributes: Vec::new(),
            }),
            Vec::new(),
        )
        .await;
    match &add[0].op {
        LdapOp::AddResponse(result) => assert_eq!(result.code, LdapResultCode::UnwillingToPerform),
        other => panic!("{other:?}"),
    }

    // Bob (not in the search group) sees only himself.
    let mut bob = Client::connect(&server).await;
    assert_eq!(
        bob.bind("bob", "bob-password-1").await.0,
        LdapResultCode::Success
    );
    let (entries, _, _) = bob
        .search(
            BASE,
            LdapSearchScope::Subtree,
            LdapFilter::Present("objectClass".into()),
            &["cn"],
            Vec::new(),
        )
        .await;
    assert_eq!(
        entries.iter().map(|e| e.0.clone()).collect::<Vec<_>>(),
        [format!("cn=bob,ou=users,{BASE}")]
    );

    // A user created through the API is visible at once.
    server.create_user("carol", "carol-password-1").await;
    let carol = LdapFilter::And(vec![eq("objectClass", "user"), eq("cn", "carol")]);
    let (entries, _, _) = client
        .search(BASE, LdapSearchScope::Subtree, carol, &["cn"], Vec::new())
        .await;
    assert_eq!(entries.len(), 1);
}

#[tokio::test]
async fn a_malformed_message_ends_only_its_connection() {
    let server = ldap_server().await;
    directory(&server).await;
    let mut healthy = Client::connect(&server).await;
    assert_eq!(
        healthy.bind("alice", "alice-password-1").await.0,
        LdapResultCode::Success
    );
    let mut broken = TcpStream::connect(ldap_addr(&server)).await.unwrap();
    // Not a BER SEQUENCE at all.
    broken
        .write_all(b"\x05\x00garbage that is not an LDAP message")
        .await
        .unwrap();
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut broken, &mut buffer),
    )
    .await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the server closes the broken connection: {read:?}"
    );
    // A message far over the size limit (10 MB) ends its connection too.
    let mut huge = TcpStream::connect(ldap_addr(&server)).await.unwrap();
    let mut message = vec![0x30, 0x84, 0x00, 0xa0, 0x00, 0x00];
    message.extend(std::iter::repeat_n(0u8, 10 * 1024 * 1024));
    let written = huge.write_all(&message).await;
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut huge, &mut buffer),
    )
    .await;
    assert!(
        written.is_err() || matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "{read:?}"
    );
    let alice = LdapFilter::And(vec![eq("objectClass", "user"), eq("cn", "alice")]);
    let (entries, code, _) = healthy
        .search(BASE, LdapSearchScope::Subtree, alice, &["cn"], Vec::new())
        .await;
    assert_eq!(code, LdapResultCode::Success);
    assert_eq!(entries.len(), 1);
}

#[tokio::test]
async fn binds_need_the_second_factor_of_users_who_have_one() {
    use gatehouse::app::load_secret_key;
    use gatehouse::clock::Clock;
    use gatehouse::crypto::SecretBox;
    use gatehouse::mfa::{static_codes, totp};
    use gatehouse::model::device::TotpData;
    use gatehouse::model::{Device, DeviceData, DeviceId, UserId};
    use gatehouse::store::Db;
    use gatehouse::store::sqlite::SqliteStore;

    let server = ldap_server().await;
    let (alice, _) = directory(&server).await;
    // Alice's authenticator app and recovery codes, written beside the running server.
    let db = Db::new(Arc::new(
        SqliteStore::open(&server.dir.path().join("gatehouse.db")).unwrap(),
    ));
    let secret_box =
        SecretBox::from_secret_key(&load_secret_key(&server.settings, server.dir.path()).unwrap());
    let secret = totp::new_secret();
    let now = server.clock.now();
    let (codes, recovery) = static_codes::generate(10, 10);
    let device = |name: &str, data: DeviceData| Device {
        id: DeviceId(0),
        user: UserId(alice),
        name: name.into(),
        confirmed: true,
        created: now,
        last_updated: now,
        last_used: None,
        data,
    };
    let app = device(
        "Phone",
        DeviceData::Totp(TotpData {
            secret_sealed: secret_box.seal(&secret),
            digits: 6,
            period: 30,
            last_step: 0,
        }),
    );
    let paper = device("Recovery codes", DeviceData::Static(recovery));
    db.write(move |tx| {
        tx.insert_device(&app)?;
        tx.insert_device(&paper)
    })
    .await
    .unwrap();

    let mut client = Client::connect(&server).await;
    let (code, message) = client.bind("alice", "alice-password-1").await;
    assert_eq!(code, LdapResultCode::InvalidCredentials);
    assert!(message.contains(";<code>"), "{message}");
    let unix = u64::try_from(now.0).unwrap();
    let current = totp::code_at(&secret, 6, 30, unix).unwrap();
    assert_eq!(
        client
            .bind("alice", &format!("alice-password-1;{current}"))
            .await
            .0,
        LdapResultCode::Success
    );
    // The same code again is a replay; a wrong password with a good code fails too.
    assert_eq!(
        client
            .bind("alice", &format!("alice-password-1;{current}"))
            .await
            .0,
        LdapResultCode::InvalidCredentials
    );
    let next = totp::code_at(&secret, 6, 30, unix + 30).unwrap();
    assert_eq!(
        client.bind("alice", &format!("wrong;{next}")).await.0,
        LdapResultCode::InvalidCredentials
    );
    // A recovery code works once.
    let paper_code = &codes[0];
    assert_eq!(
        client
            .bind("alice", &format!("alice-password-1;{paper_code}"))
            .await
            .0,
        LdapResultCode::Success
    );
    assert_eq!(
        client
            .bind("alice", &format!("alice-password-1;{paper_code}"))
            .await
            .0,
        LdapResultCode::InvalidCredentials
    );
}

#[tokio::test]
async fn five_hundred_idle_connections_leave_the_listener_serving() {
    let server = ldap_server().await;
    directory(&server).await;
    let mut idle = Vec::new();
    for _ in 0..500 {
        idle.push(TcpStream::connect(ldap_addr(&server)).await.unwrap());
    }
    // Half of them send half a message and stall.
    for stream in idle.iter_mut().step_by(2) {
        stream.write_all(&[0x30, 0x0c, 0x02]).await.unwrap();
    }
    let mut client = Client::connect(&server).await;
    assert_eq!(
        client.bind("alice", "alice-password-1").await.0,
        LdapResultCode::Success
    );
    let (entries, code, _) = client
        .search(
            BASE,
            LdapSearchScope::Subtree,
            eq("uid", "bob"),
            &["uid"],
            Vec::new(),
        )
        .await;
    assert_eq!(code, LdapResultCode::Success);
    assert_eq!(entries.len(), 1);
    drop(idle);
}

#[tokio::test]
async fn cached_binds_are_remembered_until_something_changes() {
    let server = ldap_server().await;
    let (alice, _) = directory(&server).await;
    let providers: Value = server
        .admin_get("/api/v3/providers/ldap/")
        .await
        .json()
        .await
        .unwrap();
    let pk = providers["results"][0]["pk"].as_i64().unwrap();
    let patched = server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/providers/ldap/{pk}/"),
            json!({"bind_mode": "cached"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let mut client = Client::connect(&server).await;
    assert_eq!(
        client.bind("alice", "alice-password-1").await.0,
        LdapResultCode::Success
    );
    // From the cache now; a wrong password is still wrong.
    assert_eq!(
        client.bind("alice", "alice-password-1").await.0,
        LdapResultCode::Success
    );
    assert_eq!(
        client.bind("alice", "alice-password-2").await.0,
        LdapResultCode::InvalidCredentials
    );
    // A new password drops the remembered bind: the old one fails at once.
    let changed = server
        .admin_send(
            Method::POST,
            &format!("/api/v3/core/users/{alice}/set_password/"),
            json!({"password": "alice-password-2"}),
        )
        .await;
    assert_eq!(changed.status(), 204);
    assert_eq!(
        client.bind("alice", "alice-password-1").await.0,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        client.bind("alice", "alice-password-2").await.0,
        LdapResultCode::Success
    );
    // Deactivated: refused even though the bind was just remembered.
    let deactivated = server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/core/users/{alice}/"),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(deactivated.status(), 200);
    assert_eq!(
        client.bind("alice", "alice-password-2").await.0,
        LdapResultCode::InvalidCredentials
    );
}

#[tokio::test]
async fn every_bind_is_an_event_with_the_client_address() {
    let server = ldap_server().await;
    directory(&server).await;
    let robot: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/core/users/",
            json!({"username": "robot", "name": "Robot", "type": "service_account"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = server
        .admin_send(
            Method::POST,
            "/api/v3/core/tokens/",
            json!({"identifier": "robot-ldap", "intent": "app_password", "user": robot["pk"]}),
        )
        .await;
    assert_eq!(token.status(), 201);
    let key: Value = server
        .admin_get("/api/v3/core/tokens/robot-ldap/view_key/")
        .await
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap().to_owned();

    let mut client = Client::connect(&server).await;
    assert_eq!(
        client.bind("alice", "alice-password-1").await.0,
        LdapResultCode::Success
    );
    assert_eq!(client.bind("robot", &key).await.0, LdapResultCode::Success);
    assert_eq!(
        client.bind("alice", "not-her-password").await.0,
        LdapResultCode::InvalidCredentials
    );
    // The records are written after the answers.
    let mut seen = Vec::new();
    for _ in 0..50 {
        let events: Value = server
            .admin_get("/api/v3/events/events/?page_size=100")
            .await
            .json()
            .await
            .unwrap();
        seen = events["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["action"] == "login" || event["action"] == "login_failed")
            .map(|event| {
                (
                    event["action"].as_str().unwrap().to_owned(),
                    event["user"]["username"].as_str().unwrap_or("").to_owned(),
                    event["context"]["protocol"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                    event["client_ip"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        if seen.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let has = |action: &str, user: &str, protocol: &str| {
        seen.iter()
            .any(|(a, u, p, ip)| a == action && u == user && p == protocol && ip == "127.0.0.1")
    };
    assert!(has("login", "alice", "ldap"), "{seen:?}");
    assert!(has("login", "robot", "ldap"), "{seen:?}");
    assert!(
        seen.iter()
            .any(|(a, _, _, ip)| a == "login_failed" && ip == "127.0.0.1"),
        "{seen:?}"
    );
}
