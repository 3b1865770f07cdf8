//! Metadata (SAML metadata §2): our IdP's EntityDescriptor, which SPs configure
//! themselves from, and reading an SP's EntityDescriptor to create a provider from it.

use crate::model::saml::{NAMEID_FORMATS, NAMEID_UNSPECIFIED};
use crate::model::{SamlBinding, SamlProvider};

use super::xml::{self, DSIG_NS, Element, METADATA_NS, TrustedCertificate};
use super::{application_base, codec};

pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

fn md(local: &str) -> Element {
    Element::new(METADATA_NS, &format!("md:{local}"))
}

fn endpoint(local: &str, binding: &str, location: String) -> Element {
    md(local)
        .with_attribute("Binding", binding)
        .with_attribute("Location", location)
}

fn key_descriptor(usage: &str, certificate_der: &[u8]) -> Element {
    md("KeyDescriptor").with_attribute("use", usage).with_child(
        Element::new(DSIG_NS, "ds:KeyInfo")
            .with_namespace(Some("ds"), DSIG_NS)
            .with_child(
                Element::new(DSIG_NS, "ds:X509Data").with_child(
                    Element::new(DSIG_NS, "ds:X509Certificate")
                        .with_text(codec::encode_base64(certificate_der)),
                ),
            ),
    )
}

/// Our IdP's metadata for one application: entity id, the signing certificate when the
/// provider signs, SLO and SSO endpoints for both bindings, and the NameID formats.
pub fn idp_metadata(
    base_url: &str,
    slug: &str,
    provider: &SamlProvider,
    signing_certificate_der: Option<&[u8]>,
) -> Element {
    let base = application_base(base_url, slug);
    let mut descriptor = md("IDPSSODescriptor")
        .with_attribute("protocolSupportEnumeration", PROTOCOL)
        .with_attribute(
            "WantAuthnRequestsSigned",
            if provider.verification_kp.is_some() {
                "true"
            } else {
                "false"
            },
        );
    if let Some(der) = signing_certificate_der {
        descriptor.push_child(key_descriptor("signing", der));
    }
    for (binding, path) in [(BINDING_REDIRECT, "redirect"), (BINDING_POST, "post")] {
        descriptor.push_child(endpoint(
            "SingleLogoutService",
            binding,
            format!("{base}/slo/binding/{path}/"),
        ));
    }
    for format in NAMEID_FORMATS {
        descriptor.push_child(md("NameIDFormat").with_text(format));
    }
    for (binding, path) in [(BINDING_REDIRECT, "redirect"), (BINDING_POST, "post")] {
        descriptor.push_child(endpoint(
            "SingleSignOnService",
            binding,
            format!("{base}/sso/binding/{path}/"),
        ));
    }
    md("EntityDescriptor")
        .with_namespace(Some("md"), METADATA_NS)
        .with_attribute("entityID", super::issuer(base_url, slug, provider))
        .with_child(descriptor)
}

/// What an SP's metadata tells: enough to create a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpMetadata {
    pub entity_id: String,
    pub acs_url: String,
    pub acs_binding: SamlBinding,
    pub sls_url: Option<(String, SamlBinding)>,
    pub name_id_format: Option<String>,
    /// PEM of the SP's signing certificate, when it publishes one.
    pub signing_certificate_pem: Option<String>,
    /// PEM of the certificate assertions are to be encrypted for, when it publishes one.
    pub encryption_certificate_pem: Option<String>,
    pub wants_assertions_signed: bool,
}

fn binding_of(uri: Option<&str>) -> Option<SamlBinding> {
    match uri {
        Some(BINDING_POST) => Some(SamlBinding::Post),
        Some(BINDING_REDIRECT) => Some(SamlBinding::Redirect),
        _ => None,
    }
}

/// The first endpoint with a binding we speak, preferring POST (then the index order).
fn pick_endpoint(descriptor: &Element, local: &str) -> Option<(String, SamlBinding)> {
    let mut endpoints: Vec<(bool, String, SamlBinding)> = descriptor
        .find_children(METADATA_NS, local)
        .filter_map(|element| {
            let binding = binding_of(element.attribute("Binding"))?;
            let location = element.attribute("Location")?.trim().to_owned();
            let default = element.attribute("isDefault") == Some("true");
            Some((default, location, binding))
        })
        .collect();
    endpoints.sort_by_key(|(default, _, binding)| (!*default, *binding != SamlBinding::Post));
    endpoints
        .into_iter()
        .next()
        .map(|(_, location, binding)| (location, binding))
}

