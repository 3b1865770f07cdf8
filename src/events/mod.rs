//! Audit events: the one place security decisions are recorded. Each event goes to the
//! store (for the API and the admin UI) and to the log.

use serde_json::Value;
use uuid::Uuid;

use crate::clock::Clock;
use crate::model::{Event, EventAction, EventUser, User};
use crate::store::Db;
use std::sync::Arc;

#[derive(Clone)]
pub struct Events {
    db: Db,
    clock: Arc<dyn Clock>,
}

impl Events {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Events {
        Events { db, clock }
    }

    /// Records an event. A failure to store it is logged, never returned: losing an audit
    /// line must not turn a successful login into an error page.
    pub async fn record(
        &self,
        action: EventAction,
        user: Option<&User>,
        client_ip: Option<&str>,
        context: Value,
    ) {
        let event = self.prepare(action, user, client_ip, context);
        if let Err(error) = self.db.write(move |tx| tx.insert_event(&event)).await {
            tracing::error!(%error, "could not store audit event");
        }
    }

    /// Builds and logs an event for the caller to store in its own write scope, so the
    /// event commits together with the change it describes (one transaction, not two).
    pub fn prepare(
        &self,
        action: EventAction,
        user: Option<&User>,
        client_ip: Option<&str>,
        context: Value,
    ) -> Event {
        let event = Event {
            id: Uuid::new_v4(),
            action,
            user: user.map(|user| EventUser {
                pk: user.id,
                username: user.username.as_str().to_owned(),
            }),
            client_ip: client_ip.map(str::to_owned),
            context,
            created: self.clock.now(),
        };
        tracing::info!(
            target: "gatehouse::audit",
            action = action.as_str(),
            user = event.user.as_ref().map(|u| u.username.as_str()),
            client_ip = event.client_ip.as_deref(),
            context = %event.context,
            "event"
        );
        event
    }
}
