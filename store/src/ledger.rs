//! The double-entry ledger (docs/billing.md, "Ledger"). Entries are
//! written by [`POST_ENTRIES`], a piece of SurrealQL that any transaction
//! moving money includes, so an entry commits with the state change that
//! causes it or not at all. Each entry is keyed by what it records: a
//! retried step finds its key taken and the whole transaction is refused
//! as a duplicate, so money never moves twice. The schema refuses an entry
//! whose postings do not add up to zero (migration 0011).

use chrono::{DateTime, Utc};
use cms_domain::ledger::{self, Entry, Posting, Problem};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Store, StoreError, ts};

/// An entry with the key that makes it once-only, and what it is about.
#[derive(Debug, Clone, Serialize)]
pub struct KeyedEntry {
    /// The journal record's key, e.g. `charge:<id>:succeeded`.
    pub key: String,
    #[serde(flatten)]
    pub entry: Entry,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
}

/// Writes every entry in `$entries` ([`KeyedEntry`]s) at `$now` and moves
/// each account's balance by its postings. Include it inside a
/// transaction; bind `$entries` and `$now`.
pub(crate) const POST_ENTRIES: &str = "
FOR $e IN $entries {
    CREATE type::record('journal', $e.key) CONTENT {
        kind: $e.kind,
        postings: array::map($e.postings, |$p| {
            account: type::record('ledger_account', $p.account), amount: $p.amount
        }),
        about: $e.about, at: <datetime>$now
    } RETURN NONE;
    FOR $p IN $e.postings {
        UPSERT type::record('ledger_account', $p.account)
            SET balance = (balance ?? 0) + $p.amount, updated_at = <datetime>$now RETURN NONE;
    };
};";

/// A sum of pence the store answered that is not a whole number: a fault,
/// never read as zero.
fn not_pence(v: &serde_json::Value) -> StoreError {
    StoreError::Database(format!("a sum of pence that is not a whole number: {v}"))
}

#[derive(Deserialize)]
struct JournalRow {
    id: String,
    postings: Vec<Posting>,
}

#[derive(Deserialize)]
struct BalanceRow {
    id: String,
    balance: i64,
}

impl Store {
    /// Writes entries on their own, all or none: `Duplicate` when one of
    /// their keys is taken.
    pub async fn post_entries(
        &self,
        entries: &[KeyedEntry],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = format!("BEGIN TRANSACTION; {POST_ENTRIES} COMMIT TRANSACTION;");
        self.value(&sql, json!({ "entries": entries, "now": ts(now) }), 0)
            .await
            .map(|_| ())
    }

    /// An account's balance; zero for one never moved.
    pub async fn balance(&self, account: &ledger::Account) -> Result<i64, StoreError> {
        let v = self
            .value(
                "RETURN (SELECT VALUE balance FROM ONLY type::record('ledger_account', $key)) ?? 0",
                json!({ "key": account.key() }),
                0,
            )
            .await?;
        v.as_i64().ok_or_else(|| not_pence(&v))
    }

    /// What families owe now: the sum of the positive family receivables.
    pub async fn outstanding(&self) -> Result<i64, StoreError> {
        let v = self
            .value(
                "RETURN math::sum((SELECT VALUE balance FROM ledger_account
                     WHERE string::starts_with(record::id(id), 'family_receivable:')
                         AND balance > 0))",
                json!({}),
                0,
            )
            .await?;
        v.as_i64().ok_or_else(|| not_pence(&v))
    }

    /// Paid out to tutors in `[from, to)`: the sum of the payout entries'
    /// debits to tutors' payables.
    pub async fn paid_out(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let v = self
            .value(
                "RETURN math::sum(array::flatten(
                     SELECT VALUE postings[WHERE amount > 0].amount FROM journal
                     WHERE kind = 'payout' AND at >= <datetime>$from AND at < <datetime>$to))",
                json!({ "from": ts(from), "to": ts(to) }),
                0,
            )
            .await?;
        v.as_i64().ok_or_else(|| not_pence(&v))
    }

    /// The ledger's invariants checked over everything stored
    /// ([`ledger::check`]): empty when every entry balances and every
    /// balance is the sum of its postings. Reads the whole ledger: for
    /// tests, the reconciliation command and audits, not requests.
    pub async fn ledger_problems(&self) -> Result<Vec<Problem>, StoreError> {
        let entries: Vec<JournalRow> = self
            .rows(
                "SELECT record::id(id) AS id,
                     array::map(postings, |$p| { account: record::id($p.account), amount: $p.amount })
                         AS postings
                 FROM journal",
                json!({}),
                0,
            )
            .await?;
        let balances: Vec<BalanceRow> = self
            .rows(
                "SELECT record::id(id) AS id, balance FROM ledger_account",
                json!({}),
                0,
            )
            .await?;
        Ok(ledger::check(
            entries
                .iter()
                .map(|e| (e.id.as_str(), e.postings.as_slice())),
            balances.iter().map(|b| (b.id.as_str(), b.balance)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cms_domain::ledger::{Account, EntryKind};

    fn now() -> DateTime<Utc> {
        "2027-03-10T17:00:00Z".parse().unwrap()
    }

    fn charge(key: &str, gross: i64, fee: i64) -> KeyedEntry {
        KeyedEntry {
            key: key.into(),
            entry: Entry::new(
                EntryKind::ChargeRequested,
                vec![
                    (Account::FamilyReceivable("f1".into()), gross),
                    (Account::TutorPayable("t1".into()), fee - gross),
                    (Account::PlatformRevenue, -fee),
                ],
            )
            .unwrap(),
            about: Some("charge:c1".into()),
        }
    }

    #[tokio::test]
    async fn entries_move_balances_once_and_unbalanced_ones_are_refused() {
        let store = crate::users::tests::mem_store().await;
        store
            .post_entries(&[charge("c1:requested", 4000, 800)], now())
            .await
            .unwrap();
        assert!(
            matches!(
                store
                    .post_entries(
                        &[
                            charge("c2:requested", 2500, 500),
                            charge("c1:requested", 4000, 800)
                        ],
                        now()
                    )
                    .await,
                Err(StoreError::Duplicate(_))
            ),
            "a key already written refuses the whole batch"
        );
        assert_eq!(
            store
                .balance(&Account::FamilyReceivable("f1".into()))
                .await
                .unwrap(),
            4000
        );
        assert_eq!(
            store
                .balance(&Account::TutorPayable("t1".into()))
                .await
                .unwrap(),
            -3200
        );
        assert_eq!(
            store.balance(&Account::PlatformRevenue).await.unwrap(),
            -800
        );
        assert_eq!(store.balance(&Account::StripeClearing).await.unwrap(), 0);

        // Past the domain's own check, the schema still refuses it.
        let mut lopsided = charge("c3:requested", 4000, 800);
        lopsided.entry.postings[0].amount = 4001;
        let refused = store.post_entries(&[lopsided], now()).await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(
            store
                .balance(&Account::FamilyReceivable("f1".into()))
                .await
                .unwrap(),
            4000,
            "nothing moved"
        );
        assert!(store.ledger_problems().await.unwrap().is_empty());

        // A balance changed behind the ledger's back is found.
        store
            .execute(
                "UPDATE ledger_account:`platform_revenue` SET balance = -700",
                json!({}),
                0,
            )
            .await
            .unwrap();
        assert_eq!(
            store.ledger_problems().await.unwrap(),
            [Problem::BalanceDrift {
                account: "platform_revenue".into(),
                balance: -700,
                postings: -800
            }]
        );
    }
}
