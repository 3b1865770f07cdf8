//! The directory views of the LDAP providers, kept in memory and rebuilt from the store
//! when the directory epoch moves (a user, group, membership or token changed) or the
//! provider's settings change. A search reads only the view. One rebuild at a time:
//! the searches that arrive during a rebuild wait for it and share its result instead
//! of each reading the whole directory again.

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
    rebuilding: tokio::sync::Mutex<()>,
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
        if let Some(view) = self.current(epoch, provider, settings) {
            return Ok(view);
        }
        let _rebuilding = self.rebuilding.lock().await;
        // Built by the search this one waited for?
        if let Some(view) = self.current(epoch, provider, settings) {
            return Ok(view);
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

    fn current(
        &self,
        epoch: u64,
        provider: ProviderId,
        settings: &ViewSettings,
    ) -> Option<Arc<DirectoryView>> {
        let built = self.built.lock().ok()?.get(&provider).cloned()?;
        (built.epoch == epoch && &built.settings == settings).then(|| Arc::clone(&built.view))
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
