//! `POST /api/v1/auth/login`.

use actix_web::post;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::auth::verify_password;
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
    responses((status = 200, body = AuthResponse), (status = 401, body = crate::routes::ErrorBody)))]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let email = req.email.trim().to_lowercase();
    let (id, hash) = match state.store.credentials(&email).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    };
    if !verify_password(req.password, hash).await? {
        return Err(ApiError::Unauthorized);
    }
    let token = issue_token(&state, &id).await?;
    let user = state.store.user(&id).await?;
    Ok(HttpResponse::Ok().json(AuthResponse { token, user }))
}
