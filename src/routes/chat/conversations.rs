//! `POST /api/v1/conversations` and `GET /api/v1/conversations`.

use actix_web::{HttpResponse, web};
use actix_web::{get, post};
use cms_actors::Role;
use cms_domain::ids::{ConversationId, StudentId, UserId};
use serde::Deserialize;

use crate::routes::error::ApiError;
use crate::routes::extract::{AuthUser, ParentUser};
use crate::routes::page;
use crate::state::AppState;
use cms_store::StoreError;
use cms_store::conversations::{ConversationCursor, Scope};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    pub tutor_id: UserId,
    /// The child the thread is about; the child's parents are always members.
    pub student_id: Option<StudentId>,
}

/// Opens (or returns) the thread between the caller's family and a tutor.
/// Members are the family's parents and the tutor, so a tutor never shares a
/// thread with a student without the student's parents.
#[utoipa::path(request_body = NewConversation,
    responses((status = 403, description = "the caller is not a parent with a family", body = crate::routes::ErrorBody), (status = 201, body = cms_store::ConversationRow), (status = 200, body = cms_store::ConversationRow),
              (status = 404, body = crate::routes::ErrorBody),
              (status = 409, description = "the family has `limits.conversations_per_pair` conversations with this tutor", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/conversations")]
pub async fn create_conversation(
    state: web::Data<AppState>,
    ParentUser(user): ParentUser,
    body: web::Json<NewConversation>,
) -> Result<HttpResponse, ApiError> {
    let family = user.parent_family()?;
    let tutor = match state.store.user(body.tutor_id.as_str()).await {
        Ok(t) if t.role == Role::Tutor => t,
        Ok(_) | Err(StoreError::NotFound) => {
            return Err(ApiError::NotFound("no such tutor".into()));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(sid) = &body.student_id {
        match state.store.student(sid.as_str()).await {
            Ok(s) if s.family_id == family => {}
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(ApiError::NotFound("no such student in your family".into()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let (conv, created) = state
        .store
        .open_conversation(
            family,
            &tutor.id,
            body.student_id.as_ref().map(StudentId::as_str),
            state.limits.conversations_per_pair,
            state.clock.now(),
        )
        .await?;
    Ok(if created {
        HttpResponse::Created().json(conv)
    } else {
        HttpResponse::Ok().json(conv)
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1 to 100; 50 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Where the page starts: from the previous page's `Link` header.
    #[param(pattern = r"^[0-9]{1,16}\.[A-Za-z0-9_-]{1,64}$")]
    pub cursor: Option<String>,
}

/// The caller's conversations, newest activity first, a page at a time
/// (docs/rest.md).
#[utoipa::path(params(ListQuery),
    responses((status = 200, body = Vec<cms_store::ConversationSummary>,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` when another page follows")))),
    security(("bearer" = [])))]
#[get("/conversations")]
pub async fn list_conversations(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = match &q.cursor {
        Some(c) => {
            let (activity, id) = page::decode::<ConversationId>(c)?;
            Some(ConversationCursor {
                activity,
                id: id.to_string(),
            })
        }
        None => None,
    };
    let scope = match (user.role, &user.family_id) {
        (Role::Parent, Some(f)) => Scope::Family(f),
        (Role::Parent, None) => return Ok(HttpResponse::Ok().json(Vec::<()>::new())),
        (Role::Tutor, _) => Scope::Tutor(&user.user_id),
        (Role::Admin, _) => Scope::All,
    };
    let found = state
        .store
        .list_conversations(scope, &user.user_id, limit, after.as_ref())
        .await?;
    let mut res = HttpResponse::Ok();
    if let Some(next) = &found.next {
        let cursor = page::encode(next.activity, &next.id);
        page::link_next(&mut res, "/api/v1/conversations", limit, &cursor);
    }
    Ok(res.json(found.items))
}
