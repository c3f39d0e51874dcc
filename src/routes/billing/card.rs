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

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MonthQuery {
    /// `YYYY-MM`, on UK clocks.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: String,
}

/// The family's statement for a month, across all its children: each
/// child's seat in each lesson with its price, discount, what was charged
/// and how it was paid, and the totals.
#[utoipa::path(params(MonthQuery),
    responses((status = 200, body = crate::statements::Statement),
        (status = 403, description = "only parents have statements", body = crate::routes::ErrorBody),
        (status = 422, description = "not a month", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/billing/statement")]
pub async fn statement(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<MonthQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .json(billing::statement::statement(&state.billing, &user, &q.month).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DateQuery {
    /// Any day of the week, `YYYY-MM-DD`; the week is Monday to Sunday on
    /// UK clocks.
    #[param(format = Date)]
    pub date: chrono::NaiveDate,
}

/// What each of the family's lessons that week costs: the price, the
/// sibling discount by child order, and what the card will be charged
/// when it is held (nothing for a seat a credit or package paid).
#[utoipa::path(params(DateQuery),
    responses((status = 200, body = crate::billing::prices::WeekPrices),
        (status = 403, description = "only parents have prices", body = crate::routes::ErrorBody),
        (status = 422, description = "not a date", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/billing/week")]
pub async fn week(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<DateQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::billing::prices::week(&state.billing, &user, q.date).await?))
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
