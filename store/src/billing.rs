//! Billing's Stripe side (docs/billing.md): each family's Stripe Customer
//! and card on file, each tutor's connected account, and the Stripe events
//! already processed. An event is
//! recorded in the same transaction as the change it makes, so a replayed
//! or doubly delivered event is refused as a duplicate and changes
//! nothing; an event older than the one that set the card never replaces
//! it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Store, StoreError, ts, without_nulls};

/// A card as the family sees it on file (read with its payment method;
/// shown without it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Card {
    /// `pm_…`, charged off-session; never shown.
    #[serde(skip_serializing)]
    #[schema(ignore)]
    pub payment_method: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

/// What the server keeps with its card: `Card` with the payment method
/// written too (the API's `Card` leaves it out).
#[derive(Serialize)]
struct StoredCard<'a> {
    payment_method: &'a str,
    brand: &'a str,
    last4: &'a str,
    exp_month: i64,
    exp_year: i64,
}

/// A family's billing record.
#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub family_id: String,
    pub stripe_customer: String,
    #[serde(default)]
    pub card: Option<Card>,
}

/// A tutor's connected account as the server knows it.
#[derive(Debug, Clone, Deserialize)]
pub struct PayoutAccount {
    /// `acct_…`.
    pub stripe_account: String,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
}

/// A Stripe event being processed.
#[derive(Debug, Clone, Serialize)]
pub struct EventSeen {
    pub id: String,
    pub kind: String,
    pub created: DateTime<Utc>,
}

/// Records `$event` ([`EventSeen`]) as processed at `$now`; refused as a
/// duplicate when it was. Inside a transaction with the change it makes.
pub(crate) const RECORD_EVENT: &str = "CREATE type::record('stripe_event', $event.id) CONTENT {
        kind: $event.kind, created: <datetime>$event.created, received_at: <datetime>$now
    } RETURN NONE;";

const CUSTOMER_FIELDS: &str = "record::id(family) AS family_id, stripe_customer, card";

