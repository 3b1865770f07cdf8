//! Domain objects in authentik's API shapes.

use serde_json::{Value, json};

use crate::crypto::sha256_hex;
use crate::model::{Flow, FlowAuthentication, Group, Timestamp, Token, User};

/// authentik's `User`. `groups` are the direct groups, `all_groups` the same with every
/// ancestor (where the parents' names come from).
pub fn user(user: &User, groups: &[Group], all_groups: &[Group], is_superuser: bool) -> Value {
    let parent_name = |group: &Group| {
        let parent = group.parent?;
        all_groups
            .iter()
            .find(|other| other.id == parent)
            .map(|other| other.name.as_str())
    };
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
        "groups_obj": groups
            .iter()
            .map(|group| partial_group(group, parent_name(group)))
            .collect::<Vec<_>>(),
        "email": user.email,
        "avatar": "",
        "attributes": user.attributes,
        "uid": sha256_hex(user.uuid.as_bytes()),
        "path": user.path,
        "type": user.user_type.as_str(),
        // Both are required non-null datetimes in authentik's schema. authentik stamps
        // `password_change_date` at creation; no separate update time is kept here, so
        // `last_updated` is the latest change that is known.
        "password_change_date": user.password_changed.unwrap_or(user.created).to_rfc3339(),
        "last_updated": last_updated(user).to_rfc3339(),
    })
}

fn last_updated(user: &User) -> Timestamp {
    [user.password_changed, user.last_login]
        .into_iter()
        .flatten()
        .fold(user.created, Timestamp::max)
}

/// authentik's `UserSelf`, the `user` of `core/users/me/`: groups (with ancestors) as
/// name and pk, the user's settings and system permissions (none without RBAC).
pub fn user_self(user: &User, all_groups: &[Group], is_superuser: bool) -> Value {
    let mut groups: Vec<&Group> = all_groups.iter().collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    json!({
        "pk": user.id,
        "username": user.username.as_str(),
        "name": user.name,
        "is_active": user.is_active,
        "is_superuser": is_superuser,
        "groups": groups
            .iter()
            .map(|group| json!({"name": group.name, "pk": group.id.to_string()}))
            .collect::<Vec<_>>(),
        "email": user.email,
        "avatar": "",
        "uid": sha256_hex(user.uuid.as_bytes()),
        "settings": {},
        "type": user.user_type.as_str(),
        "system_permissions": [],
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

/// authentik's `PartialGroup`, as in a user's `groups_obj`.
pub fn partial_group(group: &Group, parent_name: Option<&str>) -> Value {
    json!({
        "pk": group.id,
        "num_pk": group.num_pk,
        "name": group.name,
        "is_superuser": group.is_superuser,
        "parent": group.parent,
        "parent_name": parent_name,
        "attributes": group.attributes,
    })
}

pub fn group(group: &Group, parent_name: Option<&str>, members: &[User]) -> Value {
    let mut value = partial_group(group, parent_name);
    if let Value::Object(body) = &mut value {
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
        // authentik fills `children_obj` only when asked with `include_children=true`.
        body.insert("children_obj".into(), Value::Null);
    }
    value
}

/// `owner` is the owner rendered by [`user`]: authentik's `Token.user_obj` is a full `User`.
pub fn token(token: &Token, owner: Option<Value>) -> Value {
    json!({
        "pk": token.uuid,
        "managed": token.managed,
        "identifier": token.identifier,
        "intent": token.intent.as_str(),
        "user": token.user,
        "user_obj": owner,
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
        "authentication": authentication_name(flow.authentication),
    })
}

/// The flow's access mode in authentik's enum. The setup-token guard is gatehouse's own
/// (authentik's `initial-setup` is open to anyone, `none`, and guarded by policies), so
/// authentik's clients, which reject unknown values, are shown `none`.
fn authentication_name(mode: FlowAuthentication) -> &'static str {
    match mode {
        FlowAuthentication::RequireSetupToken => FlowAuthentication::None.as_str(),
        other => other.as_str(),
    }
}
