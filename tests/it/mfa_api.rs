//! The devices API (`authenticators/`): a user's own devices in authentik's shapes,
//! renaming, deleting under a fresh sign-in, regenerating recovery codes, and the admin
//! paths that list and reset a user's devices.
//!
//! Devices are enrolled by the flows' setup stages; these tests put them in place
//! directly, through a second `Store` on the server's SQLite file (as the CLI does next
//! to a live server: SQLite in WAL mode takes writers from several processes).

use std::sync::Arc;

use gatehouse::app::load_secret_key;
use gatehouse::crypto::SecretBox;
use gatehouse::mfa::validate::{CodeCheck, check_code};
use gatehouse::mfa::{static_codes, totp};
use gatehouse::model::device::{EmailData, TotpData, WebauthnData};
use gatehouse::model::{Device, DeviceClass, DeviceData, DeviceId, Timestamp, UserId};
use gatehouse::store::Db;
use gatehouse::store::sqlite::SqliteStore;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::flows::executor_login;
use crate::harness::{ADMIN_TOKEN, TestServer};

const PASSWORD: &str = "a long enough password 4 tests";
const AAGUID: &str = "08987058-cadc-4b81-b6e1-30de50dcbe96";

/// The server's store, opened beside it.
fn store_of(server: &TestServer) -> Db {
    let store = SqliteStore::open(&server.dir.path().join("gatehouse.db")).unwrap();
    Db::new(Arc::new(store))
}

fn secret_box_of(server: &TestServer) -> SecretBox {
    SecretBox::from_secret_key(&load_secret_key(&server.settings, server.dir.path()).unwrap())
}

fn device(user: i64, name: &str, now: Timestamp, data: DeviceData) -> Device {
    Device {
        id: DeviceId(0),
        user: UserId(user),
        name: name.into(),
        confirmed: true,
        created: now,
        last_updated: now,
        last_used: None,
        data,
    }
}

fn totp_data(server: &TestServer) -> DeviceData {
    DeviceData::Totp(TotpData {
        secret_sealed: secret_box_of(server).seal(&totp::new_secret()),
        digits: 6,
        period: 30,
        last_step: 0,
    })
}

fn webauthn_data() -> DeviceData {
    DeviceData::Webauthn(WebauthnData {
        credential: json!({}),
        credential_id: format!("credential-{}", rand_suffix()),
        discoverable: true,
        aaguid: Some(AAGUID.into()),
    })
}

fn rand_suffix() -> String {
    gatehouse::crypto::random_token(8)
}

async fn insert(db: &Db, device: Device) -> i64 {
    db.write(move |tx| tx.insert_device(&device))
        .await
        .unwrap()
        .0
}

/// Alice's devices: one of each class, plus a TOTP enrollment she never finished.
struct AliceDevices {
    totp: i64,
    unconfirmed: i64,
    recovery: i64,
    recovery_codes: Vec<String>,
    key: i64,
    email: i64,
}

async fn give_alice_devices(server: &TestServer, db: &Db, alice: i64) -> AliceDevices {
    let now = server.clock_now();
    let totp = insert(db, device(alice, "Phone", now, totp_data(server))).await;
    let mut half = device(alice, "Half enrolled", now, totp_data(server));
    half.confirmed = false;
    let unconfirmed = insert(db, half).await;
    let (recovery_codes, data) =
        static_codes::generate(static_codes::DEFAULT_COUNT, static_codes::DEFAULT_LENGTH);
    let recovery = insert(
        db,
        device(alice, "Recovery codes", now, DeviceData::Static(data)),
    )
    .await;
    let key = insert(db, device(alice, "YubiKey", now, webauthn_data())).await;
    let email = insert(
        db,
        device(
            alice,
            "Mail",
            now,
            DeviceData::Email(EmailData {
                email: "alice@example.com".into(),
            }),
        ),
    )
    .await;
    AliceDevices {
        totp,
        unconfirmed,
        recovery,
        recovery_codes,
        key,
        email,
    }
}

trait ClockNow {
    fn clock_now(&self) -> Timestamp;
}

impl ClockNow for TestServer {
    fn clock_now(&self) -> Timestamp {
        use gatehouse::clock::Clock;
        self.clock.now()
    }
}

