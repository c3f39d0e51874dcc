//! `POST /api/v1/lessons/{id}/homework` (multipart) and the homework lists.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use cms_domain::ids::{HomeworkId, LessonId, StudentId};
use serde::Deserialize;

use crate::routes::error::ApiError;
use crate::routes::extract::{AuthUser, TutorUser};
use crate::state::AppState;

/// The multipart form of new homework (the schema only; the handler reads
/// the parts itself, under the upload limits).
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct HomeworkForm {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(max_length = 10000)]
    pub instructions: Option<String>,
    /// RFC 3339, in the future.
    pub due_at: String,
    /// Worksheets: PDF, PNG, JPEG, WebP, Word (.docx) or plain text.
    #[schema(value_type = Option<String>, format = Binary)]
    pub file: Option<Vec<u8>>,
}

/// Sets homework for the students of one of the caller's lessons: pushed
/// as `homework:set` to each family, with a notice now, a reminder a day
/// before the due time to those who have not handed in, and an overdue
/// notice at it.
#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")),
    request_body(content = HomeworkForm, content_type = "multipart/form-data"),
    responses((status = 201, body = cms_store::homework::HomeworkRow),
        (status = 400, description = "not a readable multipart body", body = crate::routes::ErrorBody),
        (status = 403, description = "the caller is not a tutor", body = crate::routes::ErrorBody),
        (status = 404, description = "no such lesson of the caller's", body = crate::routes::ErrorBody),
        (status = 413, description = "over the upload limits", body = crate::routes::ErrorBody),
        (status = 415, description = "a file is not an accepted type", body = crate::routes::ErrorBody),
        (status = 422, description = "a field is missing or wrong", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/lessons/{id}/homework")]
pub async fn set(
    state: web::Data<AppState>,
    TutorUser(user): TutorUser,
    id: web::Path<LessonId>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let hw = &state.homework;
    let form = crate::routes::documents::read_upload(&req, payload, hw.uploads.limits).await?;
    Ok(HttpResponse::Created().json(hw.set(&user, id.as_str(), &form).await?))
}

/// One homework with the hand-ins the caller may see.
#[utoipa::path(params(("id" = HomeworkId, Path, description = "the homework")),
    responses((status = 200, body = cms_store::homework::HomeworkRow),
        (status = 404, description = "no such homework the caller may see", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/homework/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<HomeworkId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.homework.get(&user, id.as_str()).await?))
}

/// A child's homework, soonest due first: their parents, their tutors,
/// admins.
#[utoipa::path(params(("id" = StudentId, Path, description = "the child")),
    responses((status = 200, body = Vec<cms_store::homework::HomeworkRow>),
        (status = 404, description = "no such child the caller may see", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/students/{id}/homework")]
pub async fn for_student(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<StudentId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.homework.for_student(&user, id.as_str()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TutorQuery {
    /// Only this lesson's homework.
    pub lesson_id: Option<LessonId>,
    /// Only homework for this child.
    pub student_id: Option<StudentId>,
}

/// The caller's homework, soonest due first, with every hand-in.
#[utoipa::path(params(TutorQuery),
    responses((status = 200, body = Vec<cms_store::homework::HomeworkRow>),
        (status = 403, description = "the caller is not a tutor", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/tutor/homework")]
pub async fn of_tutor(
    state: web::Data<AppState>,
    TutorUser(user): TutorUser,
    q: web::Query<TutorQuery>,
) -> Result<HttpResponse, ApiError> {
    let lesson = q.lesson_id.as_ref().map(|l| l.as_str());
    let student = q.student_id.as_ref().map(|s| s.as_str());
    Ok(HttpResponse::Ok().json(state.homework.of_tutor(&user, lesson, student).await?))
}
