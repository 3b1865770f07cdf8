//! What an admin writes to a SAML provider (authentik's `SAMLProviderRequest`) and how
//! it lands on the stored provider: every field checked, all errors reported at once.

use serde::Deserialize;
use uuid::Uuid;

use crate::model::saml::NAMEID_FORMATS;
use crate::model::{Provider, ProviderId, ProviderKind, SamlProvider};
use crate::providers::saml::xml::{DigestAlgorithm, SignatureAlgorithm};
use crate::store::Catalog;

use super::super::super::error::ApiError;
use super::super::field_errors::FieldErrors;
use super::super::nullable::present;
use super::checks::{self, parse_uuid};
use super::input::{self, Context, ProviderInput, Write, choice};

#[derive(Debug, Default, Deserialize)]
pub struct SamlInput {
    #[serde(flatten)]
    pub common: ProviderInput,
    pub acs_url: Option<String>,
    pub audience: Option<String>,
    pub issuer: Option<String>,
    pub sp_binding: Option<String>,
    pub sls_url: Option<String>,
    pub sls_binding: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub name_id_mapping: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub authn_context_class_ref_mapping: Option<Option<String>>,
    pub default_name_id_policy: Option<String>,
    pub default_relay_state: Option<String>,
    pub assertion_valid_not_before: Option<String>,
    pub assertion_valid_not_on_or_after: Option<String>,
    pub session_valid_not_on_or_after: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub signing_kp: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub verification_kp: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub encryption_kp: Option<Option<String>>,
    pub sign_assertion: Option<bool>,
    pub sign_response: Option<bool>,
    pub digest_algorithm: Option<String>,
    pub signature_algorithm: Option<String>,
    pub logout_method: Option<String>,
}

pub fn blank_saml() -> Provider {
    Provider {
        id: ProviderId(0),
        name: String::new(),
        authorization_flow: crate::model::FlowId(Uuid::nil()),
        invalidation_flow: None,
        kind: ProviderKind::Saml(SamlProvider::new(String::new())),
    }
}

/// The default SAML mappings, which a new provider gets unless it names its own.
pub fn default_mappings(catalog: &Catalog) -> Vec<Uuid> {
    catalog
        .property_mappings()
        .into_iter()
        .filter(|mapping| mapping.standard_saml().is_some())
        .map(|mapping| mapping.id)
        .collect()
}

pub fn apply(
    ctx: &Context<'_>,
    provider: &mut Provider,
    input: &SamlInput,
    write: Write,
) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    input::apply_collecting(ctx, &mut errors, provider, &input.common, write);
    if let ProviderKind::Saml(saml) = &mut provider.kind {
        apply_endpoints(&mut errors, saml, input, write);
        apply_assertion(ctx.catalog, &mut errors, saml, input);
        apply_keys(ctx.catalog, &mut errors, saml, input);
        if let Some(pks) = &input.common.property_mappings {
            if let Some(ids) = errors.check("property_mappings", saml_mappings(ctx.catalog, pks)) {
                saml.property_mappings = ids;
            }
        } else if write == Write::Create {
            saml.property_mappings = default_mappings(ctx.catalog);
        }
    }
    errors.finish()
}

fn web_url(field: &str, text: &str) -> Result<String, String> {
    let text = text.trim();
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(text.to_owned())
        }
        _ => Err(format!(
            "Enter a valid URL for {field} (http:// or https://)."
        )),
    }
}

fn apply_endpoints(
    errors: &mut FieldErrors,
    saml: &mut SamlProvider,
    input: &SamlInput,
    write: Write,
) {
    match input.acs_url.as_deref() {
        None if write != Write::Modify => errors.add("acs_url", "This field is required."),
        None => {}
        Some(url) => {
            if let Some(url) = errors.check("acs_url", web_url("the ACS", url)) {
                saml.acs_url = url;
            }
        }
    }
    if let Some(url) = input.sls_url.as_deref() {
        if url.trim().is_empty() {
            saml.sls_url = String::new();
        } else if let Some(url) = errors.check("sls_url", web_url("single logout", url)) {
            saml.sls_url = url;
        }
    }
    for (field, text, slot) in [
        ("sp_binding", &input.sp_binding, &mut saml.sp_binding),
        ("sls_binding", &input.sls_binding, &mut saml.sls_binding),
    ] {
        if let Some(text) = text {
            if let Some(binding) = choice(errors, field, text) {
                *slot = binding;
            }
        }
    }
    if let Some(audience) = &input.audience {
        saml.audience = audience.trim().to_owned();
    }
    if let Some(issuer) = &input.issuer {
        saml.issuer = issuer.trim().to_owned();
    }
    if let Some(state) = &input.default_relay_state {
        saml.default_relay_state = state.clone();
    }
    if let Some(method) = &input.logout_method {
        if method != "frontchannel_iframe"
            && method != "frontchannel_native"
            && method != "backchannel"
        {
            errors.add(
                "logout_method",
                format!("\"{method}\" is not a valid choice."),
            );
        }
    }
}

