//! Money's pure rules, all in integer pence (docs/billing.md): the
//! platform's share of a charge and the tutor's rest, the sibling discount,
//! and how both round. Nothing here is a float: a share is computed in
//! integers and rounded half up, and whatever a share leaves goes to the
//! other side, so the parts of an amount always add back up to it.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Hundredths of a percent: 2000 is 20 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Bps(u16);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("a share is from 0 to 10000 basis points (0 % to 100 %), not {0}")]
pub struct BpsOutOfRange(pub i64);

impl Bps {
    pub const ZERO: Self = Self(0);
    pub const WHOLE: Self = Self(10_000);

    pub fn new(n: i64) -> Result<Self, BpsOutOfRange> {
        match u16::try_from(n) {
            Ok(b) if b <= 10_000 => Ok(Self(b)),
            _ => Err(BpsOutOfRange(n)),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Bps {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n: i64 = crate::whole_number::int(d)?;
        Self::new(n).map_err(serde::de::Error::custom)
    }
}

/// `bps` of `pence`, rounded half up to a whole penny. Amounts charged are
/// never negative; a negative one (a refund's) rounds symmetrically.
pub fn share(pence: i64, bps: Bps) -> i64 {
    let scaled = i128::from(pence) * i128::from(bps.0);
    let rounded = (scaled.abs() + 5_000) / 10_000;
    let rounded = i64::try_from(rounded).unwrap_or(i64::MAX);
    if scaled < 0 { -rounded } else { rounded }
}

/// A charge split between the platform and the tutor: `fee + net = gross`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub gross: i64,
    /// The platform's: `billing.platform_fee_bps` of the gross, rounded
    /// half up.
    pub fee: i64,
    /// The tutor's: the rest, so no penny is lost or made.
    pub net: i64,
}

pub fn split(gross: i64, fee_bps: Bps) -> Split {
    let fee = share(gross, fee_bps);
    Split {
        gross,
        fee,
        net: gross - fee,
    }
}

/// The sibling discount: the share off for a family's first, second, third
/// … child with a lesson in a week; a child beyond the last tier gets the
/// last one. Default 0 %, 10 %, 15 %.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiblingDiscount(Vec<Bps>);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DiscountError {
    #[error("the sibling discount needs at least one tier")]
    Empty,
    #[error("the first child pays full price: the first tier must be 0")]
    FirstNotFull,
    #[error("a later child never pays more than an earlier one: tiers must not fall")]
    Falling,
}

impl SiblingDiscount {
    pub fn new(tiers: Vec<Bps>) -> Result<Self, DiscountError> {
        match tiers.first() {
            None => return Err(DiscountError::Empty),
            Some(first) if *first != Bps::ZERO => return Err(DiscountError::FirstNotFull),
            Some(_) => {}
        }
        if tiers.windows(2).any(|w| w[1] < w[0]) {
            return Err(DiscountError::Falling);
        }
        Ok(Self(tiers))
    }

    /// The share off for the child of `rank` (0 for the first).
    pub fn for_rank(&self, rank: usize) -> Bps {
        self.0
            .get(rank)
            .or(self.0.last())
            .copied()
            .unwrap_or(Bps::ZERO)
    }
}

impl Default for SiblingDiscount {
    fn default() -> Self {
        Self(vec![Bps(0), Bps(1_000), Bps(1_500)])
    }
}

/// One child's seat in a lesson, to be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub student: String,
    /// The child's place in the family, by when they were added: the
    /// order the discount ranks children in.
    pub child_order: u32,
    /// The lesson's start: the seat counts in that UK week.
    pub start: DateTime<Utc>,
    /// The seat's price as booked (a group seat at the group rate).
    pub price: i64,
}

/// A seat's price after the discount: `discount + pay = price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priced {
    pub price: i64,
    /// The share off, rounded half up.
    pub discount: i64,
    pub pay: i64,
    /// The child's rank among the family's children with a lesson that
    /// week (0 for the first).
    pub rank: usize,
}

/// The business's clocks: weeks, months and payout days are UK ones.
pub const UK: Tz = chrono_tz::Europe::London;

/// The instant the UK clock shows `hour`:00 on `day` (the first instant
/// after the gap, should the clocks skip it).
pub fn uk_at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    let local = day.and_time(chrono::NaiveTime::MIN) + Duration::hours(i64::from(hour));
    crate::scheduling::time::resolve_lenient(UK, local)
}

/// A UK week's bounds: its Monday's midnight and the next Monday's.
pub fn week_bounds(monday: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    (uk_at(monday, 0), uk_at(monday + Duration::days(7), 0))
}

