//! Flows, stages and stage bindings in SQLite. A stage's settings are one JSON column
//! (the serde form of `StageKind`), so a new stage kind needs no migration.

use rusqlite::Row;

use super::SqliteTx;
use super::codec::{
    col, collect, enum_col, expect_changed, id_col, is_foreign_key, json_col, sql_error, to_json,
};
use crate::model::{
    Flow, FlowAuthentication, FlowDesignation, FlowId, PolicyEngineMode, Stage, StageBinding,
    StageId,
};
use crate::store::{FlowReads, FlowWrites, StoreError, StoreResult};

fn decode_flow(row: &Row<'_>) -> StoreResult<Flow> {
    const TABLE: &str = "flows";
    Ok(Flow {
        id: id_col(row, 0, TABLE)?,
        slug: col(row, 1, TABLE)?,
        name: col(row, 2, TABLE)?,
        title: col(row, 3, TABLE)?,
        designation: enum_col(row, 4, TABLE, FlowDesignation::parse)?,
        authentication: enum_col(row, 5, TABLE, FlowAuthentication::parse)?,
        layout: col(row, 6, TABLE)?,
        policy_engine_mode: enum_col(row, 7, TABLE, parse_engine_mode)?,
    })
}

fn decode_stage(row: &Row<'_>) -> StoreResult<Stage> {
    const TABLE: &str = "stages";
    Ok(Stage {
        id: id_col(row, 0, TABLE)?,
        name: col(row, 1, TABLE)?,
        kind: json_col(row, 2, TABLE)?,
    })
}

fn decode_binding(row: &Row<'_>) -> StoreResult<StageBinding> {
    const TABLE: &str = "stage_bindings";
    Ok(StageBinding {
        id: id_col(row, 0, TABLE)?,
        flow: id_col(row, 1, TABLE)?,
        stage: id_col(row, 2, TABLE)?,
        order: col(row, 3, TABLE)?,
        evaluate_on_plan: col(row, 4, TABLE)?,
        re_evaluate_policies: col(row, 5, TABLE)?,
        policy_engine_mode: enum_col(row, 6, TABLE, parse_engine_mode)?,
    })
}

/// The inverse of `PolicyEngineMode::as_str`, which the model does not provide.
fn parse_engine_mode(raw: &str) -> Option<PolicyEngineMode> {
    [PolicyEngineMode::Any, PolicyEngineMode::All]
        .into_iter()
        .find(|mode| mode.as_str() == raw)
}

impl SqliteTx<'_> {
    fn all<T>(&self, sql: &str, decode: fn(&Row<'_>) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode)
    }

    fn delete_by_id(&self, sql: &str, id: String) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute([id]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    /// SQLite does not say which reference of a binding failed; one lookup tells.
    fn missing_binding_target(&self, binding: &StageBinding) -> StoreError {
        let flow_exists = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM flows WHERE id = ?1)")
            .and_then(|mut stmt| stmt.query_row([binding.flow.to_string()], |row| row.get(0)))
            .unwrap_or(false);
        StoreError::Conflict(if flow_exists { "stage" } else { "flow" }.to_owned())
    }
}

impl FlowReads for SqliteTx<'_> {
    /// Ordered by slug.
    fn all_flows(&self) -> StoreResult<Vec<Flow>> {
        self.all(
            "SELECT id, slug, name, title, designation, authentication, layout,
                policy_engine_mode
             FROM flows ORDER BY slug",
            decode_flow,
        )
    }

    /// Ordered by name.
    fn all_stages(&self) -> StoreResult<Vec<Stage>> {
        self.all(
            "SELECT id, name, kind_json FROM stages ORDER BY name",
            decode_stage,
        )
    }

    /// Grouped by flow, in execution order within each flow.
    fn all_bindings(&self) -> StoreResult<Vec<StageBinding>> {
        self.all(
            "SELECT id, flow_id, stage_id, ord, evaluate_on_plan, re_evaluate_policies,
                policy_engine_mode
             FROM stage_bindings ORDER BY flow_id, ord, id",
            decode_binding,
        )
    }
}

