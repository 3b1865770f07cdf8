//! `core/groups/`: list, retrieve, create, update, delete, `add_user/`, `remove_user/`.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::{EventAction, Group, GroupId, NewGroup, UserId};
use crate::store::{ReadTx, StoreError, StoreResult};

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate};
use super::serialize;

const ORDERING: &[&str] = &["name", "num_pk", "is_superuser"];

fn render(tx: &dyn ReadTx, group: &Group) -> StoreResult<Value> {
    let parent_name = match group.parent {
        Some(parent) => tx.group_by_id(parent)?.map(|parent| parent.name),
        None => None,
    };
    let mut members = Vec::new();
    for id in tx.members_of_group(group.id)? {
        if let Some(user) = tx.user_by_id(id)? {
            members.push(user);
        }
    }
    Ok(serialize::group(group, parent_name.as_deref(), &members))
}

#[get("/api/v3/core/groups/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.query(ORDERING);
    let (page, rendered) = state
        .db
        .read(move |tx| {
            let page = tx.list_groups(&query)?;
            let rendered = page
                .items
                .iter()
                .map(|group| render(tx, group))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((page, rendered))
        })
        .await?;
    let mut rendered = rendered.into_iter();
    let body = paginate(&params, &page, |_| rendered.next().unwrap_or(Value::Null));
    Ok(HttpResponse::Ok().json(body))
}

#[get("/api/v3/core/groups/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<GroupId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = state
        .db
        .read(move |tx| match tx.group_by_id(id)? {
            Some(group) => render(tx, &group).map(Some),
            None => Ok(None),
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Debug, Deserialize)]
pub struct GroupInput {
    name: Option<String>,
    is_superuser: Option<bool>,
    parent: Option<Option<GroupId>>,
    attributes: Option<Map<String, Value>>,
    users: Option<Vec<UserId>>,
}

impl GroupInput {
    fn apply(&self, group: &mut Group) -> Result<(), ApiError> {
        if let Some(name) = &self.name {
            let name = name.trim();
            if name.is_empty() || name.len() > 80 {
                return Err(ApiError::field(
                    "name",
                    "Enter a name of 1 to 80 characters.",
                ));
            }
            group.name = name.to_owned();
        }
        if let Some(superuser) = self.is_superuser {
            group.is_superuser = superuser;
        }
        if let Some(parent) = self.parent {
            if parent == Some(group.id) {
                return Err(ApiError::field(
                    "parent",
                    "A group cannot be its own parent.",
                ));
            }
            group.parent = parent;
        }
        if let Some(attributes) = &self.attributes {
            group.attributes = attributes.clone();
        }
        Ok(())
    }
}

fn set_members(
    tx: &dyn crate::store::WriteTx,
    group: GroupId,
    users: &[UserId],
) -> StoreResult<()> {
    for member in tx.members_of_group(group)? {
        tx.remove_member(group, member)?;
    }
    for user in users {
        if tx.user_by_id(*user)?.is_none() {
            return Err(StoreError::Conflict("users".into()));
        }
        tx.add_member(group, *user)?;
    }
    Ok(())
}

#[post("/api/v3/core/groups/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<GroupInput>,
) -> Result<HttpResponse, ApiError> {
    if input.name.is_none() {
        return Err(ApiError::field("name", "This field is required."));
    }
    let mut draft = Group {
        id: GroupId::random(),
        num_pk: 0,
        name: String::new(),
        parent: None,
        is_superuser: false,
        attributes: Map::new(),
    };
    input.apply(&mut draft)?;
    let users = input.users.clone();
    let new = NewGroup {
        id: draft.id,
        name: draft.name,
        parent: draft.parent,
        is_superuser: draft.is_superuser,
        attributes: draft.attributes,
    };
    let body = state
        .db
        .write(move |tx| {
            let group = tx.insert_group(&new)?;
            if let Some(users) = &users {
                set_members(tx, group.id, users)?;
            }
            render(tx, &group)
        })
        .await?;
    audit(&state, &admin, EventAction::ModelCreated, &body).await;
    Ok(HttpResponse::Created().json(body))
}

async fn audit(state: &AppState, admin: &ApiAdmin, action: EventAction, body: &Value) {
    // Group policies depend on memberships and the tree: cached results are stale now.
    state.policies.clear_cache();
    let context = json!({"model": "group", "pk": body.get("pk"), "name": body.get("name")});
    state.audit(&admin.0, action, context).await;
}

async fn update(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: GroupId,
    input: GroupInput,
) -> Result<HttpResponse, ApiError> {
    let mut group = state
        .db
        .read(move |tx| tx.group_by_id(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    input.apply(&mut group)?;
    let users = input.users.clone();
    let body = state
        .db
        .write(move |tx| {
            tx.update_group(&group)?;
            if let Some(users) = &users {
                set_members(tx, group.id, users)?;
            }
            render(tx, &group)
        })
        .await?;
    audit(&state, &admin, EventAction::ModelUpdated, &body).await;
    Ok(HttpResponse::Ok().json(body))
}

#[put("/api/v3/core/groups/{id}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<GroupId>,
    input: Json<GroupInput>,
) -> Result<HttpResponse, ApiError> {
    if input.name.is_none() {
        return Err(ApiError::field("name", "This field is required."));
    }
    update(state, admin, id.into_inner(), input.into_inner()).await
}

#[patch("/api/v3/core/groups/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<GroupId>,
    input: Json<GroupInput>,
) -> Result<HttpResponse, ApiError> {
    update(state, admin, id.into_inner(), input.into_inner()).await
}

#[delete("/api/v3/core/groups/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<GroupId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.db.write(move |tx| tx.delete_group(id)).await?;
    audit(
        &state,
        &admin,
        EventAction::ModelDeleted,
        &json!({"pk": id}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct MemberInput {
    pk: UserId,
}

async fn change_membership(
    state: &AppState,
    group: GroupId,
    user: UserId,
    add: bool,
) -> Result<(), ApiError> {
    state
        .db
        .write(move |tx| {
            tx.group_by_id(group)?.ok_or(StoreError::NotFound)?;
            if tx.user_by_id(user)?.is_none() {
                return Err(StoreError::Conflict("pk".into()));
            }
            if add {
                tx.add_member(group, user)
            } else {
                tx.remove_member(group, user)
            }
        })
        .await
        .map_err(|error| match error {
            StoreError::Conflict(_) => ApiError::field("pk", "No user with this id."),
            other => other.into(),
        })
}

#[post("/api/v3/core/groups/{id}/add_user/")]
pub async fn add_user(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<GroupId>,
    input: Json<MemberInput>,
) -> Result<HttpResponse, ApiError> {
    change_membership(&state, id.into_inner(), input.pk, true).await?;
    state.policies.clear_cache();
    Ok(HttpResponse::NoContent().finish())
}

#[post("/api/v3/core/groups/{id}/remove_user/")]
pub async fn remove_user(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<GroupId>,
    input: Json<MemberInput>,
) -> Result<HttpResponse, ApiError> {
    change_membership(&state, id.into_inner(), input.pk, false).await?;
    state.policies.clear_cache();
    Ok(HttpResponse::NoContent().finish())
}
