//! `/api/v3/providers/saml/` in authentik's shapes: create, read, update, delete, field
//! errors, the default SAML mappings, and creating a provider from an SP's metadata.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::oidc::{IMPLICIT_CONSENT, flow_pk};
use crate::harness::saml::Sp;

const PATH: &str = "/api/v3/providers/saml/";

#[tokio::test]
async fn saml_providers_round_trip_in_authentiks_shape() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({"sp_binding": "redirect"})).await;
    let path = format!("{PATH}{}/", sp.provider_pk);
    let provider: Value = server.admin_get(&path).await.json().await.unwrap();
    assert_eq!(provider["acs_url"], sp.acs_url);
    assert_eq!(provider["audience"], sp.entity_id);
    assert_eq!(provider["sp_binding"], "redirect");
    assert_eq!(provider["sign_assertion"], true);
    assert_eq!(provider["assertion_valid_not_before"], "minutes=-5");
    assert_eq!(
        provider["digest_algorithm"],
        "http://www.w3.org/2001/04/xmlenc#sha256"
    );
    assert_eq!(provider["component"], "ak-provider-saml-form");
    assert_eq!(provider["assigned_application_slug"], "wiki");
    assert_eq!(provider["url_sso_init"], sp.endpoint("sso/binding/init/"));
    assert_eq!(provider["issuer"], sp.endpoint("metadata/"));
    // The default SAML mappings come with a new provider.
    assert_eq!(provider["property_mappings"].as_array().unwrap().len(), 7);

    let patched = server
        .admin_send(
            Method::PATCH,
            &path,
            json!({"sign_response": true, "issuer": "https://idp.example/entity"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["sign_response"], true);
    assert_eq!(patched["issuer"], "https://idp.example/entity");

    let list: Value = server.admin_get(PATH).await.json().await.unwrap();
    assert_eq!(list["pagination"]["count"], 1);
    // The launcher opens a SAML application through IdP-initiated sign-in.
    let app: Value = server
        .admin_get("/api/v3/core/applications/wiki/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app["launch_url"],
        "/application/saml/wiki/sso/binding/init/"
    );
    let all: Value = server
        .admin_get("/api/v3/providers/all/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["results"][0]["verbose_name"], "SAML Provider");
    // An OAuth path does not serve a SAML provider.
    let oauth = server
        .admin_get(&format!("/api/v3/providers/oauth2/{}/", sp.provider_pk))
        .await;
    assert_eq!(oauth.status(), 404);

    let deleted = server.admin_send(Method::DELETE, &path, json!({})).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(server.admin_get(&path).await.status(), 404);
}

#[tokio::test]
async fn bad_settings_are_field_errors() {
    let server = TestServer::spawn().await;
    let created = server
        .admin_send(
            Method::POST,
            PATH,
            json!({
                "name": "wiki",
                "authorization_flow": flow_pk(&server, IMPLICIT_CONSENT).await,
                "acs_url": "not a url",
                "sp_binding": "artifact",
                "assertion_valid_not_on_or_after": "minutes=-10",
                "digest_algorithm": "http://www.w3.org/2001/04/xmldsig-more#md5",
                "signing_kp": "00000000-0000-0000-0000-000000000000",
                "encryption_kp": "not-a-uuid",
                "default_name_id_policy": "urn:example:format",
            }),
        )
        .await;
    assert_eq!(created.status(), 400);
    let errors: Value = created.json().await.unwrap();
    for field in [
        "acs_url",
        "sp_binding",
        "assertion_valid_not_on_or_after",
        "digest_algorithm",
        "signing_kp",
        "encryption_kp",
        "default_name_id_policy",
    ] {
        assert!(errors[field].is_array(), "{field}: {errors}");
    }
    let missing = server
        .admin_send(Method::POST, PATH, json!({"name": "x"}))
        .await;
    let errors: Value = missing.json().await.unwrap();
    assert!(errors["acs_url"].is_array() && errors["authorization_flow"].is_array());
}

const SP_METADATA: &str = r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://nextcloud.example.com/saml">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://nextcloud.example.com/saml/sls"/>
    KEY_DESCRIPTOR
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://nextcloud.example.com/saml/acs" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#;

#[tokio::test]
async fn importing_sp_metadata_creates_a_provider() {
    let server = TestServer::spawn().await;
    let flow = flow_pk(&server, IMPLICIT_CONSENT).await;
    // The SP publishes one certificate for both uses (no `use` attribute).
    let pair = gatehouse::crypto::keys::generate(
        gatehouse::model::KeyType::Rsa,
        "nextcloud.example.com",
        &[],
        30,
        gatehouse::model::Timestamp(0),
    )
    .unwrap();
    let der_base64: String = pair
        .certificate_pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let metadata = SP_METADATA.replace(
        "KEY_DESCRIPTOR",
        &format!(
            r#"<md:KeyDescriptor><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{der_base64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        ),
    );
    let boundary = "gatehouse-boundary-42";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nNextcloud\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"authorization_flow\"\r\n\r\n{flow}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sp.xml\"\r\nContent-Type: text/xml\r\n\r\n{metadata}\r\n\
         --{boundary}--\r\n"
    );
    let imported = reqwest::Client::new()
        .post(server.url(&format!("{PATH}import_metadata/")))
        .bearer_auth(crate::harness::ADMIN_TOKEN)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 204, "{}", imported.text().await.unwrap());
    let list: Value = server.admin_get(PATH).await.json().await.unwrap();
    let provider = &list["results"][0];
    assert_eq!(provider["name"], "Nextcloud");
    assert_eq!(
        provider["acs_url"],
        "https://nextcloud.example.com/saml/acs"
    );
    assert_eq!(provider["audience"], "https://nextcloud.example.com/saml");
    assert_eq!(
        provider["sls_url"],
        "https://nextcloud.example.com/saml/sls"
    );
    assert_eq!(provider["sp_binding"], "post");
    assert_eq!(
        provider["default_name_id_policy"],
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    );
    assert!(provider["signing_kp"].is_string(), "{provider}");
    // The SP's certificate verifies its requests and encrypts its assertions.
    assert!(provider["verification_kp"].is_string(), "{provider}");
    assert_eq!(provider["encryption_kp"], provider["verification_kp"]);

    let broken = server
        .admin_send(
            Method::POST,
            &format!("{PATH}import_metadata/"),
            json!({"name": "Broken", "authorization_flow": flow, "file": "<nope/>"}),
        )
        .await;
    assert_eq!(broken.status(), 400);
    let errors: Value = broken.json().await.unwrap();
    assert!(errors["file"].is_array(), "{errors}");
}

#[tokio::test]
async fn custom_saml_mappings_feed_attributes_and_the_name_id() {
    use crate::harness::oidc::UserAgent;
    use crate::harness::saml::{
        attributes, idp_certificate, now_instant, read_form, response_of, verified_assertion,
    };

    let server = TestServer::spawn().await;
    let mappings = "/api/v3/propertymappings/provider/saml/";
    let defaults: Value = server.admin_get(mappings).await.json().await.unwrap();
    assert_eq!(defaults["pagination"]["count"], 7, "{defaults}");
    let broken = server
        .admin_send(
            Method::POST,
            mappings,
            json!({"name": "Broken", "saml_name": "x", "expression": "let = ;"}),
        )
        .await;
    assert_eq!(broken.status(), 400);
    let created = server
        .admin_send(
            Method::POST,
            mappings,
            json!({
                "name": "Shouting name",
                "saml_name": "loud",
                "friendly_name": "Loud",
                "expression": "let n = user.username; n.to_upper()",
            }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let loud: Value = created.json().await.unwrap();
    assert_eq!(loud["component"], "ak-property-mapping-provider-saml-form");
    let tags = server
        .admin_send(
            Method::POST,
            mappings,
            json!({"name": "Tags", "saml_name": "tags", "expression": "[\"a\", \"b\"]"}),
        )
        .await;
    let tags: Value = tags.json().await.unwrap();
    // A managed mapping keeps its expression.
    let managed_pk = defaults["results"][0]["pk"].as_str().unwrap();
    let changed = server
        .admin_send(
            Method::PATCH,
            &format!("{mappings}{managed_pk}/"),
            json!({"expression": "\"x\""}),
        )
        .await;
    assert_eq!(changed.status(), 400);

    let sp = Sp::create(
        &server,
        "wiki",
        json!({"property_mappings": [loud["pk"], tags["pk"]], "name_id_mapping": loud["pk"]}),
    )
    .await;
    let certificate = idp_certificate(&sp).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let request = sp.authn_request("_m", &now_instant(&server), "redirect", "");
    let landing = ua
        .go(&sp.redirect_url("sso/binding/redirect/", &request, None))
        .await;
    let (status, html) = landing.page();
    assert_eq!(status, 200, "{html}");
    let assertion = verified_assertion(&response_of(&read_form(html)), &certificate);
    let attributes = attributes(&assertion);
    assert_eq!(attributes["loud"], vec!["ALICE"]);
    assert_eq!(attributes["tags"], vec!["a", "b"]);
    assert_eq!(
        attributes.len(),
        2,
        "only the provider's mappings: {attributes:?}"
    );
    let name_id = assertion
        .find_child(gatehouse::providers::saml::xml::SAML_NS, "Subject")
        .and_then(|subject| subject.find_child(gatehouse::providers::saml::xml::SAML_NS, "NameID"))
        .unwrap();
    assert_eq!(name_id.text(), "ALICE");
}
