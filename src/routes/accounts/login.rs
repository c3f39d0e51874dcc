//! `POST /api/v1/auth/login`.

use actix_web::post;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::client_ip;
use crate::accounts::normalise_email;
use crate::auth::verify_password_or_dummy;
use crate::routes::error::ApiError;
use crate::state::AppState;
use cms_store::{StoreError, UserRow};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthResponse {
    /// Bearer token for REST and the socket's `token` param.
    pub token: String,
    pub user: UserRow,
}

/// Starts a login session and signs its token.
pub async fn issue_token(state: &AppState, user_id: &str) -> Result<String, ApiError> {
    let now = state.clock.now();
    let exp = now + state.token_ttl;
    let sid = state.store.create_session(user_id, now, exp).await?;
    state
        .keys
        .issue(user_id, &sid, now, exp)
        .map_err(ApiError::internal)
}

#[utoipa::path(request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = crate::routes::ErrorBody),
        (status = 429, description = "too many wrong passwords for this account or from this address: \
            wait the `Retry-After` seconds", body = crate::routes::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait")))))]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    http: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let client = client_ip(&http);
    // An address that could not have been registered has no account; it
    // still goes through the same steps below, so it answers alike.
    let email = normalise_email(&req.email).unwrap_or_else(|_| req.email.trim().to_lowercase());
    let guard = &state.account_guards.login;
    // Before any work: a throttled attempt costs no argon2 time and, as
    // the password is not checked, tells nothing.
    if let Some(wait) = guard.wait(&email, client, state.clock.now()) {
        return Err(ApiError::too_many(
            "too many failed logins: wait before trying again",
            wait,
        ));
    }
    let (id, hash) = match state.store.credentials(&email).await {
        Ok((id, hash)) => (Some(id), Some(hash)),
        Err(StoreError::NotFound) => (None, None),
        Err(e) => return Err(e.into()),
    };
    // An unknown address is checked against a dummy hash: the same argon2
    // work, so the answer's timing does not reveal which addresses exist.
    let verified = verify_password_or_dummy(req.password, hash).await?;
    let Some(id) = id.filter(|_| verified) else {
        guard.failed(&email, client, state.clock.now());
        return Err(ApiError::Unauthorized);
    };
    guard.succeeded(&email);
    let token = issue_token(&state, &id).await?;
    let user = state.store.user(&id).await?;
    Ok(HttpResponse::Ok().json(AuthResponse { token, user }))
}
