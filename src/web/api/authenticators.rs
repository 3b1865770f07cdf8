//! `authenticators/`: a user's second factors in authentik's shapes.
//!
//! - Self-service (any signed-in user or API token, their own confirmed devices only;
//!   others' look absent): `all/` (authentik's `Device`, every class, not paginated) and
//!   per class `totp/`, `static/`, `webauthn/`, `email/` (`TOTPDevice`, `StaticDevice`,
//!   `WebAuthnDevice`, `EmailDevice`): list, retrieve, rename (PUT/PATCH), delete and
//!   `used_by/` (always empty: nothing refers to a device).
//! - Admin (superusers), `admin/all/` and `admin/<class>/`: every device, confirmed or
//!   not, with a `user` filter; retrieve, rename and delete (resetting a user's MFA).
//!
//! Devices are created by the setup stages of the flows, never here (authentik's user
//! API has no create either).
//!
//! Deleting one's own device and regenerating recovery codes need a fresh
//! authentication: a browser session signed in within the last ten minutes (its
//! `created`). Someone who finds a signed-in browser left open should not be able to
//! strip its owner's second factors or mint new recovery codes for themselves. An API
//! token was created by someone who signed in, is revocable, and has no sign-in time of
//! its own, so token callers pass. Renaming changes nothing about security and is not
//! gated. Admin paths are not gated either: an admin resetting a user is a routine
//! helpdesk task, and an admin session can set the user's password anyway.
//!
//! gatehouse keeps only hashes of recovery codes, so `token_set` of a static device is
//! always empty (authentik shows the codes there) and `token_count` (a gatehouse
//! addition) says how many are left. The codes are shown once, by the setup stage or by
//! `static/<pk>/regenerate/` (a gatehouse addition).
//!
//! Audit events: `device_removed` (with `by_admin`), and `model_updated` for a rename or
//! regenerated recovery codes (the codes themselves never reach the log).
//!
//! Device ids are unique across classes here (one table), while authentik numbers each
//! class apart; a class path only finds devices of its own class.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::mfa::static_codes;
use crate::model::{Device, DeviceClass, DeviceData, DeviceId, EventAction, UserId};
use crate::store::{DeviceFilter, ReadTx, StoreResult};

use super::super::error::ApiError;
use super::super::extract::{ApiAdmin, ApiCaller, load_session};
use super::super::state::AppState;
use super::pagination::{ListParams, paginate_in_memory};
use super::serialize;

/// How long after signing in a session may delete devices and regenerate codes.
pub const FRESH_AUTHENTICATION_SECS: i64 = 10 * 60;

const STALE_SESSION: &str = "This action needs a recent sign-in: your session started more \
     than 10 minutes ago. Sign in again, then retry.";

/// authentik's sign for "no known authenticator model" (`UNKNOWN_DEVICE_TYPE_AAGUID`).
const UNKNOWN_AAGUID: &str = "00000000-0000-0000-0000-000000000000";

/// `name` (exact) and, on admin paths, `user` (integer pk) beside the list parameters.
#[derive(Debug, Default, Deserialize)]
pub struct DeviceListParams {
    name: Option<String>,
    user: Option<i64>,
}

/// PUT and PATCH bodies: the name is the only writable field.
#[derive(Debug, Deserialize)]
pub struct DeviceInput {
    name: Option<String>,
}

/// Whose devices a request may see.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// A user's own confirmed devices.
    Own(UserId),
    /// A superuser: everyone's devices, or one user's.
    Admin(Option<UserId>),
}

impl Scope {
    fn filter(self, class: Option<DeviceClass>) -> DeviceFilter {
        match self {
            Scope::Own(user) => DeviceFilter {
                user: Some(user),
                class,
                confirmed: Some(true),
            },
            Scope::Admin(user) => DeviceFilter {
                user,
                class,
                confirmed: None,
            },
        }
    }

    fn sees(self, device: &Device) -> bool {
        match self {
            Scope::Own(user) => device.user == user && device.confirmed,
            Scope::Admin(_) => true,
        }
    }
}

/// authentik's Django model of each class.
struct ModelMeta {
    app: &'static str,
    class_name: &'static str,
    verbose_name: &'static str,
    verbose_name_plural: &'static str,
    /// The longest name authentik's serializer accepts.
    name_max: usize,
}

