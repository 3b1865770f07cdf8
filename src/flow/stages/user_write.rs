//! The user write stage: writes what prompt stages collected onto the pending user, or
//! creates a user when there is none (as the stage's creation mode allows). Prompt keys
//! `username`, `name`, `email` and `password` map to the user's fields and
//! `attributes.<key>` into its attributes; the password leaves the flow context as soon
//! as it is hashed.

use serde_json::{Value, json};

use crate::flow::FlowResult;
use crate::flow::execution::PendingUser;
use crate::model::stage::{UserCreationMode, UserWriteStage};
use crate::model::{EventAction, NewUser, User, UserId, Username};
use crate::store::StoreError;

use super::{StageCall, StageStep};

pub async fn enter(settings: &UserWriteStage, call: &mut StageCall<'_>) -> FlowResult<StageStep> {
    let data = std::mem::take(&mut call.execution.context.prompt_data);
    let password = data
        .get("password")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut kept = data.clone();
    kept.remove("password");
    kept.remove("password_repeat");
    call.execution.context.prompt_data = kept;

    let existing = call.pending_user().await?;
    let creating = match (&existing, settings.user_creation_mode) {
        (_, UserCreationMode::AlwaysCreate) | (None, UserCreationMode::CreateWhenRequired) => true,
        (Some(_), _) => false,
        (None, UserCreationMode::NeverCreate) => {
            return Ok(StageStep::Deny("No user to write to.".into()));
        }
    };
    let hash = match &password {
        Some(password) => Some(call.services.hasher.hash(password.clone()).await?),
        None => None,
    };
    let now = call.services.ephemeral.now();
    let result = if creating {
        create_user(settings, &data, hash.clone(), now, call).await?
    } else {
        match existing {
            Some(user) => update_user(user, &data, hash.clone(), now, call).await?,
            None => return Ok(StageStep::Deny("No user to write to.".into())),
        }
    };
    let user = match result {
        Ok(user) => user,
        Err(message) => return Ok(StageStep::Deny(message)),
    };
    call.execution.context.pending_user = Some(PendingUser::Known(user.id));
    let ip = call.request.client.ip.clone();
    let events = &call.services.events;
    events
        .record(
            EventAction::UserWrite,
            Some(&user),
            ip.as_deref(),
            json!({"created": creating, "pk": user.id, "flow": call.request.slug}),
        )
        .await;
    if hash.is_some() {
        events
            .record(
                EventAction::PasswordSet,
                Some(&user),
                ip.as_deref(),
                json!({}),
            )
            .await;
    }
    Ok(StageStep::Next)
}

fn apply_fields(user: &mut User, data: &serde_json::Map<String, Value>) -> Result<(), String> {
    for (key, value) in data {
        let text = value.as_str().map(str::to_owned);
        match (key.as_str(), text) {
            ("username", Some(name)) => {
                user.username = Username::parse(&name).map_err(str::to_owned)?;
            }
            ("name", Some(name)) => user.name = name,
            ("email", Some(email)) => user.email = email,
            (key, _) => {
                if let Some(attribute) = key.strip_prefix("attributes.") {
                    user.attributes.insert(attribute.to_owned(), value.clone());
                }
            }
        }
    }
    Ok(())
}

async fn update_user(
    mut user: User,
    data: &serde_json::Map<String, Value>,
    hash: Option<String>,
    now: crate::model::Timestamp,
    call: &StageCall<'_>,
) -> FlowResult<Result<User, String>> {
    if let Err(message) = apply_fields(&mut user, data) {
        return Ok(Err(message));
    }
    let saved = user.clone();
    let named_groups = group_names(data);
    let written = call
        .services
        .db
        .write(move |tx| {
            tx.update_user(&saved)?;
            if let Some(hash) = &hash {
                tx.set_password_hash(saved.id, Some(hash), now)?;
            }
            join_named_groups(tx, saved.id, &named_groups)
        })
        .await;
    match written {
        Ok(()) => {
            // Forward-auth sessions show the user's name and groups: let them refresh.
            call.services.sessions.identity_changed();
            Ok(Ok(user))
        }
        Err(StoreError::Conflict(what)) => Ok(Err(format!("That {what} is already taken."))),
        Err(other) => Err(other.into()),
    }
}

async fn create_user(
    settings: &UserWriteStage,
    data: &serde_json::Map<String, Value>,
    hash: Option<String>,
    now: crate::model::Timestamp,
    call: &StageCall<'_>,
) -> FlowResult<Result<User, String>> {
    let Some(username) = data.get("username").and_then(Value::as_str) else {
        return Ok(Err("A username is required to create an account.".into()));
    };
    let username = match Username::parse(username) {
        Ok(username) => username,
        Err(message) => return Ok(Err(message.to_owned())),
    };
    let mut draft = User {
        id: UserId(0),
        uuid: uuid::Uuid::nil(),
        username: username.clone(),
        name: String::new(),
        email: String::new(),
        is_active: !settings.create_users_as_inactive,
        user_type: crate::model::UserType::Internal,
        path: settings.user_path_template.clone(),
        attributes: serde_json::Map::new(),
        last_login: None,
        password_hash: hash,
        password_changed: None,
        created: now,
    };
    if let Err(message) = apply_fields(&mut draft, data) {
        return Ok(Err(message));
    }
    let new = NewUser {
        username: draft.username,
        name: draft.name,
        email: draft.email,
        is_active: draft.is_active,
        user_type: draft.user_type,
        path: draft.path,
        attributes: draft.attributes,
        password_hash: draft.password_hash,
        created: now,
    };
    let group = settings.create_users_group;
    let named_groups = group_names(data);
    let created = call
        .services
        .db
        .write(move |tx| {
            let user = tx.insert_user(&new)?;
            if let Some(group) = group {
                tx.add_member(group, user.id)?;
            }
            join_named_groups(tx, user.id, &named_groups)?;
            Ok(user)
        })
        .await;
    match created {
        Ok(user) => {
            // A new account: directory views (LDAP) include it from the next request.
            call.services.sessions.identity_changed();
            Ok(Ok(user))
        }
        Err(StoreError::Conflict(what)) => Ok(Err(format!("That {what} is already taken."))),
        Err(other) => Err(other.into()),
    }
}

/// Group names from `groups` in the collected data (an invitation's fixed data puts them
/// there, e.g. `{"groups": ["family"]}`).
fn group_names(data: &serde_json::Map<String, Value>) -> Vec<String> {
    match data.get("groups") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(name)) => vec![name.clone()],
        _ => Vec::new(),
    }
}

/// Joins existing groups by name; unknown names are skipped (and logged), so a renamed
/// group does not break enrollment.
fn join_named_groups(
    tx: &dyn crate::store::WriteTx,
    user: UserId,
    names: &[String],
) -> crate::store::StoreResult<()> {
    for name in names {
        match tx.group_by_name(name)? {
            Some(group) => tx.add_member(group.id, user)?,
            None => tracing::warn!(group = %name, "user write: no such group"),
        }
    }
    Ok(())
}
