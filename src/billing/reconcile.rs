//! `cms-server billing reconcile --from --to` (docs/billing.md,
//! "Reconciliation"): the ledger's movements at Stripe (each collected
//! charge, each payout's transfer) against Stripe's balance transactions
//! of the same days. Anything on one side only, or with another amount,
//! is reported; the command fails when there is any.

use chrono::{DateTime, NaiveDate, Utc};
use cms_store::Store;
use cms_store::charges::Movement;
use serde::Serialize;

use super::stripe::{BalanceKind, BalanceLine, StripeApi};
use crate::config::Config;

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    /// The ledger has it; Stripe does not (or the ledger never learnt its
    /// Stripe id).
    MissingAtStripe { ours: String, amount: i64 },
    /// Stripe has it; the ledger does not.
    MissingInLedger {
        stripe: String,
        source: Option<String>,
        amount: i64,
    },
    /// Both have it, with other amounts.
    Amount {
        ours: String,
        stripe: String,
        ledger: i64,
        at_stripe: i64,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Movements matched on both sides.
    pub matched: usize,
    pub differences: Vec<Difference>,
}

/// Matches the two sides by Stripe's source id.
pub fn compare(ours: &[Movement], theirs: &[BalanceLine]) -> (usize, Vec<Difference>) {
    // Only what billing makes: Stripe's own fees and top-ups are not the
    // ledger's.
    let theirs: Vec<&BalanceLine> = theirs
        .iter()
        .filter(|t| t.kind != BalanceKind::Other)
        .collect();
    let mut matched = 0;
    let mut differences = Vec::new();
    let mut used = vec![false; theirs.len()];
    for m in ours {
        let found = m.source.as_ref().and_then(|s| {
            theirs
                .iter()
                .enumerate()
                .find(|(i, t)| !used[*i] && t.source.as_ref() == Some(s))
        });
        match found {
            Some((i, t)) => {
                used[i] = true;
                if t.amount == m.amount {
                    matched += 1;
                } else {
                    differences.push(Difference::Amount {
                        ours: m.ours.clone(),
                        stripe: t.id.clone(),
                        ledger: m.amount,
                        at_stripe: t.amount,
                    });
                }
            }
            None => differences.push(Difference::MissingAtStripe {
                ours: m.ours.clone(),
                amount: m.amount,
            }),
        }
    }
    for (i, t) in theirs.iter().enumerate() {
        if !used[i] {
            differences.push(Difference::MissingInLedger {
                stripe: t.id.clone(),
                source: t.source.clone(),
                amount: t.amount,
            });
        }
    }
    (matched, differences)
}

/// The report for `[from, to)`.
pub async fn report(
    store: &Store,
    stripe: &StripeApi,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Report, Box<dyn std::error::Error>> {
    let ours = store.stripe_movements(from, to).await?;
    let theirs = stripe
        .balance_transactions(from.timestamp(), to.timestamp())
        .await?;
    let (matched, differences) = compare(&ours, &theirs);
    Ok(Report {
        from,
        to,
        matched,
        differences,
    })
}

fn day(s: &str) -> Result<DateTime<Utc>, Box<dyn std::error::Error>> {
    let d =
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{s:?} is not YYYY-MM-DD"))?;
    Ok(d.and_hms_opt(0, 0, 0).ok_or("not a day")?.and_utc())
}

/// The command: prints the report as JSON; fails when anything differs.
pub async fn run(config: &Config, from: &str, to: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (from, to) = (day(from)?, day(to)?);
    if to <= from {
        return Err("--to must be after --from".into());
    }
    let stripe =
        StripeApi::from_config(&config.stripe).ok_or("billing is off: no stripe.secret_key")??;
    let store = Store::open(&config.database).await?;
    let r = report(&store, &stripe, from, to).await?;
    println!("{}", serde_json::to_string_pretty(&r)?);
    if r.differences.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} differences between the ledger and Stripe",
            r.differences.len()
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(key: &str, source: Option<&str>, amount: i64) -> Movement {
        Movement {
            ours: key.into(),
            source: source.map(str::to_owned),
            amount,
        }
    }

    fn line(id: &str, kind: BalanceKind, source: &str, amount: i64) -> BalanceLine {
        BalanceLine {
            id: id.into(),
            kind,
            amount,
            source: Some(source.into()),
        }
    }

    #[test]
    fn each_side_is_matched_by_source_and_the_rest_reported() {
        let (matched, diffs) = compare(
            &[
                ours("c1", Some("ch_1"), 4000),
                ours("c2", Some("ch_2"), 2500),
                ours("c3", None, 1000),
                ours("p1", Some("tr_1"), -3200),
            ],
            &[
                line("txn_1", BalanceKind::Charge, "ch_1", 4000),
                line("txn_2", BalanceKind::Charge, "ch_2", 2400),
                line("txn_3", BalanceKind::Transfer, "tr_1", -3200),
                line("txn_4", BalanceKind::Charge, "ch_9", 999),
                line("txn_5", BalanceKind::Other, "x", -10),
            ],
        );
        assert_eq!(matched, 2);
        assert_eq!(
            diffs,
            [
                Difference::Amount {
                    ours: "c2".into(),
                    stripe: "txn_2".into(),
                    ledger: 2500,
                    at_stripe: 2400
                },
                Difference::MissingAtStripe {
                    ours: "c3".into(),
                    amount: 1000
                },
                Difference::MissingInLedger {
                    stripe: "txn_4".into(),
                    source: Some("ch_9".into()),
                    amount: 999
                },
            ]
        );
    }
}