fn apply_assertion(
    catalog: &Catalog,
    errors: &mut FieldErrors,
    saml: &mut SamlProvider,
    input: &SamlInput,
) {
    for (value, slot) in [
        (
            &input.assertion_valid_not_before,
            &mut saml.assertion_valid_not_before,
        ),
        (
            &input.assertion_valid_not_on_or_after,
            &mut saml.assertion_valid_not_on_or_after,
        ),
        (
            &input.session_valid_not_on_or_after,
            &mut saml.session_valid_not_on_or_after,
        ),
    ] {
        if let Some(value) = value {
            value.trim().clone_into(slot);
        }
    }
    if let Err((field, message)) = saml.windows() {
        errors.add(field, message);
    }
    if let Some(policy) = &input.default_name_id_policy {
        if NAMEID_FORMATS.contains(&policy.as_str()) {
            saml.default_name_id_policy = policy.clone();
        } else {
            errors.add(
                "default_name_id_policy",
                format!("\"{policy}\" is not a valid choice."),
            );
        }
    }
    match &input.name_id_mapping {
        None => {}
        Some(None) => saml.name_id_mapping = None,
        Some(Some(pk)) => {
            if let Some(ids) = errors.check(
                "name_id_mapping",
                saml_mappings(catalog, std::slice::from_ref(pk)),
            ) {
                saml.name_id_mapping = ids.first().copied();
            }
        }
    }
    if matches!(input.authn_context_class_ref_mapping, Some(Some(_))) {
        errors.add(
            "authn_context_class_ref_mapping",
            "Not supported: the AuthnContextClassRef is always PasswordProtectedTransport.",
        );
    }
    if let Some(sign) = input.sign_assertion {
        saml.sign_assertion = sign;
    }
    if let Some(sign) = input.sign_response {
        saml.sign_response = sign;
    }
    if let Some(uri) = &input.digest_algorithm {
        match DigestAlgorithm::from_uri(uri) {
            Some(_) => saml.digest_algorithm = uri.clone(),
            None => errors.add(
                "digest_algorithm",
                format!("\"{uri}\" is not a valid choice."),
            ),
        }
    }
    if let Some(uri) = &input.signature_algorithm {
        match SignatureAlgorithm::from_uri(uri) {
            Some(_) => saml.signature_algorithm = uri.clone(),
            None => errors.add(
                "signature_algorithm",
                format!("\"{uri}\" is not a valid choice."),
            ),
        }
    }
}

fn apply_keys(
    catalog: &Catalog,
    errors: &mut FieldErrors,
    saml: &mut SamlProvider,
    input: &SamlInput,
) {
    match &input.signing_kp {
        None => {}
        Some(None) => saml.signing_kp = None,
        Some(Some(pk)) => {
            if let Some(id) = errors.check("signing_kp", checks::signing_key(catalog, pk)) {
                saml.signing_kp = Some(id);
            }
        }
    }
    match &input.verification_kp {
        None => {}
        Some(None) => saml.verification_kp = None,
        Some(Some(pk)) => {
            let found = parse_uuid(pk).and_then(|id| {
                catalog
                    .keypair(id)
                    .map(|_| id)
                    .ok_or_else(|| format!("Invalid pk \"{pk}\" - object does not exist."))
            });
            if let Some(id) = errors.check("verification_kp", found) {
                saml.verification_kp = Some(id);
            }
        }
    }
    match &input.encryption_kp {
        None => {}
        Some(None) => saml.encryption_kp = None,
        Some(Some(pk)) => {
            // Only the SP's certificate is needed; its RSA key wraps the AES key.
            let found = parse_uuid(pk).and_then(|id| match catalog.keypair(id) {
                Some(pair) if pair.key_type == crate::model::KeyType::Rsa => Ok(id),
                Some(_) => Err("Assertions are encrypted for RSA certificates only.".to_owned()),
                None => Err(format!("Invalid pk \"{pk}\" - object does not exist.")),
            });
            if let Some(id) = errors.check("encryption_kp", found) {
                saml.encryption_kp = Some(id);
            }
        }
    }
    if let Some(id) = saml.signing_kp {
        let key_type = catalog.keypair(id).map(|pair| pair.key_type);
        // The signature algorithm must fit the key, or every sign-in would fail.
        let ecdsa = SignatureAlgorithm::from_uri(&saml.signature_algorithm)
            == Some(SignatureAlgorithm::EcdsaSha256);
        match key_type {
            Some(crate::model::KeyType::EcP256) if !ecdsa => errors.add(
                "signature_algorithm",
                "The signing key is an EC key: choose http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256.",
            ),
            Some(crate::model::KeyType::Rsa) if ecdsa => errors.add(
                "signature_algorithm",
                "The signing key is an RSA key: choose an RSA signature algorithm.",
            ),
            _ => {}
        }
        let is_ed25519 = key_type == Some(crate::model::KeyType::Ed25519);
        if is_ed25519 {
            errors.add(
                "signing_kp",
                "Ed25519 keys cannot sign SAML; choose an RSA or EC key.",
            );
        }
    }
}

/// SAML mappings by pk, each once, in the order given.
pub fn saml_mappings(catalog: &Catalog, pks: &[String]) -> Result<Vec<Uuid>, String> {
    let mut ids = Vec::with_capacity(pks.len());
    for pk in pks {
        let id = parse_uuid(pk)?;
        let mapping = catalog
            .property_mapping(id)
            .ok_or_else(|| format!("Invalid pk \"{pk}\" - object does not exist."))?;
        if mapping.saml().is_none() {
            return Err(format!("\"{}\" is not a SAML mapping.", mapping.name));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}
