//! The lesson workflows behind the REST endpoints: booking (one-off,
//! recurring, group), cancelling, rescheduling and group seats. Each one
//! reads, plans with the pure rules in `scheduling`, writes everything in
//! one store transaction, then pushes `calendar:changed`.
//!
//! Invariants live in the store (held cells, lesson versions, schema
//! asserts); the checks made here first only turn the common refusals into
//! clear answers.

pub mod book;
pub mod change;
mod clash;
pub mod push;

use cms_actors::Role;
use cms_protocol::calendar::Occurrence;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::store::lessons::LessonState;

pub use clash::Clash;

/// Times a plan is made again after the store refused it as stale or
/// raced (another change landed between the read and the write).
const PLAN_ATTEMPTS: usize = 4;

/// Whether the caller may see (and act on) a lesson.
pub fn may_see(user: &AuthUser, l: &LessonState) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Tutor => l.tutor_id == user.user_id,
        Role::Parent => user
            .family_id
            .as_deref()
            .is_some_and(|f| l.seats.iter().any(|s| s.family_id == f)),
    }
}

pub fn may_see_occurrence(user: &AuthUser, o: &Occurrence) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Tutor => o.tutor.id == user.user_id,
        Role::Parent => user
            .family_id
            .as_deref()
            .is_some_and(|f| o.students.iter().any(|s| s.family_id == f)),
    }
}

pub(crate) fn not_found() -> ApiError {
    ApiError::NotFound("no such lesson".into())
}