fn pem_of(der: &[u8]) -> String {
    let body = codec::encode_base64(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|chunk| std::str::from_utf8(chunk).ok())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// The first certificate published for `usage` (`signing`, `encryption`); a
/// KeyDescriptor without `use` serves both.
fn certificate_for(descriptor: &Element, usage: &str) -> Option<String> {
    descriptor
        .find_children(METADATA_NS, "KeyDescriptor")
        .filter(|key| key.attribute("use").is_none_or(|given| given == usage))
        .filter_map(|key| {
            let text = key
                .find_child(DSIG_NS, "KeyInfo")?
                .find_child(DSIG_NS, "X509Data")?
                .find_child(DSIG_NS, "X509Certificate")?
                .text_only()?;
            TrustedCertificate::from_base64(&text).ok()
        })
        .map(|certificate| pem_of(certificate.der()))
        .next()
}

/// Reads an SP's EntityDescriptor (or the first SP in an EntitiesDescriptor).
pub fn read_sp_metadata(document: &[u8]) -> Result<SpMetadata, String> {
    let root = xml::parse(document).map_err(|error| format!("Not acceptable XML: {error}"))?;
    let entity = if root.is(METADATA_NS, "EntitiesDescriptor") {
        root.find_children(METADATA_NS, "EntityDescriptor")
            .find(|entity| entity.find_child(METADATA_NS, "SPSSODescriptor").is_some())
            .ok_or("The metadata describes no service provider.")?
    } else if root.is(METADATA_NS, "EntityDescriptor") {
        &root
    } else {
        return Err("This is not SAML metadata (no md:EntityDescriptor).".into());
    };
    let entity_id = entity
        .attribute("entityID")
        .filter(|id| !id.trim().is_empty())
        .ok_or("The EntityDescriptor has no entityID.")?
        .trim()
        .to_owned();
    let descriptor = entity
        .find_child(METADATA_NS, "SPSSODescriptor")
        .ok_or("The metadata describes no service provider (no SPSSODescriptor).")?;
    let (acs_url, acs_binding) = pick_endpoint(descriptor, "AssertionConsumerService").ok_or(
        "The service provider has no AssertionConsumerService with the POST or Redirect binding.",
    )?;
    let name_id_format = descriptor
        .find_child(METADATA_NS, "NameIDFormat")
        .and_then(Element::text_only)
        .map(|format| format.trim().to_owned())
        .filter(|format| format != NAMEID_UNSPECIFIED);
    Ok(SpMetadata {
        entity_id,
        acs_url,
        acs_binding,
        sls_url: pick_endpoint(descriptor, "SingleLogoutService"),
        name_id_format,
        signing_certificate_pem: certificate_for(descriptor, "signing"),
        encryption_certificate_pem: certificate_for(descriptor, "encryption"),
        wants_assertions_signed: descriptor.attribute("WantAssertionsSigned") == Some("true"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn idp_metadata_lists_endpoints_and_formats() {
        let provider = SamlProvider::new("https://sp/acs".into());
        let xml = idp_metadata("https://idp", "wiki", &provider, Some(b"\x30\x03abc")).to_xml();
        assert!(
            xml.contains(r#"entityID="https://idp/application/saml/wiki/metadata/""#),
            "{xml}"
        );
        assert!(xml.contains("https://idp/application/saml/wiki/sso/binding/redirect/"));
        assert!(xml.contains("https://idp/application/saml/wiki/slo/binding/post/"));
        assert!(xml.contains("nameid-format:persistent"));
        assert!(
            xml.contains("<ds:X509Certificate>MANhYmM=</ds:X509Certificate>"),
            "{xml}"
        );
        // Round trip through our own parser: it is well-formed.
        assert!(xml::parse(xml.as_bytes()).is_ok());
    }

    #[test]
    fn sp_metadata_gives_acs_entity_and_logout() {
        let metadata = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/saml">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAssertionsSigned="true">
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/slo"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example/art" index="0"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#;
        let sp = read_sp_metadata(metadata.as_bytes()).unwrap();
        assert_eq!(sp.entity_id, "https://sp.example/saml");
        assert_eq!(sp.acs_url, "https://sp.example/acs");
        assert_eq!(sp.acs_binding, SamlBinding::Post);
        assert_eq!(
            sp.sls_url,
            Some(("https://sp.example/slo".into(), SamlBinding::Redirect))
        );
        assert!(sp.wants_assertions_signed);
        assert!(read_sp_metadata(b"<a/>").is_err());
    }
}
