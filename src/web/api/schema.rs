//! `/api/v3/schema/`: the OpenAPI 3 description of the API as it stands. JSON is valid
//! YAML, so clients that ask authentik's endpoint for YAML can read it too.

use actix_web::{HttpResponse, get};
use serde_json::{Map, Value, json};

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

/// One operation: `body` names the request schema, `reply` the 200/201 schema.
fn operation(
    id: &str,
    tag: &str,
    summary: &str,
    body: Option<&str>,
    reply: Option<(u16, Value)>,
) -> Value {
    let mut responses = Map::new();
    match reply {
        Some((status, schema)) => {
            responses.insert(
                status.to_string(),
                json!({"description": "", "content": content(schema)}),
            );
        }
        None => {
            responses.insert("204".into(), json!({"description": "No response body"}));
        }
    }
    responses.insert("400".into(), json!({"description": "Validation error"}));
    responses.insert("403".into(), json!({"description": "Not authorized"}));
    let mut op = json!({
        "operationId": id,
        "tags": [tag],
        "summary": summary,
        "security": [{"authentik": []}, {"session": []}],
        "responses": responses,
    });
    if let (Some(body), Value::Object(map)) = (body, &mut op) {
        map.insert(
            "requestBody".into(),
            json!({"required": true, "content": content(reference(body))}),
        );
    }
    op
}

fn paginated(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["pagination", "results"],
        "properties": {"pagination": reference("Pagination"), "results": {"type": "array", "items": reference(item)}},
    })
}

fn list_parameters() -> Value {
    json!([
        {"name": "page", "in": "query", "schema": {"type": "integer"}},
        {"name": "page_size", "in": "query", "schema": {"type": "integer"}},
        {"name": "search", "in": "query", "schema": {"type": "string"}},
        {"name": "ordering", "in": "query", "schema": {"type": "string"}},
    ])
}

