//! The lesson timers: the room opening, the lateness warning, the tutor's
//! no-show and the end of a lesson nobody ended, done by the server as each
//! deadline passes (docs/lessons.md, "Timers").
//!
//! Nothing here remembers anything. The deadlines follow from each stored
//! lesson (`cms_store::timers`), the notification scheduler runs
//! [`LessonTimers::run_due`] at the start of each round and sleeps on the
//! injected clock until the next deadline, and each step is one
//! version-guarded transaction (`cms_store::live::Transition`). So a step
//! that two nodes (or a node and a restarted one) both find due is done by
//! one of them: the other's transaction finds the version moved, reads the
//! lesson again and finds nothing left to do. A lesson past several
//! deadlines (the server was down) goes through them in order, each once.
//!
//! Pushes follow the commit. A crash between a commit and its pushes loses
//! those pushes (never the step, which is in the lesson's log); pushes are
//! hints, and the board and calendars read the store.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cms_actors::messages::Push;
use cms_actors::{Broker, Clock};
use cms_domain::Refusal;
use cms_domain::lesson::{Attendance, LessonStatus};
use cms_domain::lifecycle::{LessonEventKind, Timing};
use cms_domain::scheduling::time::iso;
use cms_domain::timers::TimerStep;
use cms_protocol::board::{AlertKind, BoardAlert, BoardChange, LessonLate};
use cms_protocol::calendar::{Change, Occurrence};
use cms_protocol::{Topic, event};
use cms_store::live::{AttendanceRow, Transition};
use cms_store::timers::TimedLesson;
use cms_store::{Store, StoreError, lessons::NewCredit, ts};
use futures_util::future::BoxFuture;

use super::push;
use crate::notify::jobs::{self, Kind};
use crate::notify::scheduler::Timers;
use crate::notify::text::{one_line, when};

/// Lessons read per status per pass.
const BATCH: usize = 64;
/// Passes per round: each works what the previous left past its batch.
const PASSES: usize = 16;
/// Times one step is planned again after another writer moved the lesson.
const PLAN_ATTEMPTS: usize = 4;
/// After a lesson's step failed, look again this much later rather than at
/// once (its deadline has passed, so "next due" would be now, forever).
const RETRY_SECS: i64 = 30;
/// The reason written on the makeup credit a no-show gives each child.
const NO_SHOW_CREDIT: &str = "tutor did not attend";
/// Longest board message, in characters.
const MAX_MESSAGE: usize = 300;

/// What the timers need: the store, the clock, a publisher, the timings
/// and how long a makeup credit lasts.
pub struct LessonTimers {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub broker: Arc<dyn Broker>,
    pub timing: Timing,
    pub credit_valid: Duration,
}

impl Timers for LessonTimers {
    fn run_due(&self) -> BoxFuture<'_, Result<Option<DateTime<Utc>>, StoreError>> {
        Box::pin(LessonTimers::run_due(self))
    }
}

