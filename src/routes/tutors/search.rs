//! Finding tutors: `GET /api/v1/tutors?subject=&level=&from=&to=` (approved
//! tutors teaching a subject-level with their next free slots),
//! `GET /api/v1/tutors/{id}` and `GET /api/v1/tutors/{id}/slots`.

use actix_web::get;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use cms_actors::Role;
use cms_domain::ids::UserId;
use cms_domain::tutor::TutorStatus;
use serde::{Deserialize, Serialize};

use crate::lessons::book::check_duration;
use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::routes::window::window;
use crate::state::AppState;
use cms_domain::scheduling::availability::{Held, SlotQuery, free_slots};
use cms_store::{StoreError, TutorProfile};

/// Slots listed per tutor in a search.
const SEARCH_SLOTS: usize = 5;
/// Slots listed at most by the slots endpoint.
const MAX_SLOTS: usize = 2000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    #[param(min_length = 1)]
    pub subject: String,
    #[param(min_length = 1)]
    pub level: String,
    /// RFC 3339 instant or YYYY-MM-DD; now when absent.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339 instant or YYYY-MM-DD (exclusive): after `from` and at most
    /// 366 days after it; `from` plus 14 days when absent.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Length of the lesson sought; 60 by default.
    #[param(minimum = 15, maximum = 240, multiple_of = 15)]
    pub duration_min: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlotsQuery {
    /// RFC 3339 instant or YYYY-MM-DD; now when absent.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339 instant or YYYY-MM-DD (exclusive): after `from` and at most
    /// 366 days after it; `from` plus 14 days when absent.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Length of the lesson sought; 60 by default.
    #[param(minimum = 15, maximum = 240, multiple_of = 15)]
    pub duration_min: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TutorHit {
    pub id: String,
    pub name: String,
    pub bio: String,
    pub timezone: String,
    pub rate_pence: i64,
    pub group_rate_pence: i64,
    /// The first free start times in the window (UTC).
    pub next_slots: Vec<String>,
    /// Parents' ratings: how many, and the average to one decimal.
    pub rating: cms_domain::rating::RatingSummary,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Slots {
    pub tutor_id: String,
    pub duration_min: u32,
    /// Bookable start times (UTC), each with its wall clock in the tutor's zone.
    pub slots: Vec<Slot>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Slot {
    pub start: String,
    pub local_start: String,
}

fn slots_for(
    tutor: &TutorProfile,
    held: &[Held],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    duration: Duration,
    limit: usize,
) -> Result<Vec<DateTime<Utc>>, ApiError> {
    let avail = tutor
        .availability()
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let q = SlotQuery {
        from,
        to,
        now,
        duration,
        buffer: Duration::minutes(i64::from(tutor.buffer_min)),
        limit,
    };
    Ok(free_slots(&avail, held, &q))
}

#[utoipa::path(params(SearchQuery),
    responses((status = 200, body = Vec<TutorHit>)), security(("bearer" = [])))]
#[get("/tutors")]
pub async fn search(
    state: web::Data<AppState>,
    _user: AuthUser,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let (from, to) = window(&state, q.from.as_deref(), q.to.as_deref(), 14)?;
    let duration = check_duration(q.duration_min.unwrap_or(60))?;
    let subject = match state.store.find_subject(&q.subject, &q.level).await {
        Err(StoreError::NotFound) => return Ok(HttpResponse::Ok().json(Vec::<TutorHit>::new())),
        other => other?,
    };
    let tutors = state.store.approved_tutors_teaching(&subject.id).await?;
    let ids: Vec<String> = tutors.iter().map(|t| t.id.clone()).collect();
    let held = state.store.tutors_held(&ids, from, to).await?;
    let mut hits = Vec::new();
    for t in &tutors {
        let Some(teaching) = t.teaching(&subject.id) else {
            continue;
        };
        let mine: Vec<Held> = held
            .iter()
            .filter(|(id, _)| id == &t.id)
            .map(|(_, h)| *h)
            .collect();
        let next = slots_for(t, &mine, from, to, now, duration, SEARCH_SLOTS)?;
        hits.push(TutorHit {
            id: t.id.clone(),
            name: t.name.clone(),
            bio: t.bio.clone(),
            timezone: t.timezone.clone(),
            rate_pence: teaching.rate_pence,
            group_rate_pence: teaching.group_rate_pence,
            next_slots: next
                .into_iter()
                .map(cms_domain::scheduling::time::iso)
                .collect(),
            rating: t.rating,
        });
    }
    Ok(HttpResponse::Ok().json(hits))
}

/// Approved tutors are public to signed-in users; others only to
/// themselves and admins.
pub(crate) async fn visible_profile(
    state: &AppState,
    user: &AuthUser,
    id: &str,
) -> Result<TutorProfile, ApiError> {
    let t = match state.store.tutor_profile(id).await {
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("no such tutor".into())),
        other => other?,
    };
    if t.status != TutorStatus::Approved && user.role != Role::Admin && user.user_id != t.id {
        return Err(ApiError::NotFound("no such tutor".into()));
    }
    Ok(t)
}

#[utoipa::path(params(("id" = UserId, Path, description = "the tutor's user id")), responses((status = 200, body = cms_store::TutorProfile)), security(("bearer" = [])))]
#[get("/tutors/{id}")]
pub async fn get_tutor(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(visible_profile(&state, &user, id.as_str()).await?))
}

#[utoipa::path(params(("id" = UserId, Path, description = "the tutor's user id"), SlotsQuery),
    responses((status = 200, body = Slots)), security(("bearer" = [])))]
#[get("/tutors/{id}/slots")]
pub async fn slots(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<UserId>,
    q: web::Query<SlotsQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let (from, to) = window(&state, q.from.as_deref(), q.to.as_deref(), 14)?;
    let duration_min = q.duration_min.unwrap_or(60);
    let duration = check_duration(duration_min)?;
    let t = visible_profile(&state, &user, id.as_str()).await?;
    let held: Vec<Held> = state
        .store
        .tutors_held(std::slice::from_ref(&t.id), from, to)
        .await?
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    let tz = cms_domain::scheduling::time::zone(&t.timezone)
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let slots = slots_for(&t, &held, from, to, now, duration, MAX_SLOTS)?
        .into_iter()
        .map(|s| Slot {
            start: cms_domain::scheduling::time::iso(s),
            local_start: cms_domain::scheduling::time::fmt_local(
                cms_domain::scheduling::time::local(tz, s),
            ),
        })
        .collect();
    Ok(HttpResponse::Ok().json(Slots {
        tutor_id: t.id,
        duration_min,
        slots,
    }))
}
