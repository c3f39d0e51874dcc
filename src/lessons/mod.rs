//! The lesson use cases: booking (one-off, recurring, group), cancelling,
//! rescheduling and group seats, and the lesson as it happens (`live`:
//! start, end, its log). Each one reads, plans with the pure rules
//! in `cms_domain::scheduling`, writes everything in one store transaction,
//! then pushes `calendar:changed`. They take [`Lessons`] (the store, the
//! clock, a publisher, the scheduler) and a [`Caller`], and answer
//! [`LessonError`]: a route, a timer, a webhook or an actor can call them.
//!
//! Invariants live in the store (held cells, lesson versions, schema
//! asserts); the checks made here first only turn the common refusals into
//! clear answers.

pub mod board;
pub mod book;
pub mod change;
mod clash;
pub mod error;
pub mod live;
pub mod push;
pub mod rating;
pub mod timers;

use std::sync::Arc;

use cms_actors::{Broker, Clock};
use cms_domain::{Caller, Role};
use cms_protocol::calendar::Occurrence;
use cms_store::Store;
use cms_store::lessons::LessonState;

use crate::config::{RemindersConfig, SchedulingConfig};
use crate::notify::NotifyHandle;

pub use clash::Clash;
pub use error::LessonError;

/// What the lesson use cases need, and nothing more.
#[derive(Clone)]
pub struct Lessons {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Where `calendar:changed` goes.
    pub broker: Arc<dyn Broker>,
    /// Woken when a change writes reminder jobs.
    pub notifier: NotifyHandle,
    pub scheduling: SchedulingConfig,
    pub reminders: RemindersConfig,
    /// Booking requests a family may make a UTC day (`limits.*`).
    pub bookings_per_family_per_day: u32,
    /// When a lesson's room opens, and until when it may start (`lessons.*`).
    pub timing: cms_domain::lifecycle::Timing,
    /// Charging completed lessons; `None` while billing is off.
    pub charging: Option<crate::billing::charge::Charging>,
}

/// Times a plan is made again after the store refused it as stale or
/// raced (another change landed between the read and the write).
const PLAN_ATTEMPTS: usize = 4;

/// Whether the caller may see (and act on) a lesson.
pub fn may_see(user: &Caller, l: &LessonState) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Tutor => l.tutor_id == user.user_id,
        Role::Parent => user
            .family_id
            .as_deref()
            .is_some_and(|f| l.seats.iter().any(|s| s.family_id == f)),
    }
}

pub fn may_see_occurrence(user: &Caller, o: &Occurrence) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Tutor => o.tutor.id == user.user_id,
        Role::Parent => user
            .family_id
            .as_deref()
            .is_some_and(|f| o.students.iter().any(|s| s.family_id == f)),
    }
}

pub(crate) fn not_found() -> LessonError {
    LessonError::NotFound("no such lesson".into())
}

fn no_family() -> LessonError {
    LessonError::Forbidden("this parent has no family".into())
}
