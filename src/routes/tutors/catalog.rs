//! The subject catalogue and session templates: `GET /api/v1/subjects`,
//! `GET /api/v1/templates` for everyone; creating and retiring under
//! `/api/v1/admin/`.

use actix_web::{HttpResponse, web};
use actix_web::{get, post, put};
use cms_actors::Role;
use cms_domain::ids::SubjectId;
use serde::Deserialize;

use crate::routes::error::ApiError;
use crate::routes::extract::{AdminUser, AuthUser};
use crate::state::AppState;
use cms_store::StoreError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubject {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub name: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub level: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectUpdate {
    /// false retires it: no new bookings or tutor listings; history stays.
    pub active: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    /// e.g. "GCSE Maths 60 min".
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub name: String,
    /// 15 to 240, on the quarter hour.
    #[schema(minimum = 15, maximum = 240, multiple_of = 15)]
    #[serde(deserialize_with = "cms_domain::whole_number::int")]
    pub duration_min: u32,
    /// Per student.
    #[schema(minimum = 0, maximum = 1000000)]
    #[serde(deserialize_with = "cms_domain::whole_number::int")]
    pub price_pence: i64,
}

/// One line of 1 to `max` characters: these names end up in e-mails and
/// calendar files, where a line break would change their meaning.
fn text(field: &str, v: &str, max: usize) -> Result<(), ApiError> {
    cms_domain::text::check_plain_text(field, v, max)
        .map(|_| ())
        .map_err(|e| ApiError::Invalid(e.to_string()))
}

#[utoipa::path(responses((status = 200, body = Vec<cms_store::SubjectRow>)), security(("bearer" = [])))]
#[get("/subjects")]
pub async fn list_subjects(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let all = user.role == Role::Admin;
    Ok(HttpResponse::Ok().json(state.store.subjects(all).await?))
}

#[utoipa::path(request_body = NewSubject,
    responses((status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody), (status = 201, body = cms_store::SubjectRow), (status = 409, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[post("/admin/subjects")]
pub async fn create_subject(
    state: web::Data<AppState>,
    AdminUser(_user): AdminUser,
    body: web::Json<NewSubject>,
) -> Result<HttpResponse, ApiError> {
    text("name", &body.name, 100)?;
    text("level", &body.level, 100)?;
    let row = match state
        .store
        .create_subject(&body.name, &body.level, state.clock.now())
        .await
    {
        Err(StoreError::Duplicate(_)) => {
            return Err(ApiError::Conflict(
                "that subject and level exist already".into(),
            ));
        }
        other => other?,
    };
    Ok(HttpResponse::Created().json(row))
}

#[utoipa::path(params(("id" = SubjectId, Path, description = "the subject")), request_body = SubjectUpdate,
    responses((status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody), (status = 200, body = cms_store::SubjectRow)), security(("bearer" = [])))]
#[put("/admin/subjects/{id}")]
pub async fn update_subject(
    state: web::Data<AppState>,
    AdminUser(_user): AdminUser,
    id: web::Path<SubjectId>,
    body: web::Json<SubjectUpdate>,
) -> Result<HttpResponse, ApiError> {
    let rows = state
        .store
        .set_subject_active(id.as_str(), body.active)
        .await;
    Ok(HttpResponse::Ok().json(rows?))
}

#[utoipa::path(responses((status = 200, body = Vec<cms_store::TemplateRow>)), security(("bearer" = [])))]
#[get("/templates")]
pub async fn list_templates(
    state: web::Data<AppState>,
    _user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.templates().await?))
}

#[utoipa::path(request_body = NewTemplate,
    responses((status = 409, description = "it exists already, or what is stored does not allow it", body = crate::routes::ErrorBody), (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody), (status = 201, body = cms_store::TemplateRow)), security(("bearer" = [])))]
#[post("/admin/templates")]
pub async fn create_template(
    state: web::Data<AppState>,
    AdminUser(_user): AdminUser,
    body: web::Json<NewTemplate>,
) -> Result<HttpResponse, ApiError> {
    text("name", &body.name, 100)?;
    crate::lessons::book::check_duration(body.duration_min)?;
    if !(0..=1_000_000).contains(&body.price_pence) {
        return Err(ApiError::Invalid(
            "price_pence must be 0 to 1,000,000".into(),
        ));
    }
    let row = match state
        .store
        .create_template(
            &body.name,
            body.duration_min,
            body.price_pence,
            state.clock.now(),
        )
        .await
    {
        Err(StoreError::Duplicate(_)) => {
            return Err(ApiError::Conflict(
                "a template with that name exists".into(),
            ));
        }
        other => other?,
    };
    Ok(HttpResponse::Created().json(row))
}
