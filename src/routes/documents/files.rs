//! `GET /api/v1/files/{id}`: a file, for those allowed to see what it is
//! attached to. Always a download (`attachment`), with the sniffed type and
//! `nosniff`, so a browser never renders it in the platform's origin.

use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
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
    // Who may read it follows from what it is attached to.
    let file = docs.store.file(id.as_str()).await?;
    let bytes = match file.purpose {
        FilePurpose::Document => docs.download(&user, &file).await?,
        FilePurpose::Homework | FilePurpose::Submission => {
            if !state.homework.may_read_file(&user, &file.id).await? {
                return Err(ApiError::NotFound("not found".into()));
            }
            docs.uploads.open(&file).await?
        }
    };
    Ok(HttpResponse::Ok()
        .content_type(file.media_type.as_str())
        .insert_header(attachment(&file.name))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}

/// `attachment` with the file's name. A header value is ASCII: a name
/// that is not (`Résumé.pdf`) goes as RFC 6266's UTF-8 `filename*`, with an
/// ASCII `filename` beside it for clients that read only that one.
fn attachment(name: &str) -> ContentDisposition {
    let mut parameters = vec![DispositionParam::Filename(
        name.chars()
            .map(|c| if c.is_ascii() { c } else { '_' })
            .collect(),
    )];
    if !name.is_ascii() {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: name.as_bytes().to_vec(),
        }));
    }
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters,
    }
}