fn meta(class: DeviceClass) -> ModelMeta {
    match class {
        DeviceClass::Totp => ModelMeta {
            app: "authentik_stages_authenticator_totp",
            class_name: "TOTPDevice",
            verbose_name: "TOTP Device",
            verbose_name_plural: "TOTP Devices",
            name_max: 64,
        },
        DeviceClass::Static => ModelMeta {
            app: "authentik_stages_authenticator_static",
            class_name: "StaticDevice",
            verbose_name: "Static Device",
            verbose_name_plural: "Static Devices",
            name_max: 64,
        },
        DeviceClass::Webauthn => ModelMeta {
            app: "authentik_stages_authenticator_webauthn",
            class_name: "WebAuthnDevice",
            verbose_name: "WebAuthn Device",
            verbose_name_plural: "WebAuthn Devices",
            name_max: 200,
        },
        DeviceClass::Email => ModelMeta {
            app: "authentik_stages_authenticator_email",
            class_name: "EmailDevice",
            verbose_name: "Email Device",
            verbose_name_plural: "Email Devices",
            name_max: 64,
        },
    }
}

fn class_of(segment: &str) -> Result<DeviceClass, ApiError> {
    DeviceClass::parse(segment).ok_or(ApiError::NotFound)
}

fn aaguid(device: &Device) -> Option<&str> {
    match &device.data {
        DeviceData::Webauthn(data) => data.aaguid.as_deref().filter(|id| !id.is_empty()),
        _ => None,
    }
}

/// authentik's `Device`: the class-independent summary of `all/`.
fn render_summary(device: &Device) -> Value {
    let meta = meta(device.class());
    let (extra_description, external_id) = match &device.data {
        // authentik names the authenticator model from the FIDO metadata service; gatehouse
        // has no copy of it, so it says what authentik says when the model is unknown.
        DeviceData::Webauthn(_) => (
            Some("Extra description not available"),
            aaguid(device).map(str::to_owned),
        ),
        _ => (None, None),
    };
    json!({
        "verbose_name": meta.verbose_name,
        "verbose_name_plural": meta.verbose_name_plural,
        "meta_model_name": format!("{}.{}", meta.app, meta.class_name.to_lowercase()),
        "pk": device.id.to_string(),
        "name": device.name,
        "type": format!("{}.{}", meta.app, meta.class_name),
        "confirmed": device.confirmed,
        "created": device.created.to_rfc3339(),
        "last_updated": device.last_updated.to_rfc3339(),
        "last_used": device.last_used.map(|at| at.to_rfc3339()),
        "extra_description": extra_description,
        "external_id": external_id,
    })
}

/// The class's own shape (`TOTPDevice`, `StaticDevice`, `WebAuthnDevice`,
/// `EmailDevice`); `owner` is authentik's `PartialUser`.
fn render(device: &Device, owner: &Value) -> Value {
    match &device.data {
        DeviceData::Totp(_) => json!({"pk": device.id, "name": device.name, "user": owner}),
        DeviceData::Static(data) => json!({
            "pk": device.id,
            "name": device.name,
            // Only hashes are stored: the codes cannot be shown again.
            "token_set": [],
            "token_count": data.code_hashes.len(),
            "user": owner,
        }),
        DeviceData::Webauthn(_) => json!({
            "pk": device.id,
            "name": device.name,
            "created_on": device.created.to_rfc3339(),
            "device_type": Value::Null,
            "aaguid": aaguid(device).unwrap_or(UNKNOWN_AAGUID),
            "user": owner,
        }),
        DeviceData::Email(data) => json!({
            "pk": device.id,
            "name": device.name,
            "email": data.email,
            "user": owner,
        }),
    }
}

/// The owners of `devices` in authentik's `PartialUser` shape, by id.
fn owners<T: ReadTx + ?Sized>(tx: &T, devices: &[Device]) -> StoreResult<BTreeMap<UserId, Value>> {
    let mut owners = BTreeMap::new();
    for device in devices {
        if let Entry::Vacant(slot) = owners.entry(device.user) {
            let owner = tx
                .user_by_id(device.user)?
                .map_or(Value::Null, |user| serialize::user_brief(&user));
            slot.insert(owner);
        }
    }
    Ok(owners)
}

/// The devices of `class` (all classes for `None`) that `scope` sees, with their owners.
async fn load(
    state: &AppState,
    scope: Scope,
    class: Option<DeviceClass>,
) -> Result<(Vec<Device>, BTreeMap<UserId, Value>), ApiError> {
    let filter = scope.filter(class);
    Ok(state
        .db
        .read(move |tx| {
            let devices = tx.devices(filter)?;
            let owners = owners(tx, &devices)?;
            Ok((devices, owners))
        })
        .await?)
}

