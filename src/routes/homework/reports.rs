//! Termly progress reports.

use actix_web::{HttpResponse, get, post, web};
use cms_domain::ids::StudentId;

use crate::homework::reports::NewReport;
use crate::routes::error::ApiError;
use crate::routes::extract::{AdminUser, AuthUser, TutorUser};
use crate::state::AppState;

/// A tutor who teaches the child writes a report.
#[utoipa::path(params(("id" = StudentId, Path, description = "the child")), request_body = NewReport,
    responses((status = 201, body = cms_store::homework::ReportRow),
        (status = 403, description = "the caller is not a tutor", body = crate::routes::ErrorBody),
        (status = 404, description = "no child the caller teaches", body = crate::routes::ErrorBody),
        (status = 422, description = "a section or level is empty or too long", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/students/{id}/reports")]
pub async fn write(
    state: web::Data<AppState>,
    TutorUser(user): TutorUser,
    id: web::Path<StudentId>,
    body: web::Json<NewReport>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(
        state
            .homework
            .write_report(&user, id.as_str(), &body)
            .await?,
    ))
}

/// A child's reports, newest first: their parents, their tutors, admins.
#[utoipa::path(params(("id" = StudentId, Path, description = "the child")),
    responses((status = 200, body = Vec<cms_store::homework::ReportRow>),
        (status = 404, description = "no such child the caller may see", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/students/{id}/reports")]
pub async fn of_student(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<StudentId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.homework.reports_of(&user, id.as_str()).await?))
}

/// Every report, newest first (the latest 500).
#[utoipa::path(responses((status = 200, body = Vec<cms_store::homework::ReportRow>),
        (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/admin/reports")]
pub async fn all(state: web::Data<AppState>, _admin: AdminUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.homework.store.reports(None, 500).await?))
}
