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
                "choices": if field.choices.is_empty() { Value::Null } else { json!(field.choices) },
            })
        })
        .collect();
    challenge("ak-stage-prompt", json!({ "fields": rendered }))
}

pub async fn submit(
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
    let messages = validation_failures(settings, call, &answers).await?;
    if !messages.is_empty() {
        let mut retry = challenge_for(settings, call);
        for message in messages {
            retry = with_error(retry, "non_field_errors", &message);
        }
        return Ok(StageStep::Challenge(retry));
    }
    call.execution.context.prompt_data.extend(answers);
    Ok(StageStep::Next)
}

/// Runs the stage's validation policies (all must pass) over the answers; returns their
/// messages when they fail.
async fn validation_failures(
    settings: &PromptStage,
    call: &StageCall<'_>,
    answers: &serde_json::Map<String, Value>,
) -> FlowResult<Vec<String>> {
    if settings.validation_policies.is_empty() {
        return Ok(Vec::new());
    }
    let bindings: Vec<_> = settings
        .validation_policies
        .iter()
        .enumerate()
        .filter_map(|(order, id)| {
            let policy = call.catalog.policy(*id)?.clone();
            let binding = crate::model::PolicyBinding {
                id: crate::model::PolicyBindingId(policy.id.0),
                target: crate::model::PolicyTarget::Flow(call.execution.flow),
                subject: crate::model::BindingSubject::Policy(policy.id),
                order: i32::try_from(order).unwrap_or(i32::MAX),
                enabled: true,
                negate: false,
                timeout_secs: 30,
                failure_result: false,
            };
            Some((binding, Some(policy)))
        })
        .collect();
    let mut context = call.execution.context.clone();
    context.prompt_data.extend(answers.clone());
    let request =
        crate::flow::policies::policy_request(call.services, call.request, &context).await?;
    let result = call
        .services
        .policies
        .evaluate(&bindings, crate::model::PolicyEngineMode::All, &request)
        .await;
    if result.passing {
        return Ok(Vec::new());
    }
    Ok(if result.messages.is_empty() {
        vec!["The values entered are not accepted.".into()]
    } else {
        result.messages
    })
}

/// One field's answer: `Ok(None)` when optional and left empty.
fn read_field(field: &PromptField, response: &StageResponse) -> Result<Option<Value>, String> {
    if matches!(
        field.field_type,
        PromptFieldType::Hidden | PromptFieldType::TextReadOnly
    ) {
        return Ok(Some(json!(field.initial_value)));
    }
    if field.field_type.is_display_only() {
        return Ok(None);
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
            .ok()
            .filter(|number| number.is_finite())
            .map(|number| Some(json!(number)))
            .ok_or_else(|| "A valid number is required.".into()),
        PromptFieldType::RadioButtonGroup | PromptFieldType::Dropdown
            if !field.choices.contains(&value) =>
        {
            Err(format!("\"{value}\" is not a valid choice."))
        }
        PromptFieldType::Date if !is_date(&value) => {
            Err("Date has wrong format. Use YYYY-MM-DD.".into())
        }
        PromptFieldType::DateTime if !is_date_time(&value) => {
            Err("Datetime has wrong format. Use YYYY-MM-DDThh:mm.".into())
        }
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

fn is_date(value: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format).is_ok()
}

/// What a browser's `datetime-local` input sends (`2024-05-01T13:45`, seconds optional),
/// or RFC 3339.
fn is_date_time(value: &str) -> bool {
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(value, &minutes).is_ok()
        || time::PrimitiveDateTime::parse(value, &seconds).is_ok()
        || time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
            .is_ok()
}
