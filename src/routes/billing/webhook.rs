//! `POST /webhooks/stripe`: Stripe's events, verified on the raw body
//! (`Stripe-Signature`) before anything in it is read. 200 with what was
//! done (applied, replayed, superseded, ignored); 400 for a forged, stale
//! or unreadable request, which changes nothing and Stripe does not retry;
//! 503 when the store or Stripe is out of reach, which Stripe retries.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::billing::{self, WebhookRefused};
use crate::routes::error::ApiError;
use crate::state::AppState;

pub const PATH: &str = "/webhooks/stripe";

pub async fn stripe(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|h| h.to_str().ok());
    match billing::webhook(&state.billing, &body, signature).await {
        Ok(handled) => Ok(HttpResponse::Ok().json(json!({ "received": true, "handled": handled }))),
        Err(WebhookRefused::Bad(m)) => Err(ApiError::Malformed(m)),
        Err(WebhookRefused::Later(e)) => Err(e.into()),
    }
}