/// The device with this id if `scope` sees it and it is of `class`.
fn visible<T: ReadTx + ?Sized>(
    tx: &T,
    scope: Scope,
    class: DeviceClass,
    id: i64,
) -> StoreResult<Option<Device>> {
    Ok(tx
        .device(DeviceId(id))?
        .filter(|device| device.class() == class && scope.sees(device)))
}

async fn find(
    state: &AppState,
    scope: Scope,
    class: DeviceClass,
    id: i64,
) -> Result<(Device, Value), ApiError> {
    state
        .db
        .read(move |tx| {
            let Some(device) = visible(tx, scope, class, id)? else {
                return Ok(None);
            };
            let owner = tx
                .user_by_id(device.user)?
                .map_or(Value::Null, |user| serialize::user_brief(&user));
            Ok(Some((device, owner)))
        })
        .await?
        .ok_or(ApiError::NotFound)
}

/// `None` when the caller authenticated recently enough for a destructive change; else
/// the 403 that says to sign in again.
fn stale_session(
    state: &AppState,
    caller: &ApiCaller,
    request: &HttpRequest,
) -> Option<HttpResponse> {
    if caller.token.is_some() {
        return None;
    }
    let now = state.clock.now();
    let fresh = load_session(request).is_some_and(|session| {
        session.record.user == caller.user.id
            && now.0.saturating_sub(session.record.created.0) <= FRESH_AUTHENTICATION_SECS
    });
    if fresh {
        None
    } else {
        Some(HttpResponse::Forbidden().json(json!({
            "detail": STALE_SESSION,
            "code": "reauthentication_required",
        })))
    }
}

fn list_response(
    params: &ListParams,
    filter: &DeviceListParams,
    mut devices: Vec<Device>,
    owners: &BTreeMap<UserId, Value>,
) -> HttpResponse {
    if let Some(name) = filter.name.as_deref().filter(|name| !name.is_empty()) {
        devices.retain(|device| device.name == name);
    }
    if let Some(search) = params
        .search
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
    {
        let search = search.to_lowercase();
        devices.retain(|device| device.name.to_lowercase().contains(&search));
    }
    match params.ordering.as_deref().map(str::trim) {
        Some("name") => devices.sort_by(|a, b| a.name.cmp(&b.name)),
        Some("-name") => devices.sort_by(|a, b| b.name.cmp(&a.name)),
        Some("-pk") => devices.sort_by_key(|device| std::cmp::Reverse(device.id)),
        // The store's order: by id, oldest first.
        _ => {}
    }
    let body = paginate_in_memory(params, devices, |device| {
        render(device, owners.get(&device.user).unwrap_or(&Value::Null))
    });
    HttpResponse::Ok().json(body)
}

