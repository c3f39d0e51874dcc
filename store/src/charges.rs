//! Charges (docs/billing.md, "Charging"): what a family's lessons that
//! week are (for the sibling discount), the charges due to be sent, and
//! each step of a charge, the money-moving ones with their journal entry
//! in the same transaction. A charge is `charge:[lesson, family, purpose]`.

use chrono::{DateTime, Utc};
use cms_domain::charge::{ChargePurpose, ChargeStatus};
use cms_domain::lesson::LessonStatus;
use cms_domain::notify::JobKind;
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
    /// Those whose seat a makeup credit or a package lesson pays.
    #[serde(default)]
    pub prepaid: Vec<String>,
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

/// The family's notice about the charge (`$notice`: its kind), due now;
/// include it after the step that makes it, inside the step's guard.
const NOTICE: &str = "IF $tell AND !record::exists(type::record('notify_job', $notice_key)) {
        CREATE type::record('notify_job', $notice_key) CONTENT {
            kind: $notice, lesson: type::record('lesson', $lesson),
            lessons: [type::record('lesson', $lesson)], families: [type::record('family', $family)],
            charge: $key, due_at: <datetime>$now, scheduled_at: <datetime>$now,
            status: 'pending', created_at: <datetime>$now
        } RETURN NONE;
    };";

/// The variables a charge step binds: its id's parts, its key, and the
/// notice's kind and key.
fn step_vars(c: &ChargeRow, notice: JobKind, now: DateTime<Utc>) -> serde_json::Value {
    let mut vars = id_vars(c);
    vars["key"] = json!(c.key());
    vars["notice"] = json!(notice);
    vars["notice_key"] = json!(format!("{}:{}", c.key(), notice));
    vars["tell"] = json!(true);
    vars["now"] = json!(ts(now));
    vars
}

/// One lesson's earnings for a tutor: a charge of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Earning {
    pub lesson_id: String,
    pub lesson_start: DateTime<Utc>,
    pub subject: String,
    pub level: String,
    pub purpose: ChargePurpose,
    pub status: ChargeStatus,
    /// What the family paid (or owes).
    pub gross: i64,
    /// The platform's share.
    pub fee: i64,
    /// The tutor's.
    pub net: i64,
}

/// Money over a span, for admins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChargeTotals {
    /// Charged and collected, in pence.
    pub collected: i64,
    /// The platform's fees on what was collected.
    pub fees: i64,
    /// The tutors' share of what was collected.
    pub tutors: i64,
    /// Charges given up (unpaid lessons), and their sum.
    pub failed_count: i64,
    pub failed: i64,
    /// Charges waiting on the parent or on Stripe, and their sum.
    pub waiting_count: i64,
    pub waiting: i64,
}

/// A movement of money at Stripe as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    /// The charge's or the payout's own key.
    pub ours: String,
    /// Stripe's id of what moved it (`ch_…`, `tr_…`), when known.
    #[serde(default)]
    pub source: Option<String>,
    pub amount: i64,
}

/// A lesson of a family's month, as its statement reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct MonthLesson {
    pub id: String,
    pub start: DateTime<Utc>,
    pub status: cms_domain::lesson::LessonStatus,
    pub subject: String,
    pub level: String,
    pub tutor: String,
    pub price: i64,
    /// The family's children in it (or cancelled out of it), with names.
    pub children: Vec<(String, String)>,
    /// Those whose seat a makeup credit paid.
    pub by_credit: Vec<String>,
    /// Those whose seat a package lesson paid.
    #[serde(default)]
    pub by_package: Vec<String>,
}

/// A charge with each seat it covers.
#[derive(Debug, Clone, Deserialize)]
pub struct ChargeSeats {
    pub lesson_id: String,
    pub purpose: ChargePurpose,
    pub status: ChargeStatus,
    pub seats: Vec<SeatCharged>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeatCharged {
    pub student: String,
    pub price: i64,
    pub discount: i64,
    pub pay: i64,
}

impl Store {
    /// The family's lessons starting in `[from, to)` (whatever became of
    /// them), and the charges made for them.
    pub async fn family_month(
        &self,
        family: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<MonthLesson>, Vec<ChargeSeats>), StoreError> {
        let vars = json!({ "family": family, "from": ts(from), "to": ts(to) });
        let children: Vec<(String, String)> = serde_json::from_value(
            self.value(
                "SELECT VALUE [record::id(id), name] FROM student
                 WHERE family = type::record('family', $family)",
                vars.clone(),
                0,
            )
            .await?,
        )?;
        let ids: Vec<&str> = children.iter().map(|(id, _)| id.as_str()).collect();
        // A lesson the family's children were in, or cancelled out of.
        let lessons: Vec<MonthLesson> = self
            .rows(
                "LET $kids = array::map($ids, |$i| type::record('student', $i));
                 SELECT record::id(id) AS id, starts_at AS start, status, subject.name AS subject,
                     subject.level AS level, tutor.name AS tutor, price_pence AS price,
                     {
                         LET $l = $parent.id;
                         LET $left = array::flatten(SELECT VALUE students FROM cancellation
                             WHERE lesson = $l);
                         array::map(
                             array::distinct(array::concat($parent.students, $left))[WHERE $this IN $kids],
                             |$s| [record::id($s), $s.name])
                     } AS children,
                     array::map(credits, |$c| record::id($c.student)) AS by_credit,
                     { LET $l = $parent.id; SELECT VALUE record::id(student) FROM package_unit
                         WHERE used_for = $l } AS by_package
                 FROM lesson
                 WHERE starts_at >= <datetime>$from AND starts_at < <datetime>$to
                     AND (type::record('family', $family) IN families
                         OR record::exists(type::record('charge', [record::id(id), $family, 'late_cancellation'])))
                 ORDER BY start",
                json!({ "family": family, "from": ts(from), "to": ts(to), "ids": ids }),
                1,
            )
            .await?;
        let charges: Vec<ChargeSeats> = self
            .rows(
                "SELECT record::id(lesson) AS lesson_id, purpose, status,
                     array::map(seats, |$s| { student: record::id($s.student), price: $s.price,
                         discount: $s.discount, pay: $s.pay }) AS seats
                 FROM charge WHERE family = type::record('family', $family)
                     AND lesson.starts_at >= <datetime>$from AND lesson.starts_at < <datetime>$to",
                vars,
                0,
            )
            .await?;
        Ok((lessons, charges))
    }

