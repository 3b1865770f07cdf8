//! OpenAPI component schemas for the stage kinds, derived from each kind's default
//! settings so the description follows the structs without a second list of fields.
//! `schema.rs` places them; the paths use its shared helpers.

use serde_json::{Map, Value, json};

use super::kinds::KINDS;

/// A property's schema from the default value's JSON type. A `null` default is an
/// optional reference (a pk or a slug), hence a nullable string.
fn property(value: &Value) -> Value {
    match value {
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(_) => json!({"type": "integer"}),
        Value::String(_) => json!({"type": "string"}),
        Value::Null => json!({"type": "string", "nullable": true}),
        Value::Array(_) => json!({"type": "array", "items": {}}),
        Value::Object(_) => json!({"type": "object", "additionalProperties": {}}),
    }
}

fn prompt_field() -> Value {
    json!({"type": "object", "required": ["field_key", "label", "type"], "properties": {
        "field_key": {"type": "string"}, "label": {"type": "string"},
        "type": {"type": "string", "enum": ["text", "text_read_only", "text_area", "email",
            "password", "number", "checkbox", "radio-button-group", "dropdown", "date",
            "date-time", "hidden", "static", "separator"]},
        "required": {"type": "boolean"}, "placeholder": {"type": "string"},
        "initial_value": {"type": "string"}, "order": {"type": "integer"},
        "sub_text": {"type": "string"}, "choices": {"type": "array", "items": {"type": "string"}}}})
}

/// The authenticator stages' choices, as authentik's schema lists them.
fn refine_authenticator(tag: &str, settings: &mut Map<String, Value>) {
    let classes = json!({"type": "string", "enum": ["totp", "static", "webauthn", "email"]});
    let verification = json!({"type": "string", "enum": ["required", "preferred", "discouraged"]});
    match tag {
        "authenticator_totp" => {
            settings.insert(
                "digits".into(),
                json!({"type": "string", "enum": ["6", "8"]}),
            );
        }
        "authenticator_validate" => {
            settings.insert(
                "device_classes".into(),
                json!({"type": "array", "items": classes}),
            );
            settings.insert(
                "not_configured_action".into(),
                json!({"type": "string", "enum": ["skip", "deny", "configure"]}),
            );
            settings.insert(
                "configuration_stages".into(),
                json!({"type": "array", "items": {"type": "string", "format": "uuid"}}),
            );
            settings.insert("webauthn_user_verification".into(), verification);
        }
        _ => {}
    }
}

/// authentik's `Stage` (the shape of `stages/all/`).
pub fn stage_schema() -> Value {
    json!({"type": "object", "required": ["pk", "name", "component"], "properties": {
        "pk": {"type": "string", "format": "uuid", "readOnly": true},
        "name": {"type": "string"},
        "component": {"type": "string", "readOnly": true},
        "verbose_name": {"type": "string", "readOnly": true},
        "verbose_name_plural": {"type": "string", "readOnly": true},
        "meta_model_name": {"type": "string", "readOnly": true},
        "flow_set": {"type": "array", "items": {"$ref": "#/components/schemas/Flow"}, "readOnly": true}}})
}

/// `Stage`, and `<Kind>` and `<Kind>Request` for every kind.
pub fn component_schemas() -> Map<String, Value> {
    let mut schemas = Map::new();
    schemas.insert("Stage".into(), stage_schema());
    for route in KINDS {
        let mut settings: Map<String, Value> = route
            .default_settings()
            .iter()
            .map(|(key, value)| (key.clone(), property(value)))
            .collect();
        if route.tag == "prompt" {
            settings.insert(
                "fields".into(),
                json!({"type": "array", "items": prompt_field()}),
            );
            settings.insert(
                "validation_policies".into(),
                json!({"type": "array", "items": {"type": "string", "format": "uuid"}}),
            );
        }
        refine_authenticator(route.tag, &mut settings);
        let mut request = settings.clone();
        request.insert("name".into(), json!({"type": "string", "minLength": 1}));
        let mut response = settings;
        if let Some(Value::Object(common)) = stage_schema().get("properties") {
            response.extend(common.clone());
        }
        schemas.insert(
            route.schema_name.to_owned(),
            json!({"type": "object", "required": ["pk", "name", "component"], "properties": response}),
        );
        schemas.insert(
            format!("{}Request", route.schema_name),
            json!({"type": "object", "required": ["name"], "properties": request,
                   "additionalProperties": false}),
        );
    }
    schemas
}
