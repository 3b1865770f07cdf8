//! Outgoing email: the durable outbox and its worker (`mailer`), the `Transport` port
//! with its SMTP adapter and an in-memory sink for tests, and the email templates.
//! This module owns sending mail; it does not decide when a flow sends one (stages call
//! `Mailer::enqueue`) and never touches the web layer.

mod mailer;
mod smtp;
mod templates;
#[cfg(test)]
mod tests;
mod transport;

use std::sync::Arc;

pub use mailer::{MAX_ATTEMPTS, Mailer, POLL_INTERVAL, retry_delay_secs, run_outbox};
pub use smtp::SmtpTransport;
pub use templates::{EmailContext, EmailTemplates, EmailUser, RenderedEmail, TemplateError};
pub use transport::{MemoryTransport, SendError, SendFuture, Transport};

use crate::clock::Clock;
use crate::config::EmailSettings;
use crate::events::Events;
use crate::store::Db;

/// The email layer's error where rendering and sending meet (the `test-email` command).
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Send(#[from] SendError),
}

/// What `gatehouse test-email` does once the store is open: renders the `test` message
/// and sends it through the configured relay at once, recording it in the outbox.
pub async fn send_test_email(
    db: Db,
    clock: Arc<dyn Clock>,
    settings: &EmailSettings,
    templates: &EmailTemplates,
    to: &str,
) -> Result<(), EmailError> {
    let transport = SmtpTransport::new(settings)?;
    let events = Events::new(db.clone(), Arc::clone(&clock));
    let mailer = Mailer::new(db, clock, Arc::new(transport), events);
    let context = EmailContext {
        user: EmailUser {
            email: to.to_owned(),
            ..EmailUser::default()
        },
        title: "gatehouse".into(),
        ..EmailContext::default()
    };
    let email = templates.render("test", &context)?.to(to);
    mailer.send_now(email).await?;
    Ok(())
}
