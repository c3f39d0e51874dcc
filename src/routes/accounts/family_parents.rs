//! `POST /api/v1/family/parents`: a parent adds a second parent (or carer)
//! to their family; both then see the family's children and threads.

use actix_web::post;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::register::{RegisterRequest, create_account};
use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParent {
    pub email: String,
    pub password: String,
    pub name: String,
    pub phone: Option<String>,
    pub timezone: Option<String>,
}

#[utoipa::path(request_body = NewParent,
    responses((status = 201, body = cms_store::UserRow), (status = 409, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[post("/family/parents")]
pub async fn add_parent(
    state: web::Data<AppState>,
    user: AuthUser,
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
