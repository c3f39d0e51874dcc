//! When a tutor can teach: weekly windows in their zone plus date
//! overrides, turned into UTC intervals, and the free start times left once
//! their lessons (and buffers) are taken out.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::time::{CELL_SECS, local, resolve_lenient};

/// A weekly window: `day` 1 = Monday … 7 = Sunday; minutes after local
/// midnight, `end` up to 1440.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Window {
    /// ISO weekday: 1 is Monday.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 7))]
    #[serde(deserialize_with = "crate::whole_number::int")]
    pub day: u8,
    /// Minutes after local midnight.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 1425, multiple_of = 15)
    )]
    #[serde(deserialize_with = "crate::whole_number::int")]
    pub start: u16,
    /// After `start`.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 15, maximum = 1440, multiple_of = 15)
    )]
    #[serde(deserialize_with = "crate::whole_number::int")]
    pub end: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum OverrideKind {
    /// No weekly windows that day.
    Off,
    /// One more window that day.
    Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Override {
    /// YYYY-MM-DD, local.
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub date: String,
    pub kind: OverrideKind,
    /// Minutes after local midnight: an `extra` window has both `start` and
    /// `end` (start first), a day `off` neither.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 1425, multiple_of = 15)
    )]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole_number::option"
    )]
    pub start: Option<u16>,
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 15, maximum = 1440, multiple_of = 15)
    )]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole_number::option"
    )]
    pub end: Option<u16>,
}

/// A time a tutor is already held: a lesson plus the buffer after it.
#[derive(Debug, Clone, Copy)]
pub struct Held {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

pub struct Availability {
    pub tz: Tz,
    pub weekly: Vec<Window>,
    pub overrides: Vec<Override>,
}

impl Availability {
    /// Minute ranges open on a local date.
    fn day_ranges(&self, date: NaiveDate) -> Vec<(u16, u16)> {
        let iso = date.format("%Y-%m-%d").to_string();
        let todays: Vec<&Override> = self.overrides.iter().filter(|o| o.date == iso).collect();
        let off = todays.iter().any(|o| o.kind == OverrideKind::Off);
        let weekday = date.weekday().number_from_monday() as u8;
        let mut out: Vec<(u16, u16)> = if off {
            Vec::new()
        } else {
            self.weekly
                .iter()
                .filter(|w| w.day == weekday)
                .map(|w| (w.start, w.end))
                .collect()
        };
        out.extend(
            todays
                .iter()
                .filter_map(|o| match (o.kind, o.start, o.end) {
                    (OverrideKind::Extra, Some(s), Some(e)) => Some((s, e)),
                    _ => None,
                }),
        );
        out
    }