    /// Makes `month`'s statement jobs (one per family with a lesson
    /// starting in `[from, to)`), due now, once: `None` when they were
    /// made already (the month's `statement_run` is the claim), else how
    /// many.
    pub async fn statements_due(
        &self,
        month: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        let run = "SELECT VALUE id FROM ONLY type::record('statement_run', $month)";
        let vars = json!({ "month": month, "from": ts(from), "to": ts(to), "now": ts(now) });
        if !self.value(run, vars.clone(), 0).await?.is_null() {
            return Ok(None);
        }
        let sql = "BEGIN TRANSACTION;
             LET $families = array::distinct(array::flatten(
                 SELECT VALUE families FROM lesson
                 WHERE starts_at >= <datetime>$from AND starts_at < <datetime>$to));
             CREATE type::record('statement_run', $month) CONTENT {
                 families: array::len($families), at: <datetime>$now
             } RETURN NONE;
             FOR $f IN $families {
                 CREATE type::record('notify_job', 'statement:' + record::id($f) + ':' + $month) CONTENT {
                     kind: 'family_statement', lessons: [], families: [$f], month: $month,
                     due_at: <datetime>$now, scheduled_at: <datetime>$now, status: 'pending',
                     created_at: <datetime>$now
                 } RETURN NONE;
             };
             RETURN array::len($families);
             COMMIT TRANSACTION;";
        match self.value(sql, vars, 4).await {
            Ok(v) => Ok(v.as_u64().and_then(|n| usize::try_from(n).ok())),
            // Another node made them first.
            Err(StoreError::Duplicate(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tutor's charges for lessons starting in `[from, to)`, by start.
    pub async fn tutor_earnings(
        &self,
        tutor: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Earning>, StoreError> {
        self.rows(
            "SELECT record::id(lesson) AS lesson_id, lesson.starts_at AS lesson_start,
                 lesson.subject.name AS subject, lesson.subject.level AS level, purpose, status,
                 amount AS gross, fee, net
             FROM charge WHERE tutor = type::record('user', $tutor)
                 AND lesson.starts_at >= <datetime>$from AND lesson.starts_at < <datetime>$to
             ORDER BY lesson_start",
            json!({ "tutor": tutor, "from": ts(from), "to": ts(to) }),
            0,
        )
        .await
    }

    /// Totals of the charges made in `[from, to)`.
    pub async fn charge_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ChargeTotals, StoreError> {
        let v = self
            .value(
                "LET $c = SELECT status, amount, fee, net FROM charge
                     WHERE created_at >= <datetime>$from AND created_at < <datetime>$to;
                 LET $ok = $c[WHERE status = 'succeeded'];
                 LET $failed = $c[WHERE status = 'failed'];
                 LET $waiting = $c[WHERE status = 'pending' OR status = 'requires_action'];
                 RETURN {
                     collected: math::sum($ok.amount), fees: math::sum($ok.fee),
                     tutors: math::sum($ok.net),
                     failed_count: array::len($failed), failed: math::sum($failed.amount),
                     waiting_count: array::len($waiting), waiting: math::sum($waiting.amount)
                 };",
                json!({ "from": ts(from), "to": ts(to) }),
                4,
            )
            .await?;
        Ok(serde_json::from_value(v)?)
    }

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
                 array::map(students, |$s| record::id($s)) AS students,
                 array::concat(array::map(credits, |$c| record::id($c.student)),
                     { LET $l = $parent.id; SELECT VALUE record::id(student) FROM package_unit
                         WHERE used_for = $l }) AS prepaid
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

    /// The parent is here to confirm a charge waiting for them: it is due
    /// again now. `false` when it was not waiting (paid, failed, or being
    /// sent meanwhile).
    pub async fn charge_resume(
        &self,
        c: &ChargeRow,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE {CHARGE_ID} SET status = 'pending', in_flight = false, failure = NONE,
                 next_attempt_at = <datetime>$now, updated_at = <datetime>$now
             WHERE status = 'requires_action' RETURN VALUE status"
        );
        let mut vars = id_vars(c);
        vars["now"] = json!(ts(now));
        let v = self.value(&sql, vars, 0).await?;
        Ok(v.as_array().is_some_and(|a| !a.is_empty()))
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
    /// the charge by it), and the Charge that took the money once known.
    pub async fn charge_intent(
        &self,
        c: &ChargeRow,
        payment_intent: &str,
        stripe_charge: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE {CHARGE_ID} SET payment_intent = $pi, stripe_charge = $ch ?? stripe_charge,
                 updated_at = <datetime>$now RETURN NONE"
        );
        let mut vars = id_vars(c);
        vars["pi"] = json!(payment_intent);
        vars["ch"] = json!(stripe_charge);
        vars["now"] = json!(ts(now));
        self.value(&sql, super::without_nulls(vars), 0)
            .await
            .map(|_| ())
    }

    /// What the ledger says reached or left Stripe in `[from, to)`: each
    /// collected charge and paid package (by its Charge id) and each
    /// payout's transfer, with
    /// its amount as Stripe's balance shows it (a transfer leaves it).
    pub async fn stripe_movements(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Movement>, StoreError> {
        let vars = json!({ "from": ts(from), "to": ts(to) });
        let mut out: Vec<Movement> = self
            .rows(
                "SELECT record::id(lesson) + ':' + record::id(family) + ':' + purpose AS ours,
                     stripe_charge AS source, amount
                 FROM charge WHERE status = 'succeeded'
                     AND succeeded_at >= <datetime>$from AND succeeded_at < <datetime>$to",
                vars.clone(),
                0,
            )
            .await?;
        let transfers: Vec<Movement> = self
            .rows(
                "SELECT record::id(tutor) + ':' + week AS ours, transfer AS source, -amount AS amount
                 FROM payout WHERE transfer != NONE
                     AND updated_at >= <datetime>$from AND updated_at < <datetime>$to",
                vars,
                0,
            )
            .await?;
        out.extend(transfers);
        let packages: Vec<Movement> = self
            .rows(
                "SELECT 'package:' + record::id(id) AS ours, stripe_charge AS source,
                     price_pence AS amount
                 FROM package WHERE status = 'paid'
                     AND paid_at >= <datetime>$from AND paid_at < <datetime>$to",
                json!({ "from": ts(from), "to": ts(to) }),
                0,
            )
            .await?;
        out.extend(packages);
        Ok(out)
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

    /// The charge `lesson:family:purpose`.
    pub async fn charge_by_key(&self, key: &str) -> Result<ChargeRow, StoreError> {
        let mut parts = key.splitn(3, ':');
        let (Some(lesson), Some(family), Some(purpose)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(StoreError::NotFound);
        };
        self.row(
            &format!("SELECT {CHARGE_FIELDS} FROM {CHARGE_ID}"),
            json!({ "lesson": lesson, "family": family, "purpose": purpose }),
            0,
        )
        .await
    }

    /// Stripe took the money: the charge succeeds, `entry` (clearing up,
    /// receivable down) is posted and the family's receipt is due,
    /// together. Nothing changes when it had succeeded already (its answer
    /// and its webhook both say so).
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
                 {NOTICE}
             }};
             COMMIT TRANSACTION;"
        );
        let mut vars = step_vars(c, JobKind::PaymentReceipt, now);
        vars["entries"] = json!([entry]);
        self.value(&sql, vars, 0).await.map(|_| ())
    }

    /// The charge cannot go through now: `status` (`requires_action`,
    /// `failed`) with Stripe's code, and, when `tell`, the family's notice
    /// due (once per charge and kind), unless it has succeeded meanwhile
    /// or stopped so already. `true` when it stopped now.
    pub async fn charge_stopped(
        &self,
        c: &ChargeRow,
        status: ChargeStatus,
        failure: &str,
        tell: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $c = {CHARGE_ID};
             LET $was = (SELECT VALUE status FROM ONLY $c);
             LET $stops = $was != 'succeeded' AND $was != $status;
             IF $stops {{
                 UPDATE $c SET status = $status, failure = $failure, in_flight = false,
                     updated_at = <datetime>$now RETURN NONE;
                 {NOTICE}
             }};
             RETURN $stops;
             COMMIT TRANSACTION;"
        );
        let notice = if status == ChargeStatus::Failed {
            JobKind::PaymentFailed
        } else {
            JobKind::PaymentAction
        };
        let mut vars = step_vars(c, notice, now);
        vars["status"] = json!(status);
        vars["failure"] = json!(failure);
        vars["tell"] = json!(tell);
        Ok(self.value(&sql, vars, 5).await?.as_bool().unwrap_or(false))
    }
}
