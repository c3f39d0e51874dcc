//! A tutor's payouts: `POST /api/v1/tutor/payouts/onboard` (Stripe Connect
//! onboarding) and `GET /api/v1/tutor/payouts` (where it stands).

use actix_web::{HttpResponse, get, post, web};

use crate::billing::{self, OnboardAnswer, PayoutStatus};
use crate::config::PublicUrl;
use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

/// Where Stripe sends the tutor back: the web app's payouts page, from
/// this server's public root (never the request's Host header).
fn back_to(public: &PublicUrl, outcome: &str) -> String {
    format!("{}/tutor/payouts?onboarding={outcome}", public.0)
}

/// Makes (once) the tutor's Stripe Express account and answers a fresh
/// onboarding link. A tutor without one still teaches; earnings wait.
#[utoipa::path(
    responses((status = 200, body = OnboardAnswer),
        (status = 403, description = "only tutors have payout accounts", body = crate::routes::ErrorBody),
        (status = 503, description = "billing is off, or Stripe is unavailable", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/tutor/payouts/onboard")]
pub async fn onboard(
    state: web::Data<AppState>,
    public: web::Data<PublicUrl>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let answer = billing::onboard(
        &state.billing,
        &user,
        &back_to(&public, "refresh"),
        &back_to(&public, "done"),
    )
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// Whether the tutor's account has been made, has their details, and may
/// be paid out to.
#[utoipa::path(
    responses((status = 200, body = PayoutStatus),
        (status = 403, description = "only tutors have payout accounts", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/tutor/payouts")]
pub async fn status(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(billing::payouts(&state.billing, &user).await?))
}
