//! Tutor approval: `GET /api/v1/admin/tutors?status=` and
//! `PUT /api/v1/admin/tutors/{id}/status`. Suspending keeps a tutor's
//! lessons and history but stops new bookings (the booking transaction
//! checks the status).

use actix_web::{HttpResponse, web};
use actix_web::{get, put};
use cms_domain::ids::UserId;
use serde::Deserialize;

use crate::routes::error::ApiError;
use crate::routes::extract::AdminUser;
use crate::state::AppState;
use cms_actors::messages::Close;
use cms_actors::registry::CloseUser;
use cms_domain::tutor::TutorStatus;
use cms_store::StoreError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<TutorStatus>,
}

/// What an admin may decide about a tutor (`pending` is only where
/// tutors start).
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approved,
    Rejected,
    Suspended,
}

impl From<Decision> for TutorStatus {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Approved => TutorStatus::Approved,
            Decision::Rejected => TutorStatus::Rejected,
            Decision::Suspended => TutorStatus::Suspended,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: Decision,
    #[serde(default)]
    pub note: Option<String>,
}

#[utoipa::path(params(ListQuery),
    responses((status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody), (status = 200, body = Vec<cms_store::TutorProfile>)), security(("bearer" = [])))]
#[get("/admin/tutors")]
pub async fn list(
    state: web::Data<AppState>,
    AdminUser(_user): AdminUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.tutor_profiles(q.status).await?))
}

#[utoipa::path(params(("id" = UserId, Path, description = "the tutor's user id")), request_body = StatusRequest,
    responses((status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody), (status = 200, body = cms_store::TutorProfile), (status = 404, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[put("/admin/tutors/{id}/status")]
pub async fn set_status(
    state: web::Data<AppState>,
    AdminUser(_user): AdminUser,
    id: web::Path<UserId>,
    body: web::Json<StatusRequest>,
) -> Result<HttpResponse, ApiError> {
    if body.note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        return Err(ApiError::Invalid("note is at most 1000 characters".into()));
    }
    match state
        .store
        .set_tutor_status(
            id.as_str(),
            body.status.into(),
            body.note.as_deref(),
            state.clock.now(),
        )
        .await
    {
        Err(StoreError::NotFound) => Err(ApiError::NotFound("no such tutor profile".into())),
        other => {
            let profile = other?;
            if matches!(body.status, Decision::Suspended) {
                // A suspended account keeps no live socket (4003).
                state.registry.do_send(CloseUser {
                    user_id: id.as_str().to_owned(),
                    close: Close::SUSPENDED,
                });
            }
            Ok(HttpResponse::Ok().json(profile))
        }
    }
}
