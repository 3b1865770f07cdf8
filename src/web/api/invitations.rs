//! `stages/invitation/invitations/`: invitation links for enrollment, in authentik's shape.
//! The link to hand out is `/if/flow/<flow>/?itoken=<pk>`.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpResponse, delete, get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::model::{EventAction, Invitation, Timestamp};

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate};

const ORDERING: &[&str] = &["name", "expires", "created"];

fn render(invitation: &Invitation) -> Value {
    json!({
        "pk": invitation.id,
        "name": invitation.name,
        "expires": invitation.expires.map(|at| at.to_rfc3339()),
        "fixed_data": invitation.fixed_data,
        "created_by": invitation.created_by,
        "single_use": invitation.single_use,
        "flow": invitation.flow,
        "flow_obj": invitation.flow.as_ref().map(|slug| json!({"slug": slug})),
    })
}

#[get("/api/v3/stages/invitation/invitations/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.query(ORDERING);
    let page = state.db.read(move |tx| tx.list_invitations(&query)).await?;
    Ok(HttpResponse::Ok().json(paginate(&params, &page, render)))
}

#[get("/api/v3/stages/invitation/invitations/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let invitation = state
        .db
        .read(move |tx| tx.invitation_by_id(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(render(&invitation)))
}

#[derive(Debug, Deserialize)]
pub struct InvitationInput {
    name: String,
    expires: Option<String>,
    #[serde(default)]
    fixed_data: Map<String, Value>,
    #[serde(default)]
    single_use: bool,
    flow: Option<String>,
}

#[post("/api/v3/stages/invitation/invitations/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<InvitationInput>,
) -> Result<HttpResponse, ApiError> {
    let input = input.into_inner();
    let name_ok = !input.name.is_empty()
        && input.name.len() <= 50
        && input
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(ApiError::field(
            "name",
            "Enter a valid slug of letters, digits, '-' or '_'.",
        ));
    }
    let expires = match input.expires.as_deref() {
        Some(text) => Some(Timestamp::parse_rfc3339(text).ok_or_else(|| {
            ApiError::field("expires", "Datetime has wrong format. Use RFC 3339.")
        })?),
        None => None,
    };
    if let Some(slug) = &input.flow {
        if state.catalog.load().flow(slug).is_none() {
            return Err(ApiError::field(
                "flow",
                format!("No flow with slug \"{slug}\"."),
            ));
        }
    }
    let invitation = Invitation {
        id: Uuid::new_v4(),
        name: input.name,
        expires,
        single_use: input.single_use,
        fixed_data: input.fixed_data,
        flow: input.flow,
        created_by: Some(admin.0.user.id),
        created: state.clock.now(),
    };
    let saved = invitation.clone();
    state
        .db
        .write(move |tx| tx.insert_invitation(&saved))
        .await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelCreated,
            json!({"model": "invitation", "name": invitation.name}),
        )
        .await;
    Ok(HttpResponse::Created().json(render(&invitation)))
}

#[delete("/api/v3/stages/invitation/invitations/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.db.write(move |tx| tx.delete_invitation(id)).await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelDeleted,
            json!({"model": "invitation", "pk": id}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}