/// The Monday of the week `at` falls in, in `tz`.
pub fn week_of(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let day = at.with_timezone(&tz).date_naive();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// Prices one family's seats: within each week (Monday to Sunday in `tz`)
/// the children with a seat that week are ranked by their child order,
/// and each of a child's seats that week gets its rank's share off. So a
/// second child is discounted only in weeks when an elder sibling also has
/// a lesson. Answers in the seats' order.
pub fn price_family(seats: &[Seat], discount: &SiblingDiscount, tz: Tz) -> Vec<Priced> {
    // week → the children in it, in child order (ties by id, so stable).
    let mut weeks: BTreeMap<NaiveDate, Vec<(u32, &str)>> = BTreeMap::new();
    for s in seats {
        let children = weeks.entry(week_of(s.start, tz)).or_default();
        let key = (s.child_order, s.student.as_str());
        if !children.contains(&key) {
            children.push(key);
        }
    }
    for children in weeks.values_mut() {
        children.sort_unstable();
    }
    seats
        .iter()
        .map(|s| {
            let children = &weeks[&week_of(s.start, tz)];
            let rank = children
                .iter()
                .position(|(_, id)| *id == s.student)
                .unwrap_or(0);
            let discount = share(s.price, discount.for_rank(rank));
            Priced {
                price: s.price,
                discount,
                pay: s.price - discount,
                rank,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bps(n: i64) -> Bps {
        Bps::new(n).unwrap()
    }

    #[test]
    fn the_split_adds_up_and_rounds_half_up() {
        assert_eq!(
            split(4000, bps(2000)),
            Split {
                gross: 4000,
                fee: 800,
                net: 3200
            }
        );
        // 20 % of 2,498p is 499.6p: the platform's 500p, the tutor's 1,998p.
        assert_eq!(
            split(2498, bps(2000)),
            Split {
                gross: 2498,
                fee: 500,
                net: 1998
            }
        );
        // 20 % of 2,497p is 499.4p: 499p and 1,998p.
        assert_eq!(
            split(2497, bps(2000)),
            Split {
                gross: 2497,
                fee: 499,
                net: 1998
            }
        );
        // Exactly half a penny rounds up: 12.5 % of 4p.
        assert_eq!(share(4, bps(1250)), 1);
        assert_eq!(share(-4, bps(1250)), -1, "a refund rounds the same way");
        for gross in 0..2000 {
            let s = split(gross, bps(2000));
            assert_eq!(s.fee + s.net, gross);
            assert!(s.fee >= 0 && s.net >= 0);
        }
        assert_eq!(split(i64::MAX / 2, Bps::WHOLE).net, 0, "no overflow");
    }

    #[test]
    fn shares_are_within_zero_and_a_hundred_percent() {
        assert!(Bps::new(-1).is_err() && Bps::new(10_001).is_err());
        assert_eq!(serde_json::from_str::<Bps>("2000.0").unwrap(), bps(2000));
        assert!(serde_json::from_str::<Bps>("20.5").is_err());
    }

    #[test]
    fn discount_tiers_start_at_full_price_and_never_fall() {
        assert_eq!(SiblingDiscount::new(vec![]), Err(DiscountError::Empty));
        assert_eq!(
            SiblingDiscount::new(vec![bps(500)]),
            Err(DiscountError::FirstNotFull)
        );
        assert_eq!(
            SiblingDiscount::new(vec![bps(0), bps(1500), bps(1000)]),
            Err(DiscountError::Falling)
        );
        let d = SiblingDiscount::default();
        assert_eq!(
            [0, 1, 2, 3, 7].map(|r| d.for_rank(r).get()),
            [0, 1000, 1500, 1500, 1500]
        );
    }

    fn seat(student: &str, order: u32, start: &str, price: i64) -> Seat {
        Seat {
            student: student.into(),
            child_order: order,
            start: start.parse().unwrap(),
            price,
        }
    }

    fn pays(seats: &[Seat]) -> Vec<(i64, usize)> {
        price_family(
            seats,
            &SiblingDiscount::default(),
            chrono_tz::Europe::London,
        )
        .into_iter()
        .map(|p| (p.pay, p.rank))
        .collect()
    }

    /// One, two and three children with lessons in one week: full price,
    /// then 10 % and 15 % off for the younger ones, by the order they were
    /// added whatever the order of their lessons.
    #[test]
    fn the_sibling_discount_for_one_two_and_three_children() {
        let one = [seat("amy", 1, "2027-03-09T16:00:00Z", 4000)];
        assert_eq!(pays(&one), [(4000, 0)]);
        let two = [
            seat("ben", 2, "2027-03-08T16:00:00Z", 4000),
            seat("amy", 1, "2027-03-10T16:00:00Z", 4000),
        ];
        assert_eq!(pays(&two), [(3600, 1), (4000, 0)]);
        let three = [
            seat("amy", 1, "2027-03-09T16:00:00Z", 4000),
            seat("ben", 2, "2027-03-09T17:00:00Z", 2500),
            seat("cat", 3, "2027-03-11T16:00:00Z", 2499),
            seat("cat", 3, "2027-03-12T16:00:00Z", 2499),
        ];
        // 10 % of 2,500 is 250; 15 % of 2,499 is 374.85 → 375 off.
        assert_eq!(pays(&three), [(4000, 0), (2250, 1), (2124, 2), (2124, 2)]);
        let priced = price_family(
            &three,
            &SiblingDiscount::default(),
            chrono_tz::Europe::London,
        );
        assert!(priced.iter().all(|p| p.discount + p.pay == p.price));
    }

    /// Weeks run Monday to Sunday on UK clocks: a lesson late on Sunday
    /// evening in summer (after 23:00 UTC is Monday in London) counts in
    /// the next week, and a child alone in a week pays full price.
    #[test]
    fn the_week_is_a_uk_week() {
        let seats = [
            seat("amy", 1, "2027-06-13T22:30:00Z", 4000), // Sun 23:30 BST
            seat("ben", 2, "2027-06-13T23:30:00Z", 4000), // Mon 00:30 BST
        ];
        assert_eq!(pays(&seats), [(4000, 0), (4000, 0)]);
        assert_eq!(
            week_of(
                "2027-06-13T23:30:00Z".parse().unwrap(),
                chrono_tz::Europe::London
            ),
            NaiveDate::from_ymd_opt(2027, 6, 14).unwrap()
        );
    }
}
