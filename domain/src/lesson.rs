//! A lesson's status and kind, and who holds a 15-minute cell.

use crate::vocab::vocab;

vocab! {
    /// Where a lesson stands. Only `booked` lessons hold time and get
    /// reminders; the others stay on calendars as history.
    pub enum LessonStatus {
        Booked = "booked",
        Cancelled = "cancelled",
        /// Moved: `rescheduled_to` names the lesson that replaced it.
        Rescheduled = "rescheduled",
    }
}

vocab! {
    pub enum LessonKind {
        OneToOne = "one_to_one",
        /// Up to four students, possibly from different families.
        Group = "group",
    }
}

/// Who holds a cell: the record id of a `busy` row is `[owner, cell]`, so
/// one owner can never hold one cell twice, across processes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CellOwner {
    /// A tutor's user id.
    Tutor(String),
    /// A student's id.
    Student(String),
}

impl CellOwner {
    /// The stored spelling: `t:<tutor>` or `s:<student>`.
    pub fn key(&self) -> String {
        match self {
            Self::Tutor(t) => format!("t:{t}"),
            Self::Student(s) => format!("s:{s}"),
        }
    }

    /// Reads a stored owner back; `None` for anything else.
    pub fn parse(key: &str) -> Option<Self> {
        let (kind, id) = key.split_once(':')?;
        if id.is_empty() {
            return None;
        }
        match kind {
            "t" => Some(Self::Tutor(id.to_owned())),
            "s" => Some(Self::Student(id.to_owned())),
            _ => None,
        }
    }

    pub fn is_student(&self) -> bool {
        matches!(self, Self::Student(_))
    }
}

/// Stored as its key, inside the `busy` record id.
impl serde::Serialize for CellOwner {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_strangers_are_refused() {
        for s in LessonStatus::ALL {
            assert_eq!(LessonStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(LessonKind::parse("one_to_one"), Some(LessonKind::OneToOne));
        assert_eq!(LessonStatus::parse("Booked"), None);
        assert_eq!(LessonStatus::parse(""), None);
    }

    #[test]
    fn cell_owners_round_trip() {
        let t = CellOwner::Tutor("abc".into());
        let s = CellOwner::Student("s_1".into());
        assert_eq!(CellOwner::parse(&t.key()), Some(t));
        assert_eq!(CellOwner::parse(&s.key()), Some(s.clone()));
        assert!(s.is_student());
        assert_eq!(CellOwner::parse("x:abc"), None);
        assert_eq!(CellOwner::parse("s:"), None);
    }
}
