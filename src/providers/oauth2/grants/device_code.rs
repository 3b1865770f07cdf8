//! The device code grant's polling side (RFC 8628 §3.4–3.5): pending, slow down,
//! denied, expired, or the tokens once the user approved (the code is spent then).

use serde_json::Value;
use uuid::Uuid;

use crate::crypto::sha256_hex;
use crate::model::EventAction;

use super::super::client;
use super::super::device::{DeviceGrant, DeviceStatus, POLL_INTERVAL_SECS};
use super::super::{OAuthError, OAuthServices, ns};
use super::{Issue, TokenRequest, issue};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub async fn poll(services: &OAuthServices, request: &TokenRequest) -> Result<Value, OAuthError> {
    let catalog = services.catalog.load();
    let client = client::authenticate(&catalog, &services.secret_box, &request.client)?;
    let device_hash = sha256_hex(request.required("device_code")?.as_bytes());
    let expired = || OAuthError::new("expired_token", "The device code has expired.");
    let Some(mut grant) = services
        .ephemeral
        .get::<DeviceGrant>(ns::DEVICE_CODES, &device_hash)?
    else {
        return Err(expired());
    };
    if grant.provider != client.provider.id {
        return Err(OAuthError::invalid_grant(
            "The device code belongs to another client.",
        ));
    }
    let now = services.clock.now();
    match grant.status.clone() {
        DeviceStatus::Pending => {
            let too_fast = grant
                .last_poll
                .is_some_and(|last| now.0 - last < POLL_INTERVAL_SECS);
            grant.last_poll = Some(now.0);
            services
                .ephemeral
                .put_until(ns::DEVICE_CODES, &device_hash, &grant, grant.expires)?;
            Err(if too_fast {
                OAuthError::new("slow_down", "Poll less often.")
            } else {
                OAuthError::new("authorization_pending", "The user has not answered yet.")
            })
        }
        DeviceStatus::Denied => {
            services.ephemeral.delete(ns::DEVICE_CODES, &device_hash)?;
            Err(OAuthError::new(
                "access_denied",
                "The user denied the request.",
            ))
        }
        DeviceStatus::Approved {
            user,
            auth_time,
            amr,
        } => {
            // Spent on first success: take, so two pollers cannot both get tokens.
            if services
                .ephemeral
                .take::<DeviceGrant>(ns::DEVICE_CODES, &device_hash)?
                .is_none()
            {
                return Err(expired());
            }
            issue(
                services,
                request,
                Issue {
                    client: &client,
                    user,
                    scopes: &grant.scopes,
                    auth_time,
                    nonce: None,
                    grant: Uuid::new_v4(),
                    amr: &amr,
                    refresh: true,
                    spends: None,
                    event: EventAction::TokenIssued,
                },
            )
            .await
        }
    }
}
