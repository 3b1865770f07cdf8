//! Email templates: minijinja files embedded from `assets/email/`, each overridable by a
//! file of the same name in the custom folder (`<data_dir>/templates/email/`), as
//! authentik lets users override its email templates.
//!
//! A message named `n` is `n.txt` (required) and `n.html` (optional). The subject is the
//! first line of the rendered `.txt`, written `Subject: ...`; the rest of the file is the
//! plain-text body. Keeping the subject in the template lets an override reword it (and
//! translate it) together with the body, with the same variables.

use std::path::PathBuf;
use std::sync::Arc;

use minijinja::{Environment, ErrorKind};
use rust_embed::RustEmbed;
use serde::Serialize;

use crate::model::{OutgoingEmail, User};

#[derive(RustEmbed)]
#[folder = "assets/email/"]
struct EmbeddedEmailTemplates;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("no email template named {0:?}")]
    Missing(String),
    #[error("email template {0}.txt must start with a \"Subject: ...\" line")]
    NoSubject(String),
    #[error("email template {name}: {source}")]
    Render {
        name: String,
        source: minijinja::Error,
    },
}

/// The variables every shipped template understands. Overrides may use any of them;
/// `url` and `expires_minutes` are empty for messages that carry no link.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EmailContext {
    pub user: EmailUser,
    pub url: Option<String>,
    pub expires_minutes: Option<u64>,
    /// The brand's title ("gatehouse" unless a brand says otherwise).
    pub title: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EmailUser {
    pub username: String,
    pub name: String,
    pub email: String,
}

impl From<&User> for EmailUser {
    fn from(user: &User) -> EmailUser {
        EmailUser {
            username: user.username.as_str().to_owned(),
            name: user.name.clone(),
            email: user.email.clone(),
        }
    }
}

/// A rendered message, not yet addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

impl RenderedEmail {
    pub fn to(self, recipient: &str) -> OutgoingEmail {
        OutgoingEmail {
            to: recipient.to_owned(),
            subject: self.subject,
            text: self.text,
            html: self.html,
        }
    }
}

#[derive(Clone)]
pub struct EmailTemplates {
    env: Arc<Environment<'static>>,
}

impl EmailTemplates {
    /// `custom_dir`: files found there win over the built-in ones, per file (an override
    /// of `password_reset.html` alone keeps the built-in `password_reset.txt`).
    pub fn new(custom_dir: Option<PathBuf>) -> EmailTemplates {
        let mut env = Environment::new();
        // Jinja's whitespace rules for text mail: a line holding only a `{% tag %}`
        // leaves no blank line behind.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_loader(move |name: &str| {
            if !is_safe_file_name(name) {
                return Ok(None);
            }
            if let Some(dir) = &custom_dir
                && let Ok(text) = std::fs::read_to_string(dir.join(name))
            {
                return Ok(Some(text));
            }
            Ok(EmbeddedEmailTemplates::get(name)
                .and_then(|file| String::from_utf8(file.data.into_owned()).ok()))
        });
        EmailTemplates { env: Arc::new(env) }
    }

    /// Renders `name.txt` (subject and text) and `name.html` when there is one. HTML is
    /// auto-escaped (by the `.html` extension); the text part is not, as it is not HTML.
    pub fn render<C: Serialize>(
        &self,
        name: &str,
        context: C,
    ) -> Result<RenderedEmail, TemplateError> {
        if !is_message_name(name) {
            return Err(TemplateError::Missing(name.to_owned()));
        }
        let context = minijinja::Value::from_serialize(&context);
        let text = self
            .render_file(name, &format!("{name}.txt"), &context)?
            .ok_or_else(|| TemplateError::Missing(name.to_owned()))?;
        let (subject, text) =
            split_subject(&text).ok_or_else(|| TemplateError::NoSubject(name.to_owned()))?;
        let html = self.render_file(name, &format!("{name}.html"), &context)?;
        Ok(RenderedEmail {
            subject,
            text,
            html,
        })
    }

    /// `None` when the file does not exist; any other failure is an error.
    fn render_file(
        &self,
        name: &str,
        file: &str,
        context: &minijinja::Value,
    ) -> Result<Option<String>, TemplateError> {
        let rendered = self
            .env
            .get_template(file)
            .and_then(|template| template.render(context));
        match rendered {
            Ok(text) => Ok(Some(text)),
            Err(error) if error.kind() == ErrorKind::TemplateNotFound => Ok(None),
            Err(source) => Err(TemplateError::Render {
                name: name.to_owned(),
                source,
            }),
        }
    }
}

