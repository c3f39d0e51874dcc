//! Expanding a series into the wall-clock starts of its occurrences.
//!
//! Recurrence works on local dates and times, never on instants: a weekly
//! Monday 16:00 series is at 16:00 in its zone on both sides of a clock
//! change. Turning each start into an instant is the caller's job.

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Freq {
    Weekly,
    Fortnightly,
    /// Same day of the month; months without that day are skipped (as
    /// RFC 5545 does for BYMONTHDAY=31).
    Monthly,
}

impl Freq {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weekly => "weekly",
            Self::Fortnightly => "fortnightly",
            Self::Monthly => "monthly",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecurrenceError {
    #[error("a series needs `count` or `until`")]
    Unbounded,
    #[error("count must be at least 1")]
    ZeroCount,
    #[error("a series has at most {0} occurrences")]
    TooMany(u32),
    #[error("`until` is before the first occurrence")]
    UntilBeforeStart,
}

/// Starts of every occurrence, the first included. `until` is a local date,
/// inclusive.
pub fn expand(
    first: NaiveDateTime,
    freq: Freq,
    count: Option<u32>,
    until: Option<NaiveDate>,
    max: u32,
) -> Result<Vec<NaiveDateTime>, RecurrenceError> {
    match (count, until) {
        (None, None) => return Err(RecurrenceError::Unbounded),
        (Some(0), _) => return Err(RecurrenceError::ZeroCount),
        (Some(n), _) if n > max => return Err(RecurrenceError::TooMany(max)),
        (_, Some(u)) if u < first.date() => return Err(RecurrenceError::UntilBeforeStart),
        _ => {}
    }
    let limit = count.unwrap_or(u32::MAX);
    let mut out = Vec::new();
    let mut k: u32 = 0;
    while (out.len() as u32) < limit {
        let next = match freq {
            Freq::Weekly => Some(first + Duration::weeks(i64::from(k))),
            Freq::Fortnightly => Some(first + Duration::weeks(2 * i64::from(k))),
            Freq::Monthly => month_later(first, k),
        };
        k += 1;
        let Some(next) = next else {
            if k > max.saturating_mul(2) {
                break;
            }
            continue;
        };
        if until.is_some_and(|u| next.date() > u) {
            break;
        }
        if out.len() as u32 >= max {
            return Err(RecurrenceError::TooMany(max));
        }
        out.push(next);
    }
    Ok(out)
}

/// The same day and time `k` months on, if that month has the day.
fn month_later(first: NaiveDateTime, k: u32) -> Option<NaiveDateTime> {
    let base = NaiveDate::from_ymd_opt(first.year(), first.month(), 1)?;
    let month = base.checked_add_months(Months::new(k))?;
    let day = NaiveDate::from_ymd_opt(month.year(), month.month(), first.day())?;
    Some(day.and_time(first.time()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ndt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    #[test]
    fn weekly_keeps_the_wall_clock() {
        let v = expand(ndt("2027-03-15T16:00"), Freq::Weekly, Some(3), None, 52).unwrap();
        let s: Vec<_> = v.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            s,
            [
                "2027-03-15 16:00:00",
                "2027-03-22 16:00:00",
                "2027-03-29 16:00:00"
            ]
        );
    }

    #[test]
    fn until_is_inclusive_and_fortnightly_steps_two_weeks() {
        let d = NaiveDate::from_ymd_opt(2027, 4, 12);
        let v = expand(ndt("2027-03-15T16:00"), Freq::Fortnightly, None, d, 52).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[2].date(), NaiveDate::from_ymd_opt(2027, 4, 12).unwrap());
    }

    #[test]
    fn monthly_skips_months_without_the_day() {
        let v = expand(ndt("2027-01-31T10:00"), Freq::Monthly, Some(3), None, 52).unwrap();
        let months: Vec<u32> = v.iter().map(|t| t.month()).collect();
        assert_eq!(months, [1, 3, 5]);
    }

    #[test]
    fn bounds_are_checked() {
        let f = ndt("2027-01-04T10:00");
        assert_eq!(
            expand(f, Freq::Weekly, None, None, 52),
            Err(RecurrenceError::Unbounded)
        );
        assert_eq!(
            expand(f, Freq::Weekly, Some(53), None, 52),
            Err(RecurrenceError::TooMany(52))
        );
        let far = NaiveDate::from_ymd_opt(2029, 1, 1);
        assert_eq!(
            expand(f, Freq::Weekly, None, far, 52),
            Err(RecurrenceError::TooMany(52))
        );
    }
}
