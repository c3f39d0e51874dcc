//! Billing's use cases (docs/billing.md): a parent saves a card once for
//! charges made while they are away, the family's billing overview, a
//! tutor's Stripe Connect account for their payouts, and Stripe's
//! webhooks. The money rules are `cms_domain::money` and
//! `cms_domain::ledger`; the rows `cms_store::billing` and
//! `cms_store::ledger`; Stripe is reached through [`stripe::StripeApi`].
//!
//! Without `stripe.secret_key` billing is off: the server logs it once at
//! start, `GET /api/v1/billing` says `enabled: false`, setting up a card
//! answers 503, and lessons work as before.

pub mod charge;
pub mod config;
pub mod confirm;
pub mod packages;
pub mod payouts;
pub mod prices;
pub mod reconcile;
pub mod statement;
pub mod stripe;
pub mod webhook;

use std::sync::Arc;

use cms_actors::Clock;
use cms_domain::ledger::Account;
use cms_domain::{Caller, Role};
use cms_store::billing::{Card, EventSeen};
use cms_store::{Store, StoreError};
use serde::Serialize;
use thiserror::Error;

use self::config::StripeConfig;
use self::stripe::{StripeApi, StripeFailure};
use self::webhook::{Event, WebhookError};

/// What the billing use cases need.
#[derive(Clone)]
pub struct Billing {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// `None`: billing is off.
    pub stripe: Option<StripeApi>,
    pub stripe_config: StripeConfig,
    /// `[billing]`, checked at start.
    pub rules: charge::ChargeRules,
    /// Where a failed charge is said on the admins' board.
    pub broker: Arc<dyn cms_actors::Broker>,
    /// Woken when a charge's step makes a notice due.
    pub notifier: crate::notify::NotifyHandle,
}

#[derive(Debug, Error)]
pub enum BillingError {
    #[error("billing is not enabled on this server")]
    Off,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// What is stored does not allow it (an offer off sale).
    #[error("{0}")]
    Conflict(String),
    #[error("the payment provider is unavailable; try again")]
    Stripe(#[source] StripeFailure),
    #[error(transparent)]
    Store(Box<StoreError>),
}

impl From<StoreError> for BillingError {
    fn from(e: StoreError) -> Self {
        Self::Store(Box::new(e))
    }
}

impl From<StripeFailure> for BillingError {
    fn from(e: StripeFailure) -> Self {
        Self::Stripe(e)
    }
}

/// The answer to `POST /api/v1/billing/setup`: what Stripe.js confirms the
/// card with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SetupAnswer {
    pub setup_intent_id: String,
    pub client_secret: String,
}

/// `GET /api/v1/billing`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// Whether this server charges cards at all.
    pub enabled: bool,
    /// The card charged after each lesson, if one is saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    /// What the family owes now, in pence (negative: in credit).
    pub balance_pence: i64,
    /// The family's recent charges, newest first.
    pub charges: Vec<cms_store::charges::ChargeRow>,
}

/// Charges shown on the overview.
const RECENT_CHARGES: u32 = 20;

pub(crate) fn family_of(user: &Caller) -> Result<&str, BillingError> {
    if user.role != Role::Parent {
        return Err(BillingError::Forbidden(
            "only a parent has a family's billing".into(),
        ));
    }
    user.family_id
        .as_deref()
        .ok_or_else(|| BillingError::Forbidden("this parent has no family".into()))
}

impl Billing {
    pub(crate) fn stripe(&self) -> Result<&StripeApi, BillingError> {
        self.stripe.as_ref().ok_or(BillingError::Off)
    }
}

/// The family's Stripe Customer, made (once) by the parent asking.
async fn customer_of(
    deps: &Billing,
    user: &Caller,
    family: &str,
) -> Result<cms_store::billing::Customer, BillingError> {
    if let Some(c) = deps.store.billing_customer(family).await? {
        return Ok(c);
    }
    let stripe = deps.stripe()?;
    let me = deps.store.user(&user.user_id).await?;
    let made = stripe.create_customer(family, &me.email, &me.name).await?;
    let kept = deps
        .store
        .save_customer(family, &made, deps.clock.now())
        .await?;
    Ok(cms_store::billing::Customer {
        family_id: family.to_owned(),
        stripe_customer: kept,
        card: None,
    })
}

