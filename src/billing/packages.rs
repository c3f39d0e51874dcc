//! Packages (docs/billing.md, "Packages"): admins offer bundles of lessons,
//! parents buy them with a PaymentIntent, bookings spend them
//! (`lessons::book`, `use_package`), a cancellation in time gives a lesson
//! back (`lessons::change`), and lessons nobody spent expire here.
//!
//! A purchase is a `pending` package first, whose id keys its
//! PaymentIntent, so a retried request never pays twice. It is paid when
//! Stripe says so — in the answer to a confirmation with the saved card, or
//! in `payment_intent.succeeded` — and both roads meet in
//! [`paid`], which makes the units and posts `package_purchased` once.

use cms_domain::Caller;
use cms_domain::Role;
use cms_domain::package::{self, OfferInput};
use cms_store::StoreError;
use cms_store::billing::EventSeen;
use cms_store::ledger::KeyedEntry;
use cms_store::packages::{OfferRow, PackageRow};
use serde::Serialize;

use super::stripe::{IntentStatus, PackageIntentRequest, StripeFailure};
use super::{Billing, BillingError, customer_of, family_of};

/// Units expired per sweep.
const EXPIRE_BATCH: u32 = 200;

fn admin_only(user: &Caller) -> Result<(), BillingError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(BillingError::Forbidden(
            "only an admin manages package offers".into(),
        ))
    }
}

/// Offers on sale; an admin sees the retired ones too.
pub async fn offers(deps: &Billing, user: &Caller) -> Result<Vec<OfferRow>, BillingError> {
    Ok(deps.store.offers(user.role == Role::Admin).await?)
}

pub async fn create_offer(
    deps: &Billing,
    user: &Caller,
    input: OfferInput,
) -> Result<OfferRow, BillingError> {
    admin_only(user)?;
    let offer = input.check().map_err(BillingError::Invalid)?;
    Ok(deps
        .store
        .create_offer(&offer, &user.user_id, deps.clock.now())
        .await?)
}

/// Takes an offer off sale or puts it back.
pub async fn set_offer_active(
    deps: &Billing,
    user: &Caller,
    id: &str,
    active: bool,
) -> Result<OfferRow, BillingError> {
    admin_only(user)?;
    match deps.store.set_offer_active(id, active).await {
        Err(StoreError::NotFound) => Err(BillingError::NotFound("no such package offer".into())),
        other => Ok(other?),
    }
}

/// `POST /api/v1/billing/packages`: the package and, while it waits for
/// the parent, what Stripe.js confirms it with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Purchase {
    pub package: PackageRow,
    /// Set while the payment waits for the parent (no saved card, or the
    /// bank asks them to confirm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// Buys an offer for the parent's family: paid at once with the saved
/// card when the bank allows, else left for the parent to confirm.
pub async fn buy(deps: &Billing, user: &Caller, offer_id: &str) -> Result<Purchase, BillingError> {
    let family = family_of(user)?;
    let stripe = deps.stripe()?;
    let offer = match deps.store.offer(offer_id).await {
        Ok(o) if o.active => o,
        Ok(_) => {
            return Err(BillingError::Conflict(
                "this package is no longer on sale".into(),
            ));
        }
        Err(StoreError::NotFound) => {
            return Err(BillingError::NotFound("no such package offer".into()));
        }
        Err(e) => return Err(e.into()),
    };
    let customer = customer_of(deps, user, family).await?;
    let id = cms_store::new_key();
    let now = deps.clock.now();
    deps.store
        .new_package(
            &id,
            family,
            &offer,
            &user.user_id,
            &deps.rules.currency,
            now,
        )
        .await?;
    let description = format!("CMS Education package: {}", offer.name);
    let asked = stripe
        .package_intent(&PackageIntentRequest {
            package: &id,
            family,
            amount: offer.price_pence,
            currency: &deps.rules.currency,
            customer: &customer.stripe_customer,
            payment_method: customer.card.as_ref().map(|c| c.payment_method.as_str()),
            description: &description,
        })
        .await;
    let client_secret = match asked {
        Ok(c) => {
            deps.store
                .set_package_intent(&id, &c.payment_intent, now)
                .await?;
            match c.status {
                IntentStatus::Succeeded => {
                    paid(deps, &id, c.charge.as_deref(), None).await?;
                    None
                }
                IntentStatus::Failed => {
                    deps.store
                        .package_failed(&id, "canceled", None, now)
                        .await?;
                    None
                }
                IntentStatus::RequiresAction | IntentStatus::Processing => c.client_secret,
            }
        }
        // A decline: the package says why; the parent may buy again.
        Err(StripeFailure::Refused { code, .. }) => {
            let code = code.unwrap_or_else(|| "card_declined".into());
            deps.store.package_failed(&id, &code, None, now).await?;
            None
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Purchase {
        package: deps.store.package(&id).await?,
        client_secret,
    })
}

/// The family's packages, newest first.
pub async fn mine(deps: &Billing, user: &Caller) -> Result<Vec<PackageRow>, BillingError> {
    let family = family_of(user)?;
    Ok(deps.store.family_packages(family).await?)
}

/// Stripe took the package's money: its units are made and the purchase
/// posted, once whichever road said so first.
pub async fn paid(
    deps: &Billing,
    id: &str,
    stripe_charge: Option<&str>,
    event: Option<&EventSeen>,
) -> Result<bool, StoreError> {
    let p = deps.store.package(id).await?;
    let Some(entry) = package::purchased_entry(&p.family_id, p.price_pence) else {
        return Err(StoreError::Invalid(format!(
            "package {id} has no price to post"
        )));
    };
    let entry = KeyedEntry {
        key: format!("package:{id}:purchased"),
        entry,
        about: Some(format!("package:{id}")),
    };
    let values = package::unit_values(p.price_pence, p.lessons);
    let applied = deps
        .store
        .package_paid(id, stripe_charge, &values, &entry, event, deps.clock.now())
        .await?;
    if applied {
        tracing::info!(package = %id, family = %p.family_id, "package paid");
    }
    Ok(applied)
}

/// The package a PaymentIntent event is about, by the id the server put in
/// its metadata.
pub fn package_of(object: &serde_json::Value) -> Option<&str> {
    object["metadata"]["package_id"].as_str()
}

/// Expires every unit whose time is up and that nobody spent; answers how
/// many.
pub async fn expire_due(deps: &Billing) -> usize {
    let now = deps.clock.now();
    let due = match deps.store.units_expiring(now, EXPIRE_BATCH).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "expiring package lessons could not be read");
            return 0;
        }
    };
    let mut expired = 0;
    for u in due {
        let Some(entry) = package::expired_entry(&u.family_id, u.value) else {
            continue;
        };
        let entry = KeyedEntry {
            key: format!("package_unit:{}:expired", u.id),
            entry,
            about: Some(format!("package_unit:{}", u.id)),
        };
        match deps.store.expire_unit(&u.id, &entry, now).await {
            Ok(true) => expired += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(unit = %u.id, error = %e, "package lesson not expired"),
        }
    }
    expired
}
