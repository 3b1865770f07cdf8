-- 0004 applications: the launcher entries and access gates users sign in to.
--
-- Conventions as in 0001/0002: app_json is the whole `Application`; the slug is copied
-- out to be unique, the name to order by. Policy bindings to an application live in
-- policy_bindings (target_kind 'application'); `delete_application` removes them itself,
-- as `delete_policy` does, so every backend behaves the same without cascades.
CREATE TABLE applications (
    id       TEXT NOT NULL PRIMARY KEY,
    slug     TEXT NOT NULL UNIQUE,
    name_key TEXT NOT NULL,
    app_json TEXT NOT NULL
);
