//! Storage errors: every driver error becomes one of these four, so callers never see a
//! backend's own error type.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule was broken; the text names what (e.g. "username").
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database is locked or overloaded; retrying later may succeed.
    #[error("storage busy")]
    Busy,
    #[error("storage backend: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
