//! A lesson as it happens: `POST /api/v1/lessons/{id}/start`, `…/end` and
//! `GET …/events` (see `lessons::live`). Parents are refused 403 on start
//! and end whatever the id; a lesson the caller may not see answers 404,
//! exactly as a missing one.

use actix_web::{HttpResponse, get, post, web};

use crate::lessons::live::{self, EndRequest};
use crate::routes::error::ApiError;
use crate::routes::extract::{AdminUser, AuthUser};
use crate::state::AppState;
use cms_domain::ids::LessonId;

/// Starts the lesson: its tutor or an admin, from the room opening
/// (`lessons.room_opens_min` before the start) until the no-show bound
/// (`lessons.no_show_after_min` after it). 409 when it is not startable
/// now or any more (too early, too late, already live, over or cancelled).
#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")),
    responses((status = 200, body = cms_protocol::calendar::Occurrence),
        (status = 403, description = "parents do not start lessons", body = crate::routes::ErrorBody),
        (status = 409, description = "not startable now", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/lessons/{id}/start")]
pub async fn start(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<LessonId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(live::start(&state.lessons, &user, id.as_str()).await?))
}

/// Ends a live lesson with every student's attendance (`present`, `late`,
/// `absent`; each student of the lesson exactly once, else 422) and notes.
/// An absent student's seat is marked chargeable.
#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")), request_body = EndRequest,
    responses((status = 200, body = cms_protocol::calendar::Occurrence),
        (status = 403, description = "parents do not end lessons", body = crate::routes::ErrorBody),
        (status = 409, description = "the lesson is not live", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/lessons/{id}/end")]
pub async fn end(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<LessonId>,
    body: web::Json<EndRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(live::end(&state.lessons, &user, id.as_str(), &body).await?))
}

/// The lesson's log (opened, started, ended …), oldest first.
#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")),
    responses((status = 200, body = Vec<cms_store::live::LessonEvent>)),
    security(("bearer" = [])))]
#[get("/lessons/{id}/events")]
pub async fn events(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<LessonId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(live::events(&state.lessons, &user, id.as_str()).await?))
}

/// An admin clears a lesson's review flag (set by a tutor no-show or by the
/// server ending a forgotten lesson) once they have looked at it: its
/// board alert resolves and `board:lesson` says `reviewed`.
#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")),
    responses((status = 200, body = cms_protocol::calendar::Occurrence),
        (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody),
        (status = 404, description = "no such lesson", body = crate::routes::ErrorBody),
        (status = 409, description = "not waiting for a review", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/admin/lessons/{id}/reviewed")]
pub async fn reviewed(
    state: web::Data<AppState>,
    AdminUser(user): AdminUser,
    id: web::Path<LessonId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(live::reviewed(&state.lessons, &user, id.as_str()).await?))
}
