//! Second factors: the device logic the flow stages, the API and the headless
//! validation (LDAP bind, RADIUS) share. TOTP (`totp`), recovery codes
//! (`static_codes`), the QR code of an enrollment (`qr`), and checking a typed code
//! against whatever devices a user has (`validate`), and WebAuthn ceremonies for passkeys
//! and security keys (`webauthn`).

pub mod email_codes;
pub mod qr;
pub mod static_codes;
pub mod totp;
pub mod validate;
pub mod webauthn;
