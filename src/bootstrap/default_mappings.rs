//! The managed scope mappings (`openid`, `email`, `profile`, `offline_access`), created
//! on first start and restored if deleted, as authentik keeps its defaults.

use crate::model::StandardScope;
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
    Ok(())
}
