//! Tutor approval: `GET /api/v1/admin/tutors?status=` and
//! `PUT /api/v1/admin/tutors/{id}/status`. Suspending keeps a tutor's
//! lessons and history but stops new bookings (the booking transaction
//! checks the status).

use actix_web::{HttpResponse, web};
use cms_actors::Role;
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::startup::AppState;
use crate::store::StoreError;

const STATUSES: [&str; 4] = ["pending", "approved", "rejected", "suspended"];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// approved, rejected or suspended.
    pub status: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/admin/tutors", params(ListQuery),
    responses((status = 200, body = Vec<crate::store::TutorProfile>)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    if let Some(s) = &q.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::Invalid(format!(
            "status is one of {}",
            STATUSES.join(", ")
        )));
    }
    Ok(HttpResponse::Ok().json(state.store.tutor_profiles(q.status.as_deref()).await?))
}

#[utoipa::path(put, path = "/api/v1/admin/tutors/{id}/status", request_body = StatusRequest,
    responses((status = 200, body = crate::store::TutorProfile), (status = 404, body = super::ErrorBody)), security(("bearer" = [])))]
pub async fn set_status(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<StatusRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    if !STATUSES[1..].contains(&body.status.as_str()) {
        return Err(ApiError::Invalid(
            "status is approved, rejected or suspended".into(),
        ));
    }
    if body.note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        return Err(ApiError::Invalid("note is at most 1000 characters".into()));
    }
    match state
        .store
        .set_tutor_status(&id, &body.status, body.note.as_deref(), state.clock.now())
        .await
    {
        Err(StoreError::NotFound) => Err(ApiError::NotFound("no such tutor profile".into())),
        other => Ok(HttpResponse::Ok().json(other?)),
    }
}
