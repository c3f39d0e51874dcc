//! `POST /api/v1/family/parents`: a parent adds a second parent (or carer)
//! to their family; both then see the family's children and threads.

use actix_web::post;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::register::{RegisterRequest, create_account};
use crate::routes::error::ApiError;
use crate::routes::extract::ParentUser;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParent {
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub email: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// A valid number (see `RegisterRequest`).
    #[schema(format = "phone", max_length = 40)]
    pub phone: Option<String>,
    /// IANA zone; Europe/London when absent.
    #[schema(schema_with = cms_domain::openapi::optional_zone_schema)]
    pub timezone: Option<String>,
}

#[utoipa::path(request_body = NewParent,
    responses((status = 403, description = "the caller is not a parent with a family", body = crate::routes::ErrorBody), (status = 201, body = cms_store::UserRow), (status = 409, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[post("/family/parents")]
pub async fn add_parent(
    state: web::Data<AppState>,
    ParentUser(user): ParentUser,
    body: web::Json<NewParent>,
) -> Result<HttpResponse, ApiError> {
    let family = user.parent_family()?;
    let b = body.into_inner();
    let req = RegisterRequest {
        email: b.email,
        password: b.password,
        name: b.name,
        role: super::register::SignUpRole::Parent,
        phone: b.phone,
        timezone: b.timezone,
    };
    let created = create_account(&state, &req, Some(family)).await?;
    Ok(HttpResponse::Created().json(created))
}
