//! `core/users/`: list, retrieve, create, update, delete, `me/`, `set_password/`.

use std::collections::BTreeMap;

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::directory::groups_with_ancestors;
use crate::model::{EventAction, GroupId, NewUser, User, UserId, UserType, Username};
use crate::store::{ReadTx, StoreError, StoreResult};

use super::super::error::ApiError;
use super::super::extract::{ApiAdmin, ApiCaller};
use super::super::state::AppState;
use super::pagination::{ListParams, paginate};
use super::serialize;

const ORDERING: &[&str] = &["pk", "username", "name", "email", "last_login"];

/// The user in authentik's `User` shape (also a token's `user_obj`).
pub(super) fn render(tx: &dyn ReadTx, user: &User) -> StoreResult<Value> {
    let groups = tx.groups_of_user(user.id)?;
    let all_groups = groups_with_ancestors(tx, user.id)?;
    let superuser = all_groups.iter().any(|g| g.is_superuser);
    Ok(serialize::user(user, &groups, &all_groups, superuser))
}

/// The user in authentik's `UserSelf` shape, for `me/`.
fn render_self(tx: &dyn ReadTx, user: &User) -> StoreResult<Value> {
    let all_groups = groups_with_ancestors(tx, user.id)?;
    let superuser = all_groups.iter().any(|g| g.is_superuser);
    Ok(serialize::user_self(user, &all_groups, superuser))
}

#[get("/api/v3/core/users/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.query(ORDERING);
    let (page, rendered) = state
        .db
        .read(move |tx| {
            let page = tx.list_users(&query)?;
            let rendered = page
                .items
                .iter()
                .map(|user| render(tx, user))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((page, rendered))
        })
        .await?;
    let mut rendered = rendered.into_iter();
    let body = paginate(&params, &page, |_| rendered.next().unwrap_or(Value::Null));
    Ok(HttpResponse::Ok().json(body))
}

#[get("/api/v3/core/users/me/")]
pub async fn me(state: Data<AppState>, caller: ApiCaller) -> Result<HttpResponse, ApiError> {
    let user = caller.user.clone();
    let body = state.db.read(move |tx| render_self(tx, &user)).await?;
    Ok(HttpResponse::Ok().json(json!({"user": body, "original": null})))
}

#[get("/api/v3/core/users/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id.into_inner());
    let body = state
        .db
        .read(move |tx| match tx.user_by_id(id)? {
            Some(user) => render(tx, &user).map(Some),
            None => Ok(None),
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(body))
}

/// Writable fields; absent fields keep their value (PATCH) or their default (POST).
#[derive(Debug, Default, Deserialize)]
pub struct UserInput {
    username: Option<String>,
    name: Option<String>,
    is_active: Option<bool>,
    email: Option<String>,
    attributes: Option<Map<String, Value>>,
    path: Option<String>,
    #[serde(rename = "type")]
    user_type: Option<String>,
    groups: Option<Vec<GroupId>>,
}

impl UserInput {
    /// Applies the input to `user`, collecting every field error at once.
    fn apply(&self, user: &mut User) -> Result<(), ApiError> {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(username) = &self.username {
            match Username::parse(username) {
                Ok(username) => user.username = username,
                Err(message) => errors
                    .entry("username".into())
                    .or_default()
                    .push(message.into()),
            }
        }
        if let Some(user_type) = &self.user_type {
            match UserType::parse(user_type) {
                Some(user_type) => user.user_type = user_type,
                None => errors
                    .entry("type".into())
                    .or_default()
                    .push(format!("\"{user_type}\" is not a valid choice.")),
            }
        }
        if let Some(email) = &self.email {
            if !email.is_empty() && !email.contains('@') {
                errors
                    .entry("email".into())
                    .or_default()
                    .push("Enter a valid email address.".into());
            }
            user.email = email.trim().to_owned();
        }
        if let Some(name) = &self.name {
            user.name = name.clone();
        }
        if let Some(active) = self.is_active {
            user.is_active = active;
        }
        if let Some(attributes) = &self.attributes {
            user.attributes = attributes.clone();
        }
        if let Some(path) = &self.path {
            user.path = path.trim_matches('/').to_owned();
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(errors))
        }
    }
}

