//! `core/applications/`, in authentik's shape: admins manage applications; anyone signed
//! in lists the applications they may open (authentik's behaviour), and an admin asks for
//! the whole list with `superuser_full_list=true`. `check_access/` explains, for one user,
//! why an application is open or closed to them. An application points at its provider
//! by the provider's integer pk (one application per provider, as authentik's one-to-one
//! link) and shows it as `provider_obj`.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::directory::access::{access_request, accessible_applications, user_may_access};
use crate::model::application::is_valid_slug;
use crate::model::{Application, EventAction, PolicyEngineMode, ProviderId, UserId};
use crate::store::Catalog;

use super::super::error::ApiError;
use super::super::extract::{ApiAdmin, ApiCaller};
use super::super::state::AppState;
use super::nullable::present;
use super::pagination::{ListParams, paginate_in_memory};
use super::providers;

pub fn render(catalog: &Catalog, application: &Application) -> Value {
    let provider = application.provider.and_then(|id| catalog.provider(id));
    json!({
        "pk": application.id,
        "name": application.name,
        "slug": application.slug,
        "provider": provider.map(|provider| provider.id),
        "provider_obj": provider.map(|provider| providers::summary(catalog, provider)),
        // gatehouse has no backchannel kinds (LDAP, SCIM) yet; clients expect the keys.
        "backchannel_providers": [],
        "backchannel_providers_obj": [],
        "launch_url": catalog.launch_url(application),
        "open_in_new_tab": application.open_in_new_tab,
        "meta_launch_url": application.meta_launch_url,
        "meta_icon": application.meta_icon,
        "meta_description": application.meta_description,
        "meta_publisher": application.meta_publisher,
        "policy_engine_mode": application.policy_engine_mode.as_str(),
        "group": application.group,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ApplicationListParams {
    superuser_full_list: Option<bool>,
}

fn matches_search(application: &Application, search: Option<&str>) -> bool {
    let Some(term) = search.map(str::trim).filter(|term| !term.is_empty()) else {
        return true;
    };
    let term = term.to_lowercase();
    [
        &application.name,
        &application.slug,
        &application.meta_publisher,
        &application.group,
    ]
    .iter()
    .any(|field| field.to_lowercase().contains(&term))
}

#[get("/api/v3/core/applications/")]
pub async fn list(
    state: Data<AppState>,
    caller: ApiCaller,
    params: Query<ListParams>,
    filter: Query<ApplicationListParams>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let everything = caller.is_superuser && filter.superuser_full_list.unwrap_or(false);
    let applications = if everything {
        catalog.applications()
    } else {
        let request = access_request(
            &state.db,
            &caller.user,
            caller.client_ip.as_deref().and_then(|ip| ip.parse().ok()),
        )
        .await?;
        accessible_applications(&state.policies, &catalog, &request).await
    };
    let applications: Vec<&Application> = applications
        .into_iter()
        .filter(|application| matches_search(application, params.search.as_deref()))
        .collect();
    let body = paginate_in_memory(&params, applications, |application| {
        render(&catalog, application)
    });
    Ok(HttpResponse::Ok().json(body))
}

fn find<'c>(catalog: &'c Catalog, slug: &str) -> Result<&'c Application, ApiError> {
    catalog.application(slug).ok_or(ApiError::NotFound)
}

#[get("/api/v3/core/applications/{slug}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    slug: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    Ok(HttpResponse::Ok().json(render(&catalog, find(&catalog, &slug)?)))
}

/// Writable fields. Unknown fields (read-only ones a client echoes back) are ignored, as
/// Django REST framework does.
#[derive(Debug, Default, Deserialize)]
pub struct ApplicationInput {
    name: Option<String>,
    slug: Option<String>,
    #[serde(default, deserialize_with = "present")]
    provider: Option<Option<i64>>,
    backchannel_providers: Option<Vec<i64>>,
    open_in_new_tab: Option<bool>,
    meta_launch_url: Option<String>,
    meta_icon: Option<String>,
    meta_description: Option<String>,
    meta_publisher: Option<String>,
    policy_engine_mode: Option<String>,
    group: Option<String>,
}

/// Schemes that run code instead of opening a page; a launcher link must never carry one.
const SCRIPT_SCHEMES: [&str; 3] = ["javascript:", "data:", "vbscript:"];

fn applies_script(url: &str) -> bool {
    let folded: String = url
        .chars()
        .filter(|ch| !ch.is_whitespace() && !ch.is_control())
        .collect::<String>()
        .to_lowercase();
    SCRIPT_SCHEMES
        .iter()
        .any(|scheme| folded.starts_with(scheme))
}

/// A provider serves one application at most (authentik's one-to-one link).
fn provider_check(
    catalog: &Catalog,
    application: &Application,
    id: ProviderId,
) -> Result<ProviderId, String> {
    if catalog.provider(id).is_none() {
        return Err(format!("Invalid pk \"{id}\" - object does not exist."));
    }
    match catalog.application_of_provider(id) {
        Some(other) if other.id != application.id => {
            Err("Application with this provider already exists.".to_owned())
        }
        _ => Ok(id),
    }
}

