//! The progress figures: a child's (`GET /api/v1/students/{id}/progress`)
//! and a tutor's over every child they set homework for.

use actix_web::{HttpResponse, get, web};
use cms_domain::ids::StudentId;

use crate::routes::error::ApiError;
use crate::routes::extract::{AuthUser, TutorUser};
use crate::state::AppState;

/// Set, submitted, on time, late, missing, open, graded and the average
/// score in percent, in all and by week of the due date (UK weeks, Monday
/// first): the child's parents, their tutors and admins.
#[utoipa::path(params(("id" = StudentId, Path, description = "the child")),
    responses((status = 200, body = cms_domain::homework::Progress),
        (status = 404, description = "no such child the caller may see", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/students/{id}/progress")]
pub async fn student(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<StudentId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.homework.student_progress(&user, id.as_str()).await?))
}

/// The same figures over every child the caller set homework for.
#[utoipa::path(responses((status = 200, body = cms_domain::homework::Progress),
        (status = 403, description = "the caller is not a tutor", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/tutor/homework/stats")]
pub async fn tutor(
    state: web::Data<AppState>,
    TutorUser(user): TutorUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.homework.tutor_stats(&user).await?))
}
