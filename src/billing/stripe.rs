//! The Stripe API as billing uses it, on the `async-stripe` client with a
//! configurable base URL (tests point it at a local stand-in). Every call
//! that creates something carries an idempotency key derived from what it
//! is for (`customer:<family>` …), so a retry after a crash or a timeout
//! is answered with what the first attempt made, never a second one.
//! Stripe's own error text stays in the log; callers get a typed
//! [`StripeFailure`].

use std::collections::HashMap;
use std::time::Duration;

use cms_store::billing::Card;
use stripe::AccountId;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_connect::account::{
    CreateAccount, CreateAccountCapabilities, CreateAccountCapabilitiesTransfers,
    CreateAccountSettings, CreateAccountSettingsPayouts, CreateAccountSettingsPayoutsSchedule,
    CreateAccountSettingsPayoutsScheduleInterval, CreateAccountType,
};
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_connect::transfer::CreateTransfer;
use stripe_core::PaymentIntentStatus;
use stripe_core::SetupIntentAllowedPaymentMethodTypes;
use stripe_core::balance_transaction::ListBalanceTransaction;
use stripe_core::customer::CreateCustomer;
use stripe_core::payment_intent::{CreatePaymentIntent, CreatePaymentIntentOffSession};
use stripe_core::payout::CreatePayout;
use stripe_core::setup_intent::{CreateSetupIntent, CreateSetupIntentUsage};
use stripe_payment::payment_method::RetrievePaymentMethod;
use thiserror::Error;

use super::config::StripeConfig;

/// Why a Stripe call did not give what was asked.
#[derive(Debug, Error)]
pub enum StripeFailure {
    /// Stripe answered with an error (a decline, a bad request): its
    /// code, if it gave one, for the caller to act on.
    #[error("Stripe refused the request ({code:?}, status {status})")]
    Refused { code: Option<String>, status: u16 },
    /// Stripe could not be reached, or answered with something unreadable:
    /// worth trying again later.
    #[error("Stripe is unavailable")]
    Unavailable,
}

impl From<StripeError> for StripeFailure {
    fn from(e: StripeError) -> Self {
        tracing::warn!(error = %e, "Stripe call failed");
        match e {
            // Stripe's own trouble, too many requests, or the same key in
            // flight: the same request may go again later, same key.
            StripeError::Stripe(_, status) if status >= 500 || status == 429 || status == 409 => {
                Self::Unavailable
            }
            StripeError::Stripe(err, status) => Self::Refused {
                code: err.code.map(|c| c.to_string()),
                status,
            },
            _ => Self::Unavailable,
        }
    }
}

/// Stripe's code when the bank wants the cardholder to authenticate (Strong
/// Customer Authentication): the charge waits for the parent.
pub const AUTHENTICATION_REQUIRED: &str = "authentication_required";

/// Whether a refusal's code (an error's, or a PaymentIntent's last
/// payment error's) asks the parent to authenticate rather than declines.
pub fn asks_for_authentication(code: &str) -> bool {
    code == AUTHENTICATION_REQUIRED
}

/// One line of the platform's Stripe balance, by what made it: the kinds
/// billing makes (a charge's payment, a transfer) and everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceKind {
    Charge,
    Transfer,
    Other,
}

/// What one off-session charge asks Stripe for.
#[derive(Debug, Clone)]
pub struct ChargeRequest<'a> {
    pub key: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub customer: &'a str,
    pub payment_method: &'a str,
    pub lesson: &'a str,
    pub family: &'a str,
    pub description: &'a str,
    /// The parent is here, confirming it in the app (after the bank asked
    /// them to): not `off_session`, so the bank may check them now.
    pub on_session: bool,
}

/// What a package's PaymentIntent asks Stripe for.
#[derive(Debug, Clone)]
pub struct PackageIntentRequest<'a> {
    pub package: &'a str,
    pub family: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub customer: &'a str,
    /// The saved card, to confirm with at once.
    pub payment_method: Option<&'a str>,
    pub description: &'a str,
}

/// Where a PaymentIntent stands after its confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    Succeeded,
    /// Strong Customer Authentication: the parent must confirm.
    RequiresAction,
    /// The bank has not answered yet; a webhook will say.
    Processing,
    Failed,
}

