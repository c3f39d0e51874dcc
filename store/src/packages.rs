//! Packages (docs/billing.md, "Packages"): admins' offers, the families'
//! packages and their units. A package is made `pending` with its record
//! id as the key of its PaymentIntent; when Stripe says it is paid, one
//! transaction marks it paid, makes its units and posts
//! `package_purchased`. Units are spent and given back inside the lesson
//! transactions ([`SPEND_UNITS`], [`return_units`]); one not spent in time
//! expires with its `package_expired` entry, one at a time, so a unit
//! spent meanwhile is never expired.

use chrono::{DateTime, Utc};
use cms_domain::package::{Offer, PackageStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::billing::{EventSeen, RECORD_EVENT};
use super::ledger::{KeyedEntry, POST_ENTRIES};
use super::{Store, StoreError, ts, without_nulls};

/// An admin's offer as parents see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfferRow {
    pub id: String,
    pub name: String,
    pub lessons: u32,
    pub duration_min: u32,
    pub price_pence: i64,
    pub valid_days: u32,
    /// Whether it can still be bought.
    pub active: bool,
}

/// How many of a package's lessons are where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnitCounts {
    /// Still to spend.
    pub available: u32,
    /// Paying for a lesson (booked, held or cancelled late).
    pub used: u32,
    /// Not spent in time.
    pub expired: u32,
}

/// A family's package.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PackageRow {
    pub id: String,
    pub family_id: String,
    pub offer_id: String,
    pub name: String,
    pub lessons: u32,
    pub duration_min: u32,
    pub price_pence: i64,
    pub valid_days: u32,
    pub currency: String,
    pub status: PackageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
    /// When unspent lessons expire; set when paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub units: UnitCounts,
}

/// A unit whose time is up and that nobody spent.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpiringUnit {
    pub id: String,
    pub family_id: String,
    pub value: i64,
}

/// A unit paying for a seat of a lesson (`lessons::LessonState`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UnitUse {
    pub id: String,
    pub student_id: String,
    pub family_id: String,
    pub value: i64,
}

/// Spends one of the family's units (soonest to expire first, of the
/// lesson's length) for each of `$new.students` in lesson `$l`, or refuses
/// the whole booking. Bind `$new` (`package_family`, `students`,
/// `duration_min`) and `$now`; include it inside the lesson's transaction.
/// A unit spent earlier in the same transaction is seen as spent.
pub(crate) const SPEND_UNITS: &str = "
IF $new.package_family {
    FOR $s IN $new.students {
        LET $u = (SELECT VALUE id FROM package_unit
            WHERE family = type::record('family', $new.package_family)
              AND expires_at > <datetime>$now AND used_for = NONE AND expired_at = NONE
              AND duration_min = $new.duration_min
            ORDER BY expires_at, id LIMIT 1)[0];
        IF $u = NONE {
            THROW 'no_package: the family has no package lesson left of this length';
        };
        UPDATE $u SET used_for = $l, student = type::record('student', $s),
            used_at = <datetime>$now RETURN NONE;
    };
};";

/// Gives the units `list` (an expression of unit ids) back to their
/// packages, if they still pay for lesson `$l`.
pub(crate) fn return_units(list: &str) -> String {
    format!(
        "UPDATE array::map({list}, |$u| type::record('package_unit', $u))
             SET used_for = NONE, student = NONE, used_at = NONE
             WHERE used_for = $l RETURN NONE;"
    )
}

const OFFER_FIELDS: &str = "record::id(id) AS id, name, lessons, duration_min, price_pence, \
     valid_days, active";

const PACKAGE_FIELDS: &str = "record::id(id) AS id, record::id(family) AS family_id, \
     record::id(offer) AS offer_id, name, lessons, duration_min, price_pence, valid_days, \
     currency, status, payment_intent, failure, paid_at, expires_at, created_at, \
     { LET $p = $parent.id; LET $u = SELECT used_for, expired_at FROM package_unit WHERE package = $p; \
       { available: array::len($u[WHERE used_for = NONE AND expired_at = NONE]), \
         used: array::len($u[WHERE used_for != NONE]), \
         expired: array::len($u[WHERE used_for = NONE AND expired_at != NONE]) } } AS units";

