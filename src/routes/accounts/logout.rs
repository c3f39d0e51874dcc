//! `POST /api/v1/auth/logout`: revokes the token and closes its sockets.

use actix_web::post;
use actix_web::{HttpResponse, web};
use cms_actors::registry::CloseSession;

use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[utoipa::path(responses((status = 204), (status = 401, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    // Revoke first: a socket opened after this point is refused at upgrade.
    state
        .store
        .revoke_session(&user.session_id, state.clock.now())
        .await?;
    let closed = state
        .registry
        .send(CloseSession {
            session_id: user.session_id.clone(),
        })
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(user = %user.user_id, sockets = closed, "logged out");
    Ok(HttpResponse::NoContent().finish())
}
