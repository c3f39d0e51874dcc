//! `POST /api/v1/billing/setup` (a SetupIntent for the family's card) and
//! `GET /api/v1/billing` (the card on file and the balance).

use actix_web::{HttpResponse, get, post, web};

use crate::billing::{self, Overview, SetupAnswer};
use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

/// Makes (once) the family's Stripe Customer and a SetupIntent for a card
/// charged after each lesson; the app confirms it with Stripe.js, and
/// Stripe's `setup_intent.succeeded` webhook puts the card on file.
#[utoipa::path(
    responses((status = 200, body = SetupAnswer),
        (status = 403, description = "only parents save cards", body = crate::routes::ErrorBody),
        (status = 503, description = "billing is off, or Stripe is unavailable", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/billing/setup")]
pub async fn setup(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(billing::setup(&state.billing, &user).await?))
}

/// The family's card on file (brand, last four, expiry) and what it owes.
#[utoipa::path(
    responses((status = 200, body = Overview),
        (status = 403, description = "only parents have billing", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/billing")]
pub async fn overview(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(billing::overview(&state.billing, &user).await?))
}
