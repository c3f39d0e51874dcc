//! Calendar wire types: a lesson occurrence as calendars show it, and the
//! `calendar:changed` push sent to `family:<id>`, `tutor:<id>` and
//! `admin:monitor` right after a change commits.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cms_domain::Role;
use cms_domain::lesson::{LessonKind, LessonStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudentRef {
    pub id: String,
    pub name: String,
    pub family_id: String,
}

/// A cancellation of the lesson or of some students' seats in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub student_ids: Vec<String>,
    pub by_role: Role,
    pub reason: String,
    pub at: String,
    /// Seconds between the cancellation and the start.
    pub notice_secs: i64,
    /// A late cancellation by a parent: billing charges it.
    pub chargeable: bool,
}

/// One lesson occurrence. Instants are UTC (RFC 3339); `local_start` is the
/// wall clock in `timezone`, which is what a series keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Booked,
    Cancelled,
    Rescheduled,
    /// Students added to or withdrawn from a group lesson.
    Updated,
}

/// The payload of `calendar:changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarChanged {
    pub occurrence: Occurrence,
    pub change: Change,
}
