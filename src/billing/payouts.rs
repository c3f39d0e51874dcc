//! Weekly payouts (docs/billing.md, "Payouts"). On the payout day
//! (`billing.payout_weekday`, from 09:00 UK time) each tutor whose payouts
//! are enabled is paid their share of the previous week's collected
//! charges: the payout, its ledger entry and the charges it pays are made
//! in one transaction (`payout:[tutor, monday]`, once), then a Transfer to
//! their connected account and a bank payout on it are sent with keys
//! derived from the payout's, and the tutor's statement is due. A tutor
//! whose payouts are not enabled keeps their earnings in the ledger until
//! they are; Stripe out of reach is retried on the next sweep.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use cms_domain::ledger::{Account, Entry, EntryKind};
use cms_domain::money;
use cms_store::StoreError;
use cms_store::ledger::KeyedEntry;
use cms_store::payouts::{Payable, PayoutRow};

use super::Billing;

/// Payouts go from this hour of the payout day, UK time.
const PAYOUT_HOUR: u32 = 9;

/// The week paid by the latest payout day at or before `now`: its Monday
/// and its bounds, the Monday-to-Monday before that payout day's week.
pub fn week_due(now: DateTime<Utc>, payday: Weekday) -> (NaiveDate, DateTime<Utc>, DateTime<Utc>) {
    let today = now.with_timezone(&money::UK).date_naive();
    let back = (7 + today.weekday().num_days_from_monday() - payday.num_days_from_monday()) % 7;
    let mut day = today - Duration::days(i64::from(back));
    if money::uk_at(day, PAYOUT_HOUR) > now {
        day -= Duration::days(7);
    }
    let monday = money::week_of(money::uk_at(day, 12), money::UK) - Duration::days(7);
    let (from, to) = money::week_bounds(monday);
    (monday, from, to)
}

/// Makes the payouts due and sends every payout not yet sent in full.
pub async fn run_due(deps: &Billing) {
    if let Err(e) = open_due(deps).await {
        tracing::warn!(error = %e, "payouts could not be made; tried again on the next sweep");
    }
    let pending = match deps.store.pending_payouts().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "payouts could not be read");
            return;
        }
    };
    for p in pending {
        if let Err(e) = send(deps, &p).await {
            tracing::warn!(payout = %p.key(), error = %e, "payout not sent; tried again later");
        }
    }
}

async fn open_due(deps: &Billing) -> Result<(), StoreError> {
    let (monday, from, to) = week_due(deps.clock.now(), deps.rules.payday);
    let mut by_tutor: BTreeMap<String, Vec<Payable>> = BTreeMap::new();
    for c in deps.store.payable(from, to).await? {
        by_tutor.entry(c.tutor_id.clone()).or_default().push(c);
    }
    let week = monday.format("%Y-%m-%d").to_string();
    for (tutor, charges) in by_tutor {
        let enabled = deps
            .store
            .payout_account(&tutor)
            .await?
            .is_some_and(|a| a.payouts_enabled);
        if !enabled {
            continue;
        }
        let net: i64 = charges.iter().map(|c| c.net).sum();
        let Some(entry) = Entry::new(
            EntryKind::Payout,
            vec![
                (Account::TutorPayable(tutor.clone()), net),
                (Account::StripeClearing, -net),
            ],
        ) else {
            continue;
        };
        let keyed = KeyedEntry {
            key: format!("payout:{tutor}:{week}"),
            entry,
            about: Some(format!("payout:{tutor}:{week}")),
        };
        match deps
            .store
            .open_payout(&tutor, &week, &charges, &keyed, deps.clock.now())
            .await
        {
            // Made already, or its charges taken by another node's payout.
            Ok(_) | Err(StoreError::Duplicate(_)) | Err(StoreError::Refused(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn send(deps: &Billing, p: &PayoutRow) -> Result<(), StoreError> {
    let Some(stripe) = deps.stripe.as_ref() else {
        return Ok(());
    };
    let Some(account) = deps.store.payout_account(&p.tutor_id).await? else {
        return Ok(());
    };
    let currency = &deps.rules.currency;
    let key = p.key();
    let group = format!("payout_{}_{}", p.tutor_id, p.week);
    let transfer = match p.transfer.clone() {
        Some(t) => t,
        None => match stripe
            .transfer(
                &format!("payout:{key}:transfer"),
                p.amount,
                currency,
                &account.stripe_account,
                &group,
            )
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(payout = %key, error = %e, "transfer not made");
                return Ok(());
            }
        },
    };
    let bank = stripe
        .bank_payout(
            &format!("payout:{key}:bank"),
            &account.stripe_account,
            p.amount,
            currency,
        )
        .await;
    let now = deps.clock.now();
    match bank {
        Ok(b) => {
            deps.store.payout_step(p, &transfer, Some(&b), now).await?;
            deps.notifier.wake();
        }
        Err(e) => {
            tracing::warn!(payout = %key, error = %e, "bank payout not made");
            deps.store.payout_step(p, &transfer, None, now).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_week_paid_is_the_one_before_the_payout_days_week() {
        // Friday 12 March 2027, 09:00 GMT: the week of Monday 1 March.
        let (monday, from, to) = week_due(at("2027-03-12T09:00:00Z"), Weekday::Fri);
        assert_eq!(monday, NaiveDate::from_ymd_opt(2027, 3, 1).unwrap());
        assert_eq!(
            (from, to),
            (at("2027-03-01T00:00:00Z"), at("2027-03-08T00:00:00Z"))
        );
        // An hour earlier it is still the payout of the Friday before.
        let (monday, _, _) = week_due(at("2027-03-12T08:59:00Z"), Weekday::Fri);
        assert_eq!(monday, NaiveDate::from_ymd_opt(2027, 2, 22).unwrap());
        // In summer the week runs on BST: Monday 00:00 BST is Sunday 23:00 UTC.
        let (_, from, _) = week_due(at("2027-06-18T08:00:00Z"), Weekday::Fri);
        assert_eq!(from, at("2027-06-06T23:00:00Z"));
    }
}