/// Makes (once) the family's Stripe Customer and a SetupIntent for their
/// card. Each call is a new SetupIntent; the customer is the family's one.
pub async fn setup(deps: &Billing, user: &Caller) -> Result<SetupAnswer, BillingError> {
    let family = family_of(user)?;
    let stripe = deps.stripe()?;
    let customer = customer_of(deps, user, family).await?.stripe_customer;
    let attempt = cms_store::new_key();
    let s = stripe
        .create_setup_intent(&customer, family, &attempt)
        .await?;
    Ok(SetupAnswer {
        setup_intent_id: s.id,
        client_secret: s.client_secret,
    })
}

/// `POST /api/v1/tutor/payouts/onboard`: a link to Stripe's onboarding.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OnboardAnswer {
    /// Stripe's hosted onboarding; it expires within minutes.
    pub url: String,
}

/// `GET /api/v1/tutor/payouts`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PayoutStatus {
    /// Whether this server pays anyone at all.
    pub enabled: bool,
    /// A connected account has been made.
    pub onboarding_started: bool,
    /// Stripe has the tutor's details.
    pub details_submitted: bool,
    /// Stripe will pay out to the tutor's bank; until then their earnings
    /// wait in the ledger.
    pub payouts_enabled: bool,
}

/// Payouts and earnings are a tutor's own.
pub fn tutor_only(user: &Caller) -> Result<(), BillingError> {
    if user.role == Role::Tutor {
        Ok(())
    } else {
        Err(BillingError::Forbidden(
            "only a tutor has payouts and earnings".into(),
        ))
    }
}

/// Makes (once) the tutor's Express account and a fresh onboarding link.
pub async fn onboard(
    deps: &Billing,
    user: &Caller,
    refresh_url: &str,
    return_url: &str,
) -> Result<OnboardAnswer, BillingError> {
    tutor_only(user)?;
    let stripe = deps.stripe()?;
    let account = match deps.store.payout_account(&user.user_id).await? {
        Some(a) => a.stripe_account,
        None => {
            let me = deps.store.user(&user.user_id).await?;
            let made = stripe.create_account(&user.user_id, &me.email).await?;
            deps.store
                .save_payout_account(&user.user_id, &made, deps.clock.now())
                .await?
        }
    };
    let url = stripe
        .onboarding_link(&account, refresh_url, return_url, &cms_store::new_key())
        .await?;
    Ok(OnboardAnswer { url })
}

/// Where the tutor's payouts stand.
pub async fn payouts(deps: &Billing, user: &Caller) -> Result<PayoutStatus, BillingError> {
    tutor_only(user)?;
    let account = deps.store.payout_account(&user.user_id).await?;
    Ok(PayoutStatus {
        enabled: deps.stripe.is_some(),
        onboarding_started: account.is_some(),
        details_submitted: account.as_ref().is_some_and(|a| a.details_submitted),
        payouts_enabled: account.as_ref().is_some_and(|a| a.payouts_enabled),
    })
}

/// `GET /api/v1/tutor/earnings`: each charged lesson with its split, and
/// the totals.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Earnings {
    pub lessons: Vec<cms_store::charges::Earning>,
    /// Of the charges collected: what families paid, the platform's fees,
    /// the tutor's share.
    pub collected_gross: i64,
    pub collected_fee: i64,
    pub collected_net: i64,
    /// The tutor's share of charges not collected yet (pending, waiting
    /// on the parent, or failed).
    pub uncollected_net: i64,
}

/// The tutor's earnings for lessons starting in `[from, to)`.
pub async fn earnings(
    deps: &Billing,
    user: &Caller,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Earnings, BillingError> {
    tutor_only(user)?;
    let lessons = deps.store.tutor_earnings(&user.user_id, from, to).await?;
    let collected = |f: fn(&cms_store::charges::Earning) -> i64| {
        lessons
            .iter()
            .filter(|e| e.status == cms_domain::charge::ChargeStatus::Succeeded)
            .map(f)
            .sum::<i64>()
    };
    let (collected_gross, collected_fee, collected_net) = (
        collected(|e| e.gross),
        collected(|e| e.fee),
        collected(|e| e.net),
    );
    let uncollected_net = lessons
        .iter()
        .filter(|e| e.status != cms_domain::charge::ChargeStatus::Succeeded)
        .map(|e| e.net)
        .sum();
    Ok(Earnings {
        lessons,
        collected_gross,
        collected_fee,
        collected_net,
        uncollected_net,
    })
}

/// `GET /api/v1/admin/billing/summary`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// The charges made in the span, by where they stand.
    pub charges: cms_store::charges::ChargeTotals,
    /// Paid out to tutors in the span.
    pub paid_out: i64,
    /// What families owe now, whatever the span.
    pub outstanding: i64,
}

