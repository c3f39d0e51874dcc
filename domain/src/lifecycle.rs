//! A lesson as it happens: who may open, start and end it, and when. Pure
//! rules over a lesson's status, its tutor and its start; the store applies
//! each transition in one transaction guarded by the lesson's version, so
//! these checks decide what a request may ask for, and the version decides
//! which of two racing requests wins.
//!
//! The window, with the defaults of `[lessons]`:
//!
//! ```text
//!   start − 10 min          start        start + 5 min      start + 15 min
//!   room opens ─────────────── │ ──── late after ─────────── no-show bound
//!   [ startable ............................................ )
//! ```
//!
//! The room opening is inclusive (exactly ten minutes before is open) and
//! the no-show bound exclusive (exactly fifteen minutes after is a no-show):
//! the bound is the instant the tutor is deemed absent, so it cannot also be
//! a moment they may still start.

use chrono::{DateTime, Duration, Utc};

use crate::lesson::LessonStatus;
use crate::vocab::vocab;
use crate::{Caller, Role};

vocab! {
    /// What a `lesson_event` records. Transitions write `opened`, `started`,
    /// `ended`, `no_show`, `auto_ended`; the room (later) writes `joined`,
    /// `left` and `late`.
    pub enum LessonEventKind {
        Opened = "opened",
        Started = "started",
        Ended = "ended",
        Joined = "joined",
        Left = "left",
        Late = "late",
        NoShow = "no_show",
        AutoEnded = "auto_ended",
        /// An admin looked at a flagged lesson (a no-show, one the server
        /// ended) and cleared the flag.
        Reviewed = "reviewed",
    }
}

/// The lifecycle's timings (`[lessons]` in the server's config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The room opens this long before the start.
    pub room_opens: Duration,
    /// A student joining more than this after the start is late.
    pub late_after: Duration,
    /// A lesson nobody started this long after its start is a tutor no-show.
    pub no_show_after: Duration,
    /// A live lesson nobody ended this long after its end is ended by the
    /// server.
    pub auto_end: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            room_opens: Duration::minutes(10),
            late_after: Duration::minutes(5),
            no_show_after: Duration::minutes(15),
            auto_end: Duration::minutes(30),
        }
    }
}

/// Why a transition is not allowed, typed so each caller words or maps it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAllowed {
    /// Parents never start or end lessons.
    #[error("only the lesson's tutor or an admin may do this")]
    Role,
    /// Another tutor's lesson.
    #[error("this is another tutor's lesson")]
    NotTheTutor,
    /// Before the room opens.
    #[error("the room opens at {opens_at}")]
    TooEarly { opens_at: DateTime<Utc> },
    /// At or after the no-show bound.
    #[error("the lesson could be started until {until}; it is too late now")]
    TooLate { until: DateTime<Utc> },
    /// The status does not allow it (already live, over, cancelled …).
    #[error("this lesson is {0}")]
    Status(LessonStatus),
}

impl Timing {
    /// When the room opens for a lesson starting at `start`.
    pub fn opens_at(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        start - self.room_opens
    }

    /// The first instant the tutor counts as absent.
    pub fn no_show_at(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        start + self.no_show_after
    }

    /// Whether `now` lies in `[opens_at, no_show_at)`.
    fn in_window(&self, start: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), NotAllowed> {
        let opens_at = self.opens_at(start);
        if now < opens_at {
            return Err(NotAllowed::TooEarly { opens_at });
        }
        let until = self.no_show_at(start);
        if now >= until {
            return Err(NotAllowed::TooLate { until });
        }
        Ok(())
    }

    /// `booked` → `open`: the room opening (by the server's timer, or by
    /// anyone entering it early enough). No caller check: opening the room
    /// changes nothing anyone is owed.
    pub fn may_open(
        &self,
        status: LessonStatus,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), NotAllowed> {
        if status != LessonStatus::Booked {
            return Err(NotAllowed::Status(status));
        }
        self.in_window(start, now)
    }

    /// `booked` or `open` → `live`, by the lesson's tutor or an admin,
    /// inside the window.
    pub fn may_start(
        &self,
        who: &Caller,
        tutor_id: &str,
        status: LessonStatus,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), NotAllowed> {
        runs_it(who, tutor_id)?;
        if !matches!(status, LessonStatus::Booked | LessonStatus::Open) {
            return Err(NotAllowed::Status(status));
        }
        self.in_window(start, now)
    }

    /// Whether a student joining at `joined` is late.
    pub fn is_late(&self, start: DateTime<Utc>, joined: DateTime<Utc>) -> bool {
        joined > start + self.late_after
    }

    /// Whether a lesson nobody started is now a tutor no-show.
    pub fn no_show_due(
        &self,
        status: LessonStatus,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        matches!(status, LessonStatus::Booked | LessonStatus::Open) && now >= self.no_show_at(start)
    }

    /// Whether a live lesson nobody ended is due to be ended by the server.
    pub fn auto_end_due(
        &self,
        status: LessonStatus,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        status == LessonStatus::Live && now >= end + self.auto_end
    }
}

