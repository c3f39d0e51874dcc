//! HTTP: the REST API under /api/v1, the socket, webhooks, the calendar
//! feed, health checks.
//!
//! Each folder is one area of the product (`accounts/`, `chat/`,
//! `lessons/`, `notifications/`, `tutors/`) with one file per resource and
//! a `routes` function that registers its handlers. A handler's path and
//! method are written once, on the handler (`#[actix_web::get("…")]`), and
//! its contract once, in `#[utoipa::path]`: registering it through
//! `utoipa_actix_web` both mounts it and puts it in the OpenAPI document,
//! so the router and the document cannot drift apart.

pub mod accounts;
pub mod billing;
pub mod chat;
pub mod documents;
pub mod error;
pub mod extract;
mod health;
pub mod homework;
pub mod lessons;
pub mod metrics;
pub mod notifications;
mod openapi;
pub mod page;
pub mod tutors;
mod window;

pub use notifications::twilio::STATUS_PATH as TWILIO_STATUS_PATH;
pub use openapi::{Document, ErrorBody, base_document};

use actix_web::{HttpResponse, web};
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use self::error::{ApiError, json_error, path_error, query_error};

/// Mounts every route. Those under /api/v1 are documented as they are
/// mounted; the rest (health, socket, webhooks, feed) are not REST.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(64 * 1024)
            .error_handler(json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(metrics::metrics))
    .route(
        crate::http_guard::SOCKET_PATH,
        web::get().to(chat::socket::socket),
    )
    .route(
        "/calendar/{file}",
        web::get().to(lessons::calendar_feed::feed),
    )
    .route(
        notifications::twilio::SMS_PATH,
        web::post().to(notifications::twilio::inbound_sms),
    )
    .route(
        notifications::twilio::STATUS_PATH,
        web::post().to(notifications::twilio::status_callback),
    )
    .route(
        billing::webhook::PATH,
        web::post().to(billing::webhook::stripe),
    )
    .route(
        "/api/v1/openapi.json",
        web::get().to(openapi::serve_document),
    )
    .service(
        scope::scope("/api/v1")
            .configure(accounts::routes)
            .configure(billing::routes)
            .configure(chat::routes)
            .configure(documents::routes)
            .configure(homework::routes)
            .configure(lessons::routes)
            .configure(notifications::routes)
            .configure(tutors::routes),
    )
    .default_service(web::to(no_route));
}

/// Nothing answered: a documented path asked with another method is a 405
/// naming the methods it takes; anything else a 404.
async fn no_route(
    req: actix_web::HttpRequest,
    doc: Option<web::Data<Document>>,
) -> Result<HttpResponse, ApiError> {
    let allowed = doc.as_ref().and_then(|d| d.methods_for(req.path()));
    match allowed {
        Some(methods) => Ok(HttpResponse::MethodNotAllowed()
            .insert_header((actix_web::http::header::ALLOW, methods.join(", ")))
            .json(serde_json::json!({
                "error": "method_not_allowed",
                "message": format!("{} takes {}", req.path(), methods.join(", ")),
            }))),
        None => Err(ApiError::NotFound("no such route".into())),
    }
}
