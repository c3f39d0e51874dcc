//! Charges (docs/billing.md, "Charging"): what a family's lessons that
//! week are (for the sibling discount), the charges due to be sent, and
//! each step of a charge, the money-moving ones with their journal entry
//! in the same transaction. A charge is `charge:[lesson, family, purpose]`.

use chrono::{DateTime, Utc};
use cms_domain::charge::{ChargePurpose, ChargeStatus};
use cms_domain::lesson::LessonStatus;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ledger::{KeyedEntry, POST_ENTRIES};
use super::lessons::statuses;
use super::{Store, StoreError, ts};

/// Writes every charge in `$charges` ([`NewCharge`]s), pending and due at
/// `$now`. Include it inside the transaction of the change that owes them
/// (a completion, a late cancellation); bind `$charges` and `$now`.
pub(crate) const CREATE_CHARGES: &str = "
FOR $c IN $charges {
    CREATE type::record('charge', [$c.lesson, $c.family, $c.purpose]) CONTENT {
        lesson: type::record('lesson', $c.lesson), family: type::record('family', $c.family),
        tutor: type::record('user', $c.tutor),
        purpose: $c.purpose, amount: $c.amount, fee: $c.fee, net: $c.net, discount: $c.discount,
        currency: $c.currency,
        seats: array::map($c.seats, |$s| {
            student: type::record('student', $s.student), price: $s.price,
            discount: $s.discount, pay: $s.pay
        }),
        status: 'pending', attempts: 0, next_attempt_at: <datetime>$now,
        created_at: <datetime>$now, updated_at: <datetime>$now
    } RETURN NONE;
};";

/// A charge owed by a change: the family's seats in one lesson.
#[derive(Debug, Clone, Serialize)]
pub struct NewCharge {
    pub lesson: String,
    pub family: String,
    pub tutor: String,
    pub purpose: ChargePurpose,
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
    pub discount: i64,
    pub currency: String,
    pub seats: Vec<ChargedSeat>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChargedSeat {
    pub student: String,
    pub price: i64,
    pub discount: i64,
    pub pay: i64,
}

/// A lesson of the family's week, as the sibling discount reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct WeekLesson {
    pub id: String,
    pub start: DateTime<Utc>,
    pub price: i64,
    pub students: Vec<String>,
}

/// A charge as the server sends and shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChargeRow {
    pub lesson_id: String,
    pub family_id: String,
    pub tutor_id: String,
    pub purpose: ChargePurpose,
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
    pub discount: i64,
    pub currency: String,
    pub status: ChargeStatus,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl ChargeRow {
    /// The charge's own key: `<lesson>:<family>:<purpose>`.
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.lesson_id, self.family_id, self.purpose)
    }
}

const CHARGE_FIELDS: &str = "record::id(lesson) AS lesson_id, record::id(family) AS family_id, \
     record::id(tutor) AS tutor_id, purpose, amount, fee, net, discount, currency, status, \
     attempts, payment_intent, created_at";

fn id_vars(c: &ChargeRow) -> serde_json::Value {
    json!({ "lesson": c.lesson_id, "family": c.family_id, "purpose": c.purpose })
}

const CHARGE_ID: &str = "type::record('charge', [$lesson, $family, $purpose])";

impl Store {
    /// The family's children, eldest in the family first (by when they
    /// were added): the order the sibling discount ranks them in.
    pub async fn family_children(&self, family: &str) -> Result<Vec<String>, StoreError> {
        let v = self
            .value(
                "SELECT VALUE record::id(id) FROM student
                 WHERE family = type::record('family', $family) ORDER BY created_at, id",
                json!({ "family": family }),
                0,
            )
            .await?;
        Ok(serde_json::from_value(v)?)
    }

