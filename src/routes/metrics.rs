//! `GET /metrics`: what the server records (`crate::metrics`), in
//! Prometheus's text format, for a scraper. Not under `/api/v1` and not in
//! the OpenAPI document: it is for operators, not clients. With
//! `metrics.token` set, only a request bearing it is answered.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::MetricsConfig;

pub async fn metrics(req: HttpRequest, cfg: web::Data<MetricsConfig>) -> HttpResponse {
    if let Some(token) = &cfg.token {
        let given = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compared as digests: equal lengths, whatever was sent.
        if Sha256::digest(given.as_bytes()) != Sha256::digest(token.as_bytes()) {
            return HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer"))
                .json(json!({ "error": "unauthorized", "message": "a metrics token is needed" }));
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::handle().render())
}
