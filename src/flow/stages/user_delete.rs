//! The user delete stage: removes the pending user (self-service account deletion) and
//! ends their session.

use serde_json::json;

use crate::flow::{FlowResult, SessionChange};
use crate::model::EventAction;

use super::{StageCall, StageStep};

pub async fn enter(call: &mut StageCall<'_>) -> FlowResult<StageStep> {
    let Some(user) = call.pending_user().await? else {
        return Ok(StageStep::Deny("No user to delete.".into()));
    };
    let id = user.id;
    let event = call.services.events.prepare(
        EventAction::ModelDeleted,
        Some(&user),
        call.request.client.ip.as_deref(),
        json!({"model": "user", "pk": id, "flow": call.request.slug}),
    );
    call.services
        .db
        .write(move |tx| {
            tx.delete_user(id)?;
            tx.insert_event(&event)
        })
        .await?;
    if let Some(session) = &call.request.session {
        call.services.sessions.revoke_digest(&session.digest)?;
        *call.session_change = SessionChange::Ended;
    }
    call.execution.context.pending_user = None;
    Ok(StageStep::Next)
}
