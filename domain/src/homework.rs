//! Homework: what a tutor sets after a lesson, what each child hands in,
//! and the progress figures read from them. Pure: the figures are a
//! function of the assignments and the time.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::vocab::vocab;

vocab! {
    /// One child's hand-in: resubmitted freely until graded.
    pub enum SubmissionStatus {
        Submitted = "submitted",
        Graded = "graded",
    }
}

/// Longest title and instructions, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_INSTRUCTIONS_CHARS: usize = 10_000;
pub const MAX_FEEDBACK_CHARS: usize = 5_000;
/// Reminders go this long before the due time to those who have not
/// handed in.
pub const DUE_REMINDER: Duration = Duration::hours(24);

/// One child's side of one piece of homework, as the figures need it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assignment {
    pub due_at: DateTime<Utc>,
    /// The last hand-in.
    pub submitted_at: Option<DateTime<Utc>>,
    /// (score, out of).
    pub grade: Option<(u32, u32)>,
}

/// Counts over a set of assignments.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counts {
    /// Every assignment set.
    pub set: u32,
    pub submitted: u32,
    /// Handed in by the due time.
    pub on_time: u32,
    /// Handed in after it.
    pub late: u32,
    /// Past due and not handed in.
    pub missing: u32,
    /// Not yet due and not handed in.
    pub open: u32,
    pub graded: u32,
    /// Mean of score ÷ out-of over the graded ones, in whole percent.
    pub average_percent: Option<u32>,
}

/// One week's counts, by the due date's week (Monday start) in the zone.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Week {
    /// The Monday the week starts on.
    pub week_of: NaiveDate,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Totals and the trend by week, oldest week first.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    #[serde(flatten)]
    pub totals: Counts,
    pub by_week: Vec<Week>,
}

fn count(items: &[&Assignment], now: DateTime<Utc>) -> Counts {
    let mut c = Counts::default();
    let mut percent_sum = 0.0f64;
    for a in items {
        c.set += 1;
        match a.submitted_at {
            Some(at) => {
                c.submitted += 1;
                if at <= a.due_at {
                    c.on_time += 1;
                } else {
                    c.late += 1;
                }
            }
            None if a.due_at <= now => c.missing += 1,
            None => c.open += 1,
        }
        if let Some((score, out_of)) = a.grade.filter(|(_, o)| *o > 0) {
            c.graded += 1;
            percent_sum += f64::from(score) * 100.0 / f64::from(out_of);
        }
    }
    if c.graded > 0 {
        c.average_percent = Some((percent_sum / f64::from(c.graded)).round() as u32);
    }
    c
}

/// The figures for `items` at `now`, weeks in `tz`.
pub fn progress(items: &[Assignment], now: DateTime<Utc>, tz: Tz) -> Progress {
    let all: Vec<&Assignment> = items.iter().collect();
    let mut weeks: std::collections::BTreeMap<NaiveDate, Vec<&Assignment>> = Default::default();
    for a in items {
        let day = a.due_at.with_timezone(&tz).date_naive();
        let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
        weeks.entry(monday).or_default().push(a);
    }
    Progress {
        totals: count(&all, now),
        by_week: weeks
            .into_iter()
            .map(|(week_of, items)| Week {
                week_of,
                counts: count(&items, now),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn figures_count_on_time_late_missing_and_the_average_by_week() {
        let now = t("2026-12-20T12:00:00Z");
        let items = [
            // Week of Mon 30 Nov: on time, 8/10.
            Assignment {
                due_at: t("2026-12-03T17:00:00Z"),
                submitted_at: Some(t("2026-12-03T16:00:00Z")),
                grade: Some((8, 10)),
            },
            // Same week: late, 15/20.
            Assignment {
                due_at: t("2026-12-04T17:00:00Z"),
                submitted_at: Some(t("2026-12-05T09:00:00Z")),
                grade: Some((15, 20)),
            },
            // Week of Mon 7 Dec: missing.
            Assignment {
                due_at: t("2026-12-08T17:00:00Z"),
                submitted_at: None,
                grade: None,
            },
            // Week of Mon 21 Dec: not due yet.
            Assignment {
                due_at: t("2026-12-22T17:00:00Z"),
                submitted_at: None,
                grade: None,
            },
        ];
        let p = progress(&items, now, chrono_tz::Europe::London);
        let c = &p.totals;
        assert_eq!(
            (
                c.set,
                c.submitted,
                c.on_time,
                c.late,
                c.missing,
                c.open,
                c.graded
            ),
            (4, 2, 1, 1, 1, 1, 2)
        );
        // (80 + 75) / 2 = 77.5 → 78.
        assert_eq!(c.average_percent, Some(78));
        let weeks: Vec<_> = p
            .by_week
            .iter()
            .map(|w| {
                (
                    w.week_of.to_string(),
                    w.counts.set,
                    w.counts.average_percent,
                )
            })
            .collect();
        assert_eq!(
            weeks,
            [
                ("2026-11-30".to_owned(), 2, Some(78)),
                ("2026-12-07".to_owned(), 1, None),
                ("2026-12-21".to_owned(), 1, None)
            ]
        );
    }

    #[test]
    fn a_late_evening_due_time_counts_in_its_local_week() {
        // Sunday 23:30 in London in summer is Sunday 22:30 UTC; Monday
        // 00:30 London is Sunday 23:30 UTC: the latter is next week there.
        let sunday = Assignment {
            due_at: t("2026-06-07T22:30:00Z"),
            submitted_at: None,
            grade: None,
        };
        let monday = Assignment {
            due_at: t("2026-06-07T23:30:00Z"),
            submitted_at: None,
            grade: None,
        };
        let p = progress(
            &[sunday, monday],
            t("2026-06-01T00:00:00Z"),
            chrono_tz::Europe::London,
        );
        let weeks: Vec<_> = p.by_week.iter().map(|w| w.week_of.to_string()).collect();
        assert_eq!(weeks, ["2026-06-01", "2026-06-08"]);
    }
}