async fn signed_in(server: &TestServer, username: &str) -> Client {
    let browser = server.browser();
    executor_login(server, &browser, username, PASSWORD).await;
    browser
}

async fn send(
    server: &TestServer,
    client: &Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, server.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

async fn get(server: &TestServer, client: &Client, path: &str) -> (StatusCode, Value) {
    send(server, client, Method::GET, path, None).await
}

async fn as_admin(server: &TestServer, method: Method, path: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .request(method, server.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn pks(list: &Value) -> Vec<i64> {
    let items = list
        .get("results")
        .unwrap_or(list)
        .as_array()
        .unwrap()
        .iter();
    items
        .map(|item| match &item["pk"] {
            Value::String(pk) => pk.parse().unwrap(),
            other => other.as_i64().unwrap(),
        })
        .collect()
}

#[tokio::test]
async fn users_see_only_their_own_devices_in_authentiks_shapes() {
    let server = TestServer::spawn().await;
    let alice_pk = server.create_user("alice", PASSWORD).await;
    let bob_pk = server.create_user("bob", PASSWORD).await;
    // Signed in before the devices exist, so the login flow asks for no second factor.
    let alice = signed_in(&server, "alice").await;
    let bob = signed_in(&server, "bob").await;
    let db = store_of(&server);
    let mine = give_alice_devices(&server, &db, alice_pk).await;
    let bobs = insert(
        &db,
        device(
            bob_pk,
            "Bob's phone",
            server.clock_now(),
            totp_data(&server),
        ),
    )
    .await;

    // `all/`: authentik's `Device`, a plain list, confirmed devices only.
    let (status, all) = get(&server, &alice, "/api/v3/authenticators/all/").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        pks(&all),
        vec![mine.totp, mine.recovery, mine.key, mine.email]
    );
    let phone = &all[0];
    assert_eq!(
        phone["pk"],
        mine.totp.to_string(),
        "authentik's pk is a string"
    );
    assert_eq!(phone["name"], "Phone");
    assert_eq!(
        phone["type"],
        "authentik_stages_authenticator_totp.TOTPDevice"
    );
    assert_eq!(
        phone["meta_model_name"],
        "authentik_stages_authenticator_totp.totpdevice"
    );
    assert_eq!(phone["verbose_name"], "TOTP Device");
    assert_eq!(phone["verbose_name_plural"], "TOTP Devices");
    assert_eq!(phone["confirmed"], true);
    assert!(phone["created"].as_str().unwrap().contains('T'));
    assert!(phone["last_updated"].is_string());
    assert!(phone["last_used"].is_null());
    assert!(phone["extra_description"].is_null());
    assert!(phone["external_id"].is_null());
    assert_eq!(
        all[1]["type"],
        "authentik_stages_authenticator_static.StaticDevice"
    );
    assert_eq!(
        all[2]["type"],
        "authentik_stages_authenticator_webauthn.WebAuthnDevice"
    );
    assert_eq!(all[2]["external_id"], AAGUID);
    assert_eq!(
        all[3]["type"],
        "authentik_stages_authenticator_email.EmailDevice"
    );
    let (_, bobs_all) = get(&server, &bob, "/api/v3/authenticators/all/").await;
    assert_eq!(pks(&bobs_all), vec![bobs]);

    // Per class: paginated, the class's own shape, with the owner as `PartialUser`.
    let (status, totps) = get(&server, &alice, "/api/v3/authenticators/totp/").await;
    assert_eq!(status, 200);
    assert_eq!(totps["pagination"]["count"], 1);
    assert_eq!(pks(&totps), vec![mine.totp]);
    let entry = &totps["results"][0];
    assert_eq!(entry["pk"], mine.totp);
    assert_eq!(entry["name"], "Phone");
    assert_eq!(entry["user"]["pk"], alice_pk);
    assert_eq!(entry["user"]["username"], "alice");
    assert!(entry["user"]["uid"].is_string());
    assert!(entry.get("secret_sealed").is_none() && entry.get("data").is_none());

    let (_, recovery) = get(
        &server,
        &alice,
        &format!("/api/v3/authenticators/static/{}/", mine.recovery),
    )
    .await;
    assert_eq!(
        recovery["token_set"],
        json!([]),
        "only hashes are stored: no codes to show"
    );
    assert_eq!(recovery["token_count"], 10);
    assert_eq!(recovery["name"], "Recovery codes");

    let (_, key) = get(
        &server,
        &alice,
        &format!("/api/v3/authenticators/webauthn/{}/", mine.key),
    )
    .await;
    assert_eq!(key["aaguid"], AAGUID);
    assert!(key["created_on"].is_string());
    assert!(key["device_type"].is_null());
    assert_eq!(key["user"]["pk"], alice_pk);

    let (status, used_by) = get(
        &server,
        &alice,
        &format!("/api/v3/authenticators/totp/{}/used_by/", mine.totp),
    )
    .await;
    assert_eq!((status, used_by), (StatusCode::OK, json!([])));
    let (status, _) = get(
        &server,
        &alice,
        &format!("/api/v3/authenticators/totp/{bobs}/used_by/"),
    )
    .await;
    assert_eq!(status, 404);

    let (_, mail) = get(&server, &alice, "/api/v3/authenticators/email/").await;
    assert_eq!(mail["results"][0]["email"], "alice@example.com");
    assert_eq!(mail["results"][0]["pk"], mine.email);

    // Others' devices, the unfinished enrollment, another class's path and unknown ids
    // all look absent.
    for path in [
        format!("/api/v3/authenticators/totp/{bobs}/"),
        format!("/api/v3/authenticators/totp/{}/", mine.unconfirmed),
        format!("/api/v3/authenticators/static/{}/", mine.totp),
        "/api/v3/authenticators/totp/999999/".to_owned(),
        "/api/v3/authenticators/totp/not-a-number/".to_owned(),
        "/api/v3/authenticators/sms/".to_owned(),
    ] {
        let (status, _) = get(&server, &alice, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = send(
        &server,
        &alice,
        Method::DELETE,
        &format!("/api/v3/authenticators/totp/{bobs}/"),
        None,
    )
    .await;
    assert_eq!(status, 404, "bob's device cannot be deleted by alice");

    // Search, the `name` filter and ordering on a class list.
    let (_, found) = get(&server, &alice, "/api/v3/authenticators/totp/?search=pho").await;
    assert_eq!(pks(&found), vec![mine.totp]);
    let (_, none) = get(&server, &alice, "/api/v3/authenticators/totp/?name=Other").await;
    assert_eq!(none["pagination"]["count"], 0);

    // No API caller, no devices.
    let (status, _) = get(&server, &Client::new(), "/api/v3/authenticators/all/").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn users_rename_their_devices() {
    let server = TestServer::spawn().await;
    let alice_pk = server.create_user("alice", PASSWORD).await;
    let alice = signed_in(&server, "alice").await;
    let db = store_of(&server);
    let mine = give_alice_devices(&server, &db, alice_pk).await;
    // Renaming needs no fresh sign-in.
    server.clock.advance(3600);

    let path = format!("/api/v3/authenticators/totp/{}/", mine.totp);
    let (status, renamed) = send(
        &server,
        &alice,
        Method::PATCH,
        &path,
        Some(json!({"name": "  Work phone "})),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "Work phone");
    assert_eq!(renamed["pk"], mine.totp);
    let (_, again) = get(&server, &alice, &path).await;
    assert_eq!(again["name"], "Work phone");

    let key_path = format!("/api/v3/authenticators/webauthn/{}/", mine.key);
    let (status, renamed) = send(
        &server,
        &alice,
        Method::PUT,
        &key_path,
        Some(json!({"name": "Blue key"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(renamed["name"], "Blue key");

    let (status, error) = send(&server, &alice, Method::PUT, &key_path, Some(json!({}))).await;
    assert_eq!(status, 400);
    assert!(error["name"].is_array(), "{error}");
    let (status, error) = send(
        &server,
        &alice,
        Method::PATCH,
        &path,
        Some(json!({"name": "   "})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error["name"].is_array(), "{error}");
    let (status, _) = send(
        &server,
        &alice,
        Method::PATCH,
        &path,
        Some(json!({"name": "x".repeat(65)})),
    )
    .await;
    assert_eq!(status, 400, "authentik's 64-character limit");
    let (status, _) = send(
        &server,
        &alice,
        Method::PATCH,
        "/api/v3/authenticators/totp/999999/",
        Some(json!({"name": "Nope"})),
    )
    .await;
    assert_eq!(status, 404);
    let (_, all) = get(&server, &alice, "/api/v3/authenticators/all/").await;
    assert_eq!(all[0]["name"], "Work phone");
}

#[tokio::test]
async fn deleting_a_device_needs_a_fresh_sign_in() {
    let server = TestServer::spawn().await;
    let alice_pk = server.create_user("alice", PASSWORD).await;
    let stale = signed_in(&server, "alice").await;
    server.clock.advance(11 * 60);
    let fresh = signed_in(&server, "alice").await;
    let db = store_of(&server);
    let mine = give_alice_devices(&server, &db, alice_pk).await;
    let path = format!("/api/v3/authenticators/totp/{}/", mine.totp);

    let (status, refused) = send(&server, &stale, Method::DELETE, &path, None).await;
    assert_eq!(status, 403);
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.contains("Sign in again"), "{detail}");
    let (status, _) = get(&server, &stale, &path).await;
    assert_eq!(status, 200, "the device is still there");
    let (status, _) = send(
        &server,
        &stale,
        Method::POST,
        &format!(
            "/api/v3/authenticators/static/{}/regenerate/",
            mine.recovery
        ),
        None,
    )
    .await;
    assert_eq!(status, 403, "regenerating codes needs a fresh sign-in too");

    let (status, _) = send(&server, &fresh, Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = get(&server, &fresh, &path).await;
    assert_eq!(status, 404);
    let (status, _) = send(&server, &fresh, Method::DELETE, &path, None).await;
    assert_eq!(status, 404, "gone");
    let (_, all) = get(&server, &fresh, "/api/v3/authenticators/all/").await;
    assert_eq!(pks(&all), vec![mine.recovery, mine.key, mine.email]);

    // Ten minutes on, the fresh session is stale in its turn.
    server.clock.advance(10 * 60 + 1);
    let (status, _) = send(
        &server,
        &fresh,
        Method::DELETE,
        &format!("/api/v3/authenticators/email/{}/", mine.email),
        None,
    )
    .await;
    assert_eq!(status, 403);

    // An API token has no sign-in time: its caller may delete their own devices.
    let (_, me) = as_admin(&server, Method::GET, "/api/v3/core/users/me/").await;
    let admin_pk = me["user"]["pk"].as_i64().unwrap();
    let admins = insert(
        &db,
        device(
            admin_pk,
            "Admin phone",
            server.clock_now(),
            totp_data(&server),
        ),
    )
    .await;
    let (status, _) = as_admin(
        &server,
        Method::DELETE,
        &format!("/api/v3/authenticators/totp/{admins}/"),
    )
    .await;
    assert_eq!(status, 204);

    // The removal is in the audit trail, with who did it and whose device it was.
    let (status, events) = as_admin(&server, Method::GET, "/api/v3/events/events/").await;
    assert_eq!(status, 200);
    let removal = events["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["context"]["model"]["pk"] == mine.totp)
        .expect("a removal event");
    assert_eq!(
        removal["action"], "custom_",
        "authentik's kind for gatehouse's own actions"
    );
    assert_eq!(removal["context"]["action"], "device_removed");
    assert_eq!(removal["context"]["device_class"], "totp");
    assert_eq!(removal["user"]["username"], "alice");
    assert_eq!(removal["context"]["user"], alice_pk);
    assert_eq!(
        removal["context"]["model"]["app"],
        "authentik_stages_authenticator_totp"
    );
}

#[tokio::test]
async fn regenerated_recovery_codes_replace_the_old_ones() {
    let server = TestServer::spawn().await;
    let alice_pk = server.create_user("alice", PASSWORD).await;
    server.create_user("bob", PASSWORD).await;
    let alice = signed_in(&server, "alice").await;
    let bob = signed_in(&server, "bob").await;
    let db = store_of(&server);
    let mine = give_alice_devices(&server, &db, alice_pk).await;
    let path = format!(
        "/api/v3/authenticators/static/{}/regenerate/",
        mine.recovery
    );

    let (status, _) = send(&server, &bob, Method::POST, &path, None).await;
    assert_eq!(status, 404, "not bob's device");
    let (status, _) = send(
        &server,
        &alice,
        Method::POST,
        &format!("/api/v3/authenticators/static/{}/regenerate/", mine.totp),
        None,
    )
    .await;
    assert_eq!(status, 404, "a TOTP device has no codes");

    let (status, body) = send(&server, &alice, Method::POST, &path, None).await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<String> = body["token_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|token| token["token"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), static_codes::DEFAULT_COUNT);
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), codes.len());
    assert!(codes.iter().all(|code| !mine.recovery_codes.contains(code)));
    assert_eq!(body["pk"], mine.recovery);
    assert_eq!(body["token_count"], 10);

    // The old codes no longer work, the new ones do, each once.
    let secret_box = secret_box_of(&server);
    let check = |code: String| {
        let (db, secret_box) = (db.clone(), secret_box.clone());
        let now = server.clock_now();
        async move {
            check_code(
                &db,
                &secret_box,
                now,
                UserId(alice_pk),
                &code,
                &[DeviceClass::Static],
            )
            .await
            .unwrap()
        }
    };
    for old in mine.recovery_codes.iter().take(3) {
        assert_eq!(check(old.clone()).await, CodeCheck::Invalid);
    }
    let first = codes[0].clone();
    assert!(matches!(
        check(first.clone()).await,
        CodeCheck::Valid {
            class: DeviceClass::Static,
            ..
        }
    ));
    assert_eq!(check(first).await, CodeCheck::Invalid, "spent");

    // Afterwards the codes are never shown again.
    let (_, shown) = get(
        &server,
        &alice,
        &format!("/api/v3/authenticators/static/{}/", mine.recovery),
    )
    .await;
    assert_eq!(shown["token_set"], json!([]));
    assert_eq!(shown["token_count"], 9);
}

#[tokio::test]
async fn admins_list_and_reset_a_users_devices() {
    let server = TestServer::spawn().await;
    let alice_pk = server.create_user("alice", PASSWORD).await;
    let bob_pk = server.create_user("bob", PASSWORD).await;
    let alice = signed_in(&server, "alice").await;
    let db = store_of(&server);
    let mine = give_alice_devices(&server, &db, alice_pk).await;
    let bobs = insert(
        &db,
        device(
            bob_pk,
            "Bob's phone",
            server.clock_now(),
            totp_data(&server),
        ),
    )
    .await;

    // One user's devices, unfinished enrollments included.
    let (status, all) = as_admin(
        &server,
        Method::GET,
        &format!("/api/v3/authenticators/admin/all/?user={alice_pk}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        pks(&all),
        vec![
            mine.totp,
            mine.unconfirmed,
            mine.recovery,
            mine.key,
            mine.email
        ]
    );
    assert_eq!(all[1]["confirmed"], false);
    let (_, everyone) = as_admin(&server, Method::GET, "/api/v3/authenticators/admin/all/").await;
    assert!(pks(&everyone).contains(&bobs));

    let (status, totps) = as_admin(
        &server,
        Method::GET,
        &format!("/api/v3/authenticators/admin/totp/?user={alice_pk}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(pks(&totps), vec![mine.totp, mine.unconfirmed]);
    assert_eq!(totps["results"][0]["user"]["username"], "alice");
    let (_, bob_totps) = as_admin(
        &server,
        Method::GET,
        &format!("/api/v3/authenticators/admin/totp/?user={bob_pk}"),
    )
    .await;
    assert_eq!(pks(&bob_totps), vec![bobs]);
    let (status, one) = as_admin(
        &server,
        Method::GET,
        &format!("/api/v3/authenticators/admin/static/{}/", mine.recovery),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["user"]["pk"], alice_pk);
    assert_eq!(one["token_set"], json!([]));

    for path in [
        "/api/v3/authenticators/admin/totp/999999/".to_owned(),
        format!("/api/v3/authenticators/admin/static/{}/", mine.totp),
    ] {
        let (status, _) = as_admin(&server, Method::GET, &path).await;
        assert_eq!(status, 404, "{path}");
        let (status, _) = as_admin(&server, Method::DELETE, &path).await;
        assert_eq!(status, 404, "{path}");
    }

    // Not for non-admins, whatever the method.
    for (method, path) in [
        (Method::GET, "/api/v3/authenticators/admin/all/".to_owned()),
        (
            Method::GET,
            format!("/api/v3/authenticators/admin/all/?user={alice_pk}"),
        ),
        (Method::GET, "/api/v3/authenticators/admin/totp/".to_owned()),
        (
            Method::GET,
            format!("/api/v3/authenticators/admin/totp/{}/", mine.totp),
        ),
        (
            Method::DELETE,
            format!("/api/v3/authenticators/admin/totp/{}/", mine.totp),
        ),
    ] {
        let (status, _) = send(&server, &alice, method, &path, None).await;
        assert_eq!(status, 403, "{path}");
    }

    // With her devices, signing in asks alice for a second factor.
    let challenged = executor_login(&server, &server.browser(), "alice", PASSWORD).await;
    assert_eq!(
        challenged["component"], "ak-stage-authenticator-validate",
        "{challenged}"
    );

    // Reset: the admin deletes every device of alice's (no fresh sign-in asked of an
    // admin), and she has none left.
    for (class, id) in [
        ("totp", mine.totp),
        ("totp", mine.unconfirmed),
        ("static", mine.recovery),
        ("webauthn", mine.key),
        ("email", mine.email),
    ] {
        let (status, _) = as_admin(
            &server,
            Method::DELETE,
            &format!("/api/v3/authenticators/admin/{class}/{id}/"),
        )
        .await;
        assert_eq!(status, 204, "{class} {id}");
    }
    let (_, left) = get(&server, &alice, "/api/v3/authenticators/all/").await;
    assert_eq!(left, json!([]));
    // ... and signs in with her password alone again.
    let signed_in = executor_login(&server, &server.browser(), "alice", PASSWORD).await;
    assert_eq!(signed_in["component"], "xak-flow-redirect", "{signed_in}");
    let (_, left) = as_admin(
        &server,
        Method::GET,
        &format!("/api/v3/authenticators/admin/all/?user={alice_pk}"),
    )
    .await;
    assert_eq!(left, json!([]));
    let (_, bob_totps) = as_admin(
        &server,
        Method::GET,
        &format!("/api/v3/authenticators/admin/totp/?user={bob_pk}"),
    )
    .await;
    assert_eq!(pks(&bob_totps), vec![bobs], "bob's devices are untouched");

    let (_, events) = as_admin(&server, Method::GET, "/api/v3/events/events/").await;
    let removals = events["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| {
            event["context"]["user"] == alice_pk && event["context"]["by_admin"] == true
        })
        .count();
    assert_eq!(removals, 5, "one audit event per device");
}

#[tokio::test]
async fn the_schema_describes_the_device_paths() {
    let server = TestServer::spawn().await;
    let (status, schema) = as_admin(&server, Method::GET, "/api/v3/schema/").await;
    assert_eq!(status, 200);
    let paths = &schema["paths"];
    for path in [
        "/authenticators/all/",
        "/authenticators/admin/all/",
        "/authenticators/totp/",
        "/authenticators/totp/{id}/",
        "/authenticators/static/{id}/regenerate/",
        "/authenticators/admin/webauthn/{id}/",
        "/authenticators/email/",
        "/authenticators/webauthn/{id}/used_by/",
    ] {
        assert!(paths[path].is_object(), "{path}");
    }
    assert_eq!(
        paths["/authenticators/all/"]["get"]["operationId"],
        "authenticators_all_list"
    );
    // Every reference names a schema that exists.
    let schemas = &schema["components"]["schemas"];
    let text = schema.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            schemas[name].is_object(),
            "{name} is referenced but missing"
        );
    }
    for name in [
        "Device",
        "TOTPDevice",
        "StaticDevice",
        "WebAuthnDevice",
        "EmailDevice",
        "TOTPDeviceRequest",
        "PatchedStaticDeviceRequest",
    ] {
        assert!(schemas[name].is_object(), "{name}");
    }
}
