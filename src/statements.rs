//! A family's month as a statement (docs/billing.md, "Reports"): one line
//! per child per lesson of the month across all the family's children,
//! with its price, discount, what was charged and how it was paid. A read
//! model over the store that both the billing use case (the statement on
//! demand) and the notifications (the monthly email) show, so neither
//! depends on the other.

use cms_domain::charge::PaidWith;
use cms_store::{Store, StoreError};
use serde::Serialize;

/// One child's seat in one lesson of the month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatementLine {
    pub lesson_id: String,
    pub start: chrono::DateTime<chrono::Utc>,
    pub child_id: String,
    pub child: String,
    pub tutor: String,
    pub subject: String,
    pub level: String,
    pub lesson_status: cms_domain::lesson::LessonStatus,
    /// The seat's price as booked.
    pub price: i64,
    /// The sibling discount on it, when charged.
    pub discount: i64,
    /// What was (or is to be) charged for it: 0 when a credit paid, when
    /// not charged (yet), or never charged (a tutor no-show).
    pub charged: i64,
    /// A charge to the card, a makeup credit, a package lesson, or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_with: Option<cms_domain::charge::PaidWith>,
    /// The charge's purpose and status, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge: Option<cms_domain::charge::ChargePurpose>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge_status: Option<cms_domain::charge::ChargeStatus>,
}

/// `GET /api/v1/billing/statement?month=YYYY-MM`: the family's month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Statement {
    /// `YYYY-MM`, on UK clocks.
    pub month: String,
    pub lines: Vec<StatementLine>,
    /// The sums of the lines' prices, discounts and charges.
    pub total_price: i64,
    pub total_discount: i64,
    pub total_charged: i64,
    /// Of what was charged, what was collected.
    pub total_paid: i64,
}

/// The month `YYYY-MM` as instants: its first and the next month's first
/// midnight on UK clocks.
pub fn month_span(
    month: &str,
) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    use chrono::{Datelike, NaiveDate};
    let (y, m) = month.split_once('-')?;
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    if month.len() != 7 {
        return None;
    }
    let first = NaiveDate::from_ymd_opt(y, m, 1)?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)?
    };
    let at = |d| cms_domain::money::uk_at(d, 0);
    Some((at(first), at(next)))
}

/// The family's statement for `month` (`YYYY-MM`, checked by the caller;
/// an unreadable one is an empty statement).
pub async fn statement_of(
    store: &Store,
    family: &str,
    month: &str,
) -> Result<Statement, StoreError> {
    let Some((from, to)) = month_span(month) else {
        return Err(StoreError::Invalid(format!("{month:?} is not a month")));
    };
    let (lessons, charges) = store.family_month(family, from, to).await?;
    let mut lines = Vec::new();
    for l in lessons {
        for (child_id, child) in &l.children {
            let charged = charges.iter().find_map(|c| {
                (c.lesson_id == l.id)
                    .then(|| {
                        c.seats
                            .iter()
                            .find(|s| &s.student == child_id)
                            .map(|s| (c, s))
                    })
                    .flatten()
            });
            let by_credit = l.by_credit.contains(child_id);
            let by_package = l.by_package.contains(child_id);
            lines.push(StatementLine {
                lesson_id: l.id.clone(),
                start: l.start,
                child_id: child_id.clone(),
                child: child.clone(),
                tutor: l.tutor.clone(),
                subject: l.subject.clone(),
                level: l.level.clone(),
                lesson_status: l.status,
                price: l.price,
                discount: charged.map_or(0, |(_, s)| s.discount),
                charged: charged.map_or(0, |(_, s)| s.pay),
                paid_with: match (charged, by_credit, by_package) {
                    (Some(_), _, _) => Some(PaidWith::Card),
                    (None, true, _) => Some(PaidWith::Credit),
                    (None, false, true) => Some(PaidWith::Package),
                    (None, false, false) => None,
                },
                charge: charged.map(|(c, _)| c.purpose),
                charge_status: charged.map(|(c, _)| c.status),
            });
        }
    }
    let total = |f: fn(&StatementLine) -> i64| lines.iter().map(f).sum::<i64>();
    Ok(Statement {
        month: month.to_owned(),
        total_price: total(|l| l.price),
        total_discount: total(|l| l.discount),
        total_charged: total(|l| l.charged),
        total_paid: lines
            .iter()
            .filter(|l| l.charge_status == Some(cms_domain::charge::ChargeStatus::Succeeded))
            .map(|l| l.charged)
            .sum(),
        lines,
    })
}
