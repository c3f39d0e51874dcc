//! A lesson as it happens: starting it, ending it with attendance, and
//! reading its log. The rules (who, when, from which status) are
//! `cms_domain::lifecycle`; each transition is one store transaction
//! guarded by the lesson's version (`cms_store::live`), so of two requests
//! racing to start or end a lesson one wins and the other, planning again,
//! finds it already live or over and is answered 409.
//!
//! Parents never start or end lessons: they are refused (403) before the
//! lesson is even read, so the answer says nothing about whether it exists.

use cms_domain::ids::StudentId;
use cms_domain::lesson::{Attendance, LessonStatus};
use cms_domain::lifecycle::{self, LessonEventKind, NotAllowed};
use cms_domain::scheduling::time::iso;
use cms_domain::{Caller, Refusal, Role};
use cms_protocol::board::BoardChange;
use cms_protocol::calendar::{Change, Occurrence};
use cms_store::StoreError;
use cms_store::lessons::LessonState;
use cms_store::live::{AttendanceRow, LessonEvent, Transition};
use serde::Deserialize;

use super::error::LessonError;
use super::{Lessons, PLAN_ATTEMPTS, board, may_see, not_found, push};
use crate::billing::charge;
use cms_domain::charge::ChargePurpose;

/// Longest lesson notes, in characters.
pub const MAX_NOTES: usize = 4000;
/// Longest homework hint, in characters.
pub const MAX_HOMEWORK_HINT: usize = 1000;

/// What a tutor may record for a student; `unconfirmed` is the server's
/// own word for a lesson it ended itself, never a tutor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Marked {
    Present,
    Late,
    Absent,
}

