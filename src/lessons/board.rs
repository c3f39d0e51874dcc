//! The admins' live board (`admin:monitor`, docs/lessons.md "Board"): the
//! rows of the join snapshot and the `board:lesson` pushes.
//!
//! A row is built here from the store ([`cms_store::board`]) with the
//! board's rules: the window around now, lateness, which alerts are still
//! open. Who is in the room is the room actor's: its presence rows carry
//! it, and the admins' actor puts it into the lesson's other rows as they
//! go out (`cms_actors::board`).
//!
//! [`board_lesson`] is the one way to push a lesson's row after a change
//! the store has committed: the start and end use cases, the lesson rooms
//! (presence) and the lesson timers (opened, late, no-show) call it.

use chrono::{DateTime, Duration, Utc};
use cms_actors::Broker;
use cms_actors::messages::Push;
use cms_domain::lesson::LessonStatus;
use cms_domain::lifecycle::LessonEventKind;
use cms_protocol::board::{
    AlertKind, BOARD_AHEAD_HOURS, BOARD_PAST_HOURS, BoardChange, BoardLesson, BoardLessonPush,
    OpenAlert, RoomPerson,
};
use cms_protocol::calendar::{Change, Occurrence};
use cms_protocol::{Topic, event};
use cms_store::board::BoardRow;
use cms_store::{Store, StoreError};

use super::Lessons;

/// The board's window at `now`: lessons ending after the first instant
/// and starting before the second are on it.
pub fn window(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        now - Duration::hours(BOARD_PAST_HOURS),
        now + Duration::hours(BOARD_AHEAD_HOURS),
    )
}

fn on_board(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let (from, to) = window(now);
    end > from && start < to
}

/// Nobody has started it yet, and it may still start.
fn awaiting_start(status: LessonStatus) -> bool {
    matches!(status, LessonStatus::Booked | LessonStatus::Open)
}

/// Whole minutes past the start of a lesson not started; `None` before
/// the start and for a lesson started or not taking place.
pub fn minutes_late(status: LessonStatus, start: DateTime<Utc>, now: DateTime<Utc>) -> Option<i64> {
    (awaiting_start(status) && now > start).then(|| (now - start).num_minutes())
}

/// The alerts an admin has still to deal with: lateness while the lesson
/// is not started, a no-show or a server-ended lesson while it is flagged
/// for review (`needs_review`; clearing it resolves them).
fn open_alerts(row: &BoardRow) -> Vec<OpenAlert> {
    row.alert_events
        .iter()
        .filter_map(|e| {
            let kind = match e.kind {
                LessonEventKind::Late if awaiting_start(row.status) => AlertKind::Late,
                LessonEventKind::NoShow
                    if row.needs_review && row.status == LessonStatus::TutorNoShow =>
                {
                    AlertKind::NoShow
                }
                LessonEventKind::AutoEnded
                    if row.needs_review && row.status == LessonStatus::Completed =>
                {
                    AlertKind::Review
                }
                _ => return None,
            };
            Some(OpenAlert { kind, at: e.at })
        })
        .collect()
}

/// A stored lesson as a board row at `now` (nobody in the room yet).
pub fn row(r: BoardRow, now: DateTime<Utc>) -> BoardLesson {
    BoardLesson {
        alerts: open_alerts(&r),
        minutes_late: minutes_late(r.status, r.start, now),
        id: r.id,
        status: r.status,
        start: r.start,
        end: r.end,
        subject: r.subject,
        level: r.level,
        tutor: r.tutor,
        students: r.students,
        in_room: Vec::new(),
        started_at: r.started_at,
        ended_at: r.ended_at,
        version: r.version,
        tutor_without_dbs: r.tutor_without_dbs,
    }
}

/// Every lesson on the board at `now`, by start.
pub async fn lessons(store: &Store, now: DateTime<Utc>) -> Result<Vec<BoardLesson>, StoreError> {
    let (from, to) = window(now);
    let rows = store.board_lessons(from, to, now).await?;
    Ok(rows.into_iter().map(|r| row(r, now)).collect())
}

fn publish(broker: &dyn Broker, lesson: BoardLesson, change: BoardChange) {
    let payload = BoardLessonPush { lesson, change };
    broker.publish(Push::new(
        Topic::AdminMonitor,
        event::BOARD_LESSON,
        &payload,
    ));
}

/// Pushes the lesson's row, read from the store now, to `admin:monitor`
/// with `change`, if the lesson is on the board. Call it after the change
/// committed. A failed read is logged and nothing is pushed: pushes are
/// hints, and a rejoin reads the board again.
pub async fn board_lesson(
    broker: &dyn Broker,
    store: &Store,
    now: DateTime<Utc>,
    lesson_id: &str,
    change: BoardChange,
) {
    board_lesson_with(broker, store, now, lesson_id, change, Vec::new()).await;
}