impl Store {
    pub async fn create_offer(
        &self,
        offer: &Offer,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<OfferRow, StoreError> {
        let sql = format!(
            "LET $o = CREATE ONLY package_offer CONTENT {{
                 name: $name, lessons: $lessons, duration_min: $duration, price_pence: $price,
                 valid_days: $days, active: true, created_by: type::record('user', $by),
                 created_at: <datetime>$now
             }};
             SELECT {OFFER_FIELDS} FROM ONLY $o.id;"
        );
        let vars = json!({
            "name": offer.name, "lessons": offer.lessons, "duration": offer.duration_min,
            "price": offer.price_pence, "days": offer.valid_days, "by": by, "now": ts(now),
        });
        self.row(&sql, vars, 1).await
    }

    /// Offers, newest first; only those on sale unless `all`.
    pub async fn offers(&self, all: bool) -> Result<Vec<OfferRow>, StoreError> {
        let sql = format!(
            "SELECT {OFFER_FIELDS}, created_at FROM package_offer
             WHERE $all OR active ORDER BY created_at DESC"
        );
        self.rows(&sql, json!({ "all": all }), 0).await
    }

    pub async fn offer(&self, id: &str) -> Result<OfferRow, StoreError> {
        let sql = format!("SELECT {OFFER_FIELDS} FROM type::record('package_offer', $id)");
        self.row(&sql, json!({ "id": id }), 0).await
    }

    /// Takes an offer off sale (or puts it back); packages bought stay.
    pub async fn set_offer_active(&self, id: &str, active: bool) -> Result<OfferRow, StoreError> {
        let sql = format!(
            "UPDATE type::record('package_offer', $id) SET active = $active RETURN NONE;
             SELECT {OFFER_FIELDS} FROM type::record('package_offer', $id);"
        );
        self.row(&sql, json!({ "id": id, "active": active }), 1)
            .await
    }

    /// A family's new package of `offer`, waiting for its payment.
    pub async fn new_package(
        &self,
        id: &str,
        family: &str,
        offer: &OfferRow,
        by: &str,
        currency: &str,
        now: DateTime<Utc>,
    ) -> Result<PackageRow, StoreError> {
        let sql = format!(
            "CREATE type::record('package', $id) CONTENT {{
                 family: type::record('family', $family),
                 offer: type::record('package_offer', $offer.id), name: $offer.name,
                 lessons: $offer.lessons, duration_min: $offer.duration_min,
                 price_pence: $offer.price_pence, valid_days: $offer.valid_days,
                 currency: $currency, status: 'pending', bought_by: type::record('user', $by),
                 created_at: <datetime>$now, updated_at: <datetime>$now
             }} RETURN NONE;
             SELECT {PACKAGE_FIELDS} FROM type::record('package', $id);"
        );
        let vars = json!({
            "id": id, "family": family, "offer": offer, "by": by, "currency": currency,
            "now": ts(now),
        });
        self.row(&sql, vars, 1).await
    }

    /// Records the package's PaymentIntent (the first one kept).
    pub async fn set_package_intent(
        &self,
        id: &str,
        payment_intent: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE type::record('package', $id)
                 SET payment_intent = payment_intent ?? $pi, updated_at = <datetime>$now
                 RETURN NONE";
        let vars = json!({ "id": id, "pi": payment_intent, "now": ts(now) });
        self.value(sql, vars, 0).await.map(|_| ())
    }

    pub async fn package(&self, id: &str) -> Result<PackageRow, StoreError> {
        let sql = format!("SELECT {PACKAGE_FIELDS} FROM type::record('package', $id)");
        self.row(&sql, json!({ "id": id }), 0).await
    }

    pub async fn package_by_intent(&self, payment_intent: &str) -> Result<PackageRow, StoreError> {
        let sql =
            format!("SELECT {PACKAGE_FIELDS} FROM package WHERE payment_intent = $pi LIMIT 1");
        self.row(&sql, json!({ "pi": payment_intent }), 0).await
    }

    /// The family's packages, newest first.
    pub async fn family_packages(&self, family: &str) -> Result<Vec<PackageRow>, StoreError> {
        let sql = format!(
            "SELECT {PACKAGE_FIELDS} FROM package WHERE family = type::record('family', $family)
             ORDER BY created_at DESC"
        );
        self.rows(&sql, json!({ "family": family }), 0).await
    }

    /// Stripe took the package's money: it is paid, its units (worth
    /// `values`, one per lesson) expire after its days, and `entry`
    /// (`package_purchased`) is posted — together, once. `event` is
    /// recorded with it when a webhook said so. `false` when it was paid
    /// already.
    pub async fn package_paid(
        &self,
        id: &str,
        stripe_charge: Option<&str>,
        values: &[i64],
        entry: &KeyedEntry,
        event: Option<&EventSeen>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             IF $event {{ {RECORD_EVENT} }};
             LET $p = type::record('package', $id);
             LET $row = SELECT status, family, duration_min, valid_days FROM ONLY $p;
             LET $now_paid = $row.status != 'paid';
             IF $now_paid {{
                 LET $expires = <datetime>$now + duration::from_days($row.valid_days);
                 UPDATE $p SET status = 'paid', paid_at = <datetime>$now, expires_at = $expires,
                     stripe_charge = stripe_charge ?? $charge, failure = NONE,
                     updated_at = <datetime>$now RETURN NONE;
                 FOR $i IN $units {{
                     CREATE type::record('package_unit', $id + '_' + <string>$i.n) CONTENT {{
                         package: $p, family: $row.family, duration_min: $row.duration_min,
                         value_pence: $i.value, expires_at: $expires
                     }} RETURN NONE;
                 }};
                 {POST_ENTRIES}
             }};
             RETURN $now_paid;
             COMMIT TRANSACTION;"
        );
        let units: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, v)| json!({ "n": format!("{:03}", i + 1), "value": v }))
            .collect();
        let vars = json!({
            "id": id, "charge": stripe_charge, "units": units, "entries": [entry],
            "event": event, "now": ts(now),
        });
        let v = self.value(&sql, without_nulls(vars), 6).await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// Stripe refused the package's payment: `failed`, unless it was paid.
    pub async fn package_failed(
        &self,
        id: &str,
        failure: &str,
        event: Option<&EventSeen>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             IF $event {{ {RECORD_EVENT} }};
             UPDATE type::record('package', $id) SET status = 'failed', failure = $failure,
                 updated_at = <datetime>$now WHERE status = 'pending' RETURN NONE;
             COMMIT TRANSACTION;"
        );
        let vars = json!({ "id": id, "failure": failure, "event": event, "now": ts(now) });
        self.value(&sql, without_nulls(vars), 0).await.map(|_| ())
    }

    /// Units whose time is up and that nobody spent, oldest first.
    pub async fn units_expiring(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ExpiringUnit>, StoreError> {
        let sql = "SELECT record::id(id) AS id, record::id(family) AS family_id,
                          value_pence AS value, expires_at
                   FROM package_unit
                   WHERE expires_at <= <datetime>$now AND used_for = NONE AND expired_at = NONE
                   ORDER BY expires_at LIMIT $limit";
        self.rows(sql, json!({ "now": ts(now), "limit": limit }), 0)
            .await
    }

    /// Expires one unit with its `package_expired` entry, if it is still
    /// unspent and due; `false` when it was not (spent meanwhile).
    pub async fn expire_unit(
        &self,
        id: &str,
        entry: &KeyedEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $done = UPDATE type::record('package_unit', $id) SET expired_at = <datetime>$now
                 WHERE used_for = NONE AND expired_at = NONE AND expires_at <= <datetime>$now;
             IF array::len($done) > 0 {{ {POST_ENTRIES} }};
             RETURN array::len($done) > 0;
             COMMIT TRANSACTION;"
        );
        let vars = json!({ "id": id, "entries": [entry], "now": ts(now) });
        Ok(self.value(&sql, vars, 3).await?.as_bool().unwrap_or(false))
    }
}
