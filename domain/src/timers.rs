//! What the server does to a lesson as its deadlines pass, and when the
//! next one falls: the room opening, the lateness warning, the tutor's
//! no-show and the end of a lesson nobody ended. Pure: the caller reads the
//! lesson, asks [`next_step`], applies that step in one version-guarded
//! transaction, reads again and asks again, so a lesson already past
//! several deadlines (after a restart) goes through them in order — opened,
//! then late, then a no-show — each once.

use chrono::{DateTime, Utc};

use crate::lesson::LessonStatus;
use crate::lifecycle::Timing;

/// One thing the server does to a lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerStep {
    /// `booked` → `open`, from `start − room_opens`.
    Open,
    /// Not started by `start + late_after`: say so, once.
    Late {
        /// Whole minutes past the start when it is said.
        minutes_late: i64,
    },
    /// Not started by `start + no_show_after`: `tutor_no_show`.
    NoShow,
    /// Still `live` at `end + auto_end`: ended by the server.
    AutoEnd,
}

/// What the timers need to know of a lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timed {
    pub status: LessonStatus,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The lateness was already said.
    pub late_said: bool,
}

/// Not started yet: the room may be closed (`booked`) or open.
fn waiting(status: LessonStatus) -> bool {
    matches!(status, LessonStatus::Booked | LessonStatus::Open)
}

impl Timing {
    /// When the lateness is said: at `start + late_after`, if nobody has
    /// started the lesson by then.
    pub fn late_at(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        start + self.late_after
    }

    /// When a live lesson nobody ended is ended by the server.
    pub fn auto_end_at(&self, end: DateTime<Utc>) -> DateTime<Utc> {
        end + self.auto_end
    }

    /// The deadline of the next step, passed or not; `None` when the
    /// timers have nothing more to do with the lesson.
    pub fn next_due(&self, l: &Timed) -> Option<DateTime<Utc>> {
        match l.status {
            LessonStatus::Booked => Some(self.opens_at(l.start)),
            LessonStatus::Open if !l.late_said => Some(self.late_at(l.start)),
            LessonStatus::Open => Some(self.no_show_at(l.start)),
            LessonStatus::Live => Some(self.auto_end_at(l.end)),
            _ => None,
        }
    }

    /// The step due at `now`, earliest deadline first; `None` when nothing
    /// is due yet.
    pub fn next_step(&self, l: &Timed, now: DateTime<Utc>) -> Option<TimerStep> {
        if l.status == LessonStatus::Booked && now >= self.opens_at(l.start) {
            return Some(TimerStep::Open);
        }
        if waiting(l.status) && !l.late_said && now >= self.late_at(l.start) {
            return Some(TimerStep::Late {
                minutes_late: (now - l.start).num_minutes(),
            });
        }
        if self.no_show_due(l.status, l.start, now) {
            return Some(TimerStep::NoShow);
        }
        if self.auto_end_due(l.status, l.end, now) {
            return Some(TimerStep::AutoEnd);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LessonStatus::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn lesson(status: LessonStatus, late_said: bool) -> Timed {
        Timed {
            status,
            start: at("2027-03-10T16:00:00Z"),
            end: at("2027-03-10T17:00:00Z"),
            late_said,
        }
    }

    #[test]
    fn each_step_falls_due_at_its_bound() {
        let t = Timing::default();
        let step = |l: Timed, now: &str| t.next_step(&l, at(now));
        assert_eq!(step(lesson(Booked, false), "2027-03-10T15:49:59Z"), None);
        assert_eq!(
            step(lesson(Booked, false), "2027-03-10T15:50:00Z"),
            Some(TimerStep::Open)
        );
        assert_eq!(step(lesson(Open, false), "2027-03-10T16:04:59Z"), None);
        assert_eq!(
            step(lesson(Open, false), "2027-03-10T16:05:00Z"),
            Some(TimerStep::Late { minutes_late: 5 })
        );
        assert_eq!(step(lesson(Open, true), "2027-03-10T16:14:59Z"), None);
        assert_eq!(
            step(lesson(Open, true), "2027-03-10T16:15:00Z"),
            Some(TimerStep::NoShow)
        );
        assert_eq!(step(lesson(Live, false), "2027-03-10T17:29:59Z"), None);
        assert_eq!(
            step(lesson(Live, false), "2027-03-10T17:30:00Z"),
            Some(TimerStep::AutoEnd)
        );
        for done in [Completed, TutorNoShow, Cancelled, Rescheduled] {
            assert_eq!(step(lesson(done, false), "2027-03-11T00:00:00Z"), None);
            assert_eq!(t.next_due(&lesson(done, false)), None);
        }
    }

    /// After a long downtime a lesson goes through every passed deadline in
    /// order, each once, as the caller applies each step and asks again.
    #[test]
    fn a_lesson_past_several_deadlines_goes_through_them_in_order() {
        let t = Timing::default();
        let now = at("2027-03-10T16:40:00Z");
        let mut l = lesson(Booked, false);
        let mut steps = Vec::new();
        while let Some(s) = t.next_step(&l, now) {
            steps.push(s);
            match s {
                TimerStep::Open => l.status = Open,
                TimerStep::Late { .. } => l.late_said = true,
                TimerStep::NoShow => l.status = TutorNoShow,
                TimerStep::AutoEnd => l.status = Completed,
            }
        }
        assert_eq!(
            steps,
            [
                TimerStep::Open,
                TimerStep::Late { minutes_late: 40 },
                TimerStep::NoShow
            ]
        );
    }

    #[test]
    fn the_next_deadline_follows_the_status() {
        let t = Timing::default();
        assert_eq!(
            t.next_due(&lesson(Booked, false)),
            Some(at("2027-03-10T15:50:00Z"))
        );
        assert_eq!(
            t.next_due(&lesson(Open, false)),
            Some(at("2027-03-10T16:05:00Z"))
        );
        assert_eq!(
            t.next_due(&lesson(Open, true)),
            Some(at("2027-03-10T16:15:00Z"))
        );
        assert_eq!(
            t.next_due(&lesson(Live, true)),
            Some(at("2027-03-10T17:30:00Z"))
        );
    }
}
