//! Why a lesson workflow said no, whoever asked (a route, a timer, a
//! webhook, an actor). The REST layer turns these into status codes in one
//! place (`crate::routes::error`).

use cms_store::StoreError;

use super::Clash;

#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    /// The request itself is wrong (a bad time, an unknown zone, …).
    #[error("{0}")]
    Invalid(String),
    /// Nothing the caller may see goes by that id.
    #[error("{0}")]
    NotFound(String),
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// What is stored now does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// The time is taken: each clash names what is in the way.
    #[error("{message}")]
    Clashes {
        message: String,
        clashes: Vec<Clash>,
    },
    /// A limit was hit; worth trying again after `retry_after`.
    #[error("{message}")]
    TooMany {
        message: String,
        retry_after: std::time::Duration,
    },
    /// Boxed: a store error is large, and lesson errors travel by value.
    #[error(transparent)]
    Store(Box<StoreError>),
}

impl From<StoreError> for LessonError {
    fn from(e: StoreError) -> Self {
        Self::Store(Box::new(e))
    }
}

pub type Result<T, E = LessonError> = std::result::Result<T, E>;
