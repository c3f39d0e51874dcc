//! `POST /api/v1/students` and `GET /api/v1/students`: a family's children.

use actix_web::{HttpResponse, web};
use actix_web::{get, post};
use serde::Deserialize;

use crate::routes::error::ApiError;
use crate::routes::extract::ParentUser;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStudent {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// e.g. GCSE, A-Level, Year 9.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub level: String,
}

#[utoipa::path(request_body = NewStudent,
    responses((status = 403, description = "the caller is not a parent with a family", body = crate::routes::ErrorBody), (status = 201, body = cms_store::StudentRow), (status = 403, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[post("/students")]
pub async fn create_student(
    state: web::Data<AppState>,
    ParentUser(user): ParentUser,
    body: web::Json<NewStudent>,
) -> Result<HttpResponse, ApiError> {
    let family = user.parent_family()?;
    let (name, level) = (body.name.trim(), body.level.trim());
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Invalid("name must be 1 to 200 characters".into()));
    }
    if level.is_empty() || level.chars().count() > 100 {
        return Err(ApiError::Invalid(
            "level must be 1 to 100 characters".into(),
        ));
    }
    let student = state
        .store
        .create_student(family, name, level, state.clock.now())
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
