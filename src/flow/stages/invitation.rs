//! The invitation stage: the flow continues only with a valid invitation from the link
//! (`?itoken=<id>`). Its fixed data pre-fills the prompts (e.g. the email address or the
//! groups to join). A single-use invitation is claimed (deleted) here, so two browsers
//! cannot both use it.

use serde_json::json;

use crate::flow::FlowResult;
use crate::model::EventAction;
use crate::model::stage::InvitationStage;

use super::{StageCall, StageStep};

const INVALID: &str = "This invitation link is invalid, expired or was already used.";

pub async fn enter(settings: &InvitationStage, call: &mut StageCall<'_>) -> FlowResult<StageStep> {
    let presented = call
        .request
        .invitation_token
        .as_deref()
        .and_then(|token| uuid::Uuid::parse_str(token.trim()).ok());
    let Some(id) = presented else {
        return Ok(if settings.continue_flow_without_invitation {
            StageStep::Next
        } else {
            StageStep::Deny(INVALID.into())
        });
    };
    let now = call.services.ephemeral.now();
    let slug = call.request.slug.clone();
    let claimed = call
        .services
        .db
        .write(move |tx| {
            let Some(invitation) = tx.invitation_by_id(id)? else {
                return Ok(None);
            };
            let for_this_flow = invitation.flow.as_deref().is_none_or(|flow| flow == slug);
            if invitation.is_expired(now) || !for_this_flow {
                return Ok(None);
            }
            if invitation.single_use {
                tx.delete_invitation(id)?;
            }
            Ok(Some(invitation))
        })
        .await?;
    let Some(invitation) = claimed else {
        return Ok(if settings.continue_flow_without_invitation {
            StageStep::Next
        } else {
            StageStep::Deny(INVALID.into())
        });
    };
    let context = &mut call.execution.context;
    for (key, value) in &invitation.fixed_data {
        context.prompt_data.insert(key.clone(), value.clone());
    }
    context.invitation = Some(invitation.id);
    call.services
        .events
        .record(
            EventAction::InvitationUsed,
            None,
            call.request.client.ip.as_deref(),
            json!({"invitation": invitation.id, "name": invitation.name, "flow": call.request.slug}),
        )
        .await;
    Ok(StageStep::Next)
}
