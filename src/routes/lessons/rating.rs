//! Ratings: `POST /api/v1/lessons/{id}/rating` and `GET` it back (a
//! parent, for their family), `GET /api/v1/tutors/{id}/ratings` (anyone who
//! may see the tutor) and `GET /api/v1/admin/ratings` (the low ones, for
//! admins). See `lessons::rating` and docs/ratings.md.

use actix_web::{HttpResponse, get, post, web};
use cms_domain::ids::{LessonId, UserId};
use cms_domain::rating::LOW_STARS;
use serde::Deserialize;

use crate::lessons::rating::{self, RateRequest};
use crate::routes::error::ApiError;
use crate::routes::extract::{AdminUser, AuthUser};
use crate::routes::tutors::search::visible_profile;
use crate::state::AppState;

/// Ratings listed at most.
const MAX_LISTED: u32 = 200;

/// Rates a completed lesson for the caller's family, once.
#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")), request_body = RateRequest,
    responses((status = 201, body = cms_store::ratings::Rating),
        (status = 403, description = "only parents rate lessons", body = crate::routes::ErrorBody),
        (status = 404, description = "no such lesson for this family", body = crate::routes::ErrorBody),
        (status = 409, description = "not completed, or already rated", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/lessons/{id}/rating")]
pub async fn rate(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<LessonId>,
    body: web::Json<RateRequest>,
) -> Result<HttpResponse, ApiError> {
    let r = rating::rate(&state.lessons, &user, id.as_str(), &body).await?;
    Ok(HttpResponse::Created().json(r))
}

/// The caller's family's rating of the lesson.
#[utoipa::path(params(("id" = LessonId, Path, description = "the lesson")),
    responses((status = 200, body = cms_store::ratings::Rating),
        (status = 403, description = "only parents have ratings of their own", body = crate::routes::ErrorBody),
        (status = 404, description = "not rated by this family", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/lessons/{id}/rating")]
pub async fn get_rating(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<LessonId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(rating::mine(&state.lessons, &user, id.as_str()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// At most this many, newest first; 50 when absent.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

fn limit(given: Option<u32>) -> Result<u32, ApiError> {
    match given.unwrap_or(50) {
        n @ 1..=MAX_LISTED => Ok(n),
        _ => Err(ApiError::Invalid(format!(
            "limit must be from 1 to {MAX_LISTED}"
        ))),
    }
}

/// A tutor's ratings, newest first (their average is on the profile).
#[utoipa::path(params(("id" = UserId, Path, description = "the tutor's user id"), ListQuery),
    responses((status = 200, body = Vec<cms_store::ratings::Rating>)), security(("bearer" = [])))]
#[get("/tutors/{id}/ratings")]
pub async fn tutor_ratings(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<UserId>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit(q.limit)?;
    let t = visible_profile(&state, &user, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(state.store.tutor_ratings(&t.id, limit).await?))
}

/// Ratings of two stars or fewer, newest first: each was also pushed to
/// the board as a `board:alert` when it was given.
#[utoipa::path(params(ListQuery),
    responses((status = 200, body = Vec<cms_store::ratings::Rating>),
        (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/admin/ratings")]
pub async fn low_ratings(
    state: web::Data<AppState>,
    _admin: AdminUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit(q.limit)?;
    Ok(HttpResponse::Ok().json(state.store.low_ratings(LOW_STARS, limit).await?))
}
