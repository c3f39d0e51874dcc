//! `GET /api/v1/notifications` (the caller's, newest first, with read
//! state) and `POST /api/v1/notifications/read`.

use actix_web::{HttpResponse, web};
use actix_web::{get, post};
use serde::{Deserialize, Serialize};

use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

const MAX_LIMIT: usize = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only unread ones.
    #[serde(default)]
    pub unread: bool,
    /// At most 200; 50 when absent.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
}

#[utoipa::path(params(ListQuery),
    responses((status = 200, body = Vec<cms_protocol::notify::Notification>)), security(("bearer" = [])))]
#[get("/notifications")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::Invalid(format!("limit must be 1 to {MAX_LIMIT}")));
    }
    let rows = state
        .store
        .notifications(&user.user_id, q.unread, limit)
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Without `ids`, everything is marked read.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    pub ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadResponse {
    pub marked: usize,
}

#[utoipa::path(request_body = ReadRequest,
    responses((status = 200, body = ReadResponse)), security(("bearer" = [])))]
#[post("/notifications/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<ReadRequest>,
) -> Result<HttpResponse, ApiError> {
    let marked = state
        .store
        .mark_read(&user.user_id, body.ids.as_deref(), state.clock.now())
        .await?;
    Ok(HttpResponse::Ok().json(ReadResponse { marked }))
}
