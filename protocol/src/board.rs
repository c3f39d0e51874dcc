//! What the lesson timers push: `lesson:late` to the families, the tutor
//! and `admin:monitor` when nobody has started a lesson by its late bound,
//! and `board:alert` on `admin:monitor`, the admins' board, for anything an
//! admin should look at (a late start, a no-show, a lesson the server
//! ended that needs its attendance reviewed).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
