//! Getting a message to the service provider through the browser: an auto-submitting
//! form (POST binding, the XML signed inside) or a redirect whose query is signed
//! (Redirect binding, SAML bindings §3.4.4.1: XML signatures are left out there, the
//! query signature replaces them).

use crate::model::{SamlBinding, SamlProvider};

use super::codec;
use super::response::{Signer, algorithms};
use super::xml::{DsigError, Element, RedirectMessage, sign_redirect};

/// What the browser is handed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A form POSTed to `url` with `field` = base64 of the XML, and `RelayState`.
    Post {
        url: String,
        field: &'static str,
        message: String,
        relay_state: Option<String>,
    },
    /// A redirect to this URL.
    Redirect(String),
}

/// Packs `document` for `binding`. For POST the caller has already signed the XML as
/// configured; for Redirect the query is signed when `signer` is given.
pub fn deliver(
    binding: SamlBinding,
    url: &str,
    kind: RedirectMessage,
    document: &Element,
    relay_state: Option<&str>,
    signer: Option<&Signer<'_>>,
    provider: &SamlProvider,
) -> Result<Delivery, DsigError> {
    let relay_state = relay_state.filter(|state| !state.is_empty());
    match binding {
        SamlBinding::Post => Ok(Delivery::Post {
            url: url.to_owned(),
            field: kind.parameter(),
            message: codec::encode_base64(document.to_document().as_bytes()),
            relay_state: relay_state.map(str::to_owned),
        }),
        SamlBinding::Redirect => {
            let message = codec::deflate_base64(&document.to_xml());
            let query = match signer {
                Some(signer) => {
                    let (algorithm, _) = algorithms(provider);
                    sign_redirect(kind, &message, relay_state, signer.key, algorithm)?
                }
                None => {
                    let mut query = url::form_urlencoded::Serializer::new(String::new());
                    query.append_pair(kind.parameter(), &message);
                    if let Some(state) = relay_state {
                        query.append_pair("RelayState", state);
                    }
                    query.finish()
                }
            };
            let separator = if url.contains('?') { '&' } else { '?' };
            Ok(Delivery::Redirect(format!("{url}{separator}{query}")))
        }
    }
}
