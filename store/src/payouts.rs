//! Weekly payouts (docs/billing.md, "Payouts"): a tutor's succeeded
//! charges of one week, paid out once. The payout, its `payout` journal
//! entry (tutor payable down, Stripe clearing down) and the charges it
//! pays are written in one transaction under the key
//! `payout:[tutor, monday]`; the Stripe requests that follow carry keys
//! derived from it, so a retry sends nothing twice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::charges::Earning;
use super::ledger::{KeyedEntry, POST_ENTRIES};
use super::{Store, StoreError, ts};

/// A payout as the server sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PayoutRow {
    pub tutor_id: String,
    /// The Monday (UK) of the week it pays.
    pub week: String,
    /// The tutor's share: what is sent.
    pub amount: i64,
    /// What families paid for those lessons, and the platform's fees.
    pub gross: i64,
    pub fee: i64,
    pub status: cms_domain::charge::PayoutStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_payout: Option<String>,
}

impl PayoutRow {
    /// `<tutor>:<week>`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.tutor_id, self.week)
    }
}

/// A charge a payout would pay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payable {
    pub lesson: String,
    pub family: String,
    pub purpose: String,
    pub tutor_id: String,
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
}

const PAYOUT_FIELDS: &str = "record::id(tutor) AS tutor_id, week, amount, gross, fee, status, \
     transfer, bank_payout";
const PAYOUT_ID: &str = "type::record('payout', [$tutor, $week])";

impl Store {
    /// Succeeded charges not yet paid out, for lessons starting in
    /// `[from, to)`.
    pub async fn payable(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Payable>, StoreError> {
        self.rows(
            "SELECT record::id(lesson) AS lesson, record::id(family) AS family, purpose,
                 record::id(tutor) AS tutor_id, amount, fee, net FROM charge
             WHERE status = 'succeeded' AND payout = NONE
                 AND lesson.starts_at >= <datetime>$from AND lesson.starts_at < <datetime>$to",
            json!({ "from": ts(from), "to": ts(to) }),
            0,
        )
        .await
    }

    /// Makes the tutor's payout for `week` from `charges` with `entry`,
    /// once: `Duplicate` when it exists; `Refused` when one of the charges
    /// was paid out meanwhile.
    pub async fn open_payout(
        &self,
        tutor: &str,
        week: &str,
        charges: &[Payable],
        entry: &KeyedEntry,
        now: DateTime<Utc>,
    ) -> Result<PayoutRow, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $p = {PAYOUT_ID};
             LET $ids = array::map($charges, |$c| type::record('charge', [$c.lesson, $c.family, $c.purpose]));
             IF array::len(SELECT VALUE id FROM $ids WHERE payout = NONE AND status = 'succeeded')
                 != array::len($ids) {{
                 THROW 'stale: a charge was paid out meanwhile';
             }};
             CREATE $p CONTENT {{
                 tutor: type::record('user', $tutor), week: $week, amount: $amount,
                 gross: $gross, fee: $fee, charges: $ids, status: 'pending',
                 created_at: <datetime>$now, updated_at: <datetime>$now
             }} RETURN NONE;
             UPDATE $ids SET payout = $p, updated_at = <datetime>$now RETURN NONE;
             {POST_ENTRIES}
             SELECT {PAYOUT_FIELDS} FROM ONLY $p;
             COMMIT TRANSACTION;"
        );
        let vars = json!({
            "tutor": tutor, "week": week, "charges": charges, "now": ts(now), "entries": [entry],
            "amount": charges.iter().map(|c| c.net).sum::<i64>(),
            "gross": charges.iter().map(|c| c.amount).sum::<i64>(),
            "fee": charges.iter().map(|c| c.fee).sum::<i64>(),
        });
        self.row(&sql, vars, 7).await
    }

    /// Payouts made and not yet sent in full.
    pub async fn pending_payouts(&self) -> Result<Vec<PayoutRow>, StoreError> {
        self.rows(
            &format!(
                "SELECT {PAYOUT_FIELDS} FROM payout WHERE status = 'pending' ORDER BY created_at"
            ),
            json!({}),
            0,
        )
        .await
    }

    /// Records a Stripe step of the payout: its transfer, then its bank
    /// payout (which makes it paid) and the tutor's statement, due now.
    pub async fn payout_step(
        &self,
        p: &PayoutRow,
        transfer: &str,
        bank_payout: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $p = {PAYOUT_ID};
             LET $was = (SELECT VALUE status FROM ONLY $p);
             UPDATE $p SET transfer = $transfer, updated_at = <datetime>$now RETURN NONE;
             IF $bank != NONE AND $was = 'pending' {{
                 UPDATE $p SET bank_payout = $bank, status = 'paid' RETURN NONE;
                 CREATE type::record('notify_job', $job) CONTENT {{
                     kind: 'payout_statement', lessons: [], families: [], payout: $key,
                     due_at: <datetime>$now, scheduled_at: <datetime>$now, status: 'pending',
                     created_at: <datetime>$now
                 }} RETURN NONE;
             }};
             COMMIT TRANSACTION;"
        );
        let vars = json!({
            "tutor": p.tutor_id, "week": p.week, "key": p.key(), "transfer": transfer,
            "bank": bank_payout, "job": format!("payout:{}", p.key()), "now": ts(now),
        });
        self.value(&sql, vars, 0).await.map(|_| ())
    }

    /// A payout and the lessons it paid, for its statement.
    pub async fn payout_statement(
        &self,
        key: &str,
    ) -> Result<(PayoutRow, Vec<Earning>), StoreError> {
        let Some((tutor, week)) = key.split_once(':') else {
            return Err(StoreError::NotFound);
        };
        let vars = json!({ "tutor": tutor, "week": week });
        let p: PayoutRow = self
            .row(
                &format!("SELECT {PAYOUT_FIELDS} FROM {PAYOUT_ID}"),
                vars.clone(),
                0,
            )
            .await?;
        let lessons = self
            .rows(
                &format!(
                    "LET $charges = (SELECT VALUE charges FROM ONLY {PAYOUT_ID}) ?? [];
                     SELECT record::id(lesson) AS lesson_id, lesson.starts_at AS lesson_start,
                         lesson.subject.name AS subject, lesson.subject.level AS level, purpose,
                         status, amount AS gross, fee, net
                     FROM $charges
                     ORDER BY lesson_start"
                ),
                vars,
                1,
            )
            .await?;
        Ok((p, lessons))
    }
}
