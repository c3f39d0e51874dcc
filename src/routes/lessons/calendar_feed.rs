//! The secret iCalendar feed: `GET /calendar/<token>.ics` (no login: the
//! token is the secret, for Google, Apple or Outlook to poll), and
//! `GET /api/v1/me/calendar-feed` / `POST …/rotate` to get or replace it.

use actix_web::{HttpResponse, web};
use actix_web::{get, post};
use chrono::Duration;
use cms_actors::Role;
use serde::Serialize;

use crate::config::PublicUrl;
use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::scheduling::ical::{FeedEvent, render};
use crate::state::AppState;
use cms_store::StoreError;
use cms_store::lessons::CalendarScope;

/// How far back and ahead the feed reaches.
const FEED_PAST_DAYS: i64 = 60;
const FEED_AHEAD_DAYS: i64 = 366;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedLink {
    /// Path of the feed on this server; anyone holding it can read it.
    pub path: String,
    /// The same, absolute: the configured `public_url` and the path.
    pub url: String,
}

/// The feed's link. The absolute URL starts with the configured public
/// root, never the request's Host header: a client (or a proxy passing on
/// whatever it was sent) could otherwise have the server hand a user a
/// secret URL on someone else's host.
fn link(public: &PublicUrl, token: &str) -> FeedLink {
    let path = format!("/calendar/{token}.ics");
    FeedLink {
        url: format!("{}{path}", public.0),
        path,
    }
}

#[utoipa::path(responses((status = 200, body = FeedLink)), security(("bearer" = [])))]
#[get("/me/calendar-feed")]
pub async fn get_feed(
    public: web::Data<PublicUrl>,
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let token = state
        .store
        .feed_token(&user.user_id, state.clock.now())
        .await?;
    Ok(HttpResponse::Ok().json(link(&public, &token)))
}

/// A new secret URL; the old one stops working at once.
#[utoipa::path(responses((status = 200, body = FeedLink)), security(("bearer" = [])))]
#[post("/me/calendar-feed/rotate")]
pub async fn rotate_feed(
    public: web::Data<PublicUrl>,
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let token = state
        .store
        .rotate_feed_token(&user.user_id, state.clock.now())
        .await?;
    Ok(HttpResponse::Ok().json(link(&public, &token)))
}

pub async fn feed(
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let unknown = || ApiError::NotFound("no such calendar".into());
    let token = file.strip_suffix(".ics").ok_or_else(unknown)?;
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    let user_id = match state.store.feed_user(token).await {
        Err(StoreError::NotFound) => return Err(unknown()),
        other => other?,
    };
    let user = state.store.user(&user_id).await?;
    let now = state.clock.now();
    let (from, to) = (
        now - Duration::days(FEED_PAST_DAYS),
        now + Duration::days(FEED_AHEAD_DAYS),
    );
    let scope = match (user.role, &user.family_id) {
        (Role::Parent, Some(f)) => CalendarScope::Family {
            family_id: f,
            student_id: None,
        },
        (Role::Tutor, _) => CalendarScope::Tutor(&user.id),
        (Role::Admin, _) => CalendarScope::All {
            tutor_id: None,
            family_id: None,
        },
        (Role::Parent, None) => return Err(unknown()),
    };
    let lessons = state.store.calendar(scope, from, to).await?;
    let events: Vec<FeedEvent> = lessons.iter().map(|o| FeedEvent::of(o, now)).collect();
    let body = render(&format!("{} — lessons", user.name), &events);
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header(("Cache-Control", "private, max-age=300"))
        .body(body))
}
