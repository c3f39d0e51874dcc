//! What the lesson timers push: `lesson:late` to the families, the tutor
//! and `admin:monitor` when nobody has started a lesson by its late bound,
//! and `board:alert` on `admin:monitor`, the admins' board, for anything an
//! admin should look at (a late start, a no-show, a lesson the server
//! ended that needs its attendance reviewed).
//!
//! The board itself: joining `admin:monitor` answers a [`BoardSnapshot`],
//! one [`BoardLesson`] row per lesson around now, and `board:lesson`
//! ([`BoardLessonPush`]) carries a lesson's whole row again after each
//! change, so a client replaces the row it holds.

use chrono::{DateTime, Utc};
use cms_domain::Role;
use cms_domain::lesson::LessonStatus;
use serde::{Deserialize, Serialize};

use crate::calendar::{Person, StudentRef};

/// The payload of `lesson:late`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonLate {
    pub lesson_id: String,
    /// Whole minutes past the start when it was said.
    pub minutes_late: i64,
}

/// What a board alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Nobody has started the lesson by its late bound.
    Late,
    /// Nobody started it by the no-show bound: a tutor no-show.
    NoShow,
    /// The server ended a lesson nobody ended: attendance to review.
    Review,
    /// A parent rated the lesson two stars or fewer.
    LowRating,
    /// A lesson's charge failed for good: the lesson is unpaid.
    PaymentFailed,
}

/// The payload of `board:alert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardAlert {
    pub kind: AlertKind,
    pub lesson_id: String,
    /// For a person: what happened, with the subject and the tutor.
    pub message: String,
    pub at: DateTime<Utc>,
}

/// How far back the admins' board reaches: lessons ending after this long
/// ago are on it.
pub const BOARD_PAST_HOURS: i64 = 3;
/// How far ahead the board reaches: lessons starting before this long from
/// now are on it.
pub const BOARD_AHEAD_HOURS: i64 = 12;

/// Someone in a lesson's room (`session:<id>`) now, once per person
/// whatever number of sockets they have there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPerson {
    pub user_id: String,
    pub name: String,
    pub role: Role,
}

/// An alert on a lesson that nobody has dealt with yet: a late start while
/// the lesson is still not started, a no-show or a server-ended lesson
/// while it is still flagged for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAlert {
    pub kind: AlertKind,
    /// When the server raised it (the `lesson_event`'s instant).
    pub at: DateTime<Utc>,
}

/// One lesson as the admins' board shows it: the row of the join
/// snapshot, and of every `board:lesson` push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardLesson {
    pub id: String,
    pub status: LessonStatus,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub subject: String,
    pub level: String,
    pub tutor: Person,
    pub students: Vec<StudentRef>,
    /// Who is in the lesson's room now, by name.
    pub in_room: Vec<RoomPerson>,
    /// Whole minutes past the start while the lesson has not started;
    /// absent before the start and once it has started (or will not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes_late: Option<i64>,
    /// Alerts not yet dealt with, oldest first.
    pub alerts: Vec<OpenAlert>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Rises with every stored change of the lesson: of two pushes about
    /// one lesson, the higher `version` is the newer status.
    pub version: u32,
    /// The tutor needs a DBS check and none counts now (it lapsed, or is
    /// missing, rejected or waiting for its check): the lesson was booked
    /// before and stays, for an admin to look at (docs/documents.md).
    #[serde(default)]
    pub tutor_without_dbs: bool,
}

/// The `ok` response to joining `admin:monitor`: the board now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardSnapshot {
    /// The instant the board was read at (the server's clock).
    pub at: DateTime<Utc>,
    /// Lessons ending after `at − 3 h` and starting before `at + 12 h`,
    /// by start.
    pub lessons: Vec<BoardLesson>,
}

/// Why a `board:lesson` was pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoardChange {
    /// Booked (or moved here, or a seat changed).
    Booked,
    Cancelled,
    /// The room opened (`status: open`).
    Opened,
    Started,
    /// Someone entered or left the room.
    Presence,
    /// Not started by its late bound.
    Late,
    /// Nobody started it by the no-show bound.
    NoShow,
    Ended,
    /// An admin cleared its review flag: its no-show or review alert is
    /// resolved.
    Reviewed,
}

/// The payload of `board:lesson` on `admin:monitor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardLessonPush {
    pub lesson: BoardLesson,
    pub change: BoardChange,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_spell_their_kind_in_snake_case() {
        let a = BoardAlert {
            kind: AlertKind::NoShow,
            lesson_id: "l1".into(),
            message: "m".into(),
            at: DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default(),
        };
        let v = serde_json::to_value(&a).unwrap_or_default();
        assert_eq!(v["kind"], "no_show");
        assert_eq!(v["at"], "1970-01-01T00:00:00Z");
    }
}