/// Money over `[from, to)` for admins.
pub async fn summary(
    deps: &Billing,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Summary, BillingError> {
    Ok(Summary {
        charges: deps.store.charge_totals(from, to).await?,
        paid_out: deps.store.paid_out(from, to).await?,
        outstanding: deps.store.outstanding().await?,
    })
}

/// The family's card and balance.
pub async fn overview(deps: &Billing, user: &Caller) -> Result<Overview, BillingError> {
    let family = family_of(user)?;
    let card = deps
        .store
        .billing_customer(family)
        .await?
        .and_then(|c| c.card);
    let balance_pence = deps
        .store
        .balance(&Account::FamilyReceivable(family.to_owned()))
        .await?;
    let charges = deps.store.family_charges(family, RECENT_CHARGES).await?;
    Ok(Overview {
        enabled: deps.stripe.is_some(),
        card,
        balance_pence,
        charges,
    })
}

/// What became of a webhook that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Handled {
    /// It changed what it was about.
    Applied,
    /// Seen before: nothing changed.
    Replayed,
    /// Older than what is stored: recorded, nothing changed.
    Superseded,
    /// A kind this server does not act on: recorded.
    Ignored,
}

/// Why a webhook was refused: 400 for what Stripe sent wrong (it does
/// not retry those), 503 for what may work later (it does).
#[derive(Debug, Error)]
pub enum WebhookRefused {
    #[error("{0}")]
    Bad(String),
    #[error(transparent)]
    Later(BillingError),
}

impl From<BillingError> for WebhookRefused {
    fn from(e: BillingError) -> Self {
        Self::Later(e)
    }
}

impl From<StoreError> for WebhookRefused {
    fn from(e: StoreError) -> Self {
        Self::Later(e.into())
    }
}

/// `POST /webhooks/stripe`: verifies the signature on the raw body, then
/// applies the event once.
pub async fn webhook(
    deps: &Billing,
    body: &[u8],
    signature: Option<&str>,
) -> Result<Handled, WebhookRefused> {
    let Some(secret) = deps.stripe_config.webhook_secret.as_deref() else {
        return Err(WebhookRefused::Bad(
            "webhooks are not configured on this server".into(),
        ));
    };
    let now = deps.clock.now();
    let event = webhook::verify(
        body,
        signature,
        secret,
        now,
        deps.stripe_config.webhook_tolerance_secs,
    )
    .map_err(|e| {
        tracing::warn!(error = %e, "Stripe webhook refused");
        WebhookRefused::Bad(match e {
            WebhookError::Body(_) => "the body is not a Stripe event".to_owned(),
            other => other.to_string(),
        })
    })?;
    if deps.store.event_seen(&event.id).await? {
        return Ok(Handled::Replayed);
    }
    let seen = EventSeen {
        id: event.id.clone(),
        kind: event.kind.clone(),
        created: chrono::DateTime::from_timestamp(event.created, 0).ok_or_else(|| {
            WebhookRefused::Bad("the event's creation time is out of range".into())
        })?,
    };
    let outcome = match webhook::Kind::of(&event.kind) {
        webhook::Kind::SetupIntentSucceeded => card_saved(deps, &event, &seen).await,
        webhook::Kind::AccountUpdated => account_updated(deps, &event, &seen).await,
        webhook::Kind::PaymentSucceeded | webhook::Kind::PaymentFailed => {
            payment(deps, &event, &seen).await
        }
        webhook::Kind::Other => deps
            .store
            .record_event(&seen, now)
            .await
            .map(|()| Handled::Ignored)
            .map_err(Into::into),
    };
    match outcome {
        // Delivered twice at once: the other delivery applied it.
        Err(WebhookRefused::Later(BillingError::Store(e)))
            if matches!(*e, StoreError::Duplicate(_)) =>
        {
            Ok(Handled::Replayed)
        }
        other => other,
    }
}

