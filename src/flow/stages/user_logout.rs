//! The user logout stage: ends the current session.

use serde_json::json;

use crate::flow::{FlowResult, SessionChange};
use crate::model::EventAction;

use super::{StageCall, StageStep};

pub async fn enter(call: &mut StageCall<'_>) -> FlowResult<StageStep> {
    let Some(session) = call.request.session.clone() else {
        return Ok(StageStep::Next);
    };
    call.services.sessions.revoke_digest(&session.digest)?;
    *call.session_change = SessionChange::Ended;
    let user_id = session.record.user;
    let user = call
        .services
        .db
        .read(move |tx| tx.user_by_id(user_id))
        .await?;
    call.services
        .events
        .record(
            EventAction::Logout,
            user.as_ref(),
            call.request.client.ip.as_deref(),
            json!({}),
        )
        .await;
    Ok(StageStep::Next)
}