#[derive(Debug, Clone)]
pub struct Charged {
    pub payment_intent: String,
    /// The Charge that took the money (`ch_…`): its balance transaction's
    /// source, which reconciliation matches.
    pub charge: Option<String>,
    pub status: IntentStatus,
    /// What Stripe.js confirms it with, when the parent must act.
    pub client_secret: Option<String>,
}

/// One line of the platform's Stripe balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceLine {
    pub id: String,
    pub kind: BalanceKind,
    pub amount: i64,
    /// What made it: a charge, a transfer.
    pub source: Option<String>,
}

/// A SetupIntent for the app to confirm with Stripe.js.
#[derive(Debug, Clone)]
pub struct Setup {
    pub id: String,
    pub client_secret: String,
}

/// Billing's Stripe client.
#[derive(Clone)]
pub struct StripeApi {
    client: Client,
}

fn key(k: &str) -> RequestStrategy {
    match IdempotencyKey::new(k) {
        Ok(k) => RequestStrategy::Idempotent(k),
        // Keys are made here from ids, never empty or over Stripe's
        // length; should one be, the call still goes, once.
        Err(e) => {
            tracing::error!(key = %k, error = %e, "idempotency key refused; sending once");
            RequestStrategy::Once
        }
    }
}

/// Billing's configured currency as Stripe's type; a code Stripe does
/// not know is refused before any request.
fn currency_of(code: &str) -> Result<stripe_types::Currency, StripeFailure> {
    code.parse().map_err(|_| StripeFailure::Refused {
        code: Some("invalid_currency".into()),
        status: 0,
    })
}

impl StripeApi {
    /// The client, if billing is on (a secret key is set).
    pub fn from_config(cfg: &StripeConfig) -> Option<Result<Self, StripeFailure>> {
        let secret = cfg.secret_key.as_deref()?;
        // The Stripe client's TLS takes rustls's process-wide provider, and
        // the tree enables two (ring and aws-lc-rs), so none is picked by
        // itself: choose ring, as the rest of the server's clients use. An
        // error means one is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let built = ClientBuilder::new(secret)
            .url(cfg.api_base.clone())
            .timeout(Duration::from_secs(cfg.timeout_secs))
            .build()
            .map(|client| Self { client })
            .map_err(StripeFailure::from);
        Some(built)
    }

    /// The family's Stripe Customer, made once: a second call with the same
    /// family is answered by Stripe with the first one's customer.
    pub async fn create_customer(
        &self,
        family_id: &str,
        email: &str,
        name: &str,
    ) -> Result<String, StripeFailure> {
        let metadata = HashMap::from([("family_id".to_owned(), family_id.to_owned())]);
        let customer = CreateCustomer::new()
            .email(email)
            .name(name)
            .metadata(metadata)
            .customize()
            .request_strategy(key(&format!("customer:{family_id}")))
            .send(&self.client)
            .await?;
        Ok(customer.id.to_string())
    }

    /// A SetupIntent saving a card on the customer for charges made while
    /// the parent is away (`usage=off_session`). `attempt` makes the key:
    /// each card form the parent opens is its own SetupIntent.
    pub async fn create_setup_intent(
        &self,
        customer: &str,
        family_id: &str,
        attempt: &str,
    ) -> Result<Setup, StripeFailure> {
        let metadata = HashMap::from([("family_id".to_owned(), family_id.to_owned())]);
        let intent = CreateSetupIntent::new()
            .customer(customer)
            .usage(CreateSetupIntentUsage::OffSession)
            .allowed_payment_method_types(vec![SetupIntentAllowedPaymentMethodTypes::Card])
            .metadata(metadata)
            .customize()
            .request_strategy(key(&format!("setup:{family_id}:{attempt}")))
            .send(&self.client)
            .await?;
        let client_secret = intent.client_secret.ok_or(StripeFailure::Unavailable)?;
        Ok(Setup {
            id: intent.id.to_string(),
            client_secret,
        })
    }

