//! What each of a family's lessons costs in a week, with the sibling
//! discount (docs/billing.md, "The rules"): the same pricing the charge of
//! a completed lesson uses, shown before the lesson so a parent sees the
//! price they will pay. A seat paid with a makeup credit or a package
//! lesson is shown as prepaid, at nothing to pay.

use chrono::{DateTime, NaiveDate, Utc};
use cms_domain::Caller;
use cms_domain::money::{self, Seat};
use serde::Serialize;

use super::{Billing, BillingError, family_of};

/// One child's seat in one lesson of the week.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeatPrice {
    pub lesson_id: String,
    pub start: DateTime<Utc>,
    pub child_id: String,
    /// The seat's price as booked.
    pub price: i64,
    /// The sibling discount on it this week.
    pub discount: i64,
    /// What the card will be charged for it when it is held.
    pub pay: i64,
    /// Paid already, with a makeup credit or a package lesson.
    pub prepaid: bool,
}

/// `GET /api/v1/billing/week?date=YYYY-MM-DD`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WeekPrices {
    /// The Monday of the UK week holding `date`.
    pub week_of: NaiveDate,
    pub seats: Vec<SeatPrice>,
    pub total_price: i64,
    pub total_discount: i64,
    pub total_pay: i64,
}

/// The family's seats in the UK week (Monday to Sunday) holding `date`,
/// priced as they would be charged now.
pub async fn week(
    deps: &Billing,
    user: &Caller,
    date: NaiveDate,
) -> Result<WeekPrices, BillingError> {
    let family = family_of(user)?;
    let monday = money::week_of(money::uk_at(date, 12), money::UK);
    let (from, to) = money::week_bounds(monday);
    let week = super::charge::family_seats(&deps.store, family, from, to).await?;
    let seats: Vec<Seat> = week.iter().map(|w| w.seat.clone()).collect();
    let priced = money::price_family(&seats, &deps.rules.discount, money::UK);
    let mut out: Vec<SeatPrice> = week
        .into_iter()
        .zip(priced)
        .map(|(w, p)| SeatPrice {
            lesson_id: w.lesson_id,
            start: w.seat.start,
            child_id: w.seat.student,
            price: p.price,
            discount: if w.prepaid { 0 } else { p.discount },
            pay: if w.prepaid { 0 } else { p.pay },
            prepaid: w.prepaid,
        })
        .collect();
    out.sort_by(|a, b| (a.start, &a.child_id).cmp(&(b.start, &b.child_id)));
    let total = |f: fn(&SeatPrice) -> i64| out.iter().map(f).sum::<i64>();
    Ok(WeekPrices {
        week_of: monday,
        total_price: total(|s| s.price),
        total_discount: total(|s| s.discount),
        total_pay: total(|s| s.pay),
        seats: out,
    })
}
