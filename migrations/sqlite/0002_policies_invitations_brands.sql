-- 0002 policies, invitations, consents and brands, and the policy engine mode of flows
-- and stage bindings.
--
-- Conventions as in 0001 (`*_key` columns hold the adapter's lowercased value, enums
-- their `as_str()` names, times whole seconds since the Unix epoch). Kinds and other
-- many-shaped values are the serde JSON of the model type; only what is queried or
-- constrained has a column of its own.

CREATE TABLE policies (
    id                TEXT    NOT NULL PRIMARY KEY,
    name              TEXT    NOT NULL,
    name_key          TEXT    NOT NULL UNIQUE,
    execution_logging INTEGER NOT NULL DEFAULT 0,
    kind_json         TEXT    NOT NULL
);

-- binding_json is the whole `PolicyBinding`; the other columns are copies of parts of it,
-- written in the same statement, for lookups: the target for the engine, the policy for
-- `delete_policy` (which removes the bindings itself, so every backend behaves the same
-- without relying on cascades). The reference also refuses a binding to an unknown
-- policy; group and user subjects are not referenced (they may come and go, and a
-- binding to a missing one simply does not match).
CREATE TABLE policy_bindings (
    id           TEXT NOT NULL PRIMARY KEY,
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    policy_id    TEXT REFERENCES policies (id),
    binding_json TEXT NOT NULL
);

CREATE INDEX policy_bindings_target ON policy_bindings (target_kind, target_id);
CREATE INDEX policy_bindings_policy ON policy_bindings (policy_id);

CREATE TABLE invitations (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    expires    INTEGER,
    single_use INTEGER NOT NULL DEFAULT 0,
    fixed_data TEXT    NOT NULL DEFAULT '{}',
    flow       TEXT,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created    INTEGER NOT NULL
);

CREATE INDEX invitations_expires ON invitations (expires);
-- Without it every user delete scans the table to apply ON DELETE SET NULL.
CREATE INDEX invitations_created_by ON invitations (created_by);

CREATE TABLE consents (
    id          TEXT    NOT NULL PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    application TEXT    NOT NULL,
    permissions TEXT    NOT NULL DEFAULT '[]',
    expires     INTEGER,
    UNIQUE (user_id, application)
);

CREATE INDEX consents_expires ON consents (expires);

-- brand_json is the whole `Brand`; domain and default are copied out to be constrained.
CREATE TABLE brands (
    id         TEXT    NOT NULL PRIMARY KEY,
    domain     TEXT    NOT NULL,
    domain_key TEXT    NOT NULL UNIQUE,
    is_default INTEGER NOT NULL DEFAULT 0,
    brand_json TEXT    NOT NULL
);

-- At most one default brand: the one that answers hosts no brand names.
CREATE UNIQUE INDEX brands_one_default ON brands (is_default) WHERE is_default = 1;

ALTER TABLE flows ADD COLUMN policy_engine_mode TEXT NOT NULL DEFAULT 'any';
ALTER TABLE stage_bindings ADD COLUMN policy_engine_mode TEXT NOT NULL DEFAULT 'any';
