//! Packages (docs/billing.md, "Packages"): an admin offers a bundle of
//! lessons for one price ("10 lessons of 60 minutes for the price of 9");
//! a family buys it once and each lesson of the bundle is then a *unit* a
//! booking spends like a makeup credit. What a unit is worth is fixed when
//! the package is paid for, so the ledger moves exact pence when it is
//! used or expires. Pure: the store keeps packages, billing sells them.

use serde::Deserialize;

use crate::ledger::{Account, Entry, EntryKind};
use crate::money::{self, Bps};
use crate::vocab::vocab;

vocab! {
    /// Where a family's package stands.
    pub enum PackageStatus {
        /// Bought and not yet paid: its PaymentIntent is open.
        Pending = "pending",
        /// Paid: its units can be spent.
        Paid = "paid",
        /// The payment was refused; nothing can be spent.
        Failed = "failed",
    }
}

/// Bounds of an offer, so an admin's typo cannot sell 10,000 lessons or a
/// package that never expires.
pub const MAX_LESSONS: u32 = 100;
pub const MAX_VALID_DAYS: u32 = 730;
pub const MAX_NAME: usize = 80;
pub const MIN_PRICE: i64 = 100;
pub const MAX_PRICE: i64 = 10_000_000;
/// A package lesson is as long as a lesson can be booked for.
pub const DURATIONS: std::ops::RangeInclusive<u32> = 15..=240;

/// An admin's offer as asked for, before it is checked.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfferInput {
    /// What parents see, e.g. "Ten hours of maths": one line.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 80,
            pattern = r"^[^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028-\u202E\u2066-\u2069]*$"
        )
    )]
    pub name: String,
    /// Lessons in the bundle.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    #[serde(deserialize_with = "crate::whole_number::int")]
    pub lessons: u32,
    /// Each lesson's length in minutes: a unit pays only for a lesson of
    /// exactly this length.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 15, maximum = 240, multiple_of = 15)
    )]
    #[serde(deserialize_with = "crate::whole_number::int")]
    pub duration_min: u32,
    /// The bundle's price, in pence.
    #[cfg_attr(feature = "openapi", schema(minimum = 100, maximum = 10000000))]
    #[serde(deserialize_with = "crate::whole_number::int")]
    pub price_pence: i64,
    /// Days after payment that unspent lessons expire.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 730))]
    #[serde(deserialize_with = "crate::whole_number::int")]
    pub valid_days: u32,
}

/// An offer that passed [`OfferInput::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub name: String,
    pub lessons: u32,
    pub duration_min: u32,
    pub price_pence: i64,
    pub valid_days: u32,
}

impl OfferInput {
    /// The offer, or what is wrong with it, in words for the admin.
    pub fn check(self) -> Result<Offer, String> {
        let name = crate::text::check_plain_text("name", &self.name, MAX_NAME)
            .map_err(|e| e.to_string())?
            .to_owned();
        if !(1..=MAX_LESSONS).contains(&self.lessons) {
            return Err(format!("lessons must be 1 to {MAX_LESSONS}"));
        }
        if !DURATIONS.contains(&self.duration_min) || !self.duration_min.is_multiple_of(15) {
            return Err(format!(
                "duration_min must be a multiple of 15 from {} to {}",
                DURATIONS.start(),
                DURATIONS.end()
            ));
        }
        // At least £1, which is at least a penny for each of 100 lessons.
        if !(MIN_PRICE..=MAX_PRICE).contains(&self.price_pence) {
            return Err(format!(
                "price_pence must be {MIN_PRICE} to {MAX_PRICE} (£1 to £100,000)"
            ));
        }
        if !(1..=MAX_VALID_DAYS).contains(&self.valid_days) {
            return Err(format!("valid_days must be 1 to {MAX_VALID_DAYS}"));
        }
        Ok(Offer {
            name,
            lessons: self.lessons,
            duration_min: self.duration_min,
            price_pence: self.price_pence,
            valid_days: self.valid_days,
        })
    }
}