    /// The family's lessons starting in `[from, to)` that are held or
    /// completed (a cancelled one is no lesson that week).
    pub async fn family_week_lessons(
        &self,
        family: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WeekLesson>, StoreError> {
        self.rows(
            "SELECT record::id(id) AS id, starts_at AS start, price_pence AS price,
                 array::map(students, |$s| record::id($s)) AS students
             FROM lesson
             WHERE starts_at >= <datetime>$from AND starts_at < <datetime>$to
                 AND type::record('family', $family) IN families AND status IN $billable",
            json!({
                "family": family, "from": ts(from), "to": ts(to),
                "billable": statuses(|s| s.holds_time() || s == LessonStatus::Completed),
            }),
            0,
        )
        .await
    }

    /// Charges waiting to be sent whose time has come, oldest first.
    pub async fn charges_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ChargeRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {CHARGE_FIELDS} FROM charge
                 WHERE status = 'pending' AND next_attempt_at <= <datetime>$now
                 ORDER BY next_attempt_at LIMIT $limit"
            ),
            json!({ "now": ts(now), "limit": limit }),
            0,
        )
        .await
    }

    /// The family's charges, newest first.
    pub async fn family_charges(
        &self,
        family: &str,
        limit: u32,
    ) -> Result<Vec<ChargeRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {CHARGE_FIELDS} FROM charge WHERE family = type::record('family', $family)
                 ORDER BY created_at DESC LIMIT $limit"
            ),
            json!({ "family": family, "limit": limit }),
            0,
        )
        .await
    }

    /// Claims the charge's next send: a new attempt, or the one in flight
    /// again if its answer was never recorded (a crash, a timeout), so it
    /// goes with the same key. The next try moves to `retry_at`, which is
    /// also the claim: another worker finds it not yet due. Answers the
    /// attempt (1 for the first); `Refused` when another worker has it.
    pub async fn charge_attempt(
        &self,
        c: &ChargeRow,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let sql = format!(
            "UPDATE ONLY {CHARGE_ID}
                 SET attempts = IF in_flight THEN attempts ELSE attempts + 1 END, in_flight = true,
                     next_attempt_at = <datetime>$retry, updated_at = <datetime>$now
             WHERE status = 'pending' AND next_attempt_at <= <datetime>$now RETURN VALUE attempts"
        );
        let mut vars = id_vars(c);
        vars["retry"] = json!(ts(retry_at));
        vars["now"] = json!(ts(now));
        match self.value(&sql, vars, 0).await? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or(StoreError::NotFound),
            // Another worker took this attempt.
            _ => Err(StoreError::Refused(cms_domain::Refusal::StaleVersion)),
        }
    }

    /// Stripe answered the attempt without taking the money (a decline
    /// worth retrying): the next attempt is a new one, with a new key.
    pub async fn charge_answered(
        &self,
        c: &ChargeRow,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE {CHARGE_ID} SET in_flight = false, updated_at = <datetime>$now RETURN NONE"
        );
        let mut vars = id_vars(c);
        vars["now"] = json!(ts(now));
        self.value(&sql, vars, 0).await.map(|_| ())
    }

    /// Stripe made the PaymentIntent: its id is kept (the webhook finds
    /// the charge by it).
    pub async fn charge_intent(
        &self,
        c: &ChargeRow,
        payment_intent: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE {CHARGE_ID} SET payment_intent = $pi, updated_at = <datetime>$now RETURN NONE"
        );
        let mut vars = id_vars(c);
        vars["pi"] = json!(payment_intent);
        vars["now"] = json!(ts(now));
        self.value(&sql, vars, 0).await.map(|_| ())
    }

    /// The charge whose PaymentIntent this is.
    pub async fn charge_by_intent(&self, payment_intent: &str) -> Result<ChargeRow, StoreError> {
        self.row(
            &format!("SELECT {CHARGE_FIELDS} FROM charge WHERE payment_intent = $pi LIMIT 1"),
            json!({ "pi": payment_intent }),
            0,
        )
        .await
    }

    /// Stripe took the money: the charge succeeds and `entry` (clearing
    /// up, receivable down) is posted, together. Nothing changes when it
    /// had succeeded already (its answer and its webhook both say so).
    pub async fn charge_succeeded(
        &self,
        c: &ChargeRow,
        entry: &KeyedEntry,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $c = {CHARGE_ID};
             IF (SELECT VALUE status FROM ONLY $c) != 'succeeded' {{
                 UPDATE $c SET status = 'succeeded', succeeded_at = <datetime>$now, in_flight = false,
                     failure = NONE, updated_at = <datetime>$now RETURN NONE;
                 {POST_ENTRIES}
             }};
             COMMIT TRANSACTION;"
        );
        let mut vars = id_vars(c);
        vars["entries"] = json!([entry]);
        vars["now"] = json!(ts(now));
        self.value(&sql, vars, 0).await.map(|_| ())
    }

    /// The charge cannot go through now: `status` (`requires_action`,
    /// `failed`) with Stripe's code, unless it has succeeded meanwhile.
    pub async fn charge_stopped(
        &self,
        c: &ChargeRow,
        status: ChargeStatus,
        failure: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE {CHARGE_ID} SET status = $status, failure = $failure, in_flight = false,
                 updated_at = <datetime>$now
             WHERE status != 'succeeded' RETURN NONE"
        );
        let mut vars = id_vars(c);
        vars["status"] = json!(status);
        vars["failure"] = json!(failure);
        vars["now"] = json!(ts(now));
        self.value(&sql, vars, 0).await.map(|_| ())
    }
}
