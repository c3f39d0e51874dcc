//! `POST /api/v1/family/parents`: a parent adds a second parent (or carer)
//! to their family; both then see the family's children and threads.

use actix_web::post;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::register::{RegisterRequest, create_account, take_registration};
use crate::routes::error::ApiError;
use crate::routes::extract::ParentUser;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParent {
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub email: String,
    /// As for `RegisterRequest`.
    #[schema(min_length = 10, max_length = 1024)]
    pub password: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub name: String,
    /// A valid number (see `RegisterRequest`).
    #[schema(format = "phone", max_length = 40)]
    pub phone: Option<String>,
    /// IANA zone; Europe/London when absent.
    #[schema(schema_with = cms_domain::openapi::optional_zone_schema)]
    pub timezone: Option<String>,
}

#[utoipa::path(request_body = NewParent,
    responses((status = 403, description = "the caller is not a parent with a family", body = crate::routes::ErrorBody), (status = 201, body = cms_store::UserRow), (status = 409, body = crate::routes::ErrorBody),
        (status = 422, body = crate::routes::ErrorBody),
        (status = 429, description = "`limits.register_per_address_per_hour` accounts were made from this address \
            in the last hour: wait the `Retry-After` seconds", body = crate::routes::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait")))), security(("bearer" = [])))]
#[post("/family/parents")]
pub async fn add_parent(
    state: web::Data<AppState>,
    http: HttpRequest,
    ParentUser(user): ParentUser,
    body: web::Json<NewParent>,
) -> Result<HttpResponse, ApiError> {
    let family = user.parent_family()?;
    // A second parent is a new account: it counts against the same
    // per-address limit as sign-up.
    take_registration(&state, &http)?;
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
