//! The prompt stage: asks for the fields it is configured with and keeps the answers in
//! the flow context for later stages (user write). Two password fields must match, as in
//! authentik.

use serde_json::{Value, json};

use crate::flow::FlowResult;
use crate::flow::challenge::{StageResponse, challenge, with_error};
use crate::model::stage::{PromptField, PromptFieldType, PromptStage};

use super::{StageCall, StageStep};

/// Longest accepted answer to one field, so the flow context stays small.
const MAX_FIELD_LEN: usize = 4096;

pub fn challenge_for(settings: &PromptStage, call: &StageCall<'_>) -> Value {
    let mut fields: Vec<&PromptField> = settings.fields.iter().collect();
    fields.sort_by_key(|field| field.order);
    let rendered: Vec<Value> = fields
        .into_iter()
        .map(|field| {
            let initial = match field.field_type {
                PromptFieldType::Password => String::new(),
                _ => call
                    .execution
                    .context
                    .prompt_data
                    .get(&field.field_key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| field.initial_value.clone()),
            };
            json!({
                "field_key": field.field_key,
                "label": field.label,
                "type": field.field_type.as_str(),
                "required": field.required,
                "placeholder": field.placeholder,
                "initial_value": initial,
                "order": field.order,
                "sub_text": field.sub_text,
                "choices": null,
            })
        })
        .collect();
    challenge("ak-stage-prompt", json!({ "fields": rendered }))
}

pub fn submit(
    settings: &PromptStage,
    call: &mut StageCall<'_>,
    response: &StageResponse,
) -> FlowResult<StageStep> {
    let mut answers = serde_json::Map::new();
    let mut errors: Vec<(String, String)> = Vec::new();
    for field in &settings.fields {
        match read_field(field, response) {
            Ok(Some(value)) => {
                answers.insert(field.field_key.clone(), value);
            }
            Ok(None) => {}
            Err(message) => errors.push((field.field_key.clone(), message)),
        }
    }
    let password = answers.get("password").and_then(Value::as_str);
    let repeat = answers.get("password_repeat").and_then(Value::as_str);
    if let (Some(password), Some(repeat)) = (password, repeat) {
        if password != repeat {
            errors.push(("password_repeat".into(), "Passwords don't match.".into()));
        }
    }
    if !errors.is_empty() {
        let mut retry = challenge_for(settings, call);
        for (field, message) in errors {
            retry = with_error(retry, &field, &message);
        }
        return Ok(StageStep::Challenge(retry));
    }
    call.execution.context.prompt_data.extend(answers);
    Ok(StageStep::Next)
}

/// One field's answer: `Ok(None)` when optional and left empty.
fn read_field(field: &PromptField, response: &StageResponse) -> Result<Option<Value>, String> {
    if matches!(
        field.field_type,
        PromptFieldType::Hidden | PromptFieldType::TextReadOnly
    ) {
        return Ok(Some(json!(field.initial_value)));
    }
    if field.field_type == PromptFieldType::Checkbox {
        return Ok(Some(json!(crate::flow::challenge::flag(
            response,
            &field.field_key
        ))));
    }
    let raw = match response.get(&field.field_key) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    };
    let value = if field.field_type == PromptFieldType::Password {
        raw
    } else {
        raw.trim().to_owned()
    };
    if value.is_empty() {
        return if field.required {
            Err("This field is required.".into())
        } else {
            Ok(None)
        };
    }
    if value.len() > MAX_FIELD_LEN {
        return Err(format!(
            "Ensure this field has no more than {MAX_FIELD_LEN} characters."
        ));
    }
    match field.field_type {
        PromptFieldType::Email if !looks_like_email(&value) => {
            Err("Enter a valid email address.".into())
        }
        PromptFieldType::Number => value
            .parse::<f64>()
            .map(|number| Some(json!(number)))
            .map_err(|_| "A valid number is required.".into()),
        _ => Ok(Some(json!(value))),
    }
}

fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}
