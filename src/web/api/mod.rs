//! The REST API under `/api/v3/`, in authentik's resource shapes.

pub mod admin;
pub mod applications;
pub mod authenticators;
pub mod brands;
pub mod events;
pub mod executor;
pub mod field_errors;
pub mod flow_bindings;
pub mod flows;
pub mod groups;
pub mod invitations;
pub mod keypairs;
pub mod nullable;
pub mod outbox;
pub mod outposts;
pub mod pagination;
pub mod policies;
pub mod property_mappings;
pub mod providers;
pub mod refresh_tokens;
pub mod saml_mappings;
pub mod saml_schema;
pub mod schema;
pub mod serialize;
pub mod stages;
pub mod tokens;
pub mod user_consent;
pub mod users;

use actix_web::web::ServiceConfig;

pub fn routes(config: &mut ServiceConfig) {
    config
        .service(executor::current)
        .service(executor::answer)
        // `me/` before `{id}/` so it is not read as an id.
        .service(users::me)
        .service(users::list)
        .service(users::create)
        .service(users::retrieve)
        .service(users::replace)
        .service(users::modify)
        .service(users::remove)
        .service(users::set_password)
        .service(groups::list)
        .service(groups::create)
        .service(groups::retrieve)
        .service(groups::replace)
        .service(groups::modify)
        .service(groups::remove)
        .service(groups::add_user)
        .service(groups::remove_user)
        .service(tokens::list)
        .service(tokens::create)
        .service(tokens::view_key)
        .service(tokens::retrieve)
        .service(tokens::remove)
        .service(user_consent::list)
        .service(user_consent::retrieve)
        .service(user_consent::remove)
        .service(refresh_tokens::list)
        .service(refresh_tokens::retrieve)
        .service(refresh_tokens::remove)
        // `all/`, `admin/...` and `static/{id}/regenerate/` never match the class
        // segment's pattern, so the order among these does not matter.
        .service(authenticators::list_all)
        .service(authenticators::list)
        .service(authenticators::retrieve)
        .service(authenticators::replace)
        .service(authenticators::modify)
        .service(authenticators::remove)
        .service(authenticators::used_by)
        .service(authenticators::regenerate)
        .service(authenticators::admin_list_all)
        .service(authenticators::admin_list)
        .service(authenticators::admin_retrieve)
        .service(authenticators::admin_replace)
        .service(authenticators::admin_modify)
        .service(authenticators::admin_remove)
        .service(outposts::list)
        .service(outposts::default_settings)
        .service(outposts::create)
        .service(outposts::retrieve)
        .service(outposts::replace)
        .service(outposts::modify)
        .service(outposts::remove)
        .service(events::list)
        .service(events::retrieve)
        .service(flows::list)
        .service(flows::create)
        .service(flows::retrieve)
        .service(flows::remove)
        .service(flow_bindings::list)
        .service(flow_bindings::create)
        .service(flow_bindings::retrieve)
        .service(flow_bindings::replace)
        .service(flow_bindings::modify)
        .service(flow_bindings::remove)
        .service(stages::list_all)
        .service(stages::retrieve_all)
        .service(stages::remove_all)
        .configure(stages::routes)
        .service(invitations::list)
        .service(invitations::create)
        .service(invitations::retrieve)
        .service(invitations::remove)
        .service(policies::create_expression)
        .service(policies::create_password)
        .service(policies::create_reputation)
        .service(policies::create_geoip)
        .service(policies::list_policies)
        .service(policies::delete_policy)
        .service(policies::test_policy)
        .service(outbox::list)
        .service(policies::create_binding)
        .service(policies::delete_binding)
        .service(applications::list)
        .service(applications::create)
        .service(applications::check_access)
        .service(applications::retrieve)
        .service(applications::replace)
        .service(applications::modify)
        .service(applications::remove)
        .service(brands::current)
        .service(brands::list)
        .service(brands::create)
        .service(brands::retrieve)
        .service(brands::modify)
        .service(brands::remove)
        // `generate/` before `{id}/` routes so it is not read as an id.
        .service(keypairs::generate)
        .service(keypairs::list)
        .service(keypairs::import)
        .service(keypairs::retrieve)
        .service(keypairs::view_certificate)
        .service(keypairs::view_private_key)
        .service(keypairs::modify)
        .service(keypairs::remove)
        .configure(providers::routes)
        .configure(property_mappings::routes)
        .configure(saml_mappings::routes)
        .service(admin::version)
        .service(schema::serve_schema);
}
