//! Packages: `GET /api/v1/packages` (what is on sale), the admins' offers
//! (`POST /api/v1/admin/packages`, `PATCH /api/v1/admin/packages/{id}`),
//! and a family's (`POST`/`GET /api/v1/billing/packages`). The workflows
//! are `crate::billing::packages`.

use actix_web::{HttpResponse, get, patch, post, web};
use cms_domain::ids::OfferId;
use cms_domain::package::OfferInput;
use cms_store::packages::{OfferRow, PackageRow};
use serde::Deserialize;

use crate::billing::packages::{self, Purchase};
use crate::routes::error::ApiError;
use crate::routes::extract::{AdminUser, AuthUser, ParentUser};
use crate::state::AppState;

/// The package offers on sale, newest first (an admin also sees those
/// taken off sale).
#[utoipa::path(
    responses((status = 200, body = Vec<OfferRow>)),
    security(("bearer" = [])))]
#[get("/packages")]
pub async fn offers(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(packages::offers(&state.billing, &user).await?))
}

/// Puts a bundle of lessons on sale, e.g. 10 lessons of 60 minutes for
/// the price of 9.
#[utoipa::path(request_body = OfferInput,
    responses((status = 201, body = OfferRow),
        (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody),
        (status = 422, description = "an offer out of bounds", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/admin/packages")]
pub async fn create_offer(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    body: web::Json<OfferInput>,
) -> Result<HttpResponse, ApiError> {
    let row = packages::create_offer(&state.billing, &admin, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(row))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferChange {
    /// On sale or not; packages already bought are kept either way.
    pub active: bool,
}

/// Takes an offer off sale, or puts it back.
#[utoipa::path(params(("id" = OfferId, Path, description = "the offer")), request_body = OfferChange,
    responses((status = 200, body = OfferRow),
        (status = 403, description = "the caller is not an admin", body = crate::routes::ErrorBody),
        (status = 404, description = "no such offer", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[patch("/admin/packages/{id}")]
pub async fn set_offer(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    id: web::Path<OfferId>,
    body: web::Json<OfferChange>,
) -> Result<HttpResponse, ApiError> {
    let row = packages::set_offer_active(&state.billing, &admin, id.as_str(), body.active).await?;
    Ok(HttpResponse::Ok().json(row))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyRequest {
    pub offer_id: OfferId,
}

/// Buys a package for the family. With a saved card it is paid at once
/// unless the bank asks the parent to confirm; then (or with no card) the
/// answer carries the PaymentIntent's client secret for Stripe.js, and
/// Stripe's `payment_intent.succeeded` makes the package's lessons
/// spendable.
#[utoipa::path(request_body = BuyRequest,
    responses((status = 201, body = Purchase),
        (status = 403, description = "only parents buy packages", body = crate::routes::ErrorBody),
        (status = 404, description = "no such offer", body = crate::routes::ErrorBody),
        (status = 409, description = "the offer is off sale", body = crate::routes::ErrorBody),
        (status = 503, description = "billing is off, or Stripe is unavailable", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/billing/packages")]
pub async fn buy(
    state: web::Data<AppState>,
    ParentUser(parent): ParentUser,
    body: web::Json<BuyRequest>,
) -> Result<HttpResponse, ApiError> {
    let bought = packages::buy(&state.billing, &parent, body.offer_id.as_str()).await?;
    Ok(HttpResponse::Created().json(bought))
}

/// The family's packages, newest first, with how many lessons are left,
/// used and expired.
#[utoipa::path(
    responses((status = 200, body = Vec<PackageRow>),
        (status = 403, description = "only parents have packages", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[get("/billing/packages")]
pub async fn mine(
    state: web::Data<AppState>,
    ParentUser(parent): ParentUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(packages::mine(&state.billing, &parent).await?))
}
