-- 0008 devices: users' second factors (TOTP, recovery codes, WebAuthn credentials,
-- email). The kind's data is JSON; the class and the WebAuthn credential id are copied
-- out, the latter unique so one authenticator cannot be registered twice.
CREATE TABLE authenticator_devices (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    class         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    confirmed     INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    last_updated  INTEGER NOT NULL,
    last_used     INTEGER,
    credential_id TEXT UNIQUE,
    data_json     TEXT    NOT NULL
);
CREATE INDEX authenticator_devices_user ON authenticator_devices (user_id);
