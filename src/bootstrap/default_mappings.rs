//! The managed scope mappings (`openid`, `email`, `profile`, `offline_access`) and
//! authentik's default SAML attribute mappings, created on first start and restored if
//! deleted, as authentik keeps its defaults.

use crate::model::{StandardSamlAttribute, StandardScope};
use crate::store::{StoreResult, WriteTx};

pub fn ensure_default_scope_mappings(tx: &dyn WriteTx) -> StoreResult<()> {
    let existing = tx.all_property_mappings()?;
    for scope in StandardScope::ALL {
        let managed = scope.managed();
        if !existing
            .iter()
            .any(|mapping| mapping.managed.as_deref() == Some(managed.as_str()))
        {
            tx.insert_property_mapping(&scope.mapping())?;
        }
    }
    for attribute in StandardSamlAttribute::ALL {
        let managed = attribute.managed();
        if !existing
            .iter()
            .any(|mapping| mapping.managed.as_deref() == Some(managed.as_str()))
        {
            tx.insert_property_mapping(&attribute.mapping())?;
        }
    }
    Ok(())
}
