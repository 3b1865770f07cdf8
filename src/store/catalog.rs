//! The catalog snapshot: configuration objects (flows, stages, bindings, policies and
//! their bindings, brands; later applications, providers and keys) held in one immutable
//! in-memory value and swapped whole when any of them changes, so hot paths never query
//! the database for configuration.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;

use crate::model::{
    Application, Brand, Flow, FlowDesignation, FlowId, Outpost, Policy, PolicyBinding, PolicyId,
    PolicyTarget, PropertyMapping, Provider, ProviderId, Stage, StageBinding, StageId,
};

use super::{Db, StoreResult};
use crate::crypto::{SecretBox, SigningKey};
use crate::model::CertificateKeyPair;

/// Everything a catalog is built from, as the store lists it.
#[derive(Debug, Default)]
pub struct CatalogParts {
    pub flows: Vec<Flow>,
    pub stages: Vec<Stage>,
    pub bindings: Vec<StageBinding>,
    pub policies: Vec<Policy>,
    pub policy_bindings: Vec<PolicyBinding>,
    pub brands: Vec<Brand>,
    pub applications: Vec<Application>,
    pub providers: Vec<Provider>,
    pub property_mappings: Vec<PropertyMapping>,
    pub outposts: Vec<Outpost>,
}

#[derive(Debug, Default)]
pub struct Catalog {
    flows_by_slug: HashMap<String, Flow>,
    stages: HashMap<StageId, Stage>,
    bindings_by_flow: HashMap<FlowId, Vec<StageBinding>>,
    policies: HashMap<PolicyId, Policy>,
    policy_bindings: HashMap<PolicyTarget, Vec<PolicyBinding>>,
    /// Keyed by the lowercased domain, as hosts are matched.
    brands_by_domain: HashMap<String, Brand>,
    default_brand_domain: Option<String>,
    /// Keyed by slug, the way the API and protocol endpoints address applications.
    applications_by_slug: HashMap<String, Application>,
    /// Certificate-key pairs by name order, each with its private key decoded on first
    /// use (see `signing_key`).
    keypairs: Vec<(CertificateKeyPair, OnceLock<Option<Arc<SigningKey>>>)>,
    providers: HashMap<ProviderId, Provider>,
    /// OAuth client id → provider id: the token endpoint's first lookup.
    providers_by_client_id: HashMap<String, ProviderId>,
    /// Provider id → the slug of the application using it.
    application_of_provider: HashMap<ProviderId, String>,
    property_mappings: HashMap<uuid::Uuid, PropertyMapping>,
    /// By name, as the store lists them.
    outposts: Vec<Outpost>,
}

impl Catalog {
    /// A catalog of flows alone (no policies, no brands).
    pub fn build(flows: Vec<Flow>, stages: Vec<Stage>, bindings: Vec<StageBinding>) -> Catalog {
        Catalog::from_parts(CatalogParts {
            flows,
            stages,
            bindings,
            ..CatalogParts::default()
        })
    }

    pub fn from_parts(parts: CatalogParts) -> Catalog {
        let CatalogParts {
            flows,
            stages,
            bindings,
            policies,
            policy_bindings,
            brands,
            applications,
            providers,
            property_mappings,
            outposts,
        } = parts;
        let mut bindings_by_flow: HashMap<FlowId, Vec<StageBinding>> = HashMap::new();
        for binding in bindings {
            bindings_by_flow
                .entry(binding.flow)
                .or_default()
                .push(binding);
        }
        for list in bindings_by_flow.values_mut() {
            list.sort_by_key(|binding| (binding.order, binding.id));
        }
        let mut by_target: HashMap<PolicyTarget, Vec<PolicyBinding>> = HashMap::new();
        for binding in policy_bindings {
            by_target.entry(binding.target).or_default().push(binding);
        }
        for list in by_target.values_mut() {
            list.sort_by_key(|binding| (binding.order, binding.id));
        }
        // The store allows one default; should two arrive anyway, the first by domain
        // wins, so the answer does not depend on hash order.
        let default_brand_domain = brands
            .iter()
            .filter(|brand| brand.default)
            .map(|brand| brand.domain.to_lowercase())
            .min();
        Catalog {
            flows_by_slug: flows.into_iter().map(|f| (f.slug.clone(), f)).collect(),
            stages: stages.into_iter().map(|s| (s.id, s)).collect(),
            bindings_by_flow,
            policies: policies.into_iter().map(|p| (p.id, p)).collect(),
            policy_bindings: by_target,
            brands_by_domain: brands
                .into_iter()
                .map(|b| (b.domain.to_lowercase(), b))
                .collect(),
            default_brand_domain,
            application_of_provider: applications
                .iter()
                .filter_map(|app| Some((app.provider?, app.slug.clone())))
                .collect(),
            applications_by_slug: applications
                .into_iter()
                .map(|app| (app.slug.clone(), app))
                .collect(),
            keypairs: Vec::new(),
            providers_by_client_id: providers
                .iter()
                .filter_map(|p| Some((p.client_id()?.to_owned(), p.id)))
                .collect(),
            providers: providers.into_iter().map(|p| (p.id, p)).collect(),
            property_mappings: property_mappings.into_iter().map(|m| (m.id, m)).collect(),
            outposts,
        }
    }

