//! The deny stage: the flow ends here with the configured message.

use crate::flow::FlowResult;
use crate::model::stage::DenyStage;

use super::StageStep;

pub fn enter(settings: &DenyStage) -> FlowResult<StageStep> {
    let message = if settings.deny_message.trim().is_empty() {
        "Access denied.".to_owned()
    } else {
        settings.deny_message.clone()
    };
    Ok(StageStep::Deny(message))
}
