//! `GET /api/v1/conversations/{id}/audit` (admins): every edit and delete
//! with the text the message had before.

use actix_web::{HttpResponse, web};
use cms_actors::Role;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/conversations/{id}/audit", params(("id" = String, Path)),
    responses((status = 200, body = Vec<cms_store::RevisionRow>), (status = 403, body = super::ErrorBody)), security(("bearer" = [])))]
pub async fn conversation_audit(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let id = path.into_inner();
    state.store.conversation_row(&id).await?;
    Ok(HttpResponse::Ok().json(state.store.revisions(&id).await?))
}
