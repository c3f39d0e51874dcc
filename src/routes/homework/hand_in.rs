//! Handing in (`POST /api/v1/homework/{id}/submissions`, multipart) and
//! grading.

use actix_web::{HttpRequest, HttpResponse, post, web};
use cms_domain::ids::{HomeworkId, StudentId};

use crate::homework::GradeRequest;
use crate::routes::error::ApiError;
use crate::routes::extract::{ParentUser, TutorUser};
use crate::state::AppState;

/// The multipart form of a hand-in (the schema only).
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct HandInForm {
    /// The child handing in.
    pub student_id: StudentId,
    #[schema(max_length = 20000)]
    pub text: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    pub file: Option<Vec<u8>>,
}

/// Hands in one child's work, before or after the due time; again to
/// replace it, until it is graded (then 409).
#[utoipa::path(params(("id" = HomeworkId, Path, description = "the homework")),
    request_body(content = HandInForm, content_type = "multipart/form-data"),
    responses((status = 201, body = cms_store::homework::SubmissionRow),
        (status = 400, description = "not a readable multipart body", body = crate::routes::ErrorBody),
        (status = 403, description = "the caller is not a parent", body = crate::routes::ErrorBody),
        (status = 404, description = "no such homework for the caller's child", body = crate::routes::ErrorBody),
        (status = 409, description = "already graded", body = crate::routes::ErrorBody),
        (status = 413, description = "over the upload limits", body = crate::routes::ErrorBody),
        (status = 415, description = "a file is not an accepted type", body = crate::routes::ErrorBody),
        (status = 422, description = "nothing handed in, or a field is wrong", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/homework/{id}/submissions")]
pub async fn submit(
    state: web::Data<AppState>,
    ParentUser(user): ParentUser,
    id: web::Path<HomeworkId>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let hw = &state.homework;
    let form = crate::routes::documents::read_upload(&req, payload, hw.uploads.limits).await?;
    Ok(HttpResponse::Created().json(hw.submit(&user, id.as_str(), &form).await?))
}

/// Grades one child's hand-in (the tutor who set it): the family is told.
#[utoipa::path(params(("id" = HomeworkId, Path, description = "the homework"),
        ("student_id" = StudentId, Path, description = "the child")),
    request_body = GradeRequest,
    responses((status = 200, body = cms_store::homework::SubmissionRow),
        (status = 403, description = "the caller is not a tutor", body = crate::routes::ErrorBody),
        (status = 404, description = "no such homework of the caller's, or child in it", body = crate::routes::ErrorBody),
        (status = 409, description = "nothing handed in yet", body = crate::routes::ErrorBody),
        (status = 422, description = "a score above the maximum", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/homework/{id}/submissions/{student_id}/grade")]
pub async fn grade(
    state: web::Data<AppState>,
    TutorUser(user): TutorUser,
    path: web::Path<(HomeworkId, StudentId)>,
    body: web::Json<GradeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (hw, student) = path.into_inner();
    let row = state
        .homework
        .grade(&user, hw.as_str(), student.as_str(), &body)
        .await?;
    Ok(HttpResponse::Ok().json(row))
}
