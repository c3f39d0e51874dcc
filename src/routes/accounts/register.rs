//! `POST /api/v1/auth/register`.

use actix_web::post;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::client_ip;
use super::login::issue_token;
use crate::accounts::{self, NewAccount};
use crate::routes::error::ApiError;
use crate::state::AppState;
use cms_domain::Role;
use cms_store::UserRow;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub email: String,
    /// 10 to 1024 characters, not one of the commonest breached
    /// passwords, not containing the email's name part.
    #[schema(min_length = 10, max_length = 1024)]
    pub password: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
    )]
    pub name: String,
    /// Admins are made on the command line.
    pub role: SignUpRole,
    /// A valid number, stored in E.164: +447700900123 or, for the UK,
    /// 07700 900123.
    #[schema(format = "phone", max_length = 40)]
    pub phone: Option<String>,
    /// IANA zone; Europe/London when absent.
    #[schema(schema_with = cms_domain::openapi::optional_zone_schema)]
    pub timezone: Option<String>,
}

/// The roles anyone may sign up as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignUpRole {
    Parent,
    Tutor,
}

impl From<SignUpRole> for Role {
    fn from(r: SignUpRole) -> Self {
        match r {
            SignUpRole::Parent => Role::Parent,
            SignUpRole::Tutor => Role::Tutor,
        }
    }
}

#[utoipa::path(request_body = RegisterRequest,
    responses((status = 201, body = super::login::AuthResponse), (status = 409, body = crate::routes::ErrorBody), (status = 422, body = crate::routes::ErrorBody),
        (status = 429, description = "`limits.register_per_address_per_hour` accounts were registered from this address \
            in the last hour: wait the `Retry-After` seconds", body = crate::routes::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait")))))]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    http: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    take_registration(&state, &http)?;
    let req = body.into_inner();
    let user = create_account(&state, &req, None).await?;
    let token = issue_token(&state, &user.id).await?;
    Ok(HttpResponse::Created().json(super::login::AuthResponse { token, user }))
}

/// Counts one account made from the caller's address this hour, or
/// refuses with how long to wait. Every attempt counts, refused ones too:
/// each costs an argon2 hash, and a 409 tells whether an address is taken.
pub fn take_registration(state: &AppState, http: &HttpRequest) -> Result<(), ApiError> {
    state
        .account_guards
        .register
        .take(client_ip(http), state.clock.now())
        .map_err(|wait| {
            ApiError::too_many(
                "too many accounts registered from this address: wait before trying again",
                wait,
            )
        })
}

/// Stores the account a request describes; `family_id` adds a parent to
/// a family.
pub async fn create_account(
    state: &AppState,
    req: &RegisterRequest,
    family_id: Option<&str>,
) -> Result<UserRow, ApiError> {
    let new = NewAccount {
        email: &req.email,
        password: &req.password,
        name: &req.name,
        role: req.role.into(),
        phone: req.phone.as_deref(),
        timezone: req.timezone.as_deref(),
    };
    Ok(accounts::create(&state.store, new, family_id, state.clock.now()).await?)
}
