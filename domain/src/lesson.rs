//! A lesson's status and kind, a student's attendance, and who holds a
//! 15-minute cell.

use crate::vocab::vocab;

vocab! {
    /// Where a lesson stands. `booked`, `open` and `live` lessons hold
    /// time; every lesson stays on calendars (the others as history). The
    /// questions the rest of the code asks are the methods below, so a new
    /// status is decided once, here.
    pub enum LessonStatus {
        Booked = "booked",
        Cancelled = "cancelled",
        /// Moved: `rescheduled_to` names the lesson that replaced it.
        Rescheduled = "rescheduled",
        /// The room is open (from `lessons.room_opens_min` before the
        /// start); nobody has started the lesson yet.
        Open = "open",
        /// Started by the tutor or an admin.
        Live = "live",
        /// Ended by the tutor or an admin, attendance recorded.
        Completed = "completed",
        /// The tutor never started it (by `lessons.no_show_after_min`).
        TutorNoShow = "tutor_no_show",
    }
}

impl LessonStatus {
    /// Holds its cells: nothing else may be booked over it.
    pub fn holds_time(self) -> bool {
        matches!(self, Self::Booked | Self::Open | Self::Live)
    }

    /// Its pending reminders may still go out: not once it is live or over.
    pub fn gets_reminders(self) -> bool {
        matches!(self, Self::Booked | Self::Open)
    }

    /// May still be cancelled, moved or given more students (the start
    /// time is checked separately): not once it is live or over.
    pub fn changeable(self) -> bool {
        matches!(self, Self::Booked | Self::Open)
    }

    /// Happens (or happened) as booked: calendars show it confirmed rather
    /// than cancelled.
    pub fn takes_place(self) -> bool {
        matches!(
            self,
            Self::Booked | Self::Open | Self::Live | Self::Completed
        )
    }
}

vocab! {
    /// A student's attendance at a lesson, as the tutor records it when it
    /// ends. `unconfirmed` is what the server writes for a lesson it ends
    /// itself (nobody said).
    pub enum Attendance {
        Present = "present",
        Late = "late",
        Absent = "absent",
        Unconfirmed = "unconfirmed",
    }
}

impl Attendance {
    /// An absent student's seat is still charged: the tutor kept the time.
    pub fn chargeable(self) -> bool {
        matches!(self, Self::Absent)
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
        for a in Attendance::ALL {
            assert_eq!(Attendance::parse(a.as_str()), Some(*a));
        }
        assert_eq!(
            LessonStatus::parse("tutor_no_show"),
            Some(LessonStatus::TutorNoShow)
        );
    }

    /// What each status means to the rest of the server, decided here once.
    #[test]
    fn what_each_status_holds() {
        use LessonStatus::*;
        let holds: Vec<_> = LessonStatus::ALL
            .iter()
            .filter(|s| s.holds_time())
            .collect();
        assert_eq!(holds, [&Booked, &Open, &Live]);
        let reminded: Vec<_> = LessonStatus::ALL
            .iter()
            .filter(|s| s.gets_reminders())
            .collect();
        assert_eq!(reminded, [&Booked, &Open]);
        assert!(!Live.changeable() && !Completed.changeable() && Open.changeable());
        assert!(Completed.takes_place() && !TutorNoShow.takes_place() && !Cancelled.takes_place());
        assert!(Attendance::Absent.chargeable() && !Attendance::Late.chargeable());
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
