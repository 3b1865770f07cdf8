//! Domain objects in authentik's API shapes.

use serde_json::{Value, json};

use crate::crypto::sha256_hex;
use crate::model::{Flow, Group, Token, User};

pub fn user(user: &User, groups: &[Group], is_superuser: bool) -> Value {
    json!({
        "pk": user.id,
        "uuid": user.uuid,
        "username": user.username.as_str(),
        "name": user.name,
        "is_active": user.is_active,
        "last_login": user.last_login.map(|at| at.to_rfc3339()),
        "date_joined": user.created.to_rfc3339(),
        "is_superuser": is_superuser,
        "groups": groups.iter().map(|group| group.id).collect::<Vec<_>>(),
        "groups_obj": groups.iter().map(group_brief).collect::<Vec<_>>(),
        "email": user.email,
        "avatar": "",
        "attributes": user.attributes,
        "uid": sha256_hex(user.uuid.as_bytes()),
        "path": user.path,
        "type": user.user_type.as_str(),
        "password_change_date": user.password_changed.map(|at| at.to_rfc3339()),
    })
}

pub fn user_brief(user: &User) -> Value {
    json!({
        "pk": user.id,
        "username": user.username.as_str(),
        "name": user.name,
        "is_active": user.is_active,
        "last_login": user.last_login.map(|at| at.to_rfc3339()),
        "email": user.email,
        "attributes": user.attributes,
        "uid": sha256_hex(user.uuid.as_bytes()),
    })
}

pub fn group_brief(group: &Group) -> Value {
    json!({
        "pk": group.id,
        "num_pk": group.num_pk,
        "name": group.name,
        "is_superuser": group.is_superuser,
        "parent": group.parent,
        "attributes": group.attributes,
    })
}

pub fn group(group: &Group, parent_name: Option<&str>, members: &[User]) -> Value {
    let mut value = group_brief(group);
    if let Value::Object(body) = &mut value {
        body.insert("parent_name".into(), json!(parent_name));
        body.insert(
            "users".into(),
            json!(members.iter().map(|user| user.id).collect::<Vec<_>>()),
        );
        body.insert(
            "users_obj".into(),
            json!(members.iter().map(user_brief).collect::<Vec<_>>()),
        );
        body.insert("roles".into(), json!([]));
        body.insert("roles_obj".into(), json!([]));
    }
    value
}

pub fn token(token: &Token, owner: Option<&User>) -> Value {
    json!({
        "pk": token.uuid,
        "managed": token.managed,
        "identifier": token.identifier,
        "intent": token.intent.as_str(),
        "user": token.user,
        "user_obj": owner.map(user_brief),
        "description": token.description,
        "expires": token.expires.map(|at| at.to_rfc3339()),
        "expiring": token.expiring,
    })
}

pub fn flow(flow: &Flow, stages: &[crate::model::StageId]) -> Value {
    json!({
        "pk": flow.id,
        "policybindingmodel_ptr_id": flow.id,
        "name": flow.name,
        "slug": flow.slug,
        "title": flow.title,
        "designation": flow.designation.as_str(),
        "background": "",
        "stages": stages,
        "policies": [],
        "cache_count": 0,
        "policy_engine_mode": "any",
        "compatibility_mode": false,
        "export_url": format!("/api/v3/flows/instances/{}/export/", flow.slug),
        "layout": flow.layout,
        "denied_action": "message_continue",
        "authentication": flow.authentication.as_str(),
    })
}