    /// Adds the certificate-key pairs (kept apart from `CatalogParts` so existing
    /// builders of parts stay valid).
    pub fn with_keypairs(mut self, keypairs: Vec<CertificateKeyPair>) -> Catalog {
        self.keypairs = keypairs
            .into_iter()
            .map(|pair| (pair, OnceLock::new()))
            .collect();
        self
    }

    pub fn keypair(&self, id: uuid::Uuid) -> Option<&CertificateKeyPair> {
        self.keypairs
            .iter()
            .map(|(pair, _)| pair)
            .find(|pair| pair.id == id)
    }

    /// All certificate-key pairs, ordered by name (as the store lists them).
    pub fn keypairs(&self) -> Vec<&CertificateKeyPair> {
        self.keypairs.iter().map(|(pair, _)| pair).collect()
    }

    /// The pair's private key, ready to sign; `None` for an unknown id, a pair without
    /// a key, or a key that cannot be unsealed. Decoded on first use and kept for the
    /// life of this snapshot: the secret box lives in the web state, not in the store,
    /// so `reload(&Db)` stays as it is and pairs never used to sign cost nothing.
    pub fn signing_key(&self, id: uuid::Uuid, secret_box: &SecretBox) -> Option<Arc<SigningKey>> {
        let (pair, decoded) = self.keypairs.iter().find(|(pair, _)| pair.id == id)?;
        decoded
            .get_or_init(|| SigningKey::from_keypair(pair, secret_box).map(Arc::new))
            .clone()
    }

    pub fn flow(&self, slug: &str) -> Option<&Flow> {
        self.flows_by_slug.get(slug)
    }

    /// A linear scan: flows are few, and lookups by id happen per authorization, not per
    /// token.
    pub fn flow_by_id(&self, id: FlowId) -> Option<&Flow> {
        self.flows_by_slug.values().find(|flow| flow.id == id)
    }

    /// All flows, ordered by slug.
    pub fn flows(&self) -> Vec<&Flow> {
        let mut flows: Vec<&Flow> = self.flows_by_slug.values().collect();
        flows.sort_by(|a, b| a.slug.cmp(&b.slug));
        flows
    }

    /// The flow used by default for a purpose: the first by slug with that designation.
    pub fn default_flow(&self, designation: FlowDesignation) -> Option<&Flow> {
        self.flows()
            .into_iter()
            .find(|flow| flow.designation == designation)
    }

    pub fn stage(&self, id: StageId) -> Option<&Stage> {
        self.stages.get(&id)
    }

