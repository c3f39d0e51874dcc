//! Liveness and readiness.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Err(e) => {
            // The cause goes to the log; a probe needs only the verdict.
            tracing::error!(error = %e, "readiness: the database did not answer");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "error": "unavailable", "message": "the database is not answering" }))
        }
    }
}
