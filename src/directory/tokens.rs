//! Building tokens: the key is returned once to the caller and stored only as a digest
//! (to find it) and sealed (so its owner can view it again).

use crate::crypto::{SecretBox, random::random_alphanumeric, sha256_hex};
use crate::model::{Timestamp, Token, TokenIntent, UserId};

/// Length of generated keys: 64 characters from a 57-letter alphabet (~373 bits).
pub const KEY_LENGTH: usize = 64;

pub struct TokenDraft {
    pub identifier: String,
    pub user: UserId,
    pub intent: TokenIntent,
    pub description: String,
    pub expires: Option<Timestamp>,
    pub expiring: bool,
    pub managed: Option<String>,
}

pub fn generate_key() -> String {
    random_alphanumeric(KEY_LENGTH)
}

pub fn build_token(draft: TokenDraft, key: &str, secret_box: &SecretBox, now: Timestamp) -> Token {
    Token {
        identifier: draft.identifier,
        uuid: uuid::Uuid::new_v4(),
        user: draft.user,
        intent: draft.intent,
        description: draft.description,
        expires: draft.expires,
        expiring: draft.expiring,
        managed: draft.managed,
        key_digest: sha256_hex(key.as_bytes()),
        key_sealed: secret_box.seal(key),
        created: now,
    }
}

/// Identifiers are slugs: letters, digits, `-`, `_`, `.`; 1 to 100 characters.
pub fn valid_identifier(identifier: &str) -> bool {
    !identifier.is_empty()
        && identifier.len() <= 100
        && identifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
