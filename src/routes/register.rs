//! `POST /api/v1/auth/register`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::login::issue_token;
use crate::auth::hash_password;
use crate::error::ApiError;
use crate::state::AppState;
use cms_domain::Role;
use cms_store::{NewUser, StoreError, UserRow};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    /// 8 to 1024 characters.
    pub password: String,
    pub name: String,
    /// Admins are made on the command line.
    pub role: SignUpRole,
    /// A valid number, stored in E.164: +447700900123 or, for the UK,
    /// 07700 900123.
    pub phone: Option<String>,
    /// IANA zone; Europe/London when absent.
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

pub const DEFAULT_TIMEZONE: &str = "Europe/London";

/// Checks the fields a person types; returns the normalised email.
pub fn check_account(email: &str, password: &str, name: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid_email = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'));
    if !valid_email {
        return Err(ApiError::Invalid("email is not a valid address".into()));
    }
    let len = password.chars().count();
    if !(8..=1024).contains(&len) {
        return Err(ApiError::Invalid(
            "password must be 8 to 1024 characters".into(),
        ));
    }
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Invalid("name must be 1 to 200 characters".into()));
    }
    Ok(email)
}

/// A typed number in E.164, or a 422 saying what is wanted.
pub fn check_phone(phone: &str) -> Result<String, ApiError> {
    crate::notify::phone::to_e164(phone).map_err(|e| ApiError::Invalid(e.to_string()))
}

#[utoipa::path(post, path = "/api/v1/auth/register", request_body = RegisterRequest,
    responses((status = 201, body = super::login::AuthResponse), (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn register(
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let user = create_account(&state, &req, None).await?;
    let token = issue_token(&state, &user.id).await?;
    Ok(HttpResponse::Created().json(super::login::AuthResponse { token, user }))
}

/// Checks and stores a new account; `family_id` adds a parent to a family.
pub async fn create_account(
    state: &AppState,
    req: &RegisterRequest,
    family_id: Option<&str>,
) -> Result<UserRow, ApiError> {
    let email = check_account(&req.email, &req.password, &req.name)?;
    let phone = req.phone.as_deref().map(check_phone).transpose()?;
    let timezone = req.timezone.as_deref().unwrap_or(DEFAULT_TIMEZONE);
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::Invalid(format!(
            "{timezone:?} is not an IANA time zone"
        )));
    }
    let hash = hash_password(req.password.clone()).await?;
    let new = NewUser {
        email: &email,
        password_hash: &hash,
        name: req.name.trim(),
        role: req.role.into(),
        phone: phone.as_deref(),
        timezone,
        family_id,
    };
    state
        .store
        .create_user(new, state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => {
                ApiError::Conflict("that email is already registered".into())
            }
            other => other.into(),
        })
}
