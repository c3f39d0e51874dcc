//! The cancellation policy, in one place.
//!
//! A parent cancelling at least `notice` before the start pays nothing and
//! the family gets a makeup credit; later than that it is a late
//! cancellation, chargeable, without a credit. A tutor (or an admin, acting
//! for the platform) cancelling never costs the family and earns a credit.
//! A parent ending the rest of a series earns no credits for the lessons it
//! ends: credits make up for a missed lesson, not for a stopped arrangement.

use chrono::{DateTime, Duration, Utc};

use crate::Role;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The notice a parent must give to cancel free of charge.
    pub notice: Duration,
    /// How long a makeup credit lasts.
    pub credit_valid: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub chargeable: bool,
    pub credit: bool,
}

impl Policy {
    pub fn outcome(
        &self,
        who: Role,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        ending_series: bool,
    ) -> Outcome {
        match who {
            Role::Parent if start - now >= self.notice => Outcome {
                chargeable: false,
                credit: !ending_series,
            },
            Role::Parent => Outcome {
                chargeable: true,
                credit: false,
            },
            Role::Tutor | Role::Admin => Outcome {
                chargeable: false,
                credit: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_is_exact() {
        let p = Policy {
            notice: Duration::hours(24),
            credit_valid: Duration::days(90),
        };
        let start = DateTime::from_timestamp(2_000_000_000, 0).unwrap();
        let at = |secs: i64| start - Duration::hours(24) + Duration::seconds(secs);
        let early = Outcome {
            chargeable: false,
            credit: true,
        };
        let late = Outcome {
            chargeable: true,
            credit: false,
        };
        assert_eq!(p.outcome(Role::Parent, start, at(-1), false), early);
        assert_eq!(p.outcome(Role::Parent, start, at(0), false), early);
        assert_eq!(p.outcome(Role::Parent, start, at(1), false), late);
        assert_eq!(p.outcome(Role::Tutor, start, at(1), false), early);
        assert!(!p.outcome(Role::Parent, start, at(-1), true).credit);
    }
}
