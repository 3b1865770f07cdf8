//! The directory views of the LDAP providers, kept in memory and rebuilt from the store
//! when the identity epoch moves (a user, group, membership or token changed) or the
//! provider's settings change. A search reads only the view.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::model::{GroupId, ProviderId, UserId};
use crate::store::{Db, ListQuery, StoreResult};

use super::view::{DirectoryView, ViewSettings};

struct Built {
    epoch: u64,
    settings: ViewSettings,
    view: Arc<DirectoryView>,
}

#[derive(Default)]
pub struct Directories {
    built: Mutex<HashMap<ProviderId, Arc<Built>>>,
}

impl Directories {
    /// The provider's view as of `epoch`, built when missing or stale.
    pub async fn view(
        &self,
        db: &Db,
        epoch: u64,
        provider: ProviderId,
        settings: &ViewSettings,
    ) -> StoreResult<Arc<DirectoryView>> {
        let current = self
            .built
            .lock()
            .ok()
            .and_then(|built| built.get(&provider).cloned());
        if let Some(built) = current {
            if built.epoch == epoch && &built.settings == settings {
                return Ok(Arc::clone(&built.view));
            }
        }
        let view = Arc::new(load(db, settings).await?);
        if let Ok(mut built) = self.built.lock() {
            built.insert(
                provider,
                Arc::new(Built {
                    epoch,
                    settings: settings.clone(),
                    view: Arc::clone(&view),
                }),
            );
        }
        Ok(view)
    }
}

/// Every user, group and membership, in one read scope.
async fn load(db: &Db, settings: &ViewSettings) -> StoreResult<DirectoryView> {
    let settings = settings.clone();
    db.read(move |tx| {
        let users = tx
            .list_users(&ListQuery {
                offset: 0,
                // The whole directory: a homelab has hundreds of users, not millions.
                limit: 10_000_000,
                ..ListQuery::default()
            })?
            .items;
        let groups = tx.all_groups()?;
        let mut memberships: Vec<(UserId, GroupId)> = Vec::new();
        for group in &groups {
            for user in tx.members_of_group(group.id)? {
                memberships.push((user, group.id));
            }
        }
        Ok(DirectoryView::build(
            &settings,
            &users,
            &groups,
            &memberships,
        ))
    })
    .await
}
