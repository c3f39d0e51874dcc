//! `POST /api/v1/students` and `GET /api/v1/students`: a family's children.

use actix_web::{HttpResponse, web};
use actix_web::{get, post};
use cms_domain::text::check_plain_text;
use serde::Deserialize;

use crate::routes::error::ApiError;
use crate::routes::extract::ParentUser;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStudent {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub name: String,
    /// e.g. GCSE, A-Level, Year 9.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub level: String,
}

#[utoipa::path(request_body = NewStudent,
    responses((status = 403, description = "the caller is not a parent with a family", body = crate::routes::ErrorBody), (status = 201, body = cms_store::StudentRow),
        (status = 409, description = "the family already has `limits.children_per_family` children", body = crate::routes::ErrorBody),
        (status = 422, description = "an empty, over-long or multi-line name or level", body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[post("/students")]
pub async fn create_student(
    state: web::Data<AppState>,
    ParentUser(user): ParentUser,
    body: web::Json<NewStudent>,
) -> Result<HttpResponse, ApiError> {
    let family = user.parent_family()?;
    let invalid = |e: cms_domain::text::TextError| ApiError::Invalid(e.to_string());
    let name = check_plain_text("name", &body.name, 200).map_err(invalid)?;
    let level = check_plain_text("level", &body.level, 100).map_err(invalid)?;
    // The cap is checked in the store's transaction, where racing adds
    // cannot both slip under it.
    let student = state
        .store
        .create_student(
            family,
            name,
            level,
            state.limits.children_per_family,
            state.clock.now(),
        )
        .await?;
    Ok(HttpResponse::Created().json(student))
}

#[utoipa::path(responses((status = 403, description = "the caller is not a parent with a family", body = crate::routes::ErrorBody), (status = 200, body = Vec<cms_store::StudentRow>)), security(("bearer" = [])))]
#[get("/students")]
pub async fn list_students(
    state: web::Data<AppState>,
    ParentUser(user): ParentUser,
) -> Result<HttpResponse, ApiError> {
    let family = user.parent_family()?;
    Ok(HttpResponse::Ok().json(state.store.students(family).await?))
}
