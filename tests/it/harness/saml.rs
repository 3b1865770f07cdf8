//! A SAML service provider for the tests: a provider and application made through the
//! admin API, AuthnRequests and LogoutRequests as an SP writes them, and reading the
//! auto-submitting form and the Response that come back (signature checked with
//! gatehouse's XML module against the certificate from the IdP metadata).

use std::collections::HashMap;

use gatehouse::providers::saml::codec;
use gatehouse::providers::saml::xml::{
    self, Element, SAML_NS, SAMLP_NS, TrustedCertificate, VerifyOptions,
};
use reqwest::Method;
use serde_json::{Value, json};

use super::TestServer;
use super::oidc::{IMPLICIT_CONSENT, INVALIDATION, flow_pk, keypair_pk};

pub const RSA_KEY: &str = "goauthentik.io/crypto/self-signed";

pub struct Sp {
    pub base: String,
    pub slug: String,
    pub provider_pk: i64,
    pub app_pk: String,
    pub acs_url: String,
    pub entity_id: String,
}

impl Sp {
    /// A provider (signed assertions with the default RSA key, implicit consent, the
    /// default SAML mappings) with `overrides` merged in, and its application.
    pub async fn create(server: &TestServer, slug: &str, overrides: Value) -> Sp {
        let acs_url = format!("https://{slug}.example.com/saml/acs");
        let entity_id = format!("https://{slug}.example.com/saml");
        let mut body = json!({
            "name": slug,
            "authorization_flow": flow_pk(server, IMPLICIT_CONSENT).await,
            "invalidation_flow": flow_pk(server, INVALIDATION).await,
            "acs_url": acs_url,
            "audience": entity_id,
            "signing_kp": keypair_pk(server, RSA_KEY).await,
        });
        for (key, value) in overrides.as_object().cloned().unwrap_or_default() {
            body[key] = value;
        }
        let created = server
            .admin_send(Method::POST, "/api/v3/providers/saml/", body)
            .await;
        let status = created.status();
        let provider: Value = created.json().await.unwrap();
        assert_eq!(status, 201, "provider {slug}: {provider}");
        let app = server
            .admin_send(
                Method::POST,
                "/api/v3/core/applications/",
                json!({"name": slug, "slug": slug, "provider": provider["pk"]}),
            )
            .await;
        assert_eq!(app.status(), 201, "application {slug}");
        let app: Value = app.json().await.unwrap();
        Sp {
            base: server.url(""),
            slug: slug.to_owned(),
            provider_pk: provider["pk"].as_i64().unwrap(),
            app_pk: app["pk"].as_str().unwrap().to_owned(),
            acs_url,
            entity_id,
        }
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/application/saml/{}/{path}", self.base, self.slug)
    }

    /// An AuthnRequest issued at `instant` (RFC 3339) for `binding` (`redirect`/`post`),
    /// with `extra` attributes (`ForceAuthn="true"`...) and children.
    pub fn authn_request(&self, id: &str, instant: &str, binding: &str, extra: &str) -> String {
        format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" {extra}><saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>"#,
            destination = self.endpoint(&format!("sso/binding/{binding}/")),
            acs = self.acs_url,
            issuer = self.entity_id,
        )
    }

    /// The Redirect-binding URL carrying `xml`.
    pub fn redirect_url(&self, path: &str, xml: &str, relay_state: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("SAMLRequest", &codec::deflate_base64(xml));
        if let Some(state) = relay_state {
            query.append_pair("RelayState", state);
        }
        format!("{}?{}", self.endpoint(path), query.finish())
    }
}

/// Now, as the server's clock has it, in SAML's format.
pub fn now_instant(server: &TestServer) -> String {
    use gatehouse::clock::Clock;
    server.clock.now().to_rfc3339()
}

fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&#x2b;", "+")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attribute_after(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let start = html.find(marker)?;
    let rest = html.get(start..)?;
    let at = rest.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    let value = rest.get(at..)?.split('"').next()?;
    Some(unescape(value))
}

/// The POST binding's form: where it posts and its hidden fields.
pub struct PostedForm {
    pub action: String,
    pub fields: HashMap<String, String>,
}

pub fn read_form(html: &str) -> PostedForm {
    let action = attribute_after(html, "<form", "action").expect("a form with an action");
    let mut fields = HashMap::new();
    for input in html.split("<input").skip(1) {
        let name = attribute_after(input, "", "name").unwrap();
        let value = attribute_after(input, "", "value").unwrap_or_default();
        fields.insert(name, value);
    }
    PostedForm { action, fields }
}

/// The IdP certificate as the metadata publishes it.
pub async fn idp_certificate(sp: &Sp) -> TrustedCertificate {
    let metadata = reqwest::get(sp.endpoint("metadata/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let base64 = metadata
        .split("<ds:X509Certificate>")
        .nth(1)
        .and_then(|rest| rest.split("</ds:X509Certificate>").next())
        .expect("a signing certificate in the metadata");
    TrustedCertificate::from_base64(base64).unwrap()
}

/// The decoded Response document of a form.
pub fn response_of(form: &PostedForm) -> Element {
    let bytes = codec::decode_base64(&form.fields["SAMLResponse"]).unwrap();
    xml::parse(&bytes).unwrap()
}

/// The Response's one Assertion, its signature verified: read only from the result.
pub fn verified_assertion(response: &Element, certificate: &TrustedCertificate) -> Element {
    let mut assertions = response.find_children(SAML_NS, "Assertion");
    let assertion = assertions.next().expect("an assertion");
    assert!(assertions.next().is_none(), "exactly one assertion");
    xml::verify_enveloped(
        response,
        assertion,
        std::slice::from_ref(certificate),
        &VerifyOptions::default(),
    )
    .expect("the assertion's signature verifies")
    .element
}

/// The top-level and second-level status codes.
pub fn status_codes(response: &Element) -> (String, Option<String>) {
    let code = response
        .find_child(SAMLP_NS, "Status")
        .and_then(|status| status.find_child(SAMLP_NS, "StatusCode"))
        .expect("a status code");
    (
        code.attribute("Value").unwrap().to_owned(),
        code.find_child(SAMLP_NS, "StatusCode")
            .and_then(|inner| inner.attribute("Value"))
            .map(str::to_owned),
    )
}

/// Attribute name → values of the assertion's AttributeStatement.
pub fn attributes(assertion: &Element) -> HashMap<String, Vec<String>> {
    assertion
        .find_child(SAML_NS, "AttributeStatement")
        .map(|statement| {
            statement
                .find_children(SAML_NS, "Attribute")
                .map(|attribute| {
                    (
                        attribute.attribute("Name").unwrap().to_owned(),
                        attribute
                            .find_children(SAML_NS, "AttributeValue")
                            .map(|value| value.text())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
