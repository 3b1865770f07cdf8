//! What a service provider learns about the user: the NameID (in the format the request
//! or the provider asks for, or from the provider's NameID mapping) and the attributes
//! of the provider's SAML mappings. authentik's default mappings are computed here;
//! admin-written ones run their expression with the user in scope.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::crypto::digest::hmac_sha256_hex;
use crate::model::saml::{
    NAMEID_EMAIL, NAMEID_TRANSIENT, NAMEID_UNSPECIFIED, NAMEID_WINDOWS, NAMEID_X509,
};
use crate::model::{Group, PropertyMapping, ProviderId, SamlProvider, StandardSamlAttribute, User};
use crate::policy::{PolicyEngine, PolicyRequest};
use crate::store::Catalog;

/// A mapping script gets this long before its attribute is left out.
const MAPPING_DEADLINE: Duration = Duration::from_secs(1);

/// One attribute of the AttributeStatement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAttribute {
    pub name: String,
    pub friendly_name: String,
    pub values: Vec<String>,
}

/// The NameID: its format URI and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    pub format: String,
    pub value: String,
}

/// Who the user is, for one provider: what the NameID and attributes are computed from.
pub struct Subject<'a> {
    pub user: &'a User,
    pub groups: &'a [Group],
    pub provider: ProviderId,
    /// The gatehouse session's digest, for transient NameIDs (one per session).
    pub session: &'a str,
    pub subject_key: &'a [u8; 32],
}

impl Subject<'_> {
    /// Stable per user and provider, and reveals nothing about the user.
    fn persistent(&self) -> String {
        let material = format!("saml-persistent:{}:{}", self.provider.0, self.user.uuid);
        hmac_sha256_hex(self.subject_key, material.as_bytes())
    }

    fn transient(&self) -> String {
        let material = format!("saml-transient:{}:{}", self.provider.0, self.session);
        format!(
            "_{}",
            hmac_sha256_hex(self.subject_key, material.as_bytes())
        )
    }

    /// The `uid` attribute: the same hashed id OAuth's `hashed_user_id` gives.
    fn uid(&self) -> String {
        hmac_sha256_hex(self.subject_key, self.user.uuid.as_bytes())
    }

    fn attribute_text(&self, name: &str) -> Option<String> {
        self.user
            .attributes
            .get(name)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    }

    /// The value for a NameID format (authentik's choices: an unknown or unspecified
    /// format gets the persistent value).
    pub fn name_id_for(&self, format: &str) -> String {
        match format {
            NAMEID_EMAIL if !self.user.email.is_empty() => self.user.email.clone(),
            NAMEID_TRANSIENT => self.transient(),
            NAMEID_X509 => self
                .attribute_text("distinguishedName")
                .unwrap_or_else(|| format!("CN={}", self.user.username.as_str())),
            NAMEID_WINDOWS => self
                .attribute_text("upn")
                .unwrap_or_else(|| self.user.username.as_str().to_owned()),
            _ => self.persistent(),
        }
    }

    fn standard_values(&self, attribute: StandardSamlAttribute) -> Vec<String> {
        let user = self.user;
        match attribute {
            StandardSamlAttribute::Upn => {
                vec![
                    self.attribute_text("upn")
                        .unwrap_or_else(|| user.email.clone()),
                ]
            }
            StandardSamlAttribute::Name => vec![if user.name.is_empty() {
                user.username.as_str().to_owned()
            } else {
                user.name.clone()
            }],
            StandardSamlAttribute::Email => vec![user.email.clone()],
            StandardSamlAttribute::Username | StandardSamlAttribute::WindowsAccountName => {
                vec![user.username.as_str().to_owned()]
            }
            StandardSamlAttribute::Uid => vec![self.uid()],
            StandardSamlAttribute::Groups => {
                self.groups.iter().map(|group| group.name.clone()).collect()
            }
        }
    }
}

/// The format the response uses: the request's NameIDPolicy when it names one we can
/// fill, else the provider's default.
pub fn chosen_format(requested: Option<&str>, provider: &SamlProvider) -> String {
    match requested {
        Some(format) if format != NAMEID_UNSPECIFIED && known_format(format) => format.to_owned(),
        _ => provider.default_name_id_policy.clone(),
    }
}

