//! The catalog snapshot: configuration objects (flows, stages, bindings; later
//! applications, providers, brands and keys) held in one immutable in-memory value and
//! swapped whole when any of them changes, so hot paths never query the database for
//! configuration.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::model::{Flow, FlowDesignation, FlowId, Stage, StageBinding, StageId};

use super::{Db, StoreResult};

#[derive(Debug, Default)]
pub struct Catalog {
    flows_by_slug: HashMap<String, Flow>,
    stages: HashMap<StageId, Stage>,
    bindings_by_flow: HashMap<FlowId, Vec<StageBinding>>,
}

impl Catalog {
    pub fn build(flows: Vec<Flow>, stages: Vec<Stage>, bindings: Vec<StageBinding>) -> Catalog {
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
        Catalog {
            flows_by_slug: flows.into_iter().map(|f| (f.slug.clone(), f)).collect(),
            stages: stages.into_iter().map(|s| (s.id, s)).collect(),
            bindings_by_flow,
        }
    }

    pub fn flow(&self, slug: &str) -> Option<&Flow> {
        self.flows_by_slug.get(slug)
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
        let catalog = db
            .read(|tx| {
                Ok(Catalog::build(
                    tx.all_flows()?,
                    tx.all_stages()?,
                    tx.all_bindings()?,
                ))
            })
            .await?;
        self.current.store(Arc::new(catalog));
        Ok(())
    }
}
