//! `POST /api/v1/billing/charges/confirm`: a parent confirms a charge the
//! bank asked them to authenticate (the `payment_action` notice links to
//! the app's page for it). The workflow is `crate::billing::confirm`.

use actix_web::{HttpResponse, post, web};
use cms_domain::charge::ChargePurpose;
use cms_domain::ids::LessonId;
use serde::Deserialize;

use crate::billing::confirm::Confirmation;
use crate::routes::error::ApiError;
use crate::routes::extract::ParentUser;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub lesson_id: LessonId,
    pub purpose: ChargePurpose,
}

/// Sends the family's waiting charge again with the parent present: it is
/// taken at once, or the answer carries the client secret for Stripe.js
/// to show the bank's check; Stripe's webhook then settles it.
#[utoipa::path(request_body = ConfirmRequest,
    responses((status = 200, body = Confirmation),
        (status = 403, description = "only parents confirm their charges", body = crate::routes::ErrorBody),
        (status = 404, description = "no such charge for the family", body = crate::routes::ErrorBody),
        (status = 409, description = "not waiting for the parent, or no card", body = crate::routes::ErrorBody),
        (status = 503, description = "billing is off", body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[post("/billing/charges/confirm")]
pub async fn confirm(
    state: web::Data<AppState>,
    ParentUser(parent): ParentUser,
    body: web::Json<ConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let answer: Confirmation = crate::billing::confirm::confirm(
        &state.billing,
        &parent,
        body.lesson_id.as_str(),
        body.purpose,
    )
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}