/// [`board_lesson`] with the room's people in it: a room's own presence
/// row, which the board remembers for the lesson's other rows.
pub async fn board_lesson_with(
    broker: &dyn Broker,
    store: &Store,
    now: DateTime<Utc>,
    lesson_id: &str,
    change: BoardChange,
    in_room: Vec<RoomPerson>,
) {
    let r = match store.board_lesson(lesson_id, now).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(lesson = %lesson_id, error = %e, "board:lesson not pushed: the lesson could not be read");
            return;
        }
    };
    if on_board(r.start, r.end, now) {
        let mut lesson = row(r, now);
        lesson.in_room = in_room;
        publish(broker, lesson, change);
    }
}

/// The board's side of `calendar:changed` for bookings, cancellations,
/// moves and seat changes: the row is made from the occurrence just read,
/// without another query. Such changes happen only before the start, when
/// a lesson has no alerts yet. Starts, ends and the timers' steps push
/// their own rows through [`board_lesson`].
pub fn calendar_changed(deps: &Lessons, occurrences: &[Occurrence], change: Change) {
    match change {
        Change::Booked | Change::Cancelled | Change::Rescheduled | Change::Updated => {}
        // Read from the store after their step, with alerts.
        Change::Started | Change::Ended | Change::Opened | Change::NoShow => return,
    }
    let now = deps.clock.now();
    for o in occurrences {
        if !on_board(o.start, o.end, now) {
            continue;
        }
        // A move pushes the old lesson (no longer held) and the new one.
        let change = if o.status.holds_time() {
            BoardChange::Booked
        } else {
            BoardChange::Cancelled
        };
        let lesson = BoardLesson {
            id: o.id.clone(),
            status: o.status,
            start: o.start,
            end: o.end,
            subject: o.subject.clone(),
            level: o.level.clone(),
            tutor: o.tutor.clone(),
            students: o.students.clone(),
            in_room: Vec::new(),
            minutes_late: minutes_late(o.status, o.start, now),
            alerts: Vec::new(),
            started_at: o.started_at,
            ended_at: o.ended_at,
            version: o.version,
            // A booking just passed the DBS rule in its transaction; a
            // cancellation takes the lesson off. The snapshot and the live
            // pushes read the flag from the store.
            tutor_without_dbs: false,
        };
        publish(deps.broker.as_ref(), lesson, change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cms_store::board::AlertEvent;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn stored(status: LessonStatus, needs_review: bool, events: &[LessonEventKind]) -> BoardRow {
        BoardRow {
            id: "l1".into(),
            status,
            start: at("2027-03-10T16:00:00Z"),
            end: at("2027-03-10T17:00:00Z"),
            subject: "Maths".into(),
            level: "GCSE".into(),
            tutor: cms_protocol::calendar::Person {
                id: "t".into(),
                name: "Tess".into(),
            },
            students: Vec::new(),
            started_at: None,
            ended_at: None,
            needs_review,
            version: 1,
            alert_events: events
                .iter()
                .map(|&kind| AlertEvent {
                    kind,
                    at: at("2027-03-10T16:05:00Z"),
                })
                .collect(),
            tutor_without_dbs: false,
        }
    }

    fn kinds(r: BoardRow) -> Vec<AlertKind> {
        row(r, at("2027-03-10T16:20:00Z"))
            .alerts
            .into_iter()
            .map(|a| a.kind)
            .collect()
    }

    #[test]
    fn alerts_stay_open_until_dealt_with() {
        use LessonEventKind::{AutoEnded, Late, NoShow};
        assert_eq!(
            kinds(stored(LessonStatus::Open, false, &[Late])),
            [AlertKind::Late]
        );
        assert!(
            kinds(stored(LessonStatus::Live, false, &[Late])).is_empty(),
            "started after all"
        );
        assert_eq!(
            kinds(stored(LessonStatus::TutorNoShow, true, &[Late, NoShow])),
            [AlertKind::NoShow]
        );
        assert!(kinds(stored(LessonStatus::TutorNoShow, false, &[NoShow])).is_empty());
        assert_eq!(
            kinds(stored(LessonStatus::Completed, true, &[AutoEnded])),
            [AlertKind::Review]
        );
    }

    #[test]
    fn lateness_counts_while_not_started() {
        let start = at("2027-03-10T16:00:00Z");
        let now = at("2027-03-10T16:07:30Z");
        assert_eq!(minutes_late(LessonStatus::Open, start, now), Some(7));
        assert_eq!(minutes_late(LessonStatus::Booked, start, start), None);
        assert_eq!(minutes_late(LessonStatus::Live, start, now), None);
        assert_eq!(minutes_late(LessonStatus::Cancelled, start, now), None);
    }

    #[test]
    fn the_window_reaches_three_hours_back_and_twelve_ahead() {
        let now = at("2027-03-10T16:00:00Z");
        let h = Duration::hours;
        assert!(on_board(now - h(4), now - h(3) + Duration::seconds(1), now));
        assert!(!on_board(now - h(4), now - h(3), now));
        assert!(on_board(now + h(11), now + h(13), now));
        assert!(!on_board(now + h(12), now + h(13), now));
    }
}