    /// The tutor's Express connected account, made once (key
    /// `account:<tutor>`): transfers requested, so their weekly earnings
    /// can be sent to it.
    pub async fn create_account(
        &self,
        tutor_id: &str,
        email: &str,
    ) -> Result<String, StripeFailure> {
        let metadata = HashMap::from([("tutor_id".to_owned(), tutor_id.to_owned())]);
        let mut capabilities = CreateAccountCapabilities::new();
        capabilities.transfers = Some(CreateAccountCapabilitiesTransfers {
            requested: Some(true),
        });
        // Paid out by the platform on the payout day (`payouts.rs`), not
        // on Stripe's own schedule.
        let mut schedule = CreateAccountSettingsPayoutsSchedule::new();
        schedule.interval = Some(CreateAccountSettingsPayoutsScheduleInterval::Manual);
        let mut payouts = CreateAccountSettingsPayouts::new();
        payouts.schedule = Some(schedule);
        let mut settings = CreateAccountSettings::new();
        settings.payouts = Some(payouts);
        let account = CreateAccount::new()
            .type_(CreateAccountType::Express)
            .country("GB")
            .email(email)
            .capabilities(capabilities)
            .settings(settings)
            .metadata(metadata)
            .customize()
            .request_strategy(key(&format!("account:{tutor_id}")))
            .send(&self.client)
            .await?;
        Ok(account.id.to_string())
    }

    /// A one-time onboarding link for the account: where the tutor gives
    /// Stripe their details and bank account. Links expire within minutes,
    /// so each request makes a new one (`attempt`).
    pub async fn onboarding_link(
        &self,
        account: &str,
        refresh_url: &str,
        return_url: &str,
        attempt: &str,
    ) -> Result<String, StripeFailure> {
        let link = CreateAccountLink::new(account, CreateAccountLinkType::AccountOnboarding)
            .refresh_url(refresh_url)
            .return_url(return_url)
            .customize()
            .request_strategy(key(&format!("account_link:{account}:{attempt}")))
            .send(&self.client)
            .await?;
        Ok(link.url)
    }

    /// Charges the family's card while the parent is away: a
    /// PaymentIntent confirmed at once, `off_session`. `key` is the
    /// charge's and its attempt's, so a retry of one attempt after a crash
    /// or a timeout gets Stripe's first answer, never a second charge.
    pub async fn charge(&self, req: &ChargeRequest<'_>) -> Result<Charged, StripeFailure> {
        let currency = currency_of(req.currency)?;
        let metadata = HashMap::from([
            ("lesson_id".to_owned(), req.lesson.to_owned()),
            ("family_id".to_owned(), req.family.to_owned()),
        ]);
        let mut create = CreatePaymentIntent::new(req.amount, currency)
            .customer(req.customer)
            .payment_method(req.payment_method);
        if !req.on_session {
            create = create.off_session(CreatePaymentIntentOffSession::Bool(true));
        }
        let intent = create
            .confirm(true)
            .description(req.description)
            .metadata(metadata)
            .transfer_group(format!("lesson_{}", req.lesson))
            .customize()
            .request_strategy(key(req.key))
            .send(&self.client)
            .await?;
        Ok(Charged {
            payment_intent: intent.id.to_string(),
            charge: intent.latest_charge.as_ref().map(|c| c.id().to_string()),
            status: match intent.status {
                PaymentIntentStatus::Succeeded => IntentStatus::Succeeded,
                PaymentIntentStatus::RequiresAction => IntentStatus::RequiresAction,
                PaymentIntentStatus::Processing => IntentStatus::Processing,
                _ => IntentStatus::Failed,
            },
            client_secret: intent.client_secret,
        })
    }