/// What each unit of a package is worth: the price shared out in whole
/// pence, the first `price % lessons` units a penny more, so the units add
/// up to the price exactly (£225.00 over 10 → ten of 2,250; £100.00 over 3
/// → 3,334, 3,333, 3,333).
pub fn unit_values(price_pence: i64, lessons: u32) -> Vec<i64> {
    let n = i64::from(lessons.max(1));
    let (each, rest) = (price_pence / n, price_pence % n);
    (0..n).map(|i| each + i64::from(i < rest)).collect()
}

/// `package_purchased`: the money reached Stripe and the family holds it
/// as lessons not yet taken.
pub fn purchased_entry(family: &str, price_pence: i64) -> Option<Entry> {
    Entry::new(
        EntryKind::PackagePurchased,
        vec![
            (Account::StripeClearing, price_pence),
            (Account::PrepaidPackages(family.to_owned()), -price_pence),
        ],
    )
}

/// `package_used`: a unit paid for a lesson held (or cancelled late): the
/// tutor earns their share of the unit's worth and the platform its fee,
/// as a card charge of that amount would split.
pub fn used_entry(family: &str, tutor: &str, value_pence: i64, fee: Bps) -> Option<Entry> {
    let split = money::split(value_pence, fee);
    Entry::new(
        EntryKind::PackageUsed,
        vec![
            (Account::PrepaidPackages(family.to_owned()), value_pence),
            (Account::TutorPayable(tutor.to_owned()), -split.net),
            (Account::PlatformRevenue, -split.fee),
        ],
    )
}

/// `package_expired`: a unit nobody spent in time is the platform's; no
/// tutor taught it.
pub fn expired_entry(family: &str, value_pence: i64) -> Option<Entry> {
    Entry::new(
        EntryKind::PackageExpired,
        vec![
            (Account::PrepaidPackages(family.to_owned()), value_pence),
            (Account::PlatformRevenue, -value_pence),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> OfferInput {
        OfferInput {
            name: "Ten hours".into(),
            lessons: 10,
            duration_min: 60,
            price_pence: 22_500,
            valid_days: 180,
        }
    }

    #[test]
    fn units_add_up_to_the_price_to_the_penny() {
        assert_eq!(unit_values(22_500, 10), vec![2_250; 10]);
        assert_eq!(unit_values(10_000, 3), vec![3_334, 3_333, 3_333]);
        for (price, n) in [(1, 1), (99_999, 7), (12_345, 100), (100, 100)] {
            let v = unit_values(price, n);
            assert_eq!(v.len(), n as usize);
            assert_eq!(v.iter().sum::<i64>(), price);
            assert!(v.iter().max().unwrap() - v.iter().min().unwrap() <= 1);
        }
    }

    #[test]
    fn offers_are_checked() {
        assert!(input().check().is_ok());
        let bad = [
            OfferInput {
                lessons: 0,
                ..input()
            },
            OfferInput {
                lessons: 101,
                ..input()
            },
            OfferInput {
                duration_min: 50,
                ..input()
            },
            OfferInput {
                price_pence: 99,
                ..input()
            },
            OfferInput {
                valid_days: 0,
                ..input()
            },
            OfferInput {
                name: " ".into(),
                ..input()
            },
            OfferInput {
                name: "a\nb".into(),
                ..input()
            },
        ];
        for b in bad {
            assert!(b.clone().check().is_err(), "{b:?} was taken");
        }
    }

    #[test]
    fn entries_balance_and_split_like_a_charge() {
        let fee = Bps::new(2000).unwrap();
        let used = used_entry("f1", "t1", 2_250, fee).unwrap();
        let amounts: Vec<i64> = used.postings.iter().map(|p| p.amount).collect();
        assert_eq!(amounts, vec![2_250, -1_800, -450]);
        let bought = purchased_entry("f1", 22_500).unwrap();
        assert_eq!(bought.postings.iter().map(|p| p.amount).sum::<i64>(), 0);
        let expired = expired_entry("f1", 2_250).unwrap();
        assert_eq!(expired.postings[1].account, Account::PlatformRevenue);
        assert_eq!(expired.postings[1].amount, -2_250);
    }
}
