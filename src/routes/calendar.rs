//! `GET /api/v1/calendar?from=&to=&student_id=`: a parent sees all their
//! children's lessons (or one child's), a tutor their own, an admin
//! anyone's (`tutor_id`, `family_id` to narrow).

use actix_web::{HttpResponse, web};
use cms_actors::Role;
use serde::Deserialize;

use super::window::window;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;
use cms_store::lessons::CalendarScope;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub student_id: Option<String>,
    /// Admins only.
    pub tutor_id: Option<String>,
    /// Admins only.
    pub family_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/calendar", params(CalendarQuery),
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
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
            student_id: q.student_id.as_deref(),
        },
        Role::Tutor => CalendarScope::Tutor(&user.user_id),
        Role::Admin => CalendarScope::All {
            tutor_id: q.tutor_id.as_deref(),
            family_id: q.family_id.as_deref(),
        },
    };
    let mut lessons = state.store.calendar(scope, from, to).await?;
    if let (Some(s), Role::Tutor | Role::Admin) = (&q.student_id, user.role) {
        lessons.retain(|o| o.students.iter().any(|x| &x.id == s));
    }
    Ok(HttpResponse::Ok().json(lessons))
}