/// The new name from a PUT (`required`) or PATCH body, checked as authentik's
/// serializer checks it.
fn new_name(input: &DeviceInput, required: bool, max: usize) -> Result<Option<String>, ApiError> {
    let Some(name) = input.name.as_deref() else {
        return if required {
            Err(ApiError::field("name", "This field is required."))
        } else {
            Ok(None)
        };
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    if name.chars().count() > max {
        return Err(ApiError::field(
            "name",
            format!("Ensure this field has no more than {max} characters."),
        ));
    }
    Ok(Some(name.to_owned()))
}

async fn rename(
    state: &AppState,
    caller: &ApiCaller,
    scope: Scope,
    class: DeviceClass,
    id: i64,
    name: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let renamed = state
        .db
        .write(move |tx| {
            let Some(mut device) = visible(tx, scope, class, id)? else {
                return Ok(None);
            };
            let old = device.name.clone();
            if let Some(name) = name {
                if name != device.name {
                    device.name = name;
                    device.last_updated = now;
                    tx.update_device(&device)?;
                }
            }
            let owner = tx
                .user_by_id(device.user)?
                .map_or(Value::Null, |user| serialize::user_brief(&user));
            Ok(Some((device, owner, old)))
        })
        .await?;
    let (device, owner, old) = renamed.ok_or(ApiError::NotFound)?;
    if old != device.name {
        state
            .audit(
                caller,
                EventAction::ModelUpdated,
                json!({
                    "model": audit_model(&device),
                    "user": device.user,
                    "previous_name": old,
                }),
            )
            .await;
    }
    Ok(HttpResponse::Ok().json(render(&device, &owner)))
}

/// The device as audit events name it (authentik's `model_to_dict` keys).
fn audit_model(device: &Device) -> Value {
    let meta = meta(device.class());
    json!({
        "app": meta.app,
        "model_name": meta.class_name.to_lowercase(),
        "pk": device.id,
        "name": device.name,
    })
}

async fn remove_device(
    state: &AppState,
    caller: &ApiCaller,
    scope: Scope,
    class: DeviceClass,
    id: i64,
) -> Result<HttpResponse, ApiError> {
    let removed = state
        .db
        .write(move |tx| {
            let Some(device) = visible(tx, scope, class, id)? else {
                return Ok(None);
            };
            tx.delete_device(device.id)?;
            Ok(Some(device))
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    state
        .audit(
            caller,
            EventAction::DeviceRemoved,
            json!({
                "model": audit_model(&removed),
                "user": removed.user,
                "device": removed.id,
                "name": removed.name,
                "device_class": removed.class().as_str(),
                "by_admin": matches!(scope, Scope::Admin(_)),
            }),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}

// ---- self-service -------------------------------------------------------------------

#[get("/api/v3/authenticators/all/")]
pub async fn list_all(state: Data<AppState>, caller: ApiCaller) -> Result<HttpResponse, ApiError> {
    let (devices, _) = load(&state, Scope::Own(caller.user.id), None).await?;
    let body: Vec<Value> = devices.iter().map(render_summary).collect();
    Ok(HttpResponse::Ok().json(body))
}

#[get("/api/v3/authenticators/{class:totp|static|webauthn|email}/")]
pub async fn list(
    state: Data<AppState>,
    caller: ApiCaller,
    class: Path<String>,
    params: Query<ListParams>,
    filter: Query<DeviceListParams>,
) -> Result<HttpResponse, ApiError> {
    let class = class_of(&class)?;
    let (devices, owners) = load(&state, Scope::Own(caller.user.id), Some(class)).await?;
    Ok(list_response(&params, &filter, devices, &owners))
}

#[get("/api/v3/authenticators/{class:totp|static|webauthn|email}/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    caller: ApiCaller,
    path: Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (class, id) = path.into_inner();
    let (device, owner) = find(&state, Scope::Own(caller.user.id), class_of(&class)?, id).await?;
    Ok(HttpResponse::Ok().json(render(&device, &owner)))
}

#[put("/api/v3/authenticators/{class:totp|static|webauthn|email}/{id}/")]
pub async fn replace(
    state: Data<AppState>,
    caller: ApiCaller,
    path: Path<(String, i64)>,
    input: Json<DeviceInput>,
) -> Result<HttpResponse, ApiError> {
    let (class, id) = path.into_inner();
    let class = class_of(&class)?;
    let name = new_name(&input, true, meta(class).name_max)?;
    let scope = Scope::Own(caller.user.id);
    rename(&state, &caller, scope, class, id, name).await
}

#[patch("/api/v3/authenticators/{class:totp|static|webauthn|email}/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    caller: ApiCaller,
    path: Path<(String, i64)>,
    input: Json<DeviceInput>,
) -> Result<HttpResponse, ApiError> {
    let (class, id) = path.into_inner();
    let class = class_of(&class)?;
    let name = new_name(&input, false, meta(class).name_max)?;
    let scope = Scope::Own(caller.user.id);
    rename(&state, &caller, scope, class, id, name).await
}

#[delete("/api/v3/authenticators/{class:totp|static|webauthn|email}/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    caller: ApiCaller,
    request: HttpRequest,
    path: Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (class, id) = path.into_inner();
    let class = class_of(&class)?;
    let scope = Scope::Own(caller.user.id);
    // Unknown (or someone else's) first: a 404 says nothing a 403 would not.
    find(&state, scope, class, id).await?;
    if let Some(refused) = stale_session(&state, &caller, &request) {
        return Ok(refused);
    }
    remove_device(&state, &caller, scope, class, id).await
}

/// What refers to the device, for the confirmation before deleting it (authentik's
/// `UsedBy` list): nothing does, a device is a leaf.
#[get("/api/v3/authenticators/{class:totp|static|webauthn|email}/{id}/used_by/")]
pub async fn used_by(
    state: Data<AppState>,
    caller: ApiCaller,
    path: Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (class, id) = path.into_inner();
    find(&state, Scope::Own(caller.user.id), class_of(&class)?, id).await?;
    Ok(HttpResponse::Ok().json(Value::Array(Vec::new())))
}

/// `static/<pk>/regenerate/` (a gatehouse addition; authentik has no such action and
/// makes the user enroll a new static device): replaces the device's recovery codes
/// with a new set and returns them, once, in `token_set`. The old codes stop working.
#[post("/api/v3/authenticators/static/{id}/regenerate/")]
pub async fn regenerate(
    state: Data<AppState>,
    caller: ApiCaller,
    request: HttpRequest,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let scope = Scope::Own(caller.user.id);
    find(&state, scope, DeviceClass::Static, id).await?;
    if let Some(refused) = stale_session(&state, &caller, &request) {
        return Ok(refused);
    }
    let (codes, data) =
        static_codes::generate(static_codes::DEFAULT_COUNT, static_codes::DEFAULT_LENGTH);
    let now = state.clock.now();
    let updated = state
        .db
        .write(move |tx| {
            let Some(mut device) = visible(tx, scope, DeviceClass::Static, id)? else {
                return Ok(None);
            };
            device.data = DeviceData::Static(data);
            device.last_updated = now;
            tx.update_device(&device)?;
            Ok(Some(device))
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    state
        .audit(
            &caller,
            EventAction::ModelUpdated,
            json!({
                "model": audit_model(&updated),
                "user": updated.user,
                "recovery_codes_regenerated": codes.len(),
            }),
        )
        .await;
    let mut body = render(&updated, &serialize::user_brief(&caller.user));
    if let Value::Object(map) = &mut body {
        let tokens: Vec<Value> = codes.iter().map(|code| json!({"token": code})).collect();
        map.insert("token_set".into(), Value::Array(tokens));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

// ---- admin --------------------------------------------------------------------------

#[get("/api/v3/authenticators/admin/all/")]
pub async fn admin_list_all(
    state: Data<AppState>,
    _admin: ApiAdmin,
    filter: Query<DeviceListParams>,
) -> Result<HttpResponse, ApiError> {
    let scope = Scope::Admin(filter.user.map(UserId));
    let (devices, _) = load(&state, scope, None).await?;
    let body: Vec<Value> = devices.iter().map(render_summary).collect();
    Ok(HttpResponse::Ok().json(body))
}

#[get("/api/v3/authenticators/admin/{class:totp|static|webauthn|email}/")]
pub async fn admin_list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    class: Path<String>,
    params: Query<ListParams>,
    filter: Query<DeviceListParams>,
) -> Result<HttpResponse, ApiError> {
    let class = class_of(&class)?;
    let scope = Scope::Admin(filter.user.map(UserId));
    let (devices, owners) = load(&state, scope, Some(class)).await?;
    Ok(list_response(&params, &filter, devices, &owners))
}

#[get("/api/v3/authenticators/admin/{class:totp|static|webauthn|email}/{id}/")]
pub async fn admin_retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    path: Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (class, id) = path.into_inner();
    let (device, owner) = find(&state, Scope::Admin(None), class_of(&class)?, id).await?;
    Ok(HttpResponse::Ok().json(render(&device, &owner)))
}

#[put("/api/v3/authenticators/admin/{class:totp|static|webauthn|email}/{id}/")]
pub async fn admin_replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    path: Path<(String, i64)>,
    input: Json<DeviceInput>,
) -> Result<HttpResponse, ApiError> {
    let (class, id) = path.into_inner();
    let class = class_of(&class)?;
    let name = new_name(&input, true, meta(class).name_max)?;
    rename(&state, &admin.0, Scope::Admin(None), class, id, name).await
}

#[patch("/api/v3/authenticators/admin/{class:totp|static|webauthn|email}/{id}/")]
pub async fn admin_modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    path: Path<(String, i64)>,
    input: Json<DeviceInput>,
) -> Result<HttpResponse, ApiError> {
    let (class, id) = path.into_inner();
    let class = class_of(&class)?;
    let name = new_name(&input, false, meta(class).name_max)?;
    rename(&state, &admin.0, Scope::Admin(None), class, id, name).await
}

#[delete("/api/v3/authenticators/admin/{class:totp|static|webauthn|email}/{id}/")]
pub async fn admin_remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    path: Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (class, id) = path.into_inner();
    let class = class_of(&class)?;
    remove_device(&state, &admin.0, Scope::Admin(None), class, id).await
}

