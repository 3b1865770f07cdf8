//! Engine-level tests of journeys no HTTP route can start yet: consent asked by an
//! application (the OAuth layer will put the application in the flow context).
#![cfg(test)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use serde_json::{Value, json};

use crate::clock::{Clock, ManualClock};
use crate::config::Settings;
use crate::crypto::{PasswordHasher, PasswordParams, SecretBox};
use crate::email::{EmailTemplates, Mailer, MemoryTransport};
use crate::events::Events;
use crate::model::stage::{ConsentMode, ConsentStage};
use crate::model::{StageKind, Timestamp};
use crate::policy::{PolicyEngine, Reputation};
use crate::session::{ClientInfo, Sessions};
use crate::store::memory_kv::MemoryKv;
use crate::store::sqlite::SqliteStore;
use crate::store::{CatalogHandle, Db, Ephemeral};

use super::{FlowEngine, FlowRequest, FlowServices, FlowStep};

const CONSENT_FLOW: &str = "default-provider-authorization-explicit-consent";

struct Fixture {
    engine: FlowEngine,
    clock: ManualClock,
    session: crate::session::ActiveSession,
}

async fn fixture() -> Fixture {
    let clock = ManualClock::starting_at(Timestamp(1_800_000_000));
    let clock_arc: Arc<dyn Clock> = Arc::new(clock.clone());
    let db = Db::new(Arc::new(SqliteStore::open_in_memory().unwrap()));
    let ephemeral = Ephemeral::new(Arc::new(MemoryKv::new()), Arc::clone(&clock_arc));
    let hasher = PasswordHasher::new(
        PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        2,
    )
    .unwrap();
    let mut settings = Settings::default();
    settings.bootstrap.password = Some(crate::config::Secret::new("pw"));
    crate::bootstrap::prepare(
        &db,
        &settings,
        &hasher,
        &SecretBox::from_secret_key("k"),
        &clock,
    )
    .await
    .unwrap();
    let catalog = CatalogHandle::default();
    catalog.reload(&db).await.unwrap();
    let events = Events::new(db.clone(), Arc::clone(&clock_arc));
    let sessions = Sessions::new(ephemeral.clone(), 3600, 86_400);
    let admin = db
        .read(|tx| tx.user_by_username("akadmin"))
        .await
        .unwrap()
        .unwrap();
    let (token, _) = sessions
        .create(admin.id, &ClientInfo::default(), None, vec![])
        .unwrap();
    let session = sessions.lookup(&token).unwrap().unwrap();
    let services = FlowServices {
        db: db.clone(),
        ephemeral: ephemeral.clone(),
        catalog,
        sessions,
        hasher,
        mailer: Mailer::new(
            db,
            Arc::clone(&clock_arc),
            Arc::new(MemoryTransport::new()),
            events.clone(),
        ),
        events,
        email_templates: EmailTemplates::new(None),
        policies: PolicyEngine::new(Reputation::new(ephemeral), clock_arc),
        secret_box: SecretBox::from_secret_key("k"),
        webauthn: Arc::new(crate::mfa::webauthn::RelyingParties::new()),
    };
    Fixture {
        engine: FlowEngine::new(services),
        clock,
        session,
    }
}

impl Fixture {
    fn request(&self, browser: &str, permissions: &[&str]) -> FlowRequest {
        let mut initial_context = serde_json::Map::new();
        initial_context.insert(
            "application".into(),
            json!({"pk": "8b7f2c3e-2f4d-4a51-9d0e-0c0b5e1a9f11", "name": "Grafana", "permissions": permissions}),
        );
        FlowRequest {
            slug: CONSENT_FLOW.into(),
            browser_key: browser.into(),
            session: Some(self.session.clone()),
            client: ClientInfo::default(),
            next: Some("/application/o/authorize/?client_id=grafana".into()),
            setup_token: None,
            invitation_token: None,
            flow_token: None,
            base_url: "http://localhost".into(),
            initial_context,
            headless: None,
        }
    }

    async fn set_mode(&self, mode: ConsentMode, expire_in: &str) {
        let services = self.engine.services();
        let catalog = services.catalog.load();
        let mut stage = catalog
            .flows()
            .into_iter()
            .find(|flow| flow.slug == CONSENT_FLOW)
            .map(|flow| catalog.bindings(flow.id)[0].stage)
            .and_then(|id| catalog.stage(id).cloned())
            .unwrap();
        stage.kind = StageKind::Consent(ConsentStage {
            mode,
            consent_expire_in: expire_in.into(),
        });
        services
            .db
            .write(move |tx| tx.update_stage(&stage))
            .await
            .unwrap();
        services.catalog.reload(&services.db).await.unwrap();
    }

