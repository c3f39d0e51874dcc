//! `GET /api/v1/me` and `PATCH /api/v1/me` (name, phone, time zone).

use actix_web::{HttpResponse, web};
use actix_web::{get, patch};
use serde::{Deserialize, Deserializer};

use crate::accounts::{check_name, check_phone};
use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[utoipa::path(responses((status = 200, body = cms_store::UserRow)), security(("bearer" = [])))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.user(&user.user_id).await?))
}

/// Absent fields stay as they are; `"phone": null` removes the number.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    /// A valid number (see `RegisterRequest`); null removes it.
    #[schema(value_type = Option<String>, format = "phone", max_length = 40)]
    pub phone: Option<Option<String>>,
    #[schema(schema_with = cms_domain::openapi::optional_zone_schema)]
    pub timezone: Option<String>,
}

/// Tells a field given as null (Some(None)) from one left out (None).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[utoipa::path(request_body = ProfileUpdate,
    responses((status = 200, body = cms_store::UserRow), (status = 422, body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[patch("/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<ProfileUpdate>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let name = req.name.as_deref().map(check_name).transpose()?;
    if let Some(tz) = &req.timezone
        && tz.parse::<chrono_tz::Tz>().is_err()
    {
        return Err(ApiError::Invalid(format!(
            "{tz:?} is not an IANA time zone"
        )));
    }
    let phone = match &req.phone {
        Some(Some(p)) => Some(Some(check_phone(p)?)),
        Some(None) => Some(None),
        None => None,
    };
    let row = state
        .store
        .update_profile(
            &user.user_id,
            name,
            phone.as_ref().map(Option::as_deref),
            req.timezone.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(row))
}
