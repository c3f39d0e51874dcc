//! Calendar wire types: a lesson occurrence as calendars show it, and the
//! `calendar:changed` push sent to `family:<id>`, `tutor:<id>` and
//! `admin:monitor` right after a change commits.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cms_domain::Role;
use cms_domain::lesson::{Attendance, LessonKind, LessonStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StudentRef {
    pub id: String,
    pub name: String,
    pub family_id: String,
}

/// A cancellation of the lesson or of some students' seats in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cancellation {
    pub student_ids: Vec<String>,
    pub by_role: Role,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// Seconds between the cancellation and the start.
    pub notice_secs: i64,
    /// A late cancellation by a parent: billing charges it.
    pub chargeable: bool,
}

/// One student's attendance, recorded when the lesson ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttendanceMark {
    pub student_id: String,
    pub status: Attendance,
    /// The seat is charged although the student missed the lesson.
    pub chargeable: bool,
}

/// One lesson occurrence. Instants are UTC (RFC 3339); `local_start` is the
/// wall clock in `timezone`, which is what a series keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Occurrence {
    pub id: String,
    #[serde(default)]
    pub series_id: Option<String>,
    /// Moved lessons are `rescheduled`: see `rescheduled_to`.
    pub status: LessonStatus,
    pub kind: LessonKind,
    pub tutor: Person,
    /// The students still booked (a seat withdrawn from a group lesson is
    /// listed under `cancellations`).
    pub students: Vec<StudentRef>,
    pub subject: String,
    pub level: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// IANA zone, e.g. Europe/London.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub timezone: Tz,
    pub local_start: String,
    pub duration_min: u32,
    /// Per student, in pence.
    pub price_pence: i64,
    #[serde(default)]
    pub template_id: Option<String>,
    /// Makeup credits that pay for this lesson.
    #[serde(default)]
    pub credit_ids: Vec<String>,
    #[serde(default)]
    pub rescheduled_from: Option<String>,
    #[serde(default)]
    pub rescheduled_to: Option<String>,
    #[serde(default)]
    pub cancellations: Vec<Cancellation>,
    /// Raised by every change; a client keeps the copy with the highest.
    pub version: u32,
    /// When it went live; absent until then (and from older servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended; absent until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// One entry per student once it has ended; absent before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendance: Vec<AttendanceMark>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Booked,
    Cancelled,
    Rescheduled,
    /// Students added to or withdrawn from a group lesson.
    Updated,
    /// The lesson went live.
    Started,
    /// The lesson ended (attendance recorded, or `unconfirmed` when the
    /// server ended it).
    Ended,
    /// The room opened (`status: open`).
    Opened,
    /// Nobody started it: `status: tutor_no_show`.
    NoShow,
}

/// The payload of `calendar:changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarChanged {
    pub occurrence: Occurrence,
    pub change: Change,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occurrence(start: &str, zone: &str) -> serde_json::Value {
        serde_json::json!({
            "id": "l1", "status": "booked", "kind": "one_to_one",
            "tutor": { "id": "t1", "name": "T" }, "students": [],
            "subject": "Maths", "level": "GCSE",
            "start": start, "end": "2027-03-10T17:00:00Z",
            "timezone": zone, "local_start": "2027-03-10T16:00",
            "duration_min": 60, "price_pence": 4000, "version": 1
        })
    }

    /// A stored time or zone that does not parse is an error where it is
    /// read, never a silent 1970, "now" or UTC further on.
    #[test]
    fn bad_instants_and_zones_do_not_decode() {
        let ok: Occurrence =
            serde_json::from_value(occurrence("2027-03-10T16:00:00Z", "Europe/London")).unwrap();
        assert_eq!(ok.timezone, chrono_tz::Europe::London);
        assert_eq!(ok.status, LessonStatus::Booked);
        assert_eq!(
            serde_json::to_value(&ok).unwrap()["start"],
            "2027-03-10T16:00:00Z",
            "the wire text is unchanged"
        );
        for (start, zone) in [
            ("not a time", "Europe/London"),
            ("", "Europe/London"),
            ("2027-03-10T16:00:00Z", "Mars/Olympus"),
            ("2027-03-10T16:00:00Z", ""),
        ] {
            assert!(
                serde_json::from_value::<Occurrence>(occurrence(start, zone)).is_err(),
                "{start:?} in {zone:?} decoded"
            );
        }
    }
}
