//! The SMTP adapter (lettre, rustls with the ring provider and the Mozilla roots, so no
//! OpenSSL). Owns turning `EmailSettings` into a relay connection and an `OutgoingEmail`
//! into a MIME message; what to send and when is the mailer's business.
//!
//! One connection per message, no pool: mail here is rare (sign-up, recovery), and
//! lettre's pool spawns Tokio tasks when it is built and dropped, which panics outside a
//! runtime (a CLI command, a test, a drop after shutdown).

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::transport::{SendError, SendFuture, Transport};
use crate::config::EmailSettings;
use crate::model::OutgoingEmail;

pub struct SmtpTransport {
    relay: AsyncSmtpTransport<Tokio1Executor>,
    /// `host:port`, so a delivery error says which relay failed.
    relay_name: String,
    from: Mailbox,
}

/// How the connection is secured, from the two authentik-style switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `use_ssl`: TLS from the first byte (SMTPS, usually port 465, RFC 8314 §3.3).
    ImplicitTls,
    /// `use_tls`: plain connection upgraded with STARTTLS, required (RFC 3207).
    StartTls,
    /// Neither: plain text, for a relay on localhost or a trusted network.
    Plain,
}

fn security(settings: &EmailSettings) -> Security {
    // Both set is a misconfiguration; implicit TLS is the stricter reading of it.
    if settings.use_ssl {
        Security::ImplicitTls
    } else if settings.use_tls {
        Security::StartTls
    } else {
        Security::Plain
    }
}

impl SmtpTransport {
    /// Checks the sender address and the TLS set-up; does not connect (a relay that is
    /// down at start-up only delays mail, it must not stop the server).
    pub fn new(settings: &EmailSettings) -> Result<SmtpTransport, SendError> {
        let from: Mailbox = settings.from.parse().map_err(|error| {
            SendError::Configuration(format!("email.from {:?}: {error}", settings.from))
        })?;
        let host = settings.host.as_str();
        let builder = match security(settings) {
            Security::ImplicitTls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            Security::Plain => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
        }
        .map_err(|error| {
            SendError::Configuration(format!("email.host {host:?}: {}", describe(&error)))
        })?;
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(Duration::from_secs(settings.timeout_secs.max(1))));
        if !settings.username.is_empty() {
            let password = settings
                .password
                .as_ref()
                .map(|secret| secret.expose().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(settings.username.clone(), password));
        }
        Ok(SmtpTransport {
            relay: builder.build(),
            relay_name: format!("{host}:{}", settings.port),
            from,
        })
    }

    async fn deliver(&self, email: &OutgoingEmail) -> Result<(), SendError> {
        let message = build_message(&self.from, email)?;
        self.relay
            .send(message)
            .await
            .map(|_response| ())
            .map_err(|error| {
                SendError::Delivery(format!("smtp {}: {}", self.relay_name, describe(&error)))
            })
    }
}

impl Transport for SmtpTransport {
    fn send<'a>(&'a self, message: &'a OutgoingEmail) -> SendFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

/// A MIME message: plain text alone, or text and HTML as `multipart/alternative`
/// (RFC 2046 §5.1.4) so clients that show no HTML still get the text.
pub(super) fn build_message(from: &Mailbox, email: &OutgoingEmail) -> Result<Message, SendError> {
    let to: Mailbox = email
        .to
        .parse()
        .map_err(|error| SendError::InvalidMessage(format!("recipient {:?}: {error}", email.to)))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.as_str())
        .message_id(None);
    let built = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            html.clone(),
        )),
        None => builder.singlepart(SinglePart::plain(email.text.clone())),
    };
    built.map_err(|error| SendError::InvalidMessage(error.to_string()))
}

/// The error and its causes on one line: lettre keeps the useful part (the OS error,
/// the server's reply) in the source chain, sometimes repeats its own prefix
/// ("Connection error: Connection error: ..."), and server replies can span lines.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut parts: Vec<&str> = one_line.split(": ").collect();
    parts.dedup();
    parts.join(": ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn settings() -> EmailSettings {
        EmailSettings {
            host: "mail.example.com".into(),
            from: "Gatehouse <noreply@example.com>".into(),
            ..EmailSettings::default()
        }
    }

    fn email(html: Option<&str>) -> OutgoingEmail {
        OutgoingEmail {
            to: "Alice <alice@example.com>".into(),
            subject: "Grüße".into(),
            text: "plain".into(),
            html: html.map(str::to_owned),
        }
    }

    #[test]
    fn the_switches_choose_the_security_mode() {
        let mut s = settings();
        assert_eq!(security(&s), Security::Plain);
        s.use_tls = true;
        assert_eq!(security(&s), Security::StartTls);
        s.use_ssl = true;
        assert_eq!(security(&s), Security::ImplicitTls);
    }

    #[test]
    fn every_mode_builds_with_or_without_credentials() {
        for (use_tls, use_ssl) in [(false, false), (true, false), (false, true)] {
            let mut s = settings();
            s.use_tls = use_tls;
            s.use_ssl = use_ssl;
            assert!(SmtpTransport::new(&s).is_ok());
            s.username = "mailer".into();
            s.password = Some(Secret::new("pw"));
            assert!(SmtpTransport::new(&s).is_ok());
        }
    }

    #[test]
    fn a_bad_sender_is_a_configuration_error() {
        let mut s = settings();
        s.from = "not an address".into();
        let Err(SendError::Configuration(message)) = SmtpTransport::new(&s) else {
            panic!("expected a configuration error");
        };
        assert!(
            message.starts_with("email.from \"not an address\""),
            "{message}"
        );
    }

    #[test]
    fn a_bad_recipient_is_permanent() {
        let from: Mailbox = "noreply@example.com".parse().unwrap();
        let mut bad = email(None);
        bad.to = "nobody".into();
        let error = build_message(&from, &bad).unwrap_err();
        assert!(error.is_permanent(), "{error}");
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|inner| inner as _)
        }
    }

    #[test]
    fn errors_become_one_line_without_repeats() {
        let error = Layer(
            "Connection error: Connection error",
            Some(Box::new(Layer("refused\nby  server", None))),
        );
        assert_eq!(describe(&error), "Connection error: refused by server");
    }

    #[test]
    fn html_goes_out_as_an_alternative_to_the_text() {
        let from: Mailbox = "noreply@example.com".parse().unwrap();
        let plain =
            String::from_utf8(build_message(&from, &email(None)).unwrap().formatted()).unwrap();
        assert!(plain.contains("Content-Type: text/plain"), "{plain}");
        assert!(!plain.contains("multipart"), "{plain}");
        // Non-ASCII subjects are encoded words (RFC 2047), never raw 8-bit headers.
        assert!(plain.contains("Subject: =?utf-8?"), "{plain}");

        let both = build_message(&from, &email(Some("<p>html</p>"))).unwrap();
        let both = String::from_utf8(both.formatted()).unwrap();
        assert!(both.contains("multipart/alternative"), "{both}");
        assert!(both.contains("text/html"), "{both}");
        assert!(both.contains("Message-ID: <"), "{both}");
    }
}
