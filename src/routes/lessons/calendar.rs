//! `GET /api/v1/calendar?from=&to=&student_id=`: a parent sees all their
//! children's lessons (or one child's), a tutor their own, an admin
//! anyone's (`tutor_id`, `family_id` to narrow).

use actix_web::get;
use actix_web::{HttpResponse, web};
use cms_actors::Role;
use cms_domain::ids::{FamilyId, StudentId, UserId};
use serde::Deserialize;

use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::routes::window::window;
use crate::state::AppState;
use cms_store::lessons::CalendarScope;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    /// RFC 3339 instant or YYYY-MM-DD; now when absent.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339 instant or YYYY-MM-DD (exclusive): after `from` and at most
    /// 366 days after it; `from` plus 31 days when absent.
    #[param(format = DateTime)]
    pub to: Option<String>,
    pub student_id: Option<StudentId>,
    /// Admins only.
    pub tutor_id: Option<UserId>,
    /// Admins only.
    pub family_id: Option<FamilyId>,
}

#[utoipa::path(params(CalendarQuery),
    responses((status = 403, description = "the caller's role may not do this", body = crate::routes::ErrorBody), (status = 200, body = Vec<cms_protocol::calendar::Occurrence>)), security(("bearer" = [])))]
#[get("/calendar")]
pub async fn calendar(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<CalendarQuery>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = window(&state, q.from.as_deref(), q.to.as_deref(), 31)?;
    if user.role != Role::Admin && (q.tutor_id.is_some() || q.family_id.is_some()) {
        return Err(ApiError::Forbidden(
            "only admins look at other calendars".into(),
        ));
    }
    let scope = match user.role {
        Role::Parent => CalendarScope::Family {
            family_id: user.parent_family()?,
            student_id: q.student_id.as_ref().map(StudentId::as_str),
        },
        Role::Tutor => CalendarScope::Tutor(&user.user_id),
        Role::Admin => CalendarScope::All {
            tutor_id: q.tutor_id.as_ref().map(UserId::as_str),
            family_id: q.family_id.as_ref().map(FamilyId::as_str),
        },
    };
    let mut lessons = state.store.calendar(scope, from, to).await?;
    if let (Some(s), Role::Tutor | Role::Admin) = (&q.student_id, user.role) {
        lessons.retain(|o| o.students.iter().any(|x| x.id == s.as_str()));
    }
    Ok(HttpResponse::Ok().json(lessons))
}
