//! `/if/user/devices/`: the page lists the user's own second factors with the API links
//! its script uses, and those calls work with the session from the page's origin.

use std::sync::Arc;

use gatehouse::model::device::StaticData;
use gatehouse::model::{Device, DeviceData, DeviceId, Timestamp, UserId};
use gatehouse::store::Db;
use gatehouse::store::sqlite::SqliteStore;
use serde_json::json;

use crate::harness::TestServer;
use crate::harness::flows::executor_login;

#[tokio::test]
async fn the_device_page_lists_own_devices_and_its_api_calls_work() {
    let server = TestServer::spawn().await;
    let alice = server.create_user("alice", "alice-password-1").await;
    let bob = server.create_user("bob", "bob-password-1").await;
    let browser = server.browser();
    executor_login(&server, &browser, "alice", "alice-password-1").await;
    let db = Db::new(Arc::new(
        SqliteStore::open(&server.dir.path().join("gatehouse.db")).unwrap(),
    ));
    let device = |user: i64, name: &str| Device {
        id: DeviceId(0),
        user: UserId(user),
        name: name.into(),
        confirmed: true,
        created: Timestamp(0),
        last_updated: Timestamp(0),
        last_used: None,
        data: DeviceData::Static(StaticData {
            code_hashes: vec!["x".into()],
        }),
    };
    let (mine, theirs) = (device(alice, "Paper codes"), device(bob, "Bob's codes"));
    let id = db
        .write(move |tx| {
            let id = tx.insert_device(&mine)?;
            tx.insert_device(&theirs)?;
            Ok(id)
        })
        .await
        .unwrap();

    let page = browser
        .get(server.url("/if/user/devices/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // Attribute values come HTML-escaped (`/` as `&#x2f;`); the browser decodes them.
    let html = page.text().await.unwrap().replace("&#x2f;", "/");
    assert!(html.contains("Paper codes"), "{html}");
    assert!(!html.contains("Bob&#x27;s codes") && !html.contains("Bob's codes"));
    let api = format!("/api/v3/authenticators/static/{id}/");
    assert!(html.contains(&api), "{html}");
    assert!(html.contains("/static/devices.js"));
    let script = browser
        .get(server.url("/static/devices.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);

    // What the script does on "Rename", from the page's origin.
    let renamed = browser
        .patch(server.url(&api))
        .header("Origin", server.url(""))
        .json(&json!({"name": "Printed codes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    let page = browser
        .get(server.url("/if/user/devices/"))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("Printed codes"));
    // The portal links to the page.
    let portal = browser.get(server.url("/if/user/")).send().await.unwrap();
    let portal = portal.text().await.unwrap().replace("&#x2f;", "/");
    assert!(portal.contains("/if/user/devices/"));
}
