//! The cancellation policy, in one place.
//!
//! A parent cancelling at least `notice` before the start pays nothing;
//! later than that it is a late cancellation, chargeable. Either way a
//! parent gets back only what was paid in advance: a seat paid with a makeup
//! credit returns its credit when cancelled with notice, and nothing else
//! earns one — a credit makes up for a lesson a family was owed and lost,
//! so handing one out for a lesson never paid for would let a parent join a
//! group lesson, cancel it early and keep the credit (issue "Hardening").
//! A tutor (or an admin, acting for the platform) cancelling never costs
//! the family, and every family in the lesson is owed a makeup credit.

use chrono::{DateTime, Duration, Utc};

use crate::Role;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The notice a parent must give to cancel free of charge.
    pub notice: Duration,
    /// How long a makeup credit lasts.
    pub credit_valid: Duration,
}

/// Which leaving seats get a makeup credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Makeup {
    /// Every seat: the family lost a lesson it was owed.
    Owed,
    /// Only a seat paid with a credit, which comes back.
    ReturnPrepaid,
    /// None.
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub chargeable: bool,
    pub makeup: Makeup,
}

impl Outcome {
    /// Whether a leaving seat gets a credit, given whether it was paid with one.
    pub fn credits(&self, paid_with_credit: bool) -> bool {
        match self.makeup {
            Makeup::Owed => true,
            Makeup::ReturnPrepaid => paid_with_credit,
            Makeup::Nothing => false,
        }
    }
}

impl Policy {
    pub fn outcome(&self, who: Role, start: DateTime<Utc>, now: DateTime<Utc>) -> Outcome {
        match who {
            Role::Parent if start - now >= self.notice => Outcome {
                chargeable: false,
                makeup: Makeup::ReturnPrepaid,
            },
            Role::Parent => Outcome {
                chargeable: true,
                makeup: Makeup::Nothing,
            },
            Role::Tutor | Role::Admin => Outcome {
                chargeable: false,
                makeup: Makeup::Owed,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_is_exact_and_only_prepaid_seats_get_credits_back() {
        let p = Policy {
            notice: Duration::hours(24),
            credit_valid: Duration::days(90),
        };
        let start = DateTime::from_timestamp(2_000_000_000, 0).unwrap();
        let at = |secs: i64| start - Duration::hours(24) + Duration::seconds(secs);
        let early = Outcome {
            chargeable: false,
            makeup: Makeup::ReturnPrepaid,
        };
        let late = Outcome {
            chargeable: true,
            makeup: Makeup::Nothing,
        };
        assert_eq!(p.outcome(Role::Parent, start, at(-1)), early);
        assert_eq!(p.outcome(Role::Parent, start, at(0)), early);
        assert_eq!(p.outcome(Role::Parent, start, at(1)), late);
        // The credit farm: an unpaid seat cancelled early earns nothing.
        assert!(!early.credits(false));
        assert!(early.credits(true));
        // A late cancellation spends even a credit-paid seat.
        assert!(!late.credits(true));
        let tutor = p.outcome(Role::Tutor, start, at(1));
        assert!(!tutor.chargeable && tutor.credits(false));
        assert!(p.outcome(Role::Admin, start, at(-100)).credits(false));
    }
}
