//! One lesson: `GET /api/v1/lessons/{id}`, and `POST …/cancel`,
//! `…/reschedule`, `…/students` (see `lessons::change`).

use actix_web::{HttpResponse, web};
use actix_web::{get, post};

use crate::lessons::change::{
    self, AddStudentsRequest, CancelRequest, CancelResponse, RescheduleRequest, RescheduleResponse,
};
use crate::lessons::{may_see_occurrence, not_found};
use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;
use cms_domain::ids::LessonId;
use cms_store::StoreError;

#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")), responses((status = 200, body = cms_protocol::calendar::Occurrence)), security(("bearer" = [])))]
#[get("/lessons/{id}")]
pub async fn get_lesson(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<LessonId>,
) -> Result<HttpResponse, ApiError> {
    let o = match state.store.occurrence(id.as_str()).await {
        Err(StoreError::NotFound) => return Err(not_found().into()),
        other => other?,
    };
    if !may_see_occurrence(&user, &o) {
        return Err(not_found().into());
    }
    Ok(HttpResponse::Ok().json(o))
}

/// Cancels one occurrence or the rest of its series, under the
/// cancellation policy (see docs/scheduling.md).
#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")), request_body = CancelRequest,
    responses((status = 403, description = "the caller's role may not do this", body = crate::routes::ErrorBody), (status = 200, body = CancelResponse), (status = 409, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[post("/lessons/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<LessonId>,
    body: web::Json<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(change::cancel(&state.lessons, &user, id.as_str(), &body).await?))
}

/// Moves a lesson: the original is marked rescheduled and a new one booked,
/// both or neither.
#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")), request_body = RescheduleRequest,
    responses((status = 403, description = "the caller's role may not do this", body = crate::routes::ErrorBody), (status = 200, body = RescheduleResponse), (status = 409, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[post("/lessons/{id}/reschedule")]
pub async fn reschedule(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<LessonId>,
    body: web::Json<RescheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .json(change::reschedule(&state.lessons, &user, id.as_str(), &body).await?))
}

/// Adds students to a group lesson (at most four in all).
#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")), request_body = AddStudentsRequest,
    responses((status = 403, description = "the caller's role may not do this", body = crate::routes::ErrorBody), (status = 200, body = cms_protocol::calendar::Occurrence), (status = 409, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[post("/lessons/{id}/students")]
pub async fn add_students(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<LessonId>,
    body: web::Json<AddStudentsRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .json(change::add_students(&state.lessons, &user, id.as_str(), &body).await?))
}
