//! REST errors: every failure is JSON `{error, message}` with a stable
//! code. Errors of the layers below (use cases, store) are mapped here, in
//! one place; their text goes to the log, never to the client, unless it is
//! a message written for people (a refusal, a validation).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use cms_domain::Refusal;
use cms_store::StoreError;

use crate::accounts::AccountError;
use crate::auth::PasswordError;
use crate::lessons::LessonError;

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
    /// A conflict with more to say: the extra object's fields are added to
    /// the body (e.g. `clashes`).
    #[error("{0}")]
    ConflictWith(String, serde_json::Value),
    /// The body is larger than the limit: 413.
    #[error("{0}")]
    TooLarge(String),
    /// The upload is not a type the platform takes: 415.
    #[error("{0}")]
    Unsupported(String),
    /// The request did not arrive in time (a slow body): 408.
    #[error("{0}")]
    Timeout(String),
    /// A limit was hit: 429 with `Retry-After` (whole seconds, at least 1)
    /// when the wait is known.
    #[error("{message}")]
    TooMany {
        message: String,
        retry_after: Option<std::time::Duration>,
    },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<StoreError>),
    /// A service the request needs is off or out of reach (billing without
    /// Stripe, Stripe down): 503 with our words.
    #[error("{0}")]
    ServiceUnavailable(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_json",
            Self::Invalid(_) => "invalid",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) | Self::ConflictWith(..) => "conflict",
            Self::TooMany { .. } => "too_many_requests",
            Self::TooLarge(_) => "payload_too_large",
            Self::Unsupported(_) => "unsupported_media_type",
            Self::Timeout(_) => "request_timeout",
            Self::Internal(_) => "internal",
            Self::Unavailable(_) | Self::ServiceUnavailable(_) => "unavailable",
        }
    }

    /// 429 with `Retry-After`.
    pub fn too_many(message: impl Into<String>, retry_after: std::time::Duration) -> Self {
        Self::TooMany {
            message: message.into(),
            retry_after: Some(retry_after),
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
            // The schema's own words name its internals: they go to the
            // log, the client gets ours.
            StoreError::Invalid(m) => {
                tracing::warn!(error = %m, "the store's schema refused a value");
                Self::Invalid("a value is outside what the platform stores".into())
            }
            // A tutor without a valid DBS: the reason's code too, so an app
            // can say what to do about it.
            StoreError::Refused(r @ Refusal::DbsNotValid(gap)) => {
                Self::ConflictWith(r.to_string(), json!({ "reason": gap.as_str() }))
            }
            // Every refusal is a rule the request broke against what is
            // stored now: a conflict the caller can read.
            StoreError::Refused(r) => Self::Conflict(r.to_string()),
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
            Self::Conflict(_) | Self::ConflictWith(..) => StatusCode::CONFLICT,
            Self::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) | Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if matches!(self, Self::Internal(_) | Self::Unavailable(_)) {
            tracing::error!(error = ?self, "request failed");
        }
        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        if let (Self::ConflictWith(_, serde_json::Value::Object(extra)), Some(map)) =
            (self, body.as_object_mut())
        {
            for (k, v) in extra {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let mut res = HttpResponse::build(self.status_code());
        if let Self::TooMany {
            retry_after: Some(wait),
            ..
        } = self
        {
            // Rounded up: a client that waits exactly this long is let in.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            res.insert_header((actix_web::http::header::RETRY_AFTER, secs.max(1)));
        }
        res.json(body)
    }
}

impl From<LessonError> for ApiError {
    fn from(e: LessonError) -> Self {
        match e {
            LessonError::Invalid(m) => Self::Invalid(m),
            LessonError::NotFound(m) => Self::NotFound(m),
            LessonError::Forbidden(m) => Self::Forbidden(m),
            LessonError::Conflict(m) => Self::Conflict(m),
            LessonError::Clashes { message, clashes } => {
                Self::ConflictWith(message, serde_json::json!({ "clashes": clashes }))
            }
            LessonError::TooMany {
                message,
                retry_after,
            } => Self::too_many(message, retry_after),
            LessonError::Store(e) => (*e).into(),
        }
    }
}

impl From<crate::files::UploadError> for ApiError {
    fn from(e: crate::files::UploadError) -> Self {
        use crate::files::{FormError as F, UploadError as U};
        match e {
            U::Form(f @ (F::FileTooLarge(_) | F::RequestTooLarge(_))) => {
                Self::TooLarge(f.to_string())
            }
            U::Form(f @ F::Malformed(_)) => Self::Malformed(f.to_string()),
            U::Form(f) => Self::Invalid(f.to_string()),
            U::Type(t) => Self::Unsupported(t.to_string()),
            U::Infected(_) => Self::Invalid(e.to_string()),
            U::NotScanned => Self::Conflict(e.to_string()),
            U::Store(s) => s.into(),
            U::Vault(v) => Self::internal(v),
        }
    }
}

impl From<crate::documents::DocumentError> for ApiError {
    fn from(e: crate::documents::DocumentError) -> Self {
        use crate::documents::DocumentError as D;
        match e {
            D::Invalid(m) => Self::Invalid(m),
            D::Forbidden(_) => Self::Forbidden(e.to_string()),
            D::NotFound => Self::NotFound("not found".into()),
            D::Upload(u) => (*u).into(),
            D::Store(s) => (*s).into(),
        }
    }
}

impl From<crate::billing::BillingError> for ApiError {
    fn from(e: crate::billing::BillingError) -> Self {
        use crate::billing::BillingError as B;
        match e {
            B::Off | B::Stripe(_) => Self::ServiceUnavailable(e.to_string()),
            B::Forbidden(m) => Self::Forbidden(m),
            B::Invalid(m) => Self::Invalid(m),
            B::NotFound(m) => Self::NotFound(m),
            B::Conflict(m) => Self::Conflict(m),
            B::Store(s) => (*s).into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(m) => Self::Invalid(m),
            AccountError::EmailTaken => Self::Conflict(e.to_string()),
            AccountError::Password(e) => Self::internal(e),
            AccountError::Store(e) => (*e).into(),
        }
    }
}

impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        Self::internal(e)
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
        E::Payload(actix_web::error::PayloadError::Io(e))
            if e.kind() == std::io::ErrorKind::TimedOut =>
        {
            ApiError::Timeout("the request body did not arrive in time".into())
        }
        other => ApiError::Malformed(other.to_string()),
    };
    api.into()
}

/// Query-string errors (unknown or malformed parameters) are 422s.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::Invalid(err.to_string()).into()
}

/// A path id that could not be a record key names nothing: 404, before
/// any query runs.
pub fn path_error(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    tracing::debug!(error = %err, "refused a path parameter");
    ApiError::NotFound("no such resource: that is not an id".into()).into()
}
