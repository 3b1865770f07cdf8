//! Policies and policy bindings in SQLite. A policy's settings are one JSON column (the
//! serde form of `PolicyKind`), and a binding is stored whole as JSON beside copies of
//! its target and policy, so a new policy kind or target needs no migration.

use rusqlite::Row;

use super::SqliteTx;
use super::codec::{
    col, collect, expect_changed, id_col, json_col, sql_error, sql_error_ref, to_json,
};
use crate::model::{
    BindingSubject, Policy, PolicyBinding, PolicyBindingId, PolicyId, PolicyTarget,
};
use crate::store::{PolicyReads, PolicyWrites, StoreResult};

fn decode_policy(row: &Row<'_>) -> StoreResult<Policy> {
    const TABLE: &str = "policies";
    Ok(Policy {
        id: id_col(row, 0, TABLE)?,
        name: col(row, 1, TABLE)?,
        execution_logging: col(row, 2, TABLE)?,
        kind: json_col(row, 3, TABLE)?,
    })
}

fn decode_binding(row: &Row<'_>) -> StoreResult<PolicyBinding> {
    json_col(row, 0, "policy_bindings")
}

fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// The target as the `(target_kind, target_id)` columns hold it.
fn target_columns(target: &PolicyTarget) -> (&'static str, String) {
    match target {
        PolicyTarget::Flow(id) => ("flow", id.to_string()),
        PolicyTarget::StageBinding(id) => ("stage_binding", id.to_string()),
        PolicyTarget::Application(id) => ("application", id.to_string()),
    }
}

/// The `policy_id` column: set only for policy subjects, the one kind it references.
fn policy_column(subject: &BindingSubject) -> Option<String> {
    match subject {
        BindingSubject::Policy(id) => Some(id.to_string()),
        BindingSubject::Group(_) | BindingSubject::User(_) => None,
    }
}

/// The columns in the order of the statements below (?1..?5).
fn binding_params(binding: &PolicyBinding) -> StoreResult<[Option<String>; 5]> {
    let (kind, target) = target_columns(&binding.target);
    Ok([
        Some(binding.id.to_string()),
        Some(kind.to_owned()),
        Some(target),
        policy_column(&binding.subject),
        Some(to_json(binding)?),
    ])
}

impl PolicyReads for SqliteTx<'_> {
    fn all_policies(&self) -> StoreResult<Vec<Policy>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, name, execution_logging, kind_json FROM policies ORDER BY name_key",
            )
            .map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode_policy)
    }

    fn all_policy_bindings(&self) -> StoreResult<Vec<PolicyBinding>> {
        // The order lives only in the JSON; reading it there keeps one source of truth.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT binding_json FROM policy_bindings
                 ORDER BY target_kind, target_id, json_extract(binding_json, '$.order'), id",
            )
            .map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode_binding)
    }
}

impl PolicyWrites for SqliteTx<'_> {
    fn insert_policy(&self, policy: &Policy) -> StoreResult<()> {
        let kind = to_json(&policy.kind)?;
        self.conn
            .prepare_cached(
                "INSERT INTO policies (id, name, name_key, execution_logging, kind_json)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    policy.id.to_string(),
                    policy.name,
                    fold(&policy.name),
                    policy.execution_logging,
                    kind,
                ])
            })
            .map_err(sql_error)?;
        Ok(())
    }

    fn update_policy(&self, policy: &Policy) -> StoreResult<()> {
        let kind = to_json(&policy.kind)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE policies SET name = ?2, name_key = ?3, execution_logging = ?4,
                    kind_json = ?5
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    policy.id.to_string(),
                    policy.name,
                    fold(&policy.name),
                    policy.execution_logging,
                    kind,
                ])
            })
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    /// The bindings go first, here rather than by a cascade, so every backend removes
    /// them the same way (and the reference would refuse the delete otherwise).
    fn delete_policy(&self, id: PolicyId) -> StoreResult<()> {
        let id = id.to_string();
        self.conn
            .prepare_cached("DELETE FROM policy_bindings WHERE policy_id = ?1")
            .and_then(|mut stmt| stmt.execute([&id]))
            .map_err(sql_error)?;
        let changed = self
            .conn
            .prepare_cached("DELETE FROM policies WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([&id]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn insert_policy_binding(&self, binding: &PolicyBinding) -> StoreResult<()> {
        let params = binding_params(binding)?;
        self.conn
            .prepare_cached(
                "INSERT INTO policy_bindings
                    (id, target_kind, target_id, policy_id, binding_json)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| stmt.execute(params))
            // The policy is the only reference a binding holds.
            .map_err(sql_error_ref("policy"))?;
        Ok(())
    }

    fn update_policy_binding(&self, binding: &PolicyBinding) -> StoreResult<()> {
        let params = binding_params(binding)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE policy_bindings SET target_kind = ?2, target_id = ?3, policy_id = ?4,
                    binding_json = ?5
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params))
            // The policy is the only reference a binding holds.
            .map_err(sql_error_ref("policy"))?;
        expect_changed(changed)
    }

    fn delete_policy_binding(&self, id: PolicyBindingId) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached("DELETE FROM policy_bindings WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.to_string()]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }
}
