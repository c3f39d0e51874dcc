//! `GET /api/v1/me`.

use actix_web::{HttpResponse, web};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::startup::AppState;

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = crate::store::UserRow)), security(("bearer" = [])))]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.user(&user.user_id).await?))
}
