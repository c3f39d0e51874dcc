//! Wall-clock time in a zone. Instants are stored in UTC; a lesson also
//! keeps its IANA zone and local start so a series stays at its local time
//! across clock changes. Everything is booked on a 15-minute grid.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The booking grid: starts, durations and buffers are multiples of this.
pub const CELL_SECS: i64 = 900;
pub const CELL_MIN: i64 = CELL_SECS / 60;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeError {
    #[error("unknown timezone {0:?}: use an IANA name such as Europe/London")]
    UnknownZone(String),
    #[error(
        "{0:?} is not a date-time: use YYYY-MM-DDTHH:MM (wall clock in `timezone`) or RFC 3339"
    )]
    BadFormat(String),
    #[error("{local} does not exist in {zone}: the clocks go forward over that hour")]
    Skipped { local: NaiveDateTime, zone: String },
    #[error("times must be on a quarter hour (:00, :15, :30, :45)")]
    OffGrid,
}

/// A start as a request gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StartSpec {
    /// Wall clock in the request's zone (the usual form).
    Local(NaiveDateTime),
    /// An instant with an offset; its local time in the zone is derived.
    Instant(DateTime<Utc>),
}

pub fn zone(name: &str) -> Result<Tz, TimeError> {
    name.parse::<Tz>()
        .map_err(|_| TimeError::UnknownZone(name.to_owned()))
}

pub fn parse_start(s: &str) -> Result<StartSpec, TimeError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(StartSpec::Instant(t.with_timezone(&Utc)));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(StartSpec::Local(t));
        }
    }
    Err(TimeError::BadFormat(s.to_owned()))
}

/// A `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Result<NaiveDate, TimeError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| TimeError::BadFormat(s.to_owned()))
}

/// The instant of a wall-clock time. A time in the skipped hour is refused;
/// one in the repeated hour is the earlier of its two instants (the first
/// time the clock shows it, i.e. still on summer time).
pub fn resolve(tz: Tz, local: NaiveDateTime) -> Result<DateTime<Utc>, TimeError> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Ok(earlier.with_timezone(&Utc)),
        LocalResult::None => Err(TimeError::Skipped {
            local,
            zone: tz.name().to_owned(),
        }),
    }
}

/// Like `resolve`, but a time in the skipped hour moves to the first
/// instant after the gap. For availability windows, which may start there.
pub fn resolve_lenient(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..=8 {
        if let Ok(t) = resolve(tz, probe) {
            return t;
        }
        probe += chrono::Duration::minutes(CELL_MIN);
    }
    // No zone has a gap longer than two hours.
    Utc.from_utc_datetime(&local)
}

/// The wall clock at an instant in a zone.
pub fn local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

pub fn on_grid(t: DateTime<Utc>) -> bool {
    t.timestamp().rem_euclid(CELL_SECS) == 0 && t.timestamp_subsec_nanos() == 0
}

/// The grid cell an instant falls in.
pub fn cell(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(CELL_SECS)
}

/// The cells `[start, end)` covers.
pub fn cells(start: DateTime<Utc>, end: DateTime<Utc>) -> std::ops::Range<i64> {
    cell(start)..cell(end - chrono::Duration::seconds(1)) + 1
}

/// An instant as the API shows it: `2027-03-22T16:00:00Z`, like the
/// store's own output.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// `local_start` as stored and shown: `2027-03-22T16:00:00`.
pub fn fmt_local(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ndt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    #[test]
    fn london_skipped_and_repeated_hours() {
        let london = zone("Europe/London").unwrap();
        assert!(matches!(
            resolve(london, ndt("2027-03-28T01:30")),
            Err(TimeError::Skipped { .. })
        ));
        // 01:30 on 31 Oct 2027 happens twice: BST (00:30Z) then GMT (01:30Z).
        let t = resolve(london, ndt("2027-10-31T01:30")).unwrap();
        assert_eq!(t.to_rfc3339(), "2027-10-31T00:30:00+00:00");
        assert_eq!(
            resolve_lenient(london, ndt("2027-03-28T01:00")).to_rfc3339(),
            "2027-03-28T01:00:00+00:00"
        );
    }

    #[test]
    fn starts_parse_as_wall_clock_or_instant() {
        assert_eq!(
            parse_start("2027-03-22T16:00").unwrap(),
            StartSpec::Local(ndt("2027-03-22T16:00"))
        );
        assert!(matches!(
            parse_start("2027-03-22T16:00:00+01:00").unwrap(),
            StartSpec::Instant(t) if t.to_rfc3339() == "2027-03-22T15:00:00+00:00"
        ));
        assert!(parse_start("next tuesday").is_err());
        assert!(zone("Mars/Olympus").is_err());
    }

    #[test]
    fn cells_cover_the_interval() {
        let s = resolve(chrono_tz::UTC, ndt("2027-01-01T10:00")).unwrap();
        let e = s + chrono::Duration::minutes(60);
        assert_eq!(cells(s, e).count(), 4);
        assert!(on_grid(s));
        assert!(!on_grid(s + chrono::Duration::minutes(5)));
    }
}
