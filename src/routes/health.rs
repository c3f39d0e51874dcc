//! Liveness and readiness. Readiness means the server can do its work:
//! the database answers and the notification scheduler still runs.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The process can serve: the notification scheduler runs and the
/// database answers.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if !state.lessons.notifier.is_running() {
        // Requests would still succeed, but no reminder, notice or in-app
        // notification would go out: not ready, so it is noticed.
        tracing::error!("readiness: the notification scheduler has stopped");
        return HttpResponse::ServiceUnavailable().json(json!({
            "error": "unavailable",
            "message": "the notification scheduler has stopped"
        }));
    }
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
