//! The OpenAPI component schemas of the SAML provider and its property mappings
//! (authentik's `SAMLProvider`, `SAMLPropertyMapping` and their requests), merged into
//! `/api/v3/schema/` by `schema.rs`.

use serde_json::{Map, Value, json};

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

fn provider_properties() -> Value {
    let text = json!({"type": "string"});
    let uuid = json!({"type": "string", "format": "uuid", "nullable": true});
    let binding = json!({"type": "string", "enum": ["post", "redirect"]});
    json!({
        "name": text, "authorization_flow": {"type": "string", "format": "uuid"},
        "invalidation_flow": uuid, "property_mappings": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        "acs_url": text, "audience": text, "issuer": text, "sp_binding": binding,
        "sls_url": text, "sls_binding": binding, "default_relay_state": text,
        "default_name_id_policy": text, "name_id_mapping": uuid,
        "assertion_valid_not_before": text, "assertion_valid_not_on_or_after": text,
        "session_valid_not_on_or_after": text, "signing_kp": uuid, "verification_kp": uuid,
        "encryption_kp": uuid, "sign_assertion": {"type": "boolean"}, "sign_response": {"type": "boolean"},
        "digest_algorithm": text, "signature_algorithm": text,
    })
}

pub fn component_schemas() -> Map<String, Value> {
    let mut provider = provider_properties();
    if let Value::Object(map) = &mut provider {
        map.insert("pk".into(), json!({"type": "integer", "readOnly": true}));
        for url in [
            "url_download_metadata",
            "url_sso_post",
            "url_sso_redirect",
            "url_sso_init",
            "url_slo_post",
            "url_slo_redirect",
        ] {
            map.insert(
                url.into(),
                json!({"type": "string", "nullable": true, "readOnly": true}),
            );
        }
    }
    let mapping = json!({
        "name": {"type": "string"}, "expression": {"type": "string"},
        "saml_name": {"type": "string"}, "friendly_name": {"type": "string", "nullable": true},
    });
    let mut mapping_read = mapping.clone();
    if let Value::Object(map) = &mut mapping_read {
        map.insert(
            "pk".into(),
            json!({"type": "string", "format": "uuid", "readOnly": true}),
        );
        map.insert(
            "managed".into(),
            json!({"type": "string", "nullable": true}),
        );
    }
    let mut schemas = Map::new();
    schemas.insert(
        "SAMLProvider".into(),
        object(&["pk", "name", "authorization_flow", "acs_url"], provider),
    );
    schemas.insert(
        "SAMLProviderRequest".into(),
        object(
            &["name", "authorization_flow", "acs_url"],
            provider_properties(),
        ),
    );
    schemas.insert(
        "SAMLPropertyMapping".into(),
        object(&["pk", "name", "expression", "saml_name"], mapping_read),
    );
    schemas.insert(
        "SAMLPropertyMappingRequest".into(),
        object(&["name", "expression", "saml_name"], mapping),
    );
    schemas
}
