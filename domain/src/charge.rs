//! Charges (docs/billing.md, "Charging"): one per lesson, family and
//! purpose, what a family pays for its seats in it, and the ledger entry
//! its request makes. Pure: the store keeps them, the server sends them to
//! Stripe.

use chrono_tz::Tz;

use crate::ledger::{Account, Entry, EntryKind};
use crate::money::{self, Bps, Priced, Seat, SiblingDiscount, Split};
use crate::vocab::vocab;

vocab! {
    /// What a charge is for.
    pub enum ChargePurpose {
        /// A lesson held (every seat of it, an absent child's too: missed
        /// without notice).
        Lesson = "lesson",
        /// A seat cancelled inside the 24-hour window.
        LateCancellation = "late_cancellation",
    }
}

vocab! {
    /// Where a charge stands.
    pub enum ChargeStatus {
        /// Made with the lesson's completion; not yet sent, or sent and not
        /// yet answered.
        Pending = "pending",
        /// Stripe took the money.
        Succeeded = "succeeded",
        /// The bank wants the parent to confirm (Strong Customer
        /// Authentication).
        RequiresAction = "requires_action",
        /// Given up after its retries: the lesson is unpaid.
        Failed = "failed",
    }
}

vocab! {
    /// Where a tutor's weekly payout stands.
    pub enum PayoutStatus {
        /// Made, with its ledger entry; Stripe not yet told in full.
        Pending = "pending",
        /// The transfer and the bank payout are made.
        Paid = "paid",
    }
}

/// How a seat on a family's statement was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaidWith {
    /// A charge to the card on file.
    Card,
    /// A makeup credit.
    Credit,
    /// A lesson of a prepaid package.
    Package,
}

/// A charge to make: the family's seats in one lesson, priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCharge {
    pub family: String,
    pub purpose: ChargePurpose,
    /// Each charged seat, priced with the sibling discount.
    pub seats: Vec<(String, Priced)>,
    /// The sum paid, split between the platform and the tutor.
    pub split: Split,
    /// The sum of the seats' discounts.
    pub discount: i64,
}

impl PlannedCharge {
    /// The `charge_requested` entry: the family owes the gross, the tutor
    /// has earned the net, the platform its fee. `None` for nothing to pay.
    pub fn requested_entry(&self, tutor: &str) -> Option<Entry> {
        Entry::new(
            EntryKind::ChargeRequested,
            vec![
                (
                    Account::FamilyReceivable(self.family.clone()),
                    self.split.gross,
                ),
                (Account::TutorPayable(tutor.to_owned()), -self.split.net),
                (Account::PlatformRevenue, -self.split.fee),
            ],
        )
    }
}

/// The charges for a held lesson (or for seats cancelled late): for each
/// family, its seats in `lesson_seats` not paid with a makeup credit, each
/// priced with the sibling discount among `week` (the family's seats that
/// week, these included), summed and split. A family with nothing to pay
/// gets no charge.
pub fn for_lesson(
    purpose: ChargePurpose,
    lesson_seats: &[(String, Seat)],
    week: &[(String, Seat)],
    paid_by_credit: &[String],
    discount: &SiblingDiscount,
    fee: Bps,
    tz: Tz,
) -> Vec<PlannedCharge> {
    let mut families: Vec<&str> = lesson_seats.iter().map(|(f, _)| f.as_str()).collect();
    families.sort_unstable();
    families.dedup();
    let mut out = Vec::new();
    for family in families {
        let theirs: Vec<Seat> = week
            .iter()
            .filter(|(f, _)| f == family)
            .map(|(_, s)| s.clone())
            .collect();
        let priced = money::price_family(&theirs, discount, tz);
        let seats: Vec<(String, Priced)> = lesson_seats
            .iter()
            .filter(|(f, s)| f == family && !paid_by_credit.contains(&s.student))
            .filter_map(|(_, s)| {
                theirs
                    .iter()
                    .position(|w| w == s)
                    .map(|i| (s.student.clone(), priced[i]))
            })
            .collect();
        let gross: i64 = seats.iter().map(|(_, p)| p.pay).sum();
        if gross <= 0 {
            continue;
        }
        out.push(PlannedCharge {
            family: family.to_owned(),
            purpose,
            discount: seats.iter().map(|(_, p)| p.discount).sum(),
            seats,
            split: money::split(gross, fee),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(student: &str, order: u32, start: &str, price: i64) -> Seat {
        Seat {
            student: student.into(),
            child_order: order,
            start: start.parse().unwrap(),
            price,
        }
    }

    #[test]
    fn a_lesson_charges_each_family_for_its_seats_with_the_split() {
        let amy = seat("amy", 1, "2027-03-09T16:00:00Z", 2500);
        let ben = seat("ben", 2, "2027-03-09T16:00:00Z", 2500);
        let zoe = seat("zoe", 1, "2027-03-09T16:00:00Z", 2500);
        let lesson = vec![
            ("f1".to_owned(), amy.clone()),
            ("f1".to_owned(), ben.clone()),
            ("f2".to_owned(), zoe.clone()),
        ];
        let charges = for_lesson(
            ChargePurpose::Lesson,
            &lesson,
            &lesson,
            &[],
            &SiblingDiscount::default(),
            Bps::new(2000).unwrap(),
            chrono_tz::Europe::London,
        );
        assert_eq!(charges.len(), 2);
        // Amy full, Ben 10 % off: 2500 + 2250.
        assert_eq!(
            charges[0].split,
            Split {
                gross: 4750,
                fee: 950,
                net: 3800
            }
        );
        assert_eq!(charges[0].discount, 250);
        assert_eq!(
            charges[1].split,
            Split {
                gross: 2500,
                fee: 500,
                net: 2000
            }
        );
        let entry = charges[0].requested_entry("t1").unwrap();
        assert_eq!(entry.postings.iter().map(|p| p.amount).sum::<i64>(), 0);

        // A seat paid with a makeup credit is not charged; a family with
        // nothing left to pay gets no charge.
        let credited = for_lesson(
            ChargePurpose::Lesson,
            &lesson,
            &lesson,
            &["ben".to_owned(), "zoe".to_owned()],
            &SiblingDiscount::default(),
            Bps::new(2000).unwrap(),
            chrono_tz::Europe::London,
        );
        assert_eq!(credited.len(), 1);
        assert_eq!(credited[0].split.gross, 2500);
    }
}