fn crud(paths: &mut Map<String, Value>, base: &str, tag: &str, model: &str, key: (&str, &str)) {
    let snake = model.to_lowercase();
    let mut list = operation(
        &format!("{tag}_{snake}s_list"),
        tag,
        &format!("List {snake}s"),
        None,
        Some((200, paginated(model))),
    );
    if let Value::Object(op) = &mut list {
        op.insert("parameters".into(), list_parameters());
    }
    let create = operation(
        &format!("{tag}_{snake}s_create"),
        tag,
        &format!("Create a {snake}"),
        Some(&format!("{model}Request")),
        Some((201, reference(model))),
    );
    paths.insert(base.to_owned(), json!({"get": list, "post": create}));
    let (name, kind) = key;
    let item_path = format!("{base}{{{name}}}/");
    let parameters =
        json!([{"name": name, "in": "path", "required": true, "schema": {"type": kind}}]);
    paths.insert(item_path, json!({
        "parameters": parameters,
        "get": operation(&format!("{tag}_{snake}s_retrieve"), tag, &format!("One {snake}"), None, Some((200, reference(model)))),
        "put": operation(&format!("{tag}_{snake}s_update"), tag, &format!("Replace a {snake}"), Some(&format!("{model}Request")), Some((200, reference(model)))),
        "patch": operation(&format!("{tag}_{snake}s_partial_update"), tag, &format!("Change a {snake}"), Some(&format!("{model}Request")), Some((200, reference(model)))),
        "delete": operation(&format!("{tag}_{snake}s_destroy"), tag, &format!("Delete a {snake}"), None, None),
    }));
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

/// The outpost side: proxy providers and outposts (a second `json!` keeps each within
/// the macro's recursion limit).
fn outpost_schemas() -> Value {
    json!({
        "ProxyProvider": object(&["pk", "name", "authorization_flow", "client_id", "external_host", "redirect_uris", "outpost_set"], json!({
            "pk": {"type": "integer", "readOnly": true}, "name": {"type": "string"},
            "authorization_flow": {"type": "string", "format": "uuid"}, "invalidation_flow": {"type": "string", "format": "uuid"},
            "client_id": {"type": "string", "readOnly": true}, "external_host": {"type": "string"},
            "internal_host": {"type": "string"}, "internal_host_ssl_validation": {"type": "boolean"},
            "mode": {"type": "string", "enum": ["proxy", "forward_single", "forward_domain"]},
            "cookie_domain": {"type": "string"}, "skip_path_regex": {"type": "string"},
            "basic_auth_enabled": {"type": "boolean"}, "basic_auth_user_attribute": {"type": "string"},
            "basic_auth_password_attribute": {"type": "string"}, "intercept_header_auth": {"type": "boolean"},
            "access_token_validity": {"type": "string"},
            "redirect_uris": {"type": "array", "readOnly": true, "items": {"type": "object"}},
            "outpost_set": {"type": "array", "readOnly": true, "items": {"type": "string"}}})),
        "ProxyProviderRequest": object(&["name", "authorization_flow", "external_host"], json!({
            "name": {"type": "string"}, "authorization_flow": {"type": "string", "format": "uuid"},
            "invalidation_flow": {"type": "string", "format": "uuid"}, "external_host": {"type": "string"},
            "internal_host": {"type": "string"}, "internal_host_ssl_validation": {"type": "boolean"},
            "mode": {"type": "string", "enum": ["proxy", "forward_single", "forward_domain"]},
            "cookie_domain": {"type": "string"}, "skip_path_regex": {"type": "string"},
            "basic_auth_enabled": {"type": "boolean"}, "basic_auth_user_attribute": {"type": "string"},
            "basic_auth_password_attribute": {"type": "string"}, "intercept_header_auth": {"type": "boolean"},
            "access_token_validity": {"type": "string"}})),
        "Outpost": object(&["pk", "name", "type", "providers", "config"], json!({
            "pk": {"type": "string", "format": "uuid", "readOnly": true}, "name": {"type": "string"},
            "type": {"type": "string", "enum": ["proxy", "ldap", "radius"]},
            "providers": {"type": "array", "items": {"type": "integer"}},
            "config": {"type": "object", "additionalProperties": true},
            "managed": {"type": "string", "nullable": true, "readOnly": true}})),
        "OutpostRequest": object(&["name", "type", "providers", "config"], json!({
            "name": {"type": "string"}, "type": {"type": "string", "enum": ["proxy", "ldap", "radius"]},
            "providers": {"type": "array", "items": {"type": "integer"}},
            "config": {"type": "object", "additionalProperties": true}}))
    })
}

fn schemas() -> Value {
    json!({
        "Pagination": object(&["next", "previous", "count", "current", "total_pages", "start_index", "end_index"], json!({
            "next": {"type": "number"}, "previous": {"type": "number"}, "count": {"type": "number"},
            "current": {"type": "number"}, "total_pages": {"type": "number"},
            "start_index": {"type": "number"}, "end_index": {"type": "number"}})),
        "User": object(&["pk", "username", "name", "uid", "uuid"], json!({
            "pk": {"type": "integer", "readOnly": true}, "uuid": {"type": "string", "format": "uuid", "readOnly": true},
            "username": {"type": "string", "maxLength": 150}, "name": {"type": "string"},
            "is_active": {"type": "boolean"}, "last_login": {"type": "string", "format": "date-time", "nullable": true},
            "is_superuser": {"type": "boolean", "readOnly": true}, "groups": {"type": "array", "items": {"type": "string", "format": "uuid"}},
            "email": {"type": "string", "format": "email"}, "attributes": {"type": "object", "additionalProperties": {}},
            "uid": {"type": "string", "readOnly": true}, "path": {"type": "string"},
            "type": {"type": "string", "enum": ["internal", "external", "service_account", "internal_service_account"]},
            "date_joined": {"type": "string", "format": "date-time", "readOnly": true},
            "password_change_date": {"type": "string", "format": "date-time", "readOnly": true},
            "last_updated": {"type": "string", "format": "date-time", "readOnly": true}})),
        "UserSelf": object(&["pk", "username", "name", "is_active", "is_superuser", "groups", "avatar", "uid", "settings", "system_permissions"], json!({
            "pk": {"type": "integer", "readOnly": true}, "username": {"type": "string"}, "name": {"type": "string"},
            "is_active": {"type": "boolean"}, "is_superuser": {"type": "boolean"},
            "groups": {"type": "array", "items": object(&["name", "pk"], json!({"name": {"type": "string"}, "pk": {"type": "string"}}))},
            "email": {"type": "string"}, "avatar": {"type": "string"}, "uid": {"type": "string"},
            "settings": {"type": "object", "additionalProperties": {}}, "type": {"type": "string"},
            "system_permissions": {"type": "array", "items": {"type": "string"}}})),
        "UserRequest": object(&["username"], json!({
            "username": {"type": "string", "minLength": 1, "maxLength": 150}, "name": {"type": "string"},
            "is_active": {"type": "boolean"}, "email": {"type": "string", "format": "email"},
            "groups": {"type": "array", "items": {"type": "string", "format": "uuid"}},
            "attributes": {"type": "object", "additionalProperties": {}}, "path": {"type": "string"}, "type": {"type": "string"}})),
        "UserPasswordSetRequest": object(&["password"], json!({"password": {"type": "string", "minLength": 1}})),
        "UserAccountRequest": object(&["pk"], json!({"pk": {"type": "integer"}})),
        "Group": object(&["pk", "num_pk", "name"], json!({
            "pk": {"type": "string", "format": "uuid", "readOnly": true}, "num_pk": {"type": "integer", "readOnly": true},
            "name": {"type": "string"}, "is_superuser": {"type": "boolean"},
            "parent": {"type": "string", "format": "uuid", "nullable": true}, "users": {"type": "array", "items": {"type": "integer"}},
            "attributes": {"type": "object", "additionalProperties": {}}})),
        "GroupRequest": object(&["name"], json!({
            "name": {"type": "string", "minLength": 1}, "is_superuser": {"type": "boolean"},
            "parent": {"type": "string", "format": "uuid", "nullable": true}, "users": {"type": "array", "items": {"type": "integer"}},
            "attributes": {"type": "object", "additionalProperties": {}}})),
        "Token": object(&["pk", "identifier"], json!({
            "pk": {"type": "string", "format": "uuid", "readOnly": true}, "identifier": {"type": "string"},
            "intent": {"type": "string", "enum": ["verification", "api", "recovery", "app_password"]},
            "user": {"type": "integer"}, "description": {"type": "string"},
            "expires": {"type": "string", "format": "date-time", "nullable": true}, "expiring": {"type": "boolean"}})),
        "TokenRequest": object(&["identifier"], json!({
            "identifier": {"type": "string", "pattern": "^[-a-zA-Z0-9_.]+$"}, "intent": {"type": "string"},
            "user": {"type": "integer"}, "description": {"type": "string"},
            "expires": {"type": "string", "format": "date-time", "nullable": true}, "expiring": {"type": "boolean"}})),
        "TokenView": object(&["key"], json!({"key": {"type": "string", "readOnly": true}})),
        "Flow": object(&["pk", "slug", "name", "title", "designation"], json!({
            "pk": {"type": "string", "format": "uuid", "readOnly": true}, "slug": {"type": "string"},
            "name": {"type": "string"}, "title": {"type": "string"},
            "designation": {"type": "string", "enum": ["authentication", "authorization", "invalidation", "enrollment", "unenrollment", "recovery", "stage_configuration"]},
            "authentication": {"type": "string"}, "layout": {"type": "string"},
            "stages": {"type": "array", "items": {"type": "string", "format": "uuid"}, "readOnly": true}})),
        "FlowRequest": object(&["slug", "name", "title", "designation"], json!({
            "slug": {"type": "string"}, "name": {"type": "string"}, "title": {"type": "string"},
            "designation": {"type": "string"}, "authentication": {"type": "string"}, "layout": {"type": "string"}})),
        "Version": object(&["version_current"], json!({
            "version_current": {"type": "string"}, "version_latest": {"type": "string"},
            "version_latest_valid": {"type": "boolean"}, "build_hash": {"type": "string"}, "outdated": {"type": "boolean"},
            "outpost_outdated": {"type": "boolean"}})),
        "Application": object(&["pk", "name", "slug"], json!({
            "pk": {"type": "string", "format": "uuid", "readOnly": true}, "name": {"type": "string"}, "slug": {"type": "string"},
            "provider": {"type": "integer", "nullable": true}, "launch_url": {"type": "string", "nullable": true, "readOnly": true},
            "open_in_new_tab": {"type": "boolean"}, "meta_launch_url": {"type": "string"}, "meta_icon": {"type": "string", "nullable": true},
            "meta_description": {"type": "string"}, "meta_publisher": {"type": "string"}, "group": {"type": "string"},
            "policy_engine_mode": {"type": "string", "enum": ["all", "any"]}})),
        "ApplicationRequest": object(&["name", "slug"], json!({
            "name": {"type": "string"}, "slug": {"type": "string"}, "provider": {"type": "integer", "nullable": true},
            "open_in_new_tab": {"type": "boolean"}, "meta_launch_url": {"type": "string"}, "meta_description": {"type": "string"},
            "meta_publisher": {"type": "string"}, "group": {"type": "string"}, "policy_engine_mode": {"type": "string"}})),
        "OAuth2Provider": object(&["pk", "name", "authorization_flow", "client_id"], json!({
            "pk": {"type": "integer", "readOnly": true}, "name": {"type": "string"},
            "authorization_flow": {"type": "string", "format": "uuid"}, "invalidation_flow": {"type": "string", "format": "uuid"},
            "property_mappings": {"type": "array", "items": {"type": "string", "format": "uuid"}},
            "client_type": {"type": "string", "enum": ["confidential", "public"]}, "client_id": {"type": "string"},
            "client_secret": {"type": "string"}, "access_code_validity": {"type": "string"},
            "access_token_validity": {"type": "string"}, "refresh_token_validity": {"type": "string"},
            "include_claims_in_id_token": {"type": "boolean"}, "signing_key": {"type": "string", "format": "uuid", "nullable": true},
            "redirect_uris": {"type": "array", "items": object(&["matching_mode", "url"], json!({
                "matching_mode": {"type": "string", "enum": ["strict", "regex"]}, "url": {"type": "string"}}))},
            "sub_mode": {"type": "string", "enum": ["hashed_user_id", "user_id", "user_uuid", "user_username", "user_email", "user_upn"]},
            "issuer_mode": {"type": "string", "enum": ["global", "per_provider"]},
            "assigned_application_slug": {"type": "string", "readOnly": true}})),
        "OAuth2ProviderRequest": object(&["name", "authorization_flow"], json!({
            "name": {"type": "string"}, "authorization_flow": {"type": "string", "format": "uuid"},
            "invalidation_flow": {"type": "string", "format": "uuid"}, "client_type": {"type": "string"},
            "client_id": {"type": "string"}, "client_secret": {"type": "string"},
            "redirect_uris": {"type": "array", "items": {"type": "object"}},
            "property_mappings": {"type": "array", "items": {"type": "string", "format": "uuid"}},
            "signing_key": {"type": "string", "format": "uuid", "nullable": true}})),
        "OAuth2ProviderSetupURLs": object(&["issuer", "authorize", "token", "user_info", "provider_info", "logout", "jwks"], json!({
            "issuer": {"type": "string"}, "authorize": {"type": "string"}, "token": {"type": "string"},
            "user_info": {"type": "string"}, "provider_info": {"type": "string"}, "logout": {"type": "string"}, "jwks": {"type": "string"}})),
        "ScopeMapping": object(&["pk", "name", "expression", "scope_name"], json!({
            "pk": {"type": "string", "format": "uuid", "readOnly": true}, "managed": {"type": "string", "nullable": true},
            "name": {"type": "string"}, "expression": {"type": "string"}, "scope_name": {"type": "string"},
            "description": {"type": "string"}})),
        "ScopeMappingRequest": object(&["name", "expression", "scope_name"], json!({
            "name": {"type": "string"}, "expression": {"type": "string"}, "scope_name": {"type": "string"},
            "description": {"type": "string"}})),
        "TokenModel": object(&["pk", "provider", "user", "is_expired", "scope", "revoked"], json!({
            "pk": {"type": "integer", "readOnly": true}, "provider": reference("OAuth2Provider"),
            "user": reference("User"), "is_expired": {"type": "boolean", "readOnly": true},
            "expires": {"type": "string", "format": "date-time", "nullable": true},
            "scope": {"type": "array", "items": {"type": "string"}}, "id_token": {"type": "string"},
            "revoked": {"type": "boolean"}})),
        "UserConsent": object(&["pk", "user", "application"], json!({
            "pk": {"type": "integer", "readOnly": true}, "expires": {"type": "string", "format": "date-time", "nullable": true},
            "expiring": {"type": "boolean"}, "user": reference("User"), "application": reference("Application"),
            "permissions": {"type": "string"}})),
        "Event": object(&["pk", "action", "app"], json!({
            "pk": {"type": "string", "format": "uuid", "readOnly": true}, "user": {"type": "object", "additionalProperties": {}},
            "action": {"type": "string"}, "app": {"type": "string"}, "context": {"type": "object", "additionalProperties": {}},
            "client_ip": {"type": "string", "nullable": true}, "created": {"type": "string", "format": "date-time", "readOnly": true},
            "expires": {"type": "string", "format": "date-time"}, "brand": {"type": "object", "additionalProperties": {}}})),
        "ChallengeTypes": {"type": "object", "required": ["component"], "additionalProperties": {},
            "properties": {"component": {"type": "string"}, "type": {"type": "string"}}},
    })
}

/// `stages/all/`, one family per stage kind, and `flows/bindings/`.
fn stage_paths(paths: &mut Map<String, Value>) {
    let mut all = operation(
        "stages_all_list",
        "stages",
        "List stages of every kind",
        None,
        Some((200, paginated("Stage"))),
    );
    if let Value::Object(op) = &mut all {
        op.insert("parameters".into(), list_parameters());
    }
    paths.insert("/stages/all/".into(), json!({"get": all}));
    paths.insert("/stages/all/{stage_uuid}/".into(), json!({
        "parameters": [{"name": "stage_uuid", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "get": operation("stages_all_retrieve", "stages", "One stage", None, Some((200, reference("Stage")))),
        "delete": operation("stages_all_destroy", "stages", "Delete a stage and its bindings", None, None)}));
    for route in super::stages::KINDS {
        let base = format!("/stages/{}/", route.segment);
        crud(
            paths,
            &base,
            "stages",
            route.schema_name,
            ("stage_uuid", "string"),
        );
    }
    crud(
        paths,
        "/flows/bindings/",
        "flows",
        "FlowStageBinding",
        ("fsb_uuid", "string"),
    );
}

/// `authenticators/`: the user's own devices and the admin paths (see
/// `authenticators.rs`); a function of its own to keep `json!` within its recursion limit.
fn authenticator_paths(paths: &mut Map<String, Value>) {
    let tag = "authenticators";
    let summaries = json!({"type": "array", "items": reference("Device")});
    paths.insert("/authenticators/all/".into(), json!({
        "get": operation("authenticators_all_list", tag, "Every device of the current user", None, Some((200, summaries.clone())))}));
    let mut admin_all = operation(
        "authenticators_admin_all_list",
        tag,
        "Every device (admins), of one user with `user`",
        None,
        Some((200, summaries)),
    );
    if let Value::Object(op) = &mut admin_all {
        op.insert(
            "parameters".into(),
            json!([{"name": "user", "in": "query", "schema": {"type": "integer"}}]),
        );
    }
    paths.insert(
        "/authenticators/admin/all/".into(),
        json!({"get": admin_all}),
    );
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}]);
    for (segment, model) in super::authenticators::CLASSES {
        for (prefix, op_prefix) in [("", "authenticators"), ("admin/", "authenticators_admin")] {
            let ops = format!("{op_prefix}_{segment}");
            let mut list = operation(
                &format!("{ops}_list"),
                tag,
                &format!("List {model}s"),
                None,
                Some((200, paginated(model))),
            );
            if let (Value::Object(op), Value::Array(mut parameters)) =
                (&mut list, list_parameters())
            {
                parameters
                    .push(json!({"name": "name", "in": "query", "schema": {"type": "string"}}));
                if !prefix.is_empty() {
                    parameters.push(
                        json!({"name": "user", "in": "query", "schema": {"type": "integer"}}),
                    );
                }
                op.insert("parameters".into(), Value::Array(parameters));
            }
            paths.insert(
                format!("/authenticators/{prefix}{segment}/"),
                json!({"get": list}),
            );
            paths.insert(format!("/authenticators/{prefix}{segment}/{{id}}/"), json!({
                "parameters": id,
                "get": operation(&format!("{ops}_retrieve"), tag, &format!("One {model}"), None, Some((200, reference(model)))),
                "put": operation(&format!("{ops}_update"), tag, &format!("Rename a {model}"), Some(&format!("{model}Request")), Some((200, reference(model)))),
                "patch": operation(&format!("{ops}_partial_update"), tag, &format!("Rename a {model}"), Some(&format!("Patched{model}Request")), Some((200, reference(model)))),
                "delete": operation(&format!("{ops}_destroy"), tag, &format!("Delete a {model} (own devices: needs a sign-in within 10 minutes, or an API token)"), None, None)}));
        }
    }
    for (segment, model) in super::authenticators::CLASSES {
        paths.insert(format!("/authenticators/{segment}/{{id}}/used_by/"), json!({
            "parameters": id,
            "get": operation(&format!("authenticators_{segment}_used_by_list"), tag, &format!("What refers to a {model} (nothing)"), None, Some((200, json!({"type": "array", "items": reference("UsedBy")}))))}));
    }
    paths.insert("/authenticators/static/{id}/regenerate/".into(), json!({
        "parameters": id,
        "post": operation("authenticators_static_regenerate_create", tag, "New recovery codes, shown once in token_set (gatehouse; needs a sign-in within 10 minutes, or an API token)", None, Some((200, reference("StaticDevice"))))}));
}