fn blank_user(state: &AppState, username: Username) -> User {
    User {
        id: UserId(0),
        uuid: uuid::Uuid::nil(),
        username,
        name: String::new(),
        email: String::new(),
        is_active: true,
        user_type: UserType::Internal,
        path: "users".into(),
        attributes: Map::new(),
        last_login: None,
        password_hash: None,
        password_changed: None,
        created: state.clock.now(),
    }
}

#[post("/api/v3/core/users/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<UserInput>,
) -> Result<HttpResponse, ApiError> {
    let Some(username) = input.username.as_deref() else {
        return Err(ApiError::field("username", "This field is required."));
    };
    let username =
        Username::parse(username).map_err(|message| ApiError::field("username", message))?;
    let mut draft = blank_user(&state, username);
    input.apply(&mut draft)?;
    let new = NewUser {
        username: draft.username,
        name: draft.name,
        email: draft.email,
        is_active: draft.is_active,
        user_type: draft.user_type,
        path: draft.path,
        attributes: draft.attributes,
        password_hash: None,
        created: draft.created,
    };
    let groups = input.groups.clone().unwrap_or_default();
    let (user, body) = state
        .db
        .write(move |tx| {
            let user = tx.insert_user(&new)?;
            set_groups(tx, user.id, &groups)?;
            let body = render(tx, &user)?;
            Ok((user, body))
        })
        .await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelCreated,
            json!({"model": "user", "pk": user.id, "username": user.username.as_str()}),
        )
        .await;
    Ok(HttpResponse::Created().json(body))
}

fn set_groups(tx: &dyn crate::store::WriteTx, user: UserId, groups: &[GroupId]) -> StoreResult<()> {
    for group in groups {
        if tx.group_by_id(*group)?.is_none() {
            return Err(StoreError::Conflict("groups".into()));
        }
        tx.add_member(*group, user)?;
    }
    Ok(())
}

async fn update(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: i64,
    input: UserInput,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id);
    let existing = state
        .db
        .read(move |tx| tx.user_by_id(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut user = existing;
    input.apply(&mut user)?;
    let groups = input.groups.clone();
    let saved = user.clone();
    let body = state
        .db
        .write(move |tx| {
            tx.update_user(&saved)?;
            if let Some(groups) = &groups {
                for group in tx.groups_of_user(saved.id)? {
                    tx.remove_member(group.id, saved.id)?;
                }
                set_groups(tx, saved.id, groups)?;
            }
            render(tx, &saved)
        })
        .await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelUpdated,
            json!({"model": "user", "pk": user.id}),
        )
        .await;
    Ok(HttpResponse::Ok().json(body))
}

#[put("/api/v3/core/users/{id}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    input: Json<UserInput>,
) -> Result<HttpResponse, ApiError> {
    if input.username.is_none() {
        return Err(ApiError::field("username", "This field is required."));
    }
    update(state, admin, id.into_inner(), input.into_inner()).await
}

#[patch("/api/v3/core/users/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    input: Json<UserInput>,
) -> Result<HttpResponse, ApiError> {
    update(state, admin, id.into_inner(), input.into_inner()).await
}

#[delete("/api/v3/core/users/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id.into_inner());
    if id == admin.0.user.id {
        return Err(ApiError::BadRequest(
            "You cannot delete your own account here.".into(),
        ));
    }
    state.db.write(move |tx| tx.delete_user(id)).await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelDeleted,
            json!({"model": "user", "pk": id}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct PasswordInput {
    password: String,
}

#[post("/api/v3/core/users/{id}/set_password/")]
pub async fn set_password(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    input: Json<PasswordInput>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id.into_inner());
    if input.password.is_empty() {
        return Err(ApiError::field("password", "This field may not be blank."));
    }
    let hash = state
        .hasher
        .hash(input.into_inner().password)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let user = state
        .db
        .write(move |tx| {
            let user = tx.user_by_id(id)?.ok_or(StoreError::NotFound)?;
            tx.set_password_hash(id, Some(&hash), now)?;
            Ok(user)
        })
        .await?;
    // Whatever was derived from the old password (remembered LDAP binds) ends now.
    state.sessions.identity_changed();
    state
        .events
        .record(
            EventAction::PasswordSet,
            Some(&user),
            admin.0.client_ip.as_deref(),
            json!({"by": admin.0.user.username.as_str()}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}
