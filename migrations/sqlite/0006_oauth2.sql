-- 0006 OAuth2/OpenID Connect: providers, scope (property) mappings and refresh tokens.
--
-- Providers and mappings follow the house rule for kinds: the whole object as JSON, with
-- the few columns that must be unique copied out. Refresh tokens are rows of their own:
-- they are looked up by the SHA-256 of the token, and a family (grant) is revoked at once.
-- No index on `expires`: every index is one more page written per issued token (the token
-- endpoint's hot path), and the purge that would use it runs every five minutes.
-- Providers have integer keys, as authentik's (its API clients expect numbers).
CREATE TABLE providers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL,
    client_id     TEXT UNIQUE,
    provider_json TEXT NOT NULL
);

CREATE TABLE property_mappings (
    id           TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    managed      TEXT UNIQUE,
    mapping_json TEXT NOT NULL
);

CREATE TABLE oauth_refresh_tokens (
    token_hash  TEXT    NOT NULL PRIMARY KEY,
    grant_id    TEXT    NOT NULL,
    provider_id INTEGER NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes      TEXT    NOT NULL,
    auth_time   INTEGER NOT NULL,
    expires     INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    used        INTEGER NOT NULL DEFAULT 0,
    revoked     INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id);
CREATE INDEX oauth_refresh_tokens_user ON oauth_refresh_tokens (user_id);
