//! Challenges and responses in authentik's executor shapes. A challenge is JSON
//! (`{"component": "ak-stage-password", ...}`) because both renderers read it: the JSON
//! executor sends it as is, the page renderer hands it to a template.

use serde_json::{Map, Value, json};

use crate::model::Flow;

pub type StageResponse = Map<String, Value>;

/// A challenge for `component` with stage-specific fields.
pub fn challenge(component: &str, fields: Value) -> Value {
    let mut body = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    body.insert("type".into(), json!("native"));
    body.insert("component".into(), json!(component));
    Value::Object(body)
}

/// Adds authentik's `response_errors` (`{"field": [{"string", "code"}]}`) to a challenge.
pub fn with_error(mut challenge: Value, field: &str, message: &str) -> Value {
    if let Value::Object(body) = &mut challenge {
        let errors = body.entry("response_errors").or_insert_with(|| json!({}));
        if let Value::Object(errors) = errors {
            let list = errors.entry(field).or_insert_with(|| json!([]));
            if let Value::Array(list) = list {
                list.push(json!({"string": message, "code": "invalid"}));
            }
        }
    }
    challenge
}

pub fn add_flow_info(challenge: &mut Value, flow: &Flow) {
    if let Value::Object(body) = challenge {
        body.insert("flow_designation".into(), json!(flow.designation.as_str()));
        body.insert(
            "flow_info".into(),
            json!({
                "title": flow.title,
                "background": "",
                "cancel_url": "/flows/-/cancel/",
                "layout": flow.layout,
            }),
        );
    }
}

pub fn redirect(to: &str) -> Value {
    json!({"type": "redirect", "component": "xak-flow-redirect", "to": to})
}

pub fn access_denied(message: &str) -> Value {
    json!({"type": "native", "component": "ak-stage-access-denied", "error_message": message})
}

/// A text answer; forms send strings, JSON clients may send numbers.
pub fn text<'a>(response: &'a StageResponse, key: &str) -> Option<&'a str> {
    response.get(key).and_then(Value::as_str)
}

/// A yes/no answer: JSON `true`, or a form's "on"/"true"/"1".
pub fn flag(response: &StageResponse, key: &str) -> bool {
    match response.get(key) {
        Some(Value::Bool(value)) => *value,
        Some(Value::String(value)) => matches!(value.as_str(), "on" | "true" | "1" | "yes"),
        Some(Value::Number(value)) => value.as_i64() == Some(1),
        _ => false,
    }
}
