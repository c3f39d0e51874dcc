//! Money reports: `GET /api/v1/tutor/earnings?from&to` (a tutor's own)
//! and `GET /api/v1/admin/billing/summary?from&to` (admins).

use actix_web::{HttpResponse, get, web};
use chrono::Duration;
use serde::Deserialize;

use crate::billing::{self, Earnings, Summary};
use crate::routes::error::ApiError;
use crate::routes::extract::{AdminUser, AuthUser};
use crate::routes::window::{instant, window};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// RFC 3339 instant or YYYY-MM-DD; 30 days before `to` when absent.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339 instant or YYYY-MM-DD (exclusive): after `from`; now when
    /// absent.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

/// The span asked for, by default the last 30 days.
fn span(
    state: &AppState,
    q: &Span,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), ApiError> {
    // `to` first: it is now unless given, and `from` 30 days before it.
    let to = match &q.to {
        Some(t) => instant("to", t)?,
        None => state.clock.now(),
    };
    let from = match &q.from {
        Some(f) => f.clone(),
        None => (to - Duration::days(30)).to_rfc3339(),
    };
    window(state, Some(&from), Some(&to.to_rfc3339()), 30)
}

/// The tutor's charged lessons in the span with gross, fee and net, and
/// the totals collected and still to collect.
#[utoipa::path(params(Span),
    responses((status = 200, body = Earnings),
        (status = 403, description = "only tutors have earnings", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/tutor/earnings")]
pub async fn earnings(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<Span>,
) -> Result<HttpResponse, ApiError> {
    // The role before the query: anyone else is told so whatever they ask.
    billing::tutor_only(&user)?;
    let (from, to) = span(&state, &q)?;
    Ok(HttpResponse::Ok().json(billing::earnings(&state.billing, &user, from, to).await?))
}

/// Collected, fees, tutors' share, failed and waiting charges in the span;
/// paid out; outstanding now.
#[utoipa::path(params(Span),
    responses((status = 200, body = Summary),
        (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/admin/billing/summary")]
pub async fn summary(
    state: web::Data<AppState>,
    _admin: AdminUser,
    q: web::Query<Span>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = span(&state, &q)?;
    Ok(HttpResponse::Ok().json(billing::summary(&state.billing, from, to).await?))
}