/// The OpenAPI schemas of this module's shapes (registered by `schema.rs`).
pub fn component_schemas() -> Value {
    let user = json!({"$ref": "#/components/schemas/PartialUser"});
    let request = |max: usize| {
        json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": max}}})
    };
    let patched = |max: usize| {
        json!({"type": "object", "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": max}}})
    };
    let date_time = json!({"type": "string", "format": "date-time"});
    json!({
        "PartialUser": {"type": "object", "required": ["pk", "username", "name", "uid"], "properties": {
            "pk": {"type": "integer", "readOnly": true}, "username": {"type": "string", "maxLength": 150},
            "name": {"type": "string"}, "is_active": {"type": "boolean"},
            "last_login": {"type": "string", "format": "date-time", "nullable": true},
            "email": {"type": "string", "format": "email"},
            "attributes": {"type": "object", "additionalProperties": {}},
            "uid": {"type": "string", "readOnly": true}}},
        "Device": {"type": "object", "required": ["verbose_name", "verbose_name_plural", "meta_model_name", "pk", "name", "type", "confirmed", "created", "last_updated", "last_used", "extra_description", "external_id"], "properties": {
            "verbose_name": {"type": "string", "readOnly": true},
            "verbose_name_plural": {"type": "string", "readOnly": true},
            "meta_model_name": {"type": "string", "readOnly": true},
            "pk": {"type": "string"}, "name": {"type": "string"},
            "type": {"type": "string", "readOnly": true}, "confirmed": {"type": "boolean"},
            "created": date_time, "last_updated": date_time,
            "last_used": {"type": "string", "format": "date-time", "nullable": true},
            "extra_description": {"type": "string", "nullable": true, "readOnly": true},
            "external_id": {"type": "string", "nullable": true, "readOnly": true}}},
        "TOTPDevice": {"type": "object", "required": ["name", "pk", "user"], "properties": {
            "name": {"type": "string", "maxLength": 64}, "pk": {"type": "integer", "readOnly": true},
            "user": user}},
        "StaticDeviceToken": {"type": "object", "required": ["token"], "properties": {
            "token": {"type": "string", "maxLength": 16}}},
        "StaticDevice": {"type": "object", "required": ["name", "token_set", "pk", "user"], "properties": {
            "name": {"type": "string", "maxLength": 64},
            "token_set": {"type": "array", "readOnly": true, "items": {"$ref": "#/components/schemas/StaticDeviceToken"},
                "description": "Empty except in the answer of regenerate/: only hashes of the codes are stored."},
            "token_count": {"type": "integer", "readOnly": true, "description": "Unused recovery codes left (gatehouse)."},
            "pk": {"type": "integer", "readOnly": true}, "user": user}},
        "WebAuthnDeviceType": {"type": "object", "required": ["aaguid", "description"], "properties": {
            "aaguid": {"type": "string", "format": "uuid"}, "description": {"type": "string"}}},
        "WebAuthnDevice": {"type": "object", "required": ["pk", "name", "created_on", "device_type", "aaguid", "user"], "properties": {
            "pk": {"type": "integer", "readOnly": true}, "name": {"type": "string", "maxLength": 200},
            "created_on": {"type": "string", "format": "date-time", "readOnly": true},
            "device_type": {"allOf": [{"$ref": "#/components/schemas/WebAuthnDeviceType"}], "nullable": true, "readOnly": true},
            "aaguid": {"type": "string", "readOnly": true}, "user": user}},
        "EmailDevice": {"type": "object", "required": ["name", "pk", "email", "user"], "properties": {
            "name": {"type": "string", "maxLength": 64}, "pk": {"type": "integer", "readOnly": true},
            "email": {"type": "string", "readOnly": true}, "user": user}},
        "UsedBy": {"type": "object", "required": ["app", "model_name", "pk", "name", "action"], "properties": {
            "app": {"type": "string", "readOnly": true}, "model_name": {"type": "string", "readOnly": true},
            "pk": {"type": "string", "readOnly": true}, "name": {"type": "string", "readOnly": true},
            "action": {"type": "string", "enum": ["cascade", "cascade_many", "set_null", "set_default"]}}},
        "TOTPDeviceRequest": request(64),
        "StaticDeviceRequest": request(64),
        "WebAuthnDeviceRequest": request(200),
        "EmailDeviceRequest": request(64),
        "PatchedTOTPDeviceRequest": patched(64),
        "PatchedStaticDeviceRequest": patched(64),
        "PatchedWebAuthnDeviceRequest": patched(200),
        "PatchedEmailDeviceRequest": patched(64),
    })
}

/// The classes as the paths and schemas name them: (path segment, schema name).
pub const CLASSES: &[(&str, &str)] = &[
    ("totp", "TOTPDevice"),
    ("static", "StaticDevice"),
    ("webauthn", "WebAuthnDevice"),
    ("email", "EmailDevice"),
];
