-- 0005 certificate_keypairs: certificates and their (sealed) private keys, for signing
-- tokens and serving JWKS.
--
-- Columns rather than one JSON blob: every field is plain and fixed, and the rename is
-- the only update. key_sealed is the private key PEM sealed with the installation's
-- secret key (NULL for a certificate without a key); it is never stored in clear.
CREATE TABLE certificate_keypairs (
    id              TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    certificate_pem TEXT    NOT NULL,
    key_sealed      TEXT,
    key_type        TEXT    NOT NULL,
    kid             TEXT    NOT NULL,
    not_before      INTEGER NOT NULL,
    not_after       INTEGER NOT NULL,
    managed         TEXT,
    created         INTEGER NOT NULL
);
