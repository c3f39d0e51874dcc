//! The family's monthly statement as billing serves it: on demand
//! (`GET /api/v1/billing/statement?month=YYYY-MM`, built by
//! `crate::statements`) and by email once a month: on the 1st from 09:00
//! UK time the charger's sweep makes one `family_statement` job per family
//! with lessons in the month before, under a once-per-month claim in the
//! store.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use cms_domain::Caller;
use cms_domain::money;

use super::{Billing, BillingError, family_of};
use crate::statements::{Statement, month_span, statement_of};

/// Statements go out from this hour, UK time, on the 1st.
const SEND_HOUR: u32 = 9;

/// The family's statement for a month: every child's seat in every lesson
/// that month, with what was charged for it and how it was paid.
pub async fn statement(
    deps: &Billing,
    user: &Caller,
    month: &str,
) -> Result<Statement, BillingError> {
    let family = family_of(user)?;
    if month_span(month).is_none() {
        return Err(BillingError::Invalid("month must be YYYY-MM".into()));
    }
    Ok(statement_of(&deps.store, family, month).await?)
}

/// The latest month whose statements are due at `now`, `YYYY-MM`: the
/// month before this one on UK clocks from 09:00 on the 1st, the one
/// before that until then.
pub fn month_due(now: DateTime<Utc>) -> Option<String> {
    let local = now.with_timezone(&money::UK).date_naive();
    let mut first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1)?;
    if now < money::uk_at(first, SEND_HOUR) {
        let before = first - Duration::days(1);
        first = NaiveDate::from_ymd_opt(before.year(), before.month(), 1)?;
    }
    let last = first - Duration::days(1);
    Some(format!("{:04}-{:02}", last.year(), last.month()))
}

/// Makes last month's statement jobs, once: the claim in the store is the
/// month's, so a second sweep or another node makes nothing.
pub async fn run_due(deps: &Billing) {
    let now = deps.clock.now();
    let Some(month) = month_due(now) else {
        return;
    };
    let Some((from, to)) = month_span(&month) else {
        return;
    };
    match deps.store.statements_due(&month, from, to, now).await {
        Ok(Some(n)) => {
            tracing::info!(%month, families = n, "monthly statements due");
            deps.notifier.wake();
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(%month, error = %e, "monthly statements not made; tried again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("an instant")
    }

    #[test]
    fn last_months_statements_are_due_from_nine_uk_time_on_the_first() {
        // British Summer Time: 09:00 in London is 08:00 UTC.
        assert_eq!(
            month_due(at("2027-04-01T07:59:59Z")),
            Some("2027-02".into())
        );
        assert_eq!(
            month_due(at("2027-04-01T08:00:00Z")),
            Some("2027-03".into())
        );
        // Greenwich Mean Time, across a new year.
        assert_eq!(
            month_due(at("2027-01-01T08:59:59Z")),
            Some("2026-11".into())
        );
        assert_eq!(
            month_due(at("2027-01-01T09:00:00Z")),
            Some("2026-12".into())
        );
        // Any later day of the month, still last month's.
        assert_eq!(
            month_due(at("2027-03-15T12:00:00Z")),
            Some("2027-02".into())
        );
        // 31 March 23:30 UTC is already 1 April in London, before 09:00.
        assert_eq!(
            month_due(at("2027-03-31T23:30:00Z")),
            Some("2027-02".into())
        );
    }
}
