//! Tutors' documents and the files behind them: a tutor's uploads, admins'
//! review queue and decisions, and downloads.

pub mod admin_documents;
pub mod files;
pub mod tutor_documents;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(tutor_documents::upload)
        .service(tutor_documents::list)
        .service(admin_documents::list)
        .service(admin_documents::verify)
        .service(admin_documents::reject)
        .service(admin_documents::accesses)
        .service(files::download);
}

/// Reads a multipart upload under the configured limits. A declared
/// length over the request limit is refused before a byte is read.
pub async fn read_upload(
    req: &actix_web::HttpRequest,
    payload: actix_web::web::Payload,
    limits: crate::files::FormLimits,
) -> Result<crate::files::Form, crate::routes::error::ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.request_bytes as u64) {
        return Err(
            crate::files::UploadError::Form(crate::files::FormError::RequestTooLarge(
                limits.request_bytes,
            ))
            .into(),
        );
    }
    let form = actix_multipart::Multipart::new(req.headers(), payload);
    crate::files::read_form(form, limits)
        .await
        .map_err(|e| crate::files::UploadError::Form(e).into())
}