    /// Open intervals overlapping `[from, to)`, sorted and merged.
    pub fn windows(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let first = local(self.tz, from).date() - Duration::days(1);
        let last = local(self.tz, to).date() + Duration::days(1);
        let mut out = Vec::new();
        let mut date = first;
        while date <= last {
            for (s, e) in self.day_ranges(date) {
                let at = |m: u16| {
                    let t = date.and_hms_opt(0, 0, 0).unwrap_or_default()
                        + Duration::minutes(i64::from(m));
                    resolve_lenient(self.tz, t)
                };
                let (ws, we) = (at(s), at(e));
                if ws < we && we > from && ws < to {
                    out.push((ws, we));
                }
            }
            date += Duration::days(1);
        }
        out.sort();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for (s, e) in out {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    /// Whether `[start, end)` lies inside one open interval.
    pub fn contains(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.windows(start, end)
            .iter()
            .any(|(s, e)| *s <= start && end <= *e)
    }
}

/// A request for free start times.
pub struct SlotQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Nothing before this is offered.
    pub now: DateTime<Utc>,
    pub duration: Duration,
    /// The tutor's buffer after a lesson.
    pub buffer: Duration,
    pub limit: usize,
}

/// Grid-aligned start times where a lesson of `duration` fits inside
/// availability and, with the buffer after it, clashes with nothing held.
pub fn free_slots(avail: &Availability, held: &[Held], q: &SlotQuery) -> Vec<DateTime<Utc>> {
    let earliest = q.from.max(q.now);
    let mut out = Vec::new();
    for (ws, we) in avail.windows(q.from, q.to) {
        let mut s = align_up(ws.max(earliest));
        while s + q.duration <= we && s < q.to {
            let claim_end = s + q.duration + q.buffer;
            let clash = held.iter().any(|h| s < h.end && claim_end > h.start);
            if !clash {
                out.push(s);
                if out.len() >= q.limit {
                    return out;
                }
            }
            s += Duration::seconds(CELL_SECS);
        }
    }
    out
}

fn align_up(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    let up = (secs + CELL_SECS - 1).div_euclid(CELL_SECS) * CELL_SECS;
    DateTime::from_timestamp(up, 0).unwrap_or(t)
}

/// Checks a weekly window or an override's times.
pub fn check_range(start: u16, end: u16) -> Result<(), String> {
    if start >= end || end > 1440 {
        return Err(
            "a window's start must be before its end, within the day (0–1440 minutes)".into(),
        );
    }
    if !start.is_multiple_of(15) || !end.is_multiple_of(15) {
        return Err("windows start and end on a quarter hour".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn utc(s: &str) -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
            .unwrap()
            .and_utc()
    }

    fn mondays_16_to_19() -> Availability {
        Availability {
            tz: chrono_tz::Europe::London,
            weekly: vec![Window {
                day: 1,
                start: 16 * 60,
                end: 19 * 60,
            }],
            overrides: vec![],
        }
    }

    #[test]
    fn windows_follow_local_time_across_the_clock_change() {
        let a = mondays_16_to_19();
        // 22 March 2027 is GMT, 29 March is BST.
        let w = a.windows(utc("2027-03-22T00:00"), utc("2027-03-30T00:00"));
        assert_eq!(
            w,
            vec![
                (utc("2027-03-22T16:00"), utc("2027-03-22T19:00")),
                (utc("2027-03-29T15:00"), utc("2027-03-29T18:00")),
            ]
        );
    }

    #[test]
    fn overrides_take_a_day_off_and_add_a_window() {
        let mut a = mondays_16_to_19();
        a.overrides = vec![
            Override {
                date: "2027-03-22".into(),
                kind: OverrideKind::Off,
                start: None,
                end: None,
            },
            Override {
                date: "2027-03-24".into(),
                kind: OverrideKind::Extra,
                start: Some(600),
                end: Some(660),
            },
        ];
        let w = a.windows(utc("2027-03-22T00:00"), utc("2027-03-25T00:00"));
        assert_eq!(w, vec![(utc("2027-03-24T10:00"), utc("2027-03-24T11:00"))]);
    }

    #[test]
    fn slots_avoid_lessons_and_buffers() {
        let a = mondays_16_to_19();
        // A 16:45–17:00 lesson held until 17:15 by its buffer.
        let held = [Held {
            start: utc("2027-03-22T16:45"),
            end: utc("2027-03-22T17:15"),
        }];
        let q = SlotQuery {
            from: utc("2027-03-22T00:00"),
            to: utc("2027-03-23T00:00"),
            now: utc("2027-03-01T00:00"),
            duration: Duration::minutes(60),
            buffer: Duration::minutes(15),
            limit: 100,
        };
        let s: Vec<String> = free_slots(&a, &held, &q)
            .iter()
            .map(|t| t.format("%H:%M").to_string())
            .collect();
        // 16:00 would run into it (with this lesson's own buffer); the last
        // start is 18:00, ending at 19:00.
        assert_eq!(s, ["17:15", "17:30", "17:45", "18:00"]);
        let none = SlotQuery {
            now: utc("2027-03-22T18:30"),
            ..q
        };
        assert!(free_slots(&a, &held, &none).is_empty());
    }
}
