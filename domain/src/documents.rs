//! A tutor's documents: the enhanced DBS certificate that lets them take
//! bookings, and qualifications shown to families. An admin checks each one;
//! a verified DBS counts for a fixed number of months from its issue date,
//! and then lapses by itself.

use chrono::{DateTime, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;

use crate::vocab::vocab;

vocab! {
    pub enum DocumentKind {
        /// An enhanced DBS certificate (criminal-records data: every read
        /// of it is logged).
        Dbs = "dbs",
        Qualification = "qualification",
    }
}

vocab! {
    /// pending → verified | rejected (with a reason), by an admin.
    pub enum DocumentStatus {
        Pending = "pending",
        Verified = "verified",
        Rejected = "rejected",
    }
}

vocab! {
    /// Why a tutor who needs a DBS cannot be booked now; spelled as the
    /// refusal's code.
    pub enum DbsGap {
        Missing = "dbs_missing",
        Pending = "dbs_pending",
        Rejected = "dbs_rejected",
        Lapsed = "dbs_lapsed",
    }
}

impl DbsGap {
    /// Said to whoever tried to book.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Missing => {
                "this tutor cannot take new bookings until their enhanced DBS certificate is uploaded and verified"
            }
            Self::Pending => {
                "this tutor cannot take new bookings until their DBS certificate has been checked"
            }
            Self::Rejected => {
                "this tutor cannot take new bookings: their DBS certificate was not accepted"
            }
            Self::Lapsed => {
                "this tutor cannot take new bookings: their DBS check has lapsed and must be renewed"
            }
        }
    }
}

/// Days before a DBS lapses that its tutor is reminded.
pub const DBS_REMINDER_DAYS: [u32; 2] = [30, 7];

/// The reminders of a DBS lapsing at `lapses_at`: (days ahead, when),
/// for those still ahead of `now`.
pub fn dbs_reminders(lapses_at: DateTime<Utc>, now: DateTime<Utc>) -> Vec<(u32, DateTime<Utc>)> {
    DBS_REMINDER_DAYS
        .iter()
        .map(|d| (*d, lapses_at - chrono::Duration::days(i64::from(*d))))
        .filter(|(_, due)| *due > now)
        .collect()
}

/// The instant a DBS issued on `issued_on` stops counting: the start of the
/// same date `valid_months` later, in the UK (certificates are dated, not
/// timed). `None` past chrono's calendar.
pub fn dbs_lapses_at(issued_on: NaiveDate, valid_months: u32) -> Option<DateTime<Utc>> {
    let day = issued_on.checked_add_months(Months::new(valid_months))?;
    let midnight = day.and_hms_opt(0, 0, 0)?;
    // Midnight is never skipped or doubled by the UK's clock changes (they
    // happen at 01:00 and 02:00), but `earliest` settles it either way.
    London
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Where a tutor stands for taking bookings, from their newest DBS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "standing", rename_all = "snake_case")]
pub enum DbsStanding {
    Valid { lapses_at: DateTime<Utc> },
    Missing,
    Pending,
    Rejected,
    Lapsed { lapsed_at: DateTime<Utc> },
}

impl DbsStanding {
    /// From the latest lapse among verified certificates still counting
    /// (a renewal waiting to be checked does not undo a valid one), else
    /// from the newest certificate's status and lapse.
    pub fn of(
        valid_until: Option<DateTime<Utc>>,
        newest: Option<(DocumentStatus, Option<DateTime<Utc>>)>,
        now: DateTime<Utc>,
    ) -> Self {
        if let Some(at) = valid_until.filter(|at| *at > now) {
            return Self::Valid { lapses_at: at };
        }
        match newest {
            None => Self::Missing,
            Some((DocumentStatus::Pending, _)) => Self::Pending,
            Some((DocumentStatus::Rejected, _)) => Self::Rejected,
            Some((DocumentStatus::Verified, Some(at))) if at > now => Self::Valid { lapses_at: at },
            Some((DocumentStatus::Verified, Some(at))) => Self::Lapsed { lapsed_at: at },
            Some((DocumentStatus::Verified, None)) => Self::Missing,
        }
    }

    pub fn allows_booking(self) -> bool {
        matches!(self, Self::Valid { .. })
    }

    /// What stops a booking, if anything.
    pub fn gap(self) -> Option<DbsGap> {
        match self {
            Self::Valid { .. } => None,
            Self::Missing => Some(DbsGap::Missing),
            Self::Pending => Some(DbsGap::Pending),
            Self::Rejected => Some(DbsGap::Rejected),
            Self::Lapsed { .. } => Some(DbsGap::Lapsed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn a_dbs_lapses_at_uk_midnight_of_its_anniversary() {
        // Summer: midnight in London is 23:00 UTC the day before.
        let summer = dbs_lapses_at(day(2024, 7, 1), 36);
        assert_eq!(
            summer.map(|t| t.to_rfc3339()).as_deref(),
            Some("2027-06-30T23:00:00+00:00")
        );
        let winter = dbs_lapses_at(day(2024, 1, 15), 36);
        assert_eq!(
            winter.map(|t| t.to_rfc3339()).as_deref(),
            Some("2027-01-15T00:00:00+00:00")
        );
        // The end of a month carries to the last day of the shorter one.
        let leap = dbs_lapses_at(day(2024, 2, 29), 12);
        assert_eq!(leap.map(|t| t.date_naive()), Some(day(2025, 2, 28)));
    }

    #[test]
    fn reminders_fall_30_and_7_days_ahead_while_still_ahead() {
        let lapses = Utc
            .with_ymd_and_hms(2027, 1, 10, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let early = Utc
            .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let due: Vec<_> = dbs_reminders(lapses, early)
            .into_iter()
            .map(|(d, t)| (d, t.to_rfc3339()))
            .collect();
        assert_eq!(
            due,
            [
                (30, "2026-12-11T00:00:00+00:00".to_owned()),
                (7, "2027-01-03T00:00:00+00:00".to_owned())
            ]
        );
        let late = Utc
            .with_ymd_and_hms(2026, 12, 20, 0, 0, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(dbs_reminders(lapses, late).len(), 1);
        assert!(dbs_reminders(lapses, lapses).is_empty());
    }

    #[test]
    fn only_a_verified_unlapsed_dbs_allows_booking() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 4, 12, 0, 0)
            .single()
            .unwrap_or_default();
        let later = now + chrono::Duration::days(1);
        let earlier = now - chrono::Duration::seconds(1);
        use DocumentStatus::*;
        assert!(DbsStanding::of(None, Some((Verified, Some(later))), now).allows_booking());
        assert_eq!(
            DbsStanding::of(None, Some((Verified, Some(earlier))), now),
            DbsStanding::Lapsed { lapsed_at: earlier }
        );
        assert_eq!(
            DbsStanding::of(None, Some((Verified, Some(now))), now),
            DbsStanding::Lapsed { lapsed_at: now }
        );
        assert_eq!(DbsStanding::of(None, None, now), DbsStanding::Missing);
        assert_eq!(
            DbsStanding::of(None, Some((Pending, None)), now),
            DbsStanding::Pending
        );
        assert!(!DbsStanding::of(None, Some((Rejected, None)), now).allows_booking());
        // A renewal being checked does not hide the certificate still valid.
        assert!(DbsStanding::of(Some(later), Some((Pending, None)), now).allows_booking());
        assert_eq!(
            DbsStanding::of(None, None, now).gap(),
            Some(DbsGap::Missing)
        );
    }
}