/// `payment_intent.succeeded` / `.payment_failed` for a charge: a success
/// always wins (it is the money); a failure never undoes one. The event is
/// recorded afterwards, so a replay is answered without work.
async fn payment(
    deps: &Billing,
    event: &Event,
    seen: &EventSeen,
) -> Result<Handled, WebhookRefused> {
    let now = deps.clock.now();
    let Some(intent) = event.data.object["id"].as_str() else {
        return Err(WebhookRefused::Bad("the PaymentIntent has no id".into()));
    };
    if let Some(package) = packages::package_of(&event.data.object) {
        return package_payment(deps, event, seen, package).await;
    }
    let c = match deps.store.charge_by_intent(intent).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => {
            deps.store.record_event(seen, now).await?;
            return Ok(Handled::Ignored);
        }
        Err(e) => return Err(e.into()),
    };
    let handled = if webhook::Kind::of(&event.kind) == webhook::Kind::PaymentSucceeded {
        if let Some(ch) = event.data.object["latest_charge"].as_str() {
            deps.store.charge_intent(&c, intent, Some(ch), now).await?;
        }
        charge::succeeded(deps, &c, now).await?;
        Handled::Applied
    } else if c.status == cms_domain::charge::ChargeStatus::Succeeded {
        Handled::Superseded
    } else {
        let code = event.data.object["last_payment_error"]["code"]
            .as_str()
            .unwrap_or("declined");
        let status = if stripe::asks_for_authentication(code) {
            cms_domain::charge::ChargeStatus::RequiresAction
        } else {
            cms_domain::charge::ChargeStatus::Failed
        };
        charge::stop(deps, &c, status, code, now).await?;
        Handled::Applied
    };
    match deps.store.record_event(seen, now).await {
        Ok(()) | Err(StoreError::Duplicate(_)) => Ok(handled),
        Err(e) => Err(e.into()),
    }
}

/// `payment_intent.succeeded` / `.payment_failed` for a package: paid
/// makes its lessons spendable, once; a failure never undoes a payment.
/// The event is recorded in the same transaction as what it changes.
async fn package_payment(
    deps: &Billing,
    event: &Event,
    seen: &EventSeen,
    package: &str,
) -> Result<Handled, WebhookRefused> {
    let now = deps.clock.now();
    if let Err(StoreError::NotFound) = deps.store.package(package).await {
        deps.store.record_event(seen, now).await?;
        return Ok(Handled::Ignored);
    }
    if webhook::Kind::of(&event.kind) == webhook::Kind::PaymentSucceeded {
        let charge = event.data.object["latest_charge"].as_str();
        let applied = packages::paid(deps, package, charge, Some(seen)).await?;
        // Paid already (by the purchase's own answer): the event is
        // recorded all the same, so its replay is answered without work.
        return Ok(if applied {
            Handled::Applied
        } else {
            Handled::Superseded
        });
    }
    let code = event.data.object["last_payment_error"]["code"]
        .as_str()
        .unwrap_or("declined");
    deps.store
        .package_failed(package, code, Some(seen), now)
        .await?;
    Ok(Handled::Applied)
}

/// `account.updated`: whether the tutor's account may be paid out to.
async fn account_updated(
    deps: &Billing,
    event: &Event,
    seen: &EventSeen,
) -> Result<Handled, WebhookRefused> {
    let object = &event.data.object;
    let Some(account) = object["id"].as_str() else {
        return Err(WebhookRefused::Bad("the account has no id".into()));
    };
    let enabled = object["payouts_enabled"].as_bool().unwrap_or(false);
    let submitted = object["details_submitted"].as_bool().unwrap_or(false);
    let applied = deps
        .store
        .set_payout_status(account, enabled, submitted, seen, deps.clock.now())
        .await?;
    Ok(match applied {
        None => Handled::Ignored,
        Some(true) => Handled::Applied,
        Some(false) => Handled::Superseded,
    })
}

/// `setup_intent.succeeded`: the card the parent confirmed becomes the
/// family's card on file.
async fn card_saved(
    deps: &Billing,
    event: &Event,
    seen: &EventSeen,
) -> Result<Handled, WebhookRefused> {
    let object = &event.data.object;
    let (Some(customer), Some(pm)) = (
        object["customer"].as_str(),
        object["payment_method"].as_str(),
    ) else {
        return Err(WebhookRefused::Bad(
            "the SetupIntent names no customer or payment method".into(),
        ));
    };
    let family = match deps.store.family_of_customer(customer).await {
        Ok(f) => f,
        // Not a customer of ours (another integration on the account):
        // nothing to do, and nothing for Stripe to retry.
        Err(StoreError::NotFound) => {
            deps.store.record_event(seen, deps.clock.now()).await?;
            return Ok(Handled::Ignored);
        }
        Err(e) => return Err(e.into()),
    };
    let card = deps.stripe()?.card(pm).await.map_err(BillingError::from)?;
    let newer = deps
        .store
        .set_card(&family, &card, seen, deps.clock.now())
        .await?;
    Ok(if newer {
        Handled::Applied
    } else {
        Handled::Superseded
    })
}
