//! `POST /api/v1/tutor/documents` (multipart) and `GET` the list: a tutor's
//! DBS certificate and qualifications.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use cms_domain::documents::DocumentKind;

use crate::documents::TutorDocuments;
use crate::routes::error::ApiError;
use crate::routes::extract::TutorUser;
use crate::state::AppState;

/// The multipart form of an upload (the schema only; the handler reads the
/// parts itself, under the upload limits).
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct DocumentUpload {
    pub kind: DocumentKind,
    /// The certificate or qualification: PDF, PNG, JPEG, WebP, Word (.docx)
    /// or plain text, decided from its bytes.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// DBS: the certificate's 12 digits.
    pub certificate_number: Option<String>,
    /// DBS: its issue date, YYYY-MM-DD.
    pub issued_on: Option<String>,
    /// Qualification: what it is.
    pub title: Option<String>,
    pub institution: Option<String>,
    pub year: Option<i32>,
}

/// Uploads a document, `pending` until an admin checks it.
#[utoipa::path(request_body(content = DocumentUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = cms_store::documents::DocumentRow),
        (status = 400, description = "not a readable multipart body", body = crate::routes::ErrorBody),
        (status = 403, description = "the caller is not a tutor", body = crate::routes::ErrorBody),
        (status = 413, description = "over the upload limits", body = crate::routes::ErrorBody),
        (status = 415, description = "the file's bytes are not an accepted type", body = crate::routes::ErrorBody),
        (status = 422, description = "a field is missing or wrong, or the malware scan refused the file", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/tutor/documents")]
pub async fn upload(
    state: web::Data<AppState>,
    TutorUser(user): TutorUser,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let docs = &state.documents;
    let form = super::read_upload(&req, payload, docs.uploads.limits).await?;
    Ok(HttpResponse::Created().json(docs.upload(&user, &form).await?))
}

/// The caller's documents, newest first, and where their DBS stands.
#[utoipa::path(responses((status = 200, body = TutorDocuments),
        (status = 403, description = "the caller is not a tutor", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/tutor/documents")]
pub async fn list(
    state: web::Data<AppState>,
    TutorUser(user): TutorUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.documents.mine(&user).await?))
}
