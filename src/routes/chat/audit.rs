//! `GET /api/v1/conversations/{id}/audit` (admins): every edit and delete
//! with the text the message had before.

use actix_web::get;
use actix_web::{HttpResponse, web};

use crate::routes::error::ApiError;
use crate::routes::extract::AdminUser;
use crate::state::AppState;
use cms_domain::ids::ConversationId;

#[utoipa::path(params(("id" = ConversationId, Path, description = "the conversation")),
    responses((status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody), (status = 200, body = Vec<cms_store::RevisionRow>), (status = 403, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[get("/conversations/{id}/audit")]
pub async fn conversation_audit(
    state: web::Data<AppState>,
    AdminUser(_user): AdminUser,
    path: web::Path<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    state.store.conversation_row(id.as_str()).await?;
    Ok(HttpResponse::Ok().json(state.store.revisions(id.as_str()).await?))
}