impl From<Marked> for Attendance {
    fn from(m: Marked) -> Self {
        match m {
            Marked::Present => Self::Present,
            Marked::Late => Self::Late,
            Marked::Absent => Self::Absent,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceInput {
    pub student_id: StudentId,
    pub status: Marked,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    /// Every student of the lesson, exactly once.
    #[schema(min_items = 1, max_items = 4)]
    pub attendance: Vec<AttendanceInput>,
    /// What was covered; up to 4000 characters, may be empty.
    #[schema(max_length = 4000)]
    pub notes: String,
    /// Up to 1000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub homework_hint: Option<String>,
}

/// The lesson, if the caller may see it; otherwise exactly what a missing
/// one answers.
async fn visible(deps: &Lessons, user: &Caller, id: &str) -> Result<LessonState, LessonError> {
    let l = match deps.store.lesson_state(id).await {
        Err(StoreError::NotFound) => return Err(not_found()),
        other => other?,
    };
    if !may_see(user, &l) {
        return Err(not_found());
    }
    Ok(l)
}

fn runs_lessons(user: &Caller) -> Result<(), LessonError> {
    if user.role == Role::Parent {
        return Err(LessonError::Forbidden(
            "lessons are started and ended by their tutor or an admin".into(),
        ));
    }
    Ok(())
}

/// Words a refused transition for the caller.
fn refused(e: NotAllowed) -> LessonError {
    match e {
        NotAllowed::Role => LessonError::Forbidden(e.to_string()),
        // Another tutor's lesson is not theirs to see either.
        NotAllowed::NotTheTutor => not_found(),
        NotAllowed::TooEarly { opens_at } => LessonError::Conflict(format!(
            "the room opens at {}; the lesson cannot be started before then",
            iso(opens_at)
        )),
        NotAllowed::TooLate { until } => LessonError::Conflict(format!(
            "the lesson could be started until {}; it is too late now",
            iso(until)
        )),
        NotAllowed::Status(s) => LessonError::Conflict(match s {
            LessonStatus::Live => "this lesson has already started".to_owned(),
            LessonStatus::Booked | LessonStatus::Open => "this lesson has not started".to_owned(),
            other => format!("this lesson is {other}"),
        }),
    }
}

fn busy() -> LessonError {
    LessonError::Conflict("the lesson kept changing; try again".into())
}

/// Applies a transition planned by `plan` against the lesson as it is now,
/// planning again if another change landed in between; then pushes
/// `calendar:changed` and answers the occurrence.
async fn transition(
    deps: &Lessons,
    user: &Caller,
    id: &str,
    change: Change,
    plan: impl Fn(&LessonState) -> Result<Transition, LessonError>,
) -> Result<Occurrence, LessonError> {
    for _ in 0..PLAN_ATTEMPTS {
        let now = deps.clock.now();
        let l = visible(deps, user, id).await?;
        let t = plan(&l)?;
        match deps.store.transition(&t, now).await {
            Err(StoreError::Refused(Refusal::StaleVersion)) => continue,
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        let o = deps.store.occurrence(&l.id).await?;
        push::calendar_changed(deps, std::slice::from_ref(&o), change, &[]);
        let (at, on_board) = match change {
            Change::Started => (o.started_at, Some(BoardChange::Started)),
            Change::Ended => (o.ended_at, Some(BoardChange::Ended)),
            _ => (None, None),
        };
        push::lesson_status(
            deps.broker.as_ref(),
            &o,
            Some(&user.user_id),
            at.unwrap_or(now),
        );
        if let Some(change) = on_board {
            board::board_lesson(deps.broker.as_ref(), &deps.store, now, &o.id, change).await;
        }
        return Ok(o);
    }
    Err(busy())
}

/// `booked`/`open` → `live`: the lesson's tutor or an admin, from the room
/// opening until the no-show bound.
pub async fn start(deps: &Lessons, user: &Caller, id: &str) -> Result<Occurrence, LessonError> {
    runs_lessons(user)?;
    transition(deps, user, id, Change::Started, |l| {
        deps.timing
            .may_start(user, &l.tutor_id, l.status, l.starts_at, deps.clock.now())
            .map_err(refused)?;
        let mut t = Transition::new(
            &l.id,
            l.version,
            LessonStatus::Live,
            LessonEventKind::Started,
            Some(&user.user_id),
        );
        t.starts = true;
        Ok(t)
    })
    .await
}

/// `live` → `completed` with every student's attendance; an absent
/// student's seat is marked chargeable.
pub async fn end(
    deps: &Lessons,
    user: &Caller,
    id: &str,
    req: &EndRequest,
) -> Result<Occurrence, LessonError> {
    runs_lessons(user)?;
    if req.notes.chars().count() > MAX_NOTES {
        return Err(LessonError::Invalid(format!(
            "notes must be at most {MAX_NOTES} characters"
        )));
    }
    let hint = match req.homework_hint.as_deref().map(str::trim) {
        Some(h) if h.chars().count() > MAX_HOMEWORK_HINT => {
            return Err(LessonError::Invalid(format!(
                "homework_hint must be at most {MAX_HOMEWORK_HINT} characters"
            )));
        }
        Some("") | None => None,
        Some(h) => Some(h.to_owned()),
    };
    // The families' weeks (for the sibling discount) are read before the
    // transaction; the charges are planned inside it from the lesson as it
    // is then, and written with the completion.
    let week = match &deps.charging {
        Some(_) => match deps.store.lesson_state(id).await {
            Ok(l) if may_see(user, &l) => Some(charge::week_of(&deps.store, &l).await?),
            _ => None,
        },
        None => None,
    };
    let ended = transition(deps, user, id, Change::Ended, |l| {
        lifecycle::may_end(user, &l.tutor_id, l.status).map_err(refused)?;
        let mut t = Transition::new(
            &l.id,
            l.version,
            LessonStatus::Completed,
            LessonEventKind::Ended,
            Some(&user.user_id),
        );
        t.ends = true;
        t.attendance = roster(l, &req.attendance)?;
        t.notes = Some(req.notes.clone());
        t.homework_hint = hint.clone();
        if let (Some(charging), Some(week)) = (&deps.charging, &week) {
            let everyone: Vec<String> = l.seats.iter().map(|s| s.id.clone()).collect();
            (t.charges, t.entries) =
                charge::plan(&charging.rules, week, l, ChargePurpose::Lesson, &everyone);
        }
        Ok(t)
    })
    .await?;
    if let Some(charging) = &deps.charging {
        charging.charger.wake();
    }
    Ok(ended)
}

/// The attendance to store, in the lesson's seat order: every student of
/// the lesson exactly once, nobody else.
fn roster(l: &LessonState, given: &[AttendanceInput]) -> Result<Vec<AttendanceRow>, LessonError> {
    let mut rows = Vec::with_capacity(l.seats.len());
    for seat in &l.seats {
        let mut marks = given.iter().filter(|a| a.student_id.as_str() == seat.id);
        let (Some(mark), None) = (marks.next(), marks.next()) else {
            return Err(LessonError::Invalid(format!(
                "attendance must list every student of the lesson exactly once (student {})",
                seat.id
            )));
        };
        let status = Attendance::from(mark.status);
        rows.push(AttendanceRow {
            student: seat.id.clone(),
            status,
            chargeable: status.chargeable(),
        });
    }
    if given.len() != rows.len() {
        return Err(LessonError::Invalid(
            "attendance lists a student who is not in this lesson".into(),
        ));
    }
    Ok(rows)
}

/// The lesson's log, oldest first, for anyone who may see the lesson.
pub async fn events(
    deps: &Lessons,
    user: &Caller,
    id: &str,
) -> Result<Vec<LessonEvent>, LessonError> {
    let l = visible(deps, user, id).await?;
    Ok(deps.store.lesson_events(&l.id).await?)
}

/// An admin has looked at a flagged lesson (a tutor no-show, one the
/// server ended) and clears its flag: the board's alert for it resolves,
/// and the log records who. 409 when it is not flagged.
pub async fn reviewed(deps: &Lessons, user: &Caller, id: &str) -> Result<Occurrence, LessonError> {
    if user.role != Role::Admin {
        return Err(LessonError::Forbidden("only an admin may do this".into()));
    }
    let l = visible(deps, user, id).await?;
    let now = deps.clock.now();
    if !deps.store.clear_review(&l.id, &user.user_id, now).await? {
        return Err(LessonError::Conflict(
            "this lesson is not waiting for a review".into(),
        ));
    }
    board::board_lesson(
        deps.broker.as_ref(),
        &deps.store,
        now,
        &l.id,
        BoardChange::Reviewed,
    )
    .await;
    Ok(deps.store.occurrence(&l.id).await?)
}