/// `live` → `completed`, by the lesson's tutor or an admin, at any time
/// (a lesson may end early or overrun).
pub fn may_end(who: &Caller, tutor_id: &str, status: LessonStatus) -> Result<(), NotAllowed> {
    runs_it(who, tutor_id)?;
    if status != LessonStatus::Live {
        return Err(NotAllowed::Status(status));
    }
    Ok(())
}

/// The lesson's own tutor, or an admin.
fn runs_it(who: &Caller, tutor_id: &str) -> Result<(), NotAllowed> {
    match who.role {
        Role::Admin => Ok(()),
        Role::Tutor if who.user_id == tutor_id => Ok(()),
        Role::Tutor => Err(NotAllowed::NotTheTutor),
        Role::Parent => Err(NotAllowed::Role),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LessonStatus::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn caller(role: Role, id: &str) -> Caller {
        Caller {
            user_id: id.into(),
            name: id.into(),
            role,
            family_id: None,
        }
    }

    const START: &str = "2027-03-10T16:00:00Z";

    #[test]
    fn the_tutor_starts_from_the_room_opening_until_the_no_show_bound() {
        let t = Timing::default();
        let tutor = caller(Role::Tutor, "t1");
        let start = at(START);
        let try_at = |now: &str| t.may_start(&tutor, "t1", Booked, start, at(now));
        assert_eq!(
            try_at("2027-03-10T15:49:59Z"),
            Err(NotAllowed::TooEarly {
                opens_at: at("2027-03-10T15:50:00Z")
            })
        );
        assert_eq!(try_at("2027-03-10T15:50:00Z"), Ok(()));
        assert_eq!(try_at("2027-03-10T16:00:00Z"), Ok(()));
        assert_eq!(try_at("2027-03-10T16:14:59Z"), Ok(()));
        assert_eq!(
            try_at("2027-03-10T16:15:00Z"),
            Err(NotAllowed::TooLate {
                until: at("2027-03-10T16:15:00Z")
            })
        );
    }

    #[test]
    fn only_the_lessons_tutor_or_an_admin_starts_and_ends_it() {
        let t = Timing::default();
        let (start, now) = (at(START), at("2027-03-10T16:00:00Z"));
        let admin = caller(Role::Admin, "a1");
        let other = caller(Role::Tutor, "t2");
        let parent = caller(Role::Parent, "p1");
        assert_eq!(t.may_start(&admin, "t1", Open, start, now), Ok(()));
        assert_eq!(
            t.may_start(&other, "t1", Booked, start, now),
            Err(NotAllowed::NotTheTutor)
        );
        assert_eq!(
            t.may_start(&parent, "t1", Booked, start, now),
            Err(NotAllowed::Role)
        );
        assert_eq!(may_end(&admin, "t1", Live), Ok(()));
        assert_eq!(may_end(&caller(Role::Tutor, "t1"), "t1", Live), Ok(()));
        assert_eq!(may_end(&parent, "t1", Live), Err(NotAllowed::Role));
        assert_eq!(may_end(&other, "t1", Live), Err(NotAllowed::NotTheTutor));
    }

    #[test]
    fn only_booked_or_open_lessons_start_and_only_live_ones_end() {
        let t = Timing::default();
        let tutor = caller(Role::Tutor, "t1");
        let (start, now) = (at(START), at("2027-03-10T16:00:00Z"));
        for s in LessonStatus::ALL {
            let started = t.may_start(&tutor, "t1", *s, start, now);
            assert_eq!(started.is_ok(), matches!(s, Booked | Open), "{s}");
            if !matches!(s, Booked | Open) {
                assert_eq!(started, Err(NotAllowed::Status(*s)));
            }
            assert_eq!(may_end(&tutor, "t1", *s).is_ok(), *s == Live, "{s}");
        }
    }

    #[test]
    fn the_room_opens_in_the_same_window_from_booked_only() {
        let t = Timing::default();
        let start = at(START);
        assert!(
            t.may_open(Booked, start, at("2027-03-10T15:49:59Z"))
                .is_err()
        );
        assert_eq!(
            t.may_open(Booked, start, at("2027-03-10T15:50:00Z")),
            Ok(())
        );
        assert_eq!(
            t.may_open(Open, start, at("2027-03-10T15:55:00Z")),
            Err(NotAllowed::Status(Open))
        );
        assert!(
            t.may_open(Booked, start, at("2027-03-10T16:15:00Z"))
                .is_err()
        );
    }

    #[test]
    fn lateness_no_shows_and_auto_ends_at_their_bounds() {
        let t = Timing::default();
        let start = at(START);
        assert!(!t.is_late(start, at("2027-03-10T16:05:00Z")));
        assert!(t.is_late(start, at("2027-03-10T16:05:01Z")));
        assert!(!t.no_show_due(Booked, start, at("2027-03-10T16:14:59Z")));
        assert!(t.no_show_due(Open, start, at("2027-03-10T16:15:00Z")));
        assert!(!t.no_show_due(Live, start, at("2027-03-10T16:15:00Z")));
        let end = at("2027-03-10T17:00:00Z");
        assert!(!t.auto_end_due(Live, end, at("2027-03-10T17:29:59Z")));
        assert!(t.auto_end_due(Live, end, at("2027-03-10T17:30:00Z")));
        assert!(!t.auto_end_due(Completed, end, at("2027-03-10T17:30:00Z")));
    }
}