impl LessonTimers {
    /// Does every step due now; answers when the next one falls due.
    pub async fn run_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut failed = false;
        for _ in 0..PASSES {
            let now = self.clock.now();
            let lessons = self
                .store
                .timer_candidates(&self.timing, now, BATCH)
                .await?;
            let mut worked = 0;
            for l in lessons {
                if self.timing.next_step(&l.timed(), now).is_none() {
                    continue;
                }
                worked += 1;
                if let Err(e) = self.advance(&l.id).await {
                    // One lesson's failure must not hold up the others.
                    tracing::warn!(lesson = %l.id, error = %e, "a lesson timer step failed; will retry");
                    failed = true;
                }
            }
            if worked > 0 && !failed {
                // Maybe more past this batch.
                continue;
            }
            let next = self.store.next_timer(&self.timing).await?;
            let now = self.clock.now();
            match next {
                // The clock moved on while this pass worked: go again.
                Some(t) if t <= now && !failed => continue,
                // A lesson whose step failed stays due: look again later,
                // not at once and forever.
                Some(t) if t <= now => return Ok(Some(now + Duration::seconds(RETRY_SECS))),
                other => return Ok(other),
            }
        }
        // Still busy after every pass: let the notices have their turn,
        // then come straight back.
        Ok(Some(self.clock.now()))
    }

    /// Takes one lesson through every step due now, in order.
    async fn advance(&self, id: &str) -> Result<(), StoreError> {
        let mut stale = 0;
        loop {
            let now = self.clock.now();
            let l = self.store.timed_lesson(id).await?;
            let Some(step) = self.timing.next_step(&l.timed(), now) else {
                return Ok(());
            };
            let t = self.plan(&l, step, now);
            match self.store.transition(&t, now).await {
                // Another writer (a tutor starting it, another node's
                // timer) got there first: read it again.
                Err(StoreError::Refused(Refusal::StaleVersion)) if stale < PLAN_ATTEMPTS => {
                    stale += 1;
                    continue;
                }
                Err(e) => return Err(e),
                Ok(()) => stale = 0,
            }
            // The step is done; a failed read for its pushes is only logged.
            match self.store.occurrence(id).await {
                Ok(o) => self.announce(&l, &o, step, now),
                Err(e) => {
                    tracing::warn!(lesson = %id, error = %e, "lesson timer step done; its pushes were lost")
                }
            }
            // The admins' board row, read after the commit like a start's.
            let change = match step {
                TimerStep::Open => BoardChange::Opened,
                TimerStep::Late { .. } => BoardChange::Late,
                TimerStep::NoShow => BoardChange::NoShow,
                TimerStep::AutoEnd => BoardChange::Ended,
            };
            super::board::board_lesson(self.broker.as_ref(), &self.store, now, id, change).await;
        }
    }

    /// The transition a step writes.
    fn plan(&self, l: &TimedLesson, step: TimerStep, now: DateTime<Utc>) -> Transition {
        let new = |to, kind| Transition::new(&l.id, l.version, to, kind, None);
        match step {
            TimerStep::Open => new(LessonStatus::Open, LessonEventKind::Opened),
            TimerStep::Late { minutes_late } => {
                let mut t = new(l.status, LessonEventKind::Late);
                t.late = true;
                t.detail = Some(format!(
                    "not started {minutes_late} minutes after the start"
                ));
                t
            }
            TimerStep::NoShow => {
                let mut t = new(LessonStatus::TutorNoShow, LessonEventKind::NoShow);
                t.needs_review = true;
                t.detail = Some(format!(
                    "nobody started the lesson by {}",
                    iso(self.timing.no_show_at(l.starts_at))
                ));
                let expires = ts(now + self.credit_valid);
                // One per child: the family lost a lesson it was owed, as
                // when a tutor cancels.
                t.credits = l
                    .seats
                    .iter()
                    .map(|s| NewCredit {
                        family: s.family_id.clone(),
                        student: s.id.clone(),
                        reason: NO_SHOW_CREDIT.into(),
                        expires_at: expires.clone(),
                    })
                    .collect();
                // Package lessons come back too: nothing was taught.
                t.return_units = true;
                t.jobs = vec![jobs::notice(
                    Kind::NoShow,
                    std::slice::from_ref(&l.id),
                    &families(l),
                    now,
                )];
                t
            }
            TimerStep::AutoEnd => {
                let mut t = new(LessonStatus::Completed, LessonEventKind::AutoEnded);
                t.ends = true;
                t.needs_review = true;
                t.detail = Some("nobody ended the lesson".into());
                // Nobody said who came: every seat unconfirmed for an
                // admin to review.
                t.attendance = l
                    .seats
                    .iter()
                    .map(|s| AttendanceRow {
                        student: s.id.clone(),
                        status: Attendance::Unconfirmed,
                        chargeable: Attendance::Unconfirmed.chargeable(),
                    })
                    .collect();
                t
            }
        }
    }

    /// The pushes after a step committed.
    fn announce(&self, l: &TimedLesson, o: &Occurrence, step: TimerStep, now: DateTime<Utc>) {
        let broker = self.broker.as_ref();
        if !matches!(step, TimerStep::Late { .. }) {
            // The lesson's room hears a status the server set, as it hears
            // a tutor's start: people waiting in it learn the tutor did not
            // come, or that the lesson was ended for them.
            push::lesson_status(broker, o, None, now);
        }
        let (alert, message) = match step {
            TimerStep::Open => {
                push::calendar_changed_via(broker, std::slice::from_ref(o), Change::Opened, &[]);
                return;
            }
            TimerStep::Late { minutes_late } => {
                let payload = LessonLate {
                    lesson_id: l.id.clone(),
                    minutes_late,
                };
                let topics = families(l)
                    .into_iter()
                    .map(|f| Topic::Family(f.as_str().into()))
                    .chain([
                        Topic::Tutor(l.tutor_id.as_str().into()),
                        Topic::AdminMonitor,
                    ]);
                for topic in topics {
                    broker.publish(Push::new(topic, event::LESSON_LATE, &payload));
                }
                (
                    AlertKind::Late,
                    format!("{}: not started, {minutes_late} minutes late", about(o)),
                )
            }
            TimerStep::NoShow => {
                push::calendar_changed_via(broker, std::slice::from_ref(o), Change::NoShow, &[]);
                (
                    AlertKind::NoShow,
                    format!(
                        "{}: the tutor did not start it; makeup credits issued",
                        about(o)
                    ),
                )
            }
            TimerStep::AutoEnd => {
                push::calendar_changed_via(broker, std::slice::from_ref(o), Change::Ended, &[]);
                (
                    AlertKind::Review,
                    format!(
                        "{}: nobody ended it; ended by the server, attendance to review",
                        about(o)
                    ),
                )
            }
        };
        let payload = BoardAlert {
            kind: alert,
            lesson_id: l.id.clone(),
            message: one_line(&message, MAX_MESSAGE),
            at: now,
        };
        broker.publish(Push::new(Topic::AdminMonitor, event::BOARD_ALERT, &payload));
    }
}

/// The families with a child in the lesson, each once.
fn families(l: &TimedLesson) -> Vec<String> {
    let mut f: Vec<String> = l.seats.iter().map(|s| s.family_id.clone()).collect();
    f.sort();
    f.dedup();
    f
}

/// The lesson in a few words for the board, its time in its own zone.
fn about(o: &Occurrence) -> String {
    format!(
        "{} {} with {}, {}",
        one_line(&o.level, 80),
        one_line(&o.subject, 80),
        one_line(&o.tutor.name, 80),
        when(o.start, o.timezone)
    )
}