/// Message names are plain identifiers, so a name can never reach outside the folder.
fn is_message_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// What the loader accepts: a message file or a layout it extends, never a path.
fn is_safe_file_name(name: &str) -> bool {
    !name.contains("..") && !name.contains('/') && !name.contains('\\')
}

/// Splits `Subject: ...` off the rendered text. The subject is one line with runs of
/// whitespace collapsed (a header cannot hold a line break); one blank line after it is
/// dropped so the body starts at its first real line.
fn split_subject(rendered: &str) -> Option<(String, String)> {
    let rendered = rendered.trim_start_matches(['\n', '\r']);
    let (first, rest) = rendered.split_once('\n').unwrap_or((rendered, ""));
    let subject = first.trim().strip_prefix("Subject:")?;
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    if subject.is_empty() {
        return None;
    }
    let body = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))
        .unwrap_or(rest);
    Some((subject, body.to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn context() -> EmailContext {
        EmailContext {
            user: EmailUser {
                username: "alice".into(),
                name: "Alice <Admin>".into(),
                email: "alice@example.com".into(),
            },
            url: Some("https://id.example.com/if/flow/recovery/?token=a&b=<c>".into()),
            expires_minutes: Some(30),
            title: "Example ID".into(),
        }
    }

    #[test]
    fn every_shipped_message_renders_with_subject_text_and_html() {
        let templates = EmailTemplates::new(None);
        for name in ["email_verification", "password_reset", "invitation", "test"] {
            let mail = templates.render(name, context()).unwrap();
            assert!(
                mail.subject.contains("Example ID"),
                "{name}: {}",
                mail.subject
            );
            assert!(!mail.text.starts_with('\n'), "{name}: {:?}", mail.text);
            assert!(!mail.text.contains("Subject:"), "{name}");
            let html = mail.html.expect("html part");
            assert!(html.contains("Example ID"), "{name}");
            if name != "test" {
                // The link reaches the text verbatim and the HTML escaped.
                assert!(mail.text.contains("token=a&b=<c>"), "{name}: {}", mail.text);
                assert!(html.contains("token=a&amp;b=&lt;c&gt;"), "{name}: {html}");
                assert!(mail.text.contains("30 minutes"), "{name}: {}", mail.text);
            }
            assert!(!html.contains("Alice <Admin>"), "{name}: html must escape");
        }
    }

    #[test]
    fn a_custom_folder_overrides_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("password_reset.txt"),
            "Subject:  Reset   for {{ user.username }}\n\nGo to {{ url }}\n",
        )
        .unwrap();
        let templates = EmailTemplates::new(Some(dir.path().to_path_buf()));
        let mail = templates.render("password_reset", context()).unwrap();
        assert_eq!(mail.subject, "Reset for alice");
        assert!(mail.text.starts_with("Go to https://"), "{}", mail.text);
        // The HTML part was not overridden, so the built-in one is used.
        assert!(mail.html.unwrap().contains("<html"));
    }

    #[test]
    fn a_text_template_without_a_subject_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("test.txt"), "Hello\n").unwrap();
        let templates = EmailTemplates::new(Some(dir.path().to_path_buf()));
        assert!(matches!(
            templates.render("test", context()),
            Err(TemplateError::NoSubject(_))
        ));
    }

    #[test]
    fn unknown_or_path_like_names_are_missing() {
        let templates = EmailTemplates::new(None);
        for name in ["nope", "../templates/base", "layout.html", ""] {
            assert!(
                matches!(
                    templates.render(name, context()),
                    Err(TemplateError::Missing(_))
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn subjects_are_one_line() {
        assert_eq!(
            split_subject("Subject: a\r\n\r\nbody"),
            Some(("a".into(), "body".into()))
        );
        assert_eq!(
            split_subject("\nSubject: x  y\nbody"),
            Some(("x y".into(), "body".into()))
        );
        assert_eq!(split_subject("Subject:   \nbody"), None);
        assert_eq!(split_subject("Hello"), None);
    }
}
