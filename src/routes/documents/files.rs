//! `GET /api/v1/files/{id}`: a file, for those allowed to see what it is
//! attached to. Always a download (`attachment`), with the sniffed type and
//! `nosniff`, so a browser never renders it in the platform's origin.

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, get, web};
use cms_domain::files::FilePurpose;
use cms_domain::ids::FileId;

use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[utoipa::path(params(("id" = FileId, Path, description = "the file")),
    responses((status = 200, description = "the file's bytes", content_type = "application/octet-stream"),
        (status = 404, description = "no such file, or not the caller's to see", body = crate::routes::ErrorBody),
        (status = 409, description = "waiting for its malware scan", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/files/{id}")]
pub async fn download(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<FileId>,
) -> Result<HttpResponse, ApiError> {
    let docs = &state.documents;
    let (file, bytes) = match docs.store.file(id.as_str()).await?.purpose {
        FilePurpose::Document => docs.download(&user, id.as_str()).await?,
        FilePurpose::Homework | FilePurpose::Submission => {
            if !state.homework.may_read_file(&user, id.as_str()).await? {
                return Err(ApiError::NotFound("not found".into()));
            }
            let file = docs.store.file(id.as_str()).await?;
            let bytes = docs.uploads.open(&file).await?;
            (file, bytes)
        }
    };
    Ok(HttpResponse::Ok()
        .content_type(file.media_type.as_str())
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(file.name.clone())],
        })
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}
