//! Groups: nested through `parent`; a superuser group makes its members (and the members
//! of its descendants) administrators.

use serde::{Deserialize, Serialize};

use super::GroupId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    /// A small integer id, as authentik's `num_pk` (used for LDAP gidNumber later).
    pub num_pk: i64,
    pub name: String,
    pub parent: Option<GroupId>,
    pub is_superuser: bool,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub id: GroupId,
    pub name: String,
    pub parent: Option<GroupId>,
    pub is_superuser: bool,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}
