//! Admins' side of tutors' documents: the review queue, verify, reject, and
//! who read a DBS certificate.

use actix_web::{HttpResponse, get, post, web};
use cms_domain::documents::DocumentStatus;
use cms_domain::ids::DocumentId;
use serde::Deserialize;

use crate::documents::Verdict;
use crate::routes::error::ApiError;
use crate::routes::extract::AdminUser;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only documents in this state (the queue is `pending`).
    pub status: Option<DocumentStatus>,
}

/// Documents oldest first (a queue), optionally of one status.
#[utoipa::path(params(ListQuery),
    responses((status = 200, body = Vec<cms_store::documents::DocumentRow>),
        (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/admin/documents")]
pub async fn list(
    state: web::Data<AppState>,
    _admin: AdminUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.documents.store.documents(q.status, 500).await?))
}

/// Verifies a pending document; a DBS then counts for
/// `documents.dbs_valid_months` from its issue date.
#[utoipa::path(params(("id" = DocumentId, Path, description = "the document")),
    responses((status = 200, body = cms_store::documents::DocumentRow),
        (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody),
        (status = 404, description = "no such document", body = crate::routes::ErrorBody),
        (status = 409, description = "already reviewed", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/admin/documents/{id}/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    id: web::Path<DocumentId>,
) -> Result<HttpResponse, ApiError> {
    let row = state
        .documents
        .review(&admin, id.as_str(), Verdict::Verify)
        .await?;
    Ok(HttpResponse::Ok().json(row))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Shown to the tutor.
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// Rejects a pending document with a reason the tutor sees.
#[utoipa::path(params(("id" = DocumentId, Path, description = "the document")), request_body = RejectRequest,
    responses((status = 200, body = cms_store::documents::DocumentRow),
        (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody),
        (status = 404, description = "no such document", body = crate::routes::ErrorBody),
        (status = 409, description = "already reviewed", body = crate::routes::ErrorBody),
        (status = 422, description = "no reason", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/admin/documents/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    id: web::Path<DocumentId>,
    body: web::Json<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(ApiError::Invalid("reason is 1 to 1,000 characters".into()));
    }
    let row = state
        .documents
        .review(&admin, id.as_str(), Verdict::Reject(reason.to_owned()))
        .await?;
    Ok(HttpResponse::Ok().json(row))
}

/// Every read of a document's file: who and when, oldest first (DBS
/// certificates are criminal-records data).
#[utoipa::path(params(("id" = DocumentId, Path, description = "the document")),
    responses((status = 200, body = Vec<cms_store::documents::AccessRow>),
        (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody),
        (status = 404, description = "no such document", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/admin/documents/{id}/accesses")]
pub async fn accesses(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<DocumentId>,
) -> Result<HttpResponse, ApiError> {
    let store = &state.documents.store;
    store.document(id.as_str()).await?;
    Ok(HttpResponse::Ok().json(store.document_accesses(id.as_str()).await?))
}
