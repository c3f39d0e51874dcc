//! A parent confirms a charge the bank would not take while they were
//! away (Strong Customer Authentication) — the page the `payment_action`
//! notice links to calls `POST /api/v1/billing/charges/confirm`. The
//! charge is sent again at once, *on session*, with its next attempt's
//! key: Stripe either takes it, or answers `requires_action` with the
//! client secret Stripe.js needs to show the bank's check; its
//! `payment_intent.succeeded` webhook then settles the charge as any other.

use cms_domain::Caller;
use cms_domain::charge::{ChargePurpose, ChargeStatus};
use cms_store::StoreError;
use serde::Serialize;

use super::charge::{self, Session};
use super::{Billing, BillingError, family_of};

/// Where the charge stands after the parent's confirmation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Confirmation {
    pub status: ChargeStatus,
    /// For Stripe.js (`handleNextAction`) while the bank waits for the
    /// parent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

pub async fn confirm(
    deps: &Billing,
    user: &Caller,
    lesson: &str,
    purpose: ChargePurpose,
) -> Result<Confirmation, BillingError> {
    let family = family_of(user)?;
    deps.stripe()?;
    let key = format!("{lesson}:{family}:{purpose}");
    let c = match deps.store.charge_by_key(&key).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => {
            return Err(BillingError::NotFound(
                "the family has no such charge".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if c.status != ChargeStatus::RequiresAction {
        return Err(BillingError::Conflict(format!(
            "this charge is not waiting for you: it is {}",
            c.status
        )));
    }
    let has_card = deps
        .store
        .billing_customer(family)
        .await?
        .is_some_and(|cust| cust.card.is_some());
    if !has_card {
        return Err(BillingError::Conflict(
            "add a card first (POST /api/v1/billing/setup)".into(),
        ));
    }
    if !deps.store.charge_resume(&c, deps.clock.now()).await? {
        return Err(BillingError::Conflict(
            "this charge changed meanwhile; look again".into(),
        ));
    }
    let c = deps.store.charge_by_key(&key).await?;
    let sent = charge::send(deps, &c, Session::Here).await?;
    let now = deps.store.charge_by_key(&key).await?;
    Ok(Confirmation {
        client_secret: sent
            .filter(|_| now.status == ChargeStatus::RequiresAction)
            .and_then(|s| s.client_secret),
        status: now.status,
    })
}
