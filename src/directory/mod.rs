//! Directory rules that span several aggregates: who is a superuser (a member of a
//! superuser group or of any group below one), and the group tree.

pub mod access;
pub mod tokens;

use std::collections::{HashMap, HashSet};

use crate::model::{Group, GroupId, UserId};
use crate::store::{ReadTx, StoreResult};

/// The user's groups with every ancestor, without repeats (cycles are cut).
pub fn groups_with_ancestors(tx: &dyn ReadTx, user: UserId) -> StoreResult<Vec<Group>> {
    let direct = tx.groups_of_user(user)?;
    if direct.iter().all(|group| group.parent.is_none()) {
        return Ok(direct);
    }
    let all: HashMap<GroupId, Group> = tx
        .all_groups()?
        .into_iter()
        .map(|group| (group.id, group))
        .collect();
    let mut seen = HashSet::new();
    let mut result = Vec::new();
    for group in direct {
        let mut current = Some(group);
        while let Some(group) = current {
            if !seen.insert(group.id) {
                break;
            }
            current = group.parent.and_then(|parent| all.get(&parent).cloned());
            result.push(group);
        }
    }
    Ok(result)
}

pub fn is_superuser(tx: &dyn ReadTx, user: UserId) -> StoreResult<bool> {
    Ok(groups_with_ancestors(tx, user)?
        .iter()
        .any(|group| group.is_superuser))
}
