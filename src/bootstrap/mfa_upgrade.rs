//! Upgrades for installs from before multi-factor authentication: their default sign-in
//! flow gets the validation stage (skipped for users without a device) between the
//! password and the login, once. Fresh installs have it from `default_flows`.

use crate::model::{BindingId, PolicyEngineMode, StageBinding, StageId, StageKind};
use crate::store::{StoreResult, WriteTx};

use super::default_flows::{MFA_VALIDATION_STAGE, mfa_validation};

/// Set once the validation stage was added to an existing default sign-in flow, so an
/// admin who removes it later does not get it back on the next start.
const MFA_VALIDATION_META: &str = "default_mfa_validation_added";

/// Binds the validation stage between the password stage and the login, once.
pub fn ensure_mfa_validation(tx: &dyn WriteTx) -> StoreResult<()> {
    if tx.meta(MFA_VALIDATION_META)?.is_some() {
        return Ok(());
    }
    tx.set_meta(MFA_VALIDATION_META, "true")?;
    let Some(flow) = tx
        .all_flows()?
        .into_iter()
        .find(|flow| flow.slug == "default-authentication-flow")
    else {
        return Ok(());
    };
    let stages = tx.all_stages()?;
    let kind_of = |id: StageId| stages.iter().find(|stage| stage.id == id).map(|s| &s.kind);
    let bindings: Vec<StageBinding> = tx
        .all_bindings()?
        .into_iter()
        .filter(|binding| binding.flow == flow.id)
        .collect();
    if bindings.iter().any(|binding| {
        matches!(
            kind_of(binding.stage),
            Some(StageKind::AuthenticatorValidate(_))
        )
    }) {
        return Ok(());
    }
    let order_of = |wanted: fn(&StageKind) -> bool| {
        bindings
            .iter()
            .filter(|binding| kind_of(binding.stage).is_some_and(wanted))
            .map(|binding| binding.order)
            .min()
    };
    let Some(login_order) = order_of(|kind| matches!(kind, StageKind::UserLogin(_))) else {
        return Ok(());
    };
    let password_order = order_of(|kind| matches!(kind, StageKind::Password(_)))
        .filter(|order| *order < login_order)
        .unwrap_or(login_order.saturating_sub(10));
    let stage_id = match stages
        .iter()
        .find(|stage| stage.name == MFA_VALIDATION_STAGE)
    {
        Some(found) => found.id,
        None => {
            let created = mfa_validation();
            tx.insert_stage(&created)?;
            created.id
        }
    };
    tx.insert_binding(&StageBinding {
        id: BindingId::random(),
        flow: flow.id,
        stage: stage_id,
        // Midway: after the password, before the login (equal orders keep insertion order).
        order: password_order + (login_order - password_order) / 2,
        evaluate_on_plan: true,
        re_evaluate_policies: false,
        policy_engine_mode: PolicyEngineMode::Any,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::bootstrap::default_flows::ensure_default_flows;
    use crate::store::Db;
    use crate::store::sqlite::SqliteStore;

    /// The default sign-in flow's stage kinds in binding order.
    fn sign_in_kinds(tx: &dyn WriteTx) -> Vec<&'static str> {
        let flow = tx
            .all_flows()
            .unwrap()
            .into_iter()
            .find(|flow| flow.slug == "default-authentication-flow")
            .unwrap();
        let stages = tx.all_stages().unwrap();
        let mut bindings: Vec<StageBinding> = tx
            .all_bindings()
            .unwrap()
            .into_iter()
            .filter(|binding| binding.flow == flow.id)
            .collect();
        bindings.sort_by_key(|binding| binding.order);
        bindings
            .iter()
            .map(|binding| {
                let stage = stages
                    .iter()
                    .find(|stage| stage.id == binding.stage)
                    .unwrap();
                match stage.kind {
                    StageKind::Identification(_) => "identification",
                    StageKind::Password(_) => "password",
                    StageKind::AuthenticatorValidate(_) => "validate",
                    StageKind::UserLogin(_) => "login",
                    _ => "other",
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn an_install_from_before_mfa_gets_the_validation_stage_once() {
        let db = Db::new(Arc::new(SqliteStore::open_in_memory().unwrap()));
        db.write(|tx| {
            ensure_default_flows(tx)?;
            // As an older version left it: no validation stage, no marker.
            let validation = tx
                .all_stages()?
                .into_iter()
                .find(|stage| stage.name == MFA_VALIDATION_STAGE)
                .expect("fresh installs have it");
            for binding in tx.all_bindings()? {
                if binding.stage == validation.id {
                    tx.delete_binding(&binding)?;
                }
            }
            assert_eq!(sign_in_kinds(tx), ["identification", "password", "login"]);
            ensure_mfa_validation(tx)?;
            assert_eq!(
                sign_in_kinds(tx),
                ["identification", "password", "validate", "login"]
            );
            // Removed by an admin afterwards: it stays removed.
            for binding in tx.all_bindings()? {
                if binding.stage == validation.id {
                    tx.delete_binding(&binding)?;
                }
            }
            ensure_mfa_validation(tx)?;
            assert_eq!(sign_in_kinds(tx), ["identification", "password", "login"]);
            Ok(())
        })
        .await
        .unwrap();
    }
}