fn with_stage_schemas(mut schemas: Value) -> Value {
    if let Value::Object(map) = &mut schemas {
        map.extend(super::stages::component_schemas());
        map.extend(super::flow_bindings::component_schemas());
        if let Value::Object(outposts) = outpost_schemas() {
            map.extend(outposts);
        }
        if let Value::Object(authenticators) = super::authenticators::component_schemas() {
            map.extend(authenticators);
        }
        map.extend(super::saml_schema::component_schemas());
    }
    schemas
}

pub fn document() -> Value {
    let mut paths = Map::new();
    crud(
        &mut paths,
        "/core/users/",
        "core",
        "User",
        ("id", "integer"),
    );
    crud(
        &mut paths,
        "/core/groups/",
        "core",
        "Group",
        ("group_uuid", "string"),
    );
    crud(
        &mut paths,
        "/core/tokens/",
        "core",
        "Token",
        ("identifier", "string"),
    );
    crud(
        &mut paths,
        "/flows/instances/",
        "flows",
        "Flow",
        ("slug", "string"),
    );
    crud(
        &mut paths,
        "/core/applications/",
        "core",
        "Application",
        ("slug", "string"),
    );
    crud(
        &mut paths,
        "/providers/oauth2/",
        "providers",
        "OAuth2Provider",
        ("id", "integer"),
    );
    crud(
        &mut paths,
        "/providers/proxy/",
        "providers",
        "ProxyProvider",
        ("id", "integer"),
    );
    crud(
        &mut paths,
        "/providers/saml/",
        "providers",
        "SAMLProvider",
        ("id", "integer"),
    );
    crud(
        &mut paths,
        "/propertymappings/provider/saml/",
        "propertymappings",
        "SAMLPropertyMapping",
        ("pm_uuid", "string"),
    );
    crud(
        &mut paths,
        "/outposts/instances/",
        "outposts",
        "Outpost",
        ("uuid", "string"),
    );
    crud(
        &mut paths,
        "/propertymappings/provider/scope/",
        "propertymappings",
        "ScopeMapping",
        ("pm_uuid", "string"),
    );
    for (base, tag, model, key, kind) in [
        (
            "/oauth2/refresh_tokens/",
            "oauth2",
            "TokenModel",
            "id",
            "integer",
        ),
        (
            "/core/user_consent/",
            "core",
            "UserConsent",
            "id",
            "integer",
        ),
    ] {
        let snake = model.to_lowercase();
        paths.insert(base.into(), json!({
            "get": operation(&format!("{tag}_{snake}_list"), tag, &format!("List {snake}s (yours; admins: everyone's)"), None, Some((200, paginated(model))))}));
        paths.insert(format!("{base}{{{key}}}/"), json!({
            "parameters": [{"name": key, "in": "path", "required": true, "schema": {"type": kind}}],
            "get": operation(&format!("{tag}_{snake}_retrieve"), tag, &format!("One {snake}"), None, Some((200, reference(model)))),
            "delete": operation(&format!("{tag}_{snake}_destroy"), tag, &format!("Revoke a {snake}"), None, None)}));
    }
    paths.insert("/events/events/".into(), json!({
        "get": operation("events_events_list", "events", "The audit trail (admins)", None, Some((200, paginated("Event"))))}));
    paths.insert("/events/events/{event_uuid}/".into(), json!({
        "parameters": [{"name": "event_uuid", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "get": operation("events_events_retrieve", "events", "One event", None, Some((200, reference("Event"))))}));
    paths.insert("/providers/oauth2/{id}/setup_urls/".into(), json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
        "get": operation("providers_oauth2_setup_urls_retrieve", "providers", "The URLs to configure the client with", None, Some((200, reference("OAuth2ProviderSetupURLs"))))}));
    paths.insert("/core/users/me/".into(), json!({"get": operation("core_users_me_retrieve", "core", "The current user", None, Some((200, json!({"type": "object", "required": ["user"], "properties": {"user": reference("UserSelf"), "original": {"allOf": [reference("UserSelf")], "nullable": true}}}))))}));
    paths.insert("/core/users/{id}/set_password/".into(), json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
        "post": operation("core_users_set_password_create", "core", "Set a user's password", Some("UserPasswordSetRequest"), None)}));
    for action in ["add_user", "remove_user"] {
        paths.insert(format!("/core/groups/{{group_uuid}}/{action}/"), json!({
            "parameters": [{"name": "group_uuid", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
            "post": operation(&format!("core_groups_{action}_create"), "core", "Change group membership", Some("UserAccountRequest"), None)}));
    }
    paths.insert("/core/tokens/{identifier}/view_key/".into(), json!({
        "parameters": [{"name": "identifier", "in": "path", "required": true, "schema": {"type": "string"}}],
        "get": operation("core_tokens_view_key_retrieve", "core", "The token's key", None, Some((200, reference("TokenView"))))}));
    paths.insert("/flows/executor/{flow_slug}/".into(), json!({
        "parameters": [{"name": "flow_slug", "in": "path", "required": true, "schema": {"type": "string"}},
                       {"name": "query", "in": "query", "required": false, "schema": {"type": "string"}}],
        "get": operation("flows_executor_get", "flows", "The current challenge", None, Some((200, reference("ChallengeTypes")))),
        "post": operation("flows_executor_solve", "flows", "Answer the current challenge", Some("ChallengeTypes"), Some((200, reference("ChallengeTypes"))))}));
    stage_paths(&mut paths);
    authenticator_paths(&mut paths);
    paths.insert("/admin/version/".into(), json!({"get": operation("admin_version_retrieve", "admin", "Version information", None, Some((200, reference("Version"))))}));
    json!({
        "openapi": "3.0.3",
        "info": {"title": "gatehouse", "version": env!("CARGO_PKG_VERSION"),
                 "description": "gatehouse's REST API, in authentik's v3 shapes."},
        "servers": [{"url": "/api/v3"}],
        "paths": paths,
        "components": {
            "schemas": with_stage_schemas(schemas()),
            "securitySchemes": {
                "authentik": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "gatehouse_session"},
            },
        },
    })
}

#[get("/api/v3/schema/")]
pub async fn serve_schema() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