/// Applies `input` to `application`, collecting every field error at once (DRF reports
/// them together). `required` names the fields a create or a full update must carry.
fn apply(
    catalog: &Catalog,
    application: &mut Application,
    input: ApplicationInput,
    required: bool,
) -> Result<(), ApiError> {
    let mut errors = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut fail = |field: &str, message: &str| {
        errors
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    };
    if required && input.name.is_none() {
        fail("name", "This field is required.");
    }
    if required && input.slug.is_none() {
        fail("slug", "This field is required.");
    }
    if let Some(name) = input.name {
        let name = name.trim();
        if name.is_empty() {
            fail("name", "This field may not be blank.");
        }
        application.name = name.to_owned();
    }
    if let Some(slug) = input.slug {
        let slug = slug.trim();
        if slug.is_empty() {
            fail("slug", "This field may not be blank.");
        } else if !is_valid_slug(slug) {
            fail(
                "slug",
                "Enter a valid \u{201c}slug\u{201d} consisting of letters, numbers, underscores or hyphens.",
            );
        }
        application.slug = slug.to_owned();
    }
    match input.provider {
        Some(Some(pk)) => match provider_check(catalog, application, ProviderId(pk)) {
            Ok(id) => application.provider = Some(id),
            Err(message) => fail("provider", &message),
        },
        Some(None) => application.provider = None,
        None => {}
    }
    if let Some(pk) = input.backchannel_providers.unwrap_or_default().first() {
        // Only backchannel kinds (LDAP, SCIM) go here, and gatehouse has none yet.
        let message = match catalog.provider(ProviderId(*pk)) {
            Some(_) => format!("Provider {pk} is not a backchannel provider."),
            None => format!("Invalid pk \"{pk}\" - object does not exist."),
        };
        fail("backchannel_providers", &message);
    }
    if let Some(url) = input.meta_launch_url {
        if applies_script(&url) {
            fail("meta_launch_url", "Enter a valid URL.");
        }
        application.meta_launch_url = url.trim().to_owned();
    }
    if let Some(mode) = input.policy_engine_mode {
        match PolicyEngineMode::parse(&mode) {
            Some(mode) => application.policy_engine_mode = mode,
            None => fail(
                "policy_engine_mode",
                &format!("\"{mode}\" is not a valid choice."),
            ),
        }
    }
    if let Some(new_tab) = input.open_in_new_tab {
        application.open_in_new_tab = new_tab;
    }
    let texts = [
        (input.meta_icon, &mut application.meta_icon),
        (input.meta_description, &mut application.meta_description),
        (input.meta_publisher, &mut application.meta_publisher),
        (input.group, &mut application.group),
    ];
    for (value, slot) in texts {
        if let Some(value) = value {
            *slot = value;
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

#[post("/api/v3/core/applications/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<ApplicationInput>,
) -> Result<HttpResponse, ApiError> {
    let mut application = Application::new("", "");
    apply(
        &state.catalog.load(),
        &mut application,
        input.into_inner(),
        true,
    )?;
    let saved = application.clone();
    state
        .db
        .write(move |tx| tx.insert_application(&saved))
        .await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelCreated,
            json!({"model": "application", "pk": application.id, "slug": application.slug}),
        )
        .await;
    Ok(HttpResponse::Created().json(render(&state.catalog.load(), &application)))
}

async fn update(
    state: &AppState,
    admin: &ApiAdmin,
    slug: &str,
    input: ApplicationInput,
    full: bool,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let mut application = find(&catalog, slug)?.clone();
    apply(&catalog, &mut application, input, full)?;
    let saved = application.clone();
    state
        .db
        .write(move |tx| tx.update_application(&saved))
        .await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelUpdated,
            json!({"model": "application", "pk": application.id, "slug": application.slug}),
        )
        .await;
    Ok(HttpResponse::Ok().json(render(&state.catalog.load(), &application)))
}

#[put("/api/v3/core/applications/{slug}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    slug: Path<String>,
    input: Json<ApplicationInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, &slug, input.into_inner(), true).await
}

#[patch("/api/v3/core/applications/{slug}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    slug: Path<String>,
    input: Json<ApplicationInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, &slug, input.into_inner(), false).await
}

#[delete("/api/v3/core/applications/{slug}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    slug: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let application = find(&state.catalog.load(), &slug)?.clone();
    let id = application.id;
    state.db.write(move |tx| tx.delete_application(id)).await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelDeleted,
            json!({"model": "application", "pk": id, "slug": application.slug}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
pub struct CheckAccessParams {
    for_user: Option<i64>,
}

/// authentik's `check_access`: the verdict for one user (the caller when `for_user` is
/// absent), the messages that user would see, and the binding-by-binding explanation.
#[get("/api/v3/core/applications/{slug}/check_access/")]
pub async fn check_access(
    state: Data<AppState>,
    admin: ApiAdmin,
    slug: Path<String>,
    params: Query<CheckAccessParams>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let application = find(&catalog, &slug)?;
    let user = match params.for_user {
        None => admin.0.user.clone(),
        Some(pk) => state
            .db
            .read(move |tx| tx.user_by_id(UserId(pk)))
            .await?
            .ok_or_else(|| ApiError::field("for_user", "User does not exist."))?,
    };
    let request = access_request(&state.db, &user, None).await?;
    let result = user_may_access(&state.policies, &catalog, application, &request).await;
    let log_messages: Vec<String> = result.explain().lines().map(str::to_owned).collect();
    Ok(HttpResponse::Ok().json(json!({
        "passing": result.passing,
        "messages": result.messages,
        "log_messages": log_messages,
    })))
}