impl Store {
    /// The family's billing record, if it has one.
    pub async fn billing_customer(&self, family: &str) -> Result<Option<Customer>, StoreError> {
        let sql =
            format!("SELECT {CUSTOMER_FIELDS} FROM type::record('billing_customer', $family)");
        match self.row(&sql, json!({ "family": family }), 0).await {
            Ok(c) => Ok(Some(c)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records the family's Stripe Customer; the first one recorded stays
    /// (two requests at once made the same one: Stripe answered both with
    /// it, by its idempotency key). Answers the one kept.
    pub async fn save_customer(
        &self,
        family: &str,
        stripe_customer: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let sql = "BEGIN TRANSACTION;
             LET $b = type::record('billing_customer', $family);
             IF !record::exists($b) {
                 CREATE $b CONTENT {
                     family: type::record('family', $family), stripe_customer: $customer,
                     created_at: <datetime>$now, updated_at: <datetime>$now
                 } RETURN NONE;
             };
             RETURN (SELECT VALUE stripe_customer FROM ONLY $b);
             COMMIT TRANSACTION;";
        let vars = json!({ "family": family, "customer": stripe_customer, "now": ts(now) });
        match self.value(sql, vars, 3).await? {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(StoreError::NotFound),
        }
    }

    /// The family whose Stripe Customer this is.
    pub async fn family_of_customer(&self, stripe_customer: &str) -> Result<String, StoreError> {
        match self
            .value(
                "RETURN (SELECT VALUE record::id(family) FROM billing_customer
                     WHERE stripe_customer = $customer LIMIT 1)[0]",
                json!({ "customer": stripe_customer }),
                0,
            )
            .await?
        {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(StoreError::NotFound),
        }
    }

    /// Whether a Stripe event has been processed already.
    pub async fn event_seen(&self, id: &str) -> Result<bool, StoreError> {
        let v = self
            .value(
                "RETURN record::exists(type::record('stripe_event', $id))",
                json!({ "id": id }),
                0,
            )
            .await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// Sets the family's card from `event`, recording the event with it:
    /// `Duplicate` when the event was processed already; `Ok(false)` when
    /// a newer event set the card (the event is recorded, nothing else).
    pub async fn set_card(
        &self,
        family: &str,
        card: &Card,
        event: &EventSeen,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             {RECORD_EVENT}
             LET $b = type::record('billing_customer', $family);
             LET $last = (SELECT VALUE card_event_at FROM ONLY $b);
             LET $newer = $last = NONE OR $last <= <datetime>$event.created;
             IF $newer {{
                 UPDATE $b SET card = $card, card_event_at = <datetime>$event.created,
                     updated_at = <datetime>$now RETURN NONE;
             }};
             RETURN $newer;
             COMMIT TRANSACTION;"
        );
        let stored = StoredCard {
            payment_method: &card.payment_method,
            brand: &card.brand,
            last4: &card.last4,
            exp_month: card.exp_month,
            exp_year: card.exp_year,
        };
        let vars = json!({
            "family": family, "card": stored, "now": ts(now), "event": event,
        });
        Ok(self
            .value(&sql, without_nulls(vars), 6)
            .await?
            .as_bool()
            .unwrap_or(false))
    }

    /// The tutor's connected account, if one was made.
    pub async fn payout_account(&self, tutor: &str) -> Result<Option<PayoutAccount>, StoreError> {
        let sql = "SELECT stripe_account, payouts_enabled, details_submitted
                   FROM type::record('payout_account', $tutor)";
        match self.row(sql, json!({ "tutor": tutor }), 0).await {
            Ok(a) => Ok(Some(a)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records the tutor's connected account; the first recorded stays.
    /// Answers the one kept.
    pub async fn save_payout_account(
        &self,
        tutor: &str,
        stripe_account: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let sql = "BEGIN TRANSACTION;
             LET $a = type::record('payout_account', $tutor);
             IF !record::exists($a) {
                 CREATE $a CONTENT {
                     tutor: type::record('user', $tutor), stripe_account: $account,
                     created_at: <datetime>$now, updated_at: <datetime>$now
                 } RETURN NONE;
             };
             RETURN (SELECT VALUE stripe_account FROM ONLY $a);
             COMMIT TRANSACTION;";
        let vars = json!({ "tutor": tutor, "account": stripe_account, "now": ts(now) });
        match self.value(sql, vars, 3).await? {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(StoreError::NotFound),
        }
    }

    /// Applies an `account.updated` event to the tutor whose account it
    /// is, recording the event with it. `Ok(None)`: not an account of ours
    /// (the event is recorded); `Ok(Some(false))`: a newer event was
    /// applied already; `Duplicate`: this event was processed.
    pub async fn set_payout_status(
        &self,
        stripe_account: &str,
        payouts_enabled: bool,
        details_submitted: bool,
        event: &EventSeen,
        now: DateTime<Utc>,
    ) -> Result<Option<bool>, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             {RECORD_EVENT}
             LET $a = (SELECT VALUE id FROM payout_account WHERE stripe_account = $account LIMIT 1)[0];
             LET $last = IF $a THEN (SELECT VALUE status_event_at FROM ONLY $a) ELSE NONE END;
             LET $newer = $a != NONE AND ($last = NONE OR $last <= <datetime>$event.created);
             IF $newer {{
                 UPDATE $a SET payouts_enabled = $enabled, details_submitted = $submitted,
                     status_event_at = <datetime>$event.created, updated_at = <datetime>$now
                     RETURN NONE;
             }};
             RETURN IF $a = NONE THEN NONE ELSE $newer END;
             COMMIT TRANSACTION;"
        );
        let vars = json!({
            "account": stripe_account, "enabled": payouts_enabled, "submitted": details_submitted,
            "now": ts(now), "event": event,
        });
        Ok(self.value(&sql, vars, 6).await?.as_bool())
    }

    /// Records an event that changes nothing here (a kind not handled):
    /// it is seen, so a replay is answered the same way without work.
    pub async fn record_event(
        &self,
        event: &EventSeen,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.value(RECORD_EVENT, json!({ "event": event, "now": ts(now) }), 0)
            .await
            .map(|_| ())
    }
}