pub fn known_format(format: &str) -> bool {
    crate::model::saml::NAMEID_FORMATS.contains(&format)
}

/// A JSON value as attribute values: a list gives one value each, null none.
fn values_of(value: &Value) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items.iter().flat_map(values_of).collect(),
        other => vec![other.to_string()],
    }
}

/// Runs a custom mapping's expression; its result (a string, a list, anything) is
/// wrapped as one claim so the scope-mapping evaluator can run it unchanged.
async fn evaluate(
    policies: &PolicyEngine,
    mapping: &PropertyMapping,
    expression: &str,
    request: Arc<PolicyRequest>,
) -> Option<Vec<String>> {
    let wrapped = format!("#{{ value: {{\n{expression}\n}} }}");
    match policies
        .expressions()
        .evaluate_claims(&wrapped, request, Instant::now() + MAPPING_DEADLINE)
        .await
    {
        Ok(claims) => Some(claims.get("value").map(values_of).unwrap_or_default()),
        Err(error) => {
            tracing::warn!(mapping = %mapping.name, %error, "SAML mapping failed; its attribute is left out");
            None
        }
    }
}

fn policy_request(subject: &Subject<'_>) -> Arc<PolicyRequest> {
    Arc::new(PolicyRequest {
        user: Some(subject.user.clone()),
        groups: subject.groups.to_vec(),
        client_ip: None,
        http_headers: Default::default(),
        context: serde_json::Map::new(),
    })
}

/// The values one SAML mapping gives for the subject; `None` when it is not a SAML
/// mapping or its script failed.
pub async fn mapping_values(
    policies: &PolicyEngine,
    mapping: &PropertyMapping,
    subject: &Subject<'_>,
) -> Option<Vec<String>> {
    let saml = mapping.saml()?;
    if let Some(standard) = mapping.standard_saml() {
        return Some(subject.standard_values(standard));
    }
    evaluate(policies, mapping, &saml.expression, policy_request(subject)).await
}

/// The NameID: the provider's NameID mapping when set (and it gives a value), else the
/// chosen format's value.
pub async fn name_id(
    catalog: &Catalog,
    policies: &PolicyEngine,
    provider: &SamlProvider,
    requested_format: Option<&str>,
    subject: &Subject<'_>,
) -> NameId {
    let format = chosen_format(requested_format, provider);
    let mapped = match provider
        .name_id_mapping
        .and_then(|id| catalog.property_mapping(id))
    {
        Some(mapping) => mapping_values(policies, mapping, subject)
            .await
            .and_then(|values| values.into_iter().find(|value| !value.is_empty())),
        None => None,
    };
    let value = mapped.unwrap_or_else(|| subject.name_id_for(&format));
    NameId { format, value }
}

/// The AttributeStatement's attributes, in the provider's mapping order. A mapping that
/// fails is skipped so one broken script does not lock everyone out.
pub async fn attributes(
    catalog: &Catalog,
    policies: &PolicyEngine,
    provider: &SamlProvider,
    subject: &Subject<'_>,
) -> Vec<SamlAttribute> {
    let mut out = Vec::new();
    for mapping in provider
        .property_mappings
        .iter()
        .filter_map(|id| catalog.property_mapping(*id))
    {
        let Some(saml) = mapping.saml() else {
            continue;
        };
        if let Some(values) = mapping_values(policies, mapping, subject).await {
            out.push(SamlAttribute {
                name: saml.saml_name.clone(),
                friendly_name: saml.friendly_name.clone(),
                values,
            });
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_request_format_wins_when_known() {
        let provider = SamlProvider::new("https://sp/acs".into());
        assert_eq!(chosen_format(Some(NAMEID_EMAIL), &provider), NAMEID_EMAIL);
        assert_eq!(
            chosen_format(Some("urn:example:unknown"), &provider),
            provider.default_name_id_policy
        );
        assert_eq!(chosen_format(None, &provider), NAMEID_UNSPECIFIED);
    }

    #[test]
    fn json_values_become_attribute_values() {
        assert_eq!(
            values_of(&serde_json::json!(["a", ["b"], 3])),
            vec!["a", "b", "3"]
        );
        assert!(values_of(&Value::Null).is_empty());
    }
}
