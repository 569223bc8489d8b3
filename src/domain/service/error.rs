//! The services' error. Each variant means one thing to a caller; the HTTP layer maps each to
//! exactly one status code (`adapters/http/rejection.rs`).

use crate::domain::error::{FieldError, Invalid};
use crate::ports::StorageError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The request conflicts with the current state (e.g. deleting an active campaign).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("sketch already submitted")]
    AlreadySubmitted,
    #[error("the collection window of this sketch has closed")]
    WindowClosed,
    /// Something the service needs does not answer now (the text says what and why): a retry
    /// later may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// Something the service needs failed (the text says what and why).
    #[error("{0}")]
    Failure(String),
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        ServiceError::Invalid(e.0)
    }
}

/// Not found stays not found and a taken name is a conflict; an outage or a fault keeps the
/// storage's description (`storage unavailable: …`, `storage failure: …`) for the logs.
impl From<StorageError> for ServiceError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => ServiceError::NotFound,
            StorageError::AlreadyExists => ServiceError::Conflict("already exists".into()),
            StorageError::Unavailable(_) => ServiceError::Unavailable(e.to_string()),
            StorageError::Failure(_) => ServiceError::Failure(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_keep_their_meaning_and_their_cause() {
        assert_eq!(
            ServiceError::from(StorageError::NotFound),
            ServiceError::NotFound
        );
        assert!(matches!(
            ServiceError::from(StorageError::AlreadyExists),
            ServiceError::Conflict(_)
        ));
        assert_eq!(
            ServiceError::from(StorageError::Unavailable("connection refused".into())),
            ServiceError::Unavailable("storage unavailable: connection refused".into())
        );
        assert_eq!(
            ServiceError::from(StorageError::Failure("deadlock".into())).to_string(),
            "storage failure: deadlock"
        );
        assert_eq!(
            ServiceError::from(Invalid::field("tail", "should be at least 1")),
            ServiceError::invalid("tail", "should be at least 1")
        );
    }
}