    /// Runs the flow once in a fresh browser; returns whether consent was asked.
    async fn asks(&self, browser: &str, permissions: &[&str]) -> bool {
        let request = self.request(browser, permissions);
        let first = self.engine.current(&request).await.unwrap();
        match first.step {
            FlowStep::Redirect(to) => {
                assert!(to.starts_with("/application/o/authorize/"));
                false
            }
            FlowStep::Challenge(challenge) => {
                assert_eq!(challenge["component"], "ak-stage-consent");
                assert!(
                    challenge["header_text"]
                        .as_str()
                        .unwrap()
                        .contains("Grafana")
                );
                let mut answer = serde_json::Map::new();
                answer.insert("component".into(), json!("ak-stage-consent"));
                answer.insert("token".into(), challenge["token"].clone());
                let done = self.engine.submit(&request, answer).await.unwrap();
                assert!(
                    matches!(done.step, FlowStep::Redirect(_)),
                    "{:?}",
                    done.step
                );
                true
            }
            FlowStep::Denied(message) => panic!("denied: {message}"),
        }
    }
}

#[tokio::test]
async fn consent_always_required_asks_every_time() {
    let fixture = fixture().await;
    assert!(
        fixture
            .asks(
                "browser-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
                &["openid", "email"]
            )
            .await
    );
    assert!(
        fixture
            .asks(
                "browser-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2",
                &["openid", "email"]
            )
            .await
    );
}

#[tokio::test]
async fn permanent_consent_is_remembered_until_more_is_asked() {
    let fixture = fixture().await;
    fixture.set_mode(ConsentMode::Permanent, "weeks=4").await;
    assert!(
        fixture
            .asks(
                "browser-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1",
                &["openid", "email"]
            )
            .await
    );
    fixture.clock.advance(365 * 86_400);
    assert!(
        !fixture
            .asks(
                "browser-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2",
                &["openid", "email"]
            )
            .await
    );
    assert!(
        fixture
            .asks(
                "browser-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb3",
                &["openid", "email", "groups"]
            )
            .await
    );
}

#[tokio::test]
async fn expiring_consent_is_asked_again_after_it_expires() {
    let fixture = fixture().await;
    fixture.set_mode(ConsentMode::Expiring, "hours=1").await;
    assert!(
        fixture
            .asks("browser-ccccccccccccccccccccccccccccccc1", &["openid"])
            .await
    );
    fixture.clock.advance(30 * 60);
    assert!(
        !fixture
            .asks("browser-ccccccccccccccccccccccccccccccc2", &["openid"])
            .await
    );
    fixture.clock.advance(31 * 60);
    assert!(
        fixture
            .asks("browser-ccccccccccccccccccccccccccccccc3", &["openid"])
            .await
    );
}

#[tokio::test]
async fn a_consent_answer_must_carry_the_token_of_the_page_it_answers() {
    let fixture = fixture().await;
    let request = fixture.request("browser-token", &["openid", "email"]);
    let first = fixture.engine.current(&request).await.unwrap();
    let FlowStep::Challenge(challenge) = first.step else {
        panic!("consent was not asked: {:?}", first.step);
    };
    let token = challenge["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 16, "a random token: {token:?}");
    for wrong in [json!("not-the-token"), json!(""), Value::Null] {
        let mut answer = serde_json::Map::new();
        answer.insert("component".into(), json!("ak-stage-consent"));
        if !wrong.is_null() {
            answer.insert("token".into(), wrong.clone());
        }
        let refused = fixture.engine.submit(&request, answer).await.unwrap();
        let FlowStep::Challenge(again) = refused.step else {
            panic!("{wrong}: consent passed without its token");
        };
        assert_eq!(again["component"], "ak-stage-consent");
        assert_eq!(again["token"], token.as_str(), "the same page, asked again");
        assert!(again["response_errors"]["non_field_errors"].is_array());
    }
    let mut answer = serde_json::Map::new();
    answer.insert("component".into(), json!("ak-stage-consent"));
    answer.insert("token".into(), json!(token));
    let done = fixture.engine.submit(&request, answer).await.unwrap();
    assert!(
        matches!(done.step, FlowStep::Redirect(_)),
        "{:?}",
        done.step
    );
}