impl FlowWrites for SqliteTx<'_> {
    fn insert_flow(&self, flow: &Flow) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO flows
                    (id, slug, name, title, designation, authentication, layout,
                     policy_engine_mode)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut stmt| stmt.execute(flow_params(flow)))
            .map_err(sql_error)?;
        Ok(())
    }

    fn update_flow(&self, flow: &Flow) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE flows SET slug = ?2, name = ?3, title = ?4, designation = ?5,
                    authentication = ?6, layout = ?7, policy_engine_mode = ?8
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(flow_params(flow)))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn delete_flow(&self, id: FlowId) -> StoreResult<()> {
        // Bindings go with the flow (ON DELETE CASCADE).
        self.delete_by_id("DELETE FROM flows WHERE id = ?1", id.to_string())
    }

    fn insert_stage(&self, stage: &Stage) -> StoreResult<()> {
        let kind = to_json(&stage.kind)?;
        self.conn
            .prepare_cached("INSERT INTO stages (id, name, kind_json) VALUES (?1, ?2, ?3)")
            .and_then(|mut stmt| stmt.execute((stage.id.to_string(), &stage.name, kind)))
            .map_err(sql_error)?;
        Ok(())
    }

    fn update_stage(&self, stage: &Stage) -> StoreResult<()> {
        let kind = to_json(&stage.kind)?;
        let changed = self
            .conn
            .prepare_cached("UPDATE stages SET name = ?2, kind_json = ?3 WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute((stage.id.to_string(), &stage.name, kind)))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn delete_stage(&self, id: StageId) -> StoreResult<()> {
        // Bindings of the stage go with it (ON DELETE CASCADE).
        self.delete_by_id("DELETE FROM stages WHERE id = ?1", id.to_string())
    }

    /// An unknown flow or stage is `Conflict("flow")` / `Conflict("stage")`.
    fn insert_binding(&self, binding: &StageBinding) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO stage_bindings
                    (id, flow_id, stage_id, ord, evaluate_on_plan, re_evaluate_policies,
                     policy_engine_mode)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut stmt| stmt.execute(binding_params(binding)))
            .map_err(|error| {
                if is_foreign_key(&error) {
                    self.missing_binding_target(binding)
                } else {
                    sql_error(error)
                }
            })?;
        Ok(())
    }

    fn update_binding(&self, binding: &StageBinding) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE stage_bindings SET flow_id = ?2, stage_id = ?3, ord = ?4,
                    evaluate_on_plan = ?5, re_evaluate_policies = ?6, policy_engine_mode = ?7
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(binding_params(binding)))
            .map_err(|error| {
                if is_foreign_key(&error) {
                    self.missing_binding_target(binding)
                } else {
                    sql_error(error)
                }
            })?;
        expect_changed(changed)
    }

    fn delete_binding(&self, binding: &StageBinding) -> StoreResult<()> {
        self.delete_by_id(
            "DELETE FROM stage_bindings WHERE id = ?1",
            binding.id.to_string(),
        )
    }
}

/// Columns in the order both binding statements number them (`?1` is the id).
fn binding_params(
    binding: &StageBinding,
) -> (String, String, String, i32, bool, bool, &'static str) {
    (
        binding.id.to_string(),
        binding.flow.to_string(),
        binding.stage.to_string(),
        binding.order,
        binding.evaluate_on_plan,
        binding.re_evaluate_policies,
        binding.policy_engine_mode.as_str(),
    )
}

fn flow_params(flow: &Flow) -> [String; 8] {
    [
        flow.id.to_string(),
        flow.slug.clone(),
        flow.name.clone(),
        flow.title.clone(),
        flow.designation.as_str().to_owned(),
        flow.authentication.as_str().to_owned(),
        flow.layout.clone(),
        flow.policy_engine_mode.as_str().to_owned(),
    ]
}