    /// The flow's bindings in execution order.
    pub fn bindings(&self, flow: FlowId) -> &[StageBinding] {
        self.bindings_by_flow
            .get(&flow)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn policy(&self, id: PolicyId) -> Option<&Policy> {
        self.policies.get(&id)
    }

    /// All policies, ordered by name ignoring case (as the store lists them).
    pub fn policies(&self) -> Vec<&Policy> {
        let mut policies: Vec<&Policy> = self.policies.values().collect();
        policies.sort_by_cached_key(|policy| (policy.name.to_lowercase(), policy.id));
        policies
    }

    /// The policy bindings of a target in evaluation order (by `order`, then id), disabled
    /// ones included: the engine decides what they mean.
    pub fn bindings_for(&self, target: &PolicyTarget) -> &[PolicyBinding] {
        self.policy_bindings
            .get(target)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The brand whose domain is `host` (ignoring case), else the default brand. `host`
    /// is a bare host name: the caller strips any port.
    pub fn brand_for_host(&self, host: &str) -> Option<&Brand> {
        self.brands_by_domain
            .get(&host.to_lowercase())
            .or_else(|| self.default_brand())
    }

    pub fn default_brand(&self) -> Option<&Brand> {
        self.default_brand_domain
            .as_ref()
            .and_then(|domain| self.brands_by_domain.get(domain))
    }

    /// All brands, ordered by domain ignoring case.
    pub fn brands(&self) -> Vec<&Brand> {
        let mut brands: Vec<(&String, &Brand)> = self.brands_by_domain.iter().collect();
        brands.sort_by(|a, b| a.0.cmp(b.0));
        brands.into_iter().map(|(_, brand)| brand).collect()
    }

    pub fn application(&self, slug: &str) -> Option<&Application> {
        self.applications_by_slug.get(slug)
    }

    /// A linear scan: applications are few, and lookups by id are rare (bindings'
    /// targets, providers) next to lookups by slug.
    pub fn application_by_id(&self, id: uuid::Uuid) -> Option<&Application> {
        self.applications_by_slug.values().find(|app| app.id == id)
    }

    /// All applications, ordered by name ignoring case, then slug (as the store lists
    /// them).
    pub fn applications(&self) -> Vec<&Application> {
        let mut applications: Vec<&Application> = self.applications_by_slug.values().collect();
        applications.sort_by_cached_key(|app| (app.name.to_lowercase(), app.slug.clone()));
        applications
    }
}

impl Catalog {
    pub fn provider(&self, id: ProviderId) -> Option<&Provider> {
        self.providers.get(&id)
    }

    /// All providers, ordered by name.
    pub fn providers(&self) -> Vec<&Provider> {
        let mut providers: Vec<&Provider> = self.providers.values().collect();
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        providers
    }

    pub fn provider_by_client_id(&self, client_id: &str) -> Option<&Provider> {
        self.providers_by_client_id
            .get(client_id)
            .and_then(|id| self.providers.get(id))
    }

    /// The application a provider serves; a provider without one serves nobody.
    pub fn application_of_provider(&self, provider: ProviderId) -> Option<&Application> {
        self.application_of_provider
            .get(&provider)
            .and_then(|slug| self.applications_by_slug.get(slug))
    }

    /// The launcher's URL for an application: its own, else its provider's default (for
    /// a SAML provider, authentik's: the IdP-initiated sign-in, a path on gatehouse).
    pub fn launch_url(&self, application: &Application) -> Option<String> {
        application.launch_url().map(str::to_owned).or_else(|| {
            let provider = application.provider.and_then(|id| self.provider(id))?;
            if provider.saml().is_some() {
                return Some(format!(
                    "/application/saml/{}/sso/binding/init/",
                    application.slug
                ));
            }
            provider.default_launch_url()
        })
    }

    pub fn property_mapping(&self, id: uuid::Uuid) -> Option<&PropertyMapping> {
        self.property_mappings.get(&id)
    }

    /// All property mappings, ordered by name.
    pub fn property_mappings(&self) -> Vec<&PropertyMapping> {
        let mut mappings: Vec<&PropertyMapping> = self.property_mappings.values().collect();
        mappings.sort_by(|a, b| a.name.cmp(&b.name));
        mappings
    }
}

impl Catalog {
    /// All outposts, ordered by name.
    pub fn outposts(&self) -> &[Outpost] {
        &self.outposts
    }

    /// The outpost running inside this process, once bootstrap has created it.
    pub fn embedded_outpost(&self) -> Option<&Outpost> {
        self.outposts.iter().find(|outpost| outpost.is_embedded())
    }
}

/// Shared handle to the current snapshot.
#[derive(Clone, Default)]
pub struct CatalogHandle {
    current: Arc<ArcSwap<Catalog>>,
}

impl CatalogHandle {
    pub fn load(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// Rebuilds the snapshot from the store; call after any configuration write.
    pub async fn reload(&self, db: &Db) -> StoreResult<()> {
        // One read scope, so the snapshot never mixes two states of the configuration.
        let catalog = db
            .read(|tx| {
                Ok(Catalog::from_parts(CatalogParts {
                    flows: tx.all_flows()?,
                    stages: tx.all_stages()?,
                    bindings: tx.all_bindings()?,
                    policies: tx.all_policies()?,
                    policy_bindings: tx.all_policy_bindings()?,
                    brands: tx.all_brands()?,
                    applications: tx.all_applications()?,
                    providers: tx.all_providers()?,
                    property_mappings: tx.all_property_mappings()?,
                    outposts: tx.all_outposts()?,
                })
                .with_keypairs(tx.all_keypairs()?))
            })
            .await?;
        self.current.store(Arc::new(catalog));
        Ok(())
    }
}
