//! `POST /api/v1/bookings`: see `lessons::book`.

use actix_web::post;
use actix_web::{HttpResponse, web};

use crate::lessons::book::{self, BookingRequest, BookingResponse};
use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

/// Books a lesson or a series for one to four students. 409 names what is
/// in the way (`clashes`); with `skip_conflicts` the free occurrences are
/// booked and the rest reported under `skipped`.
#[utoipa::path(request_body = BookingRequest,
    responses((status = 403, description = "the caller's role may not do this", body = crate::routes::ErrorBody), (status = 404, description = "no such student, tutor or template the caller may use", body = crate::routes::ErrorBody), (status = 201, body = BookingResponse), (status = 409, body = crate::routes::ErrorBody),
              (status = 422, body = crate::routes::ErrorBody),
              (status = 429, description = "the family made `limits.bookings_per_family_per_day` requests today (UTC); `Retry-After` says until midnight", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/bookings")]
pub async fn create_booking(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<BookingRequest>,
) -> Result<HttpResponse, ApiError> {
    let res = book::book(&state.lessons, &user, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(res))
}