    /// A PaymentIntent for a package the parent is buying now (on
    /// session, so the bank may ask them to confirm in the app). With the
    /// family's saved card it is confirmed at once; without one the app
    /// confirms it with Stripe.js and the client secret. Key
    /// `package:<package>`: a retried purchase is answered with the first
    /// PaymentIntent.
    pub async fn package_intent(
        &self,
        req: &PackageIntentRequest<'_>,
    ) -> Result<Charged, StripeFailure> {
        let currency = currency_of(req.currency)?;
        let metadata = HashMap::from([
            ("package_id".to_owned(), req.package.to_owned()),
            ("family_id".to_owned(), req.family.to_owned()),
        ]);
        let mut create = CreatePaymentIntent::new(req.amount, currency)
            .customer(req.customer)
            .description(req.description)
            .metadata(metadata);
        if let Some(pm) = req.payment_method {
            create = create.payment_method(pm).confirm(true);
        }
        let intent = create
            .customize()
            .request_strategy(key(&format!("package:{}", req.package)))
            .send(&self.client)
            .await?;
        Ok(Charged {
            payment_intent: intent.id.to_string(),
            charge: intent.latest_charge.as_ref().map(|c| c.id().to_string()),
            status: match intent.status {
                PaymentIntentStatus::Succeeded => IntentStatus::Succeeded,
                PaymentIntentStatus::Processing => IntentStatus::Processing,
                PaymentIntentStatus::Canceled => IntentStatus::Failed,
                // Waiting for the parent: a card to confirm, or the bank's
                // check.
                _ => IntentStatus::RequiresAction,
            },
            client_secret: intent.client_secret,
        })
    }

    /// Sends a tutor's week of earnings from the platform's balance to their
    /// connected account (`key`: the payout's, so a retry sends nothing
    /// more).
    pub async fn transfer(
        &self,
        idempotency: &str,
        amount: i64,
        currency: &str,
        account: &str,
        group: &str,
    ) -> Result<String, StripeFailure> {
        let currency = currency_of(currency)?;
        let t = CreateTransfer::new(currency, account)
            .amount(amount)
            .transfer_group(group)
            .description(format!("CMS Education earnings, {group}"))
            .customize()
            .request_strategy(key(idempotency))
            .send(&self.client)
            .await?;
        Ok(t.id.to_string())
    }

    /// Pays the connected account's balance out to the tutor's bank: made
    /// on their account (`Stripe-Account`), which the platform pays out by
    /// hand on the payout day.
    pub async fn bank_payout(
        &self,
        idempotency: &str,
        account: &str,
        amount: i64,
        currency: &str,
    ) -> Result<String, StripeFailure> {
        let currency = currency_of(currency)?;
        let p = CreatePayout::new(amount, currency)
            .customize()
            .request_strategy(key(idempotency))
            .account_id(AccountId::from(account))
            .send(&self.client)
            .await?;
        Ok(p.id.to_string())
    }

    /// The platform balance's transactions created in `[from, to)` (unix
    /// seconds), every page.
    pub async fn balance_transactions(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<BalanceLine>, StripeFailure> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let bounds = stripe_types::RangeBoundsTs {
                gt: None,
                gte: Some(from),
                lt: Some(to),
                lte: None,
            };
            let mut req = ListBalanceTransaction::new()
                .created(stripe_types::RangeQueryTs::Bounds(bounds))
                .limit(100);
            if let Some(a) = &after {
                req = req.starting_after(a.clone());
            }
            let page = req.send(&self.client).await?;
            out.extend(page.data.iter().map(|t| BalanceLine {
                id: t.id.to_string(),
                kind: match t.type_.as_str() {
                    "charge" | "payment" => BalanceKind::Charge,
                    "transfer" => BalanceKind::Transfer,
                    _ => BalanceKind::Other,
                },
                amount: t.amount,
                source: t.source.as_ref().map(|s| s.id().to_string()),
            }));
            after = page.data.last().map(|t| t.id.to_string());
            if !page.has_more || after.is_none() {
                return Ok(out);
            }
        }
    }

    /// A saved card's brand, last four digits and expiry.
    pub async fn card(&self, payment_method: &str) -> Result<Card, StripeFailure> {
        let pm = RetrievePaymentMethod::new(payment_method)
            .send(&self.client)
            .await?;
        let card = pm.card.ok_or(StripeFailure::Refused {
            code: Some("not_a_card".into()),
            status: 200,
        })?;
        Ok(Card {
            payment_method: pm.id.to_string(),
            brand: card.brand,
            last4: card.last4,
            exp_month: card.exp_month,
            exp_year: card.exp_year,
        })
    }
}
