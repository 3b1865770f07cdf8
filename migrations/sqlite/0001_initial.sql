-- 0001 initial: the directory (users, groups, memberships, tokens), the flow catalog
-- (flows, stages, bindings), audit events and small installation values.
--
-- Conventions shared with the other backends' lists of the same number:
-- * ids are TEXT uuids except users.id and groups.num_pk, which are integers that are
--   never reused (AUTOINCREMENT), so a stale session can never point at a new user;
-- * `*_key` columns hold the value lowercased by the adapter (Unicode-aware, in Rust),
--   so case-insensitive uniqueness and lookups behave the same on every backend;
-- * enums are stored as their `as_str()` names, JSON maps and objects as TEXT;
-- * times are whole seconds since the Unix epoch.

CREATE TABLE users (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid             TEXT    NOT NULL UNIQUE,
    username         TEXT    NOT NULL,
    username_key     TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL DEFAULT '',
    email            TEXT    NOT NULL DEFAULT '',
    email_key        TEXT    NOT NULL DEFAULT '',
    is_active        INTEGER NOT NULL DEFAULT 1,
    user_type        TEXT    NOT NULL,
    path             TEXT    NOT NULL DEFAULT 'users',
    attributes       TEXT    NOT NULL DEFAULT '{}',
    last_login       INTEGER,
    password_hash    TEXT,
    password_changed INTEGER,
    created          INTEGER NOT NULL
);

CREATE INDEX users_email_key ON users (email_key);

CREATE TABLE groups (
    num_pk       INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL UNIQUE,
    parent       TEXT    REFERENCES groups (id) ON DELETE SET NULL,
    is_superuser INTEGER NOT NULL DEFAULT 0,
    attributes   TEXT    NOT NULL DEFAULT '{}'
);

CREATE INDEX groups_parent ON groups (parent);

CREATE TABLE group_members (
    group_id TEXT    NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE tokens (
    identifier  TEXT    NOT NULL PRIMARY KEY,
    uuid        TEXT    NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    intent      TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    expires     INTEGER,
    expiring    INTEGER NOT NULL DEFAULT 1,
    managed     TEXT    UNIQUE,
    key_digest  TEXT    NOT NULL UNIQUE,
    key_sealed  TEXT    NOT NULL,
    created     INTEGER NOT NULL
);

CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_expires ON tokens (expires);

CREATE TABLE flows (
    id             TEXT NOT NULL PRIMARY KEY,
    slug           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    title          TEXT NOT NULL DEFAULT '',
    designation    TEXT NOT NULL,
    authentication TEXT NOT NULL,
    layout         TEXT NOT NULL DEFAULT 'stacked'
);

CREATE TABLE stages (
    id        TEXT NOT NULL PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    kind_json TEXT NOT NULL
);

CREATE TABLE stage_bindings (
    id                   TEXT    NOT NULL PRIMARY KEY,
    flow_id              TEXT    NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    stage_id             TEXT    NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    ord                  INTEGER NOT NULL,
    evaluate_on_plan     INTEGER NOT NULL DEFAULT 0,
    re_evaluate_policies INTEGER NOT NULL DEFAULT 1
);

CREATE INDEX stage_bindings_flow ON stage_bindings (flow_id, ord);
CREATE INDEX stage_bindings_stage ON stage_bindings (stage_id);

-- Events keep the acting user as a JSON copy, not a reference: the audit trail outlives
-- the account.
CREATE TABLE events (
    id        TEXT    NOT NULL PRIMARY KEY,
    action    TEXT    NOT NULL,
    user_json TEXT,
    client_ip TEXT,
    context   TEXT    NOT NULL DEFAULT '{}',
    created   INTEGER NOT NULL
);

CREATE INDEX events_created ON events (created);

CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
