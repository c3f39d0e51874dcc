//! REST errors: every failure is JSON `{error, message}` with a stable code.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Body is not JSON, or not an object at all.
    #[error("{0}")]
    Malformed(String),
    /// Well-formed but wrong: unknown field, bad value.
    #[error("{0}")]
    Invalid(String),
    #[error("missing, bad, expired or revoked token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<StoreError>),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_json",
            Self::Invalid(_) => "invalid",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Internal(_) => "internal",
            Self::Unavailable(_) => "unavailable",
        }
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Duplicate(_) => Self::Conflict("already exists".into()),
            StoreError::Invalid(m) => Self::Invalid(m),
            other => Self::Unavailable(Box::new(other)),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if matches!(self, Self::Internal(_) | Self::Unavailable(_)) {
            tracing::error!(error = ?self, "request failed");
        }
        HttpResponse::build(self.status_code())
            .json(json!({ "error": self.code(), "message": self.to_string() }))
    }
}

/// Maps actix's JSON body errors: bad syntax is 400, a well-formed body of
/// the wrong shape (unknown field, wrong type) is 422.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::Deserialize(e) if e.is_data() => ApiError::Invalid(e.to_string()),
        E::ContentType => ApiError::Malformed("Content-Type must be application/json".into()),
        other => ApiError::Malformed(other.to_string()),
    };
    api.into()
}
