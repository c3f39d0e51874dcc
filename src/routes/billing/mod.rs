//! Billing: a parent's card and balance (`/api/v1/billing…`) and Stripe's
//! webhooks (`POST /webhooks/stripe`, not REST). The workflows are
//! `crate::billing`; these handlers only translate.

pub mod card;
pub mod confirm;
pub mod packages;
pub mod payouts;
pub mod reports;
pub mod webhook;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(card::setup)
        .service(confirm::confirm)
        .service(card::overview)
        .service(card::statement)
        .service(card::week)
        .service(payouts::onboard)
        .service(payouts::status)
        .service(reports::earnings)
        .service(reports::summary)
        .service(packages::offers)
        .service(packages::create_offer)
        .service(packages::set_offer)
        .service(packages::buy)
        .service(packages::mine);
}
