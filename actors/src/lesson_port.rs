//! What the lesson room needs from the server: the lesson (with who may
//! enter), its two transitions and each person's video handoff. The data
//! and the use cases live in the server (`src/lesson_port.rs` serves this
//! over `src/lessons/live.rs` and `src/video`), so the actors stay free of
//! the database and the room calls the very code REST calls: a start over
//! the socket and one over REST race in one place, the store. The admins'
//! board (`admin:monitor`) reads its lessons through it too.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cms_domain::lesson::LessonStatus;
use cms_protocol::board::{BoardLesson, RoomPerson};
use cms_protocol::lesson::{EndLesson, LessonInfo};
use cms_protocol::reply::{Reply, reason};
use serde_json::Value;

use crate::identity::Identity;

/// A lesson as its room caches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonView {
    /// What the join reply shows.
    pub info: LessonInfo,
    /// Where a moved lesson went (its status is then `rescheduled`).
    pub rescheduled_to: Option<String>,
    /// The tutor and the parents of every family with a child in the
    /// lesson: who may enter besides admins.
    pub member_ids: Vec<String>,
    /// What the video room derives from: the original lesson's id, so a
    /// moved lesson keeps its room.
    pub room_key: String,
}

impl LessonView {
    pub fn status(&self) -> LessonStatus {
        self.info.status
    }

    pub fn is_tutor(&self, who: &Identity) -> bool {
        self.info.tutor.id == who.user_id
    }
}

/// A transition made: the lesson after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transitioned {
    pub info: LessonInfo,
    /// When it went live or ended.
    pub at: DateTime<Utc>,
}

/// Why a lesson could not be read or changed; each maps to the error
/// reply the socket sends (the REST answer's status code, as a reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LessonPortError {
    /// No lesson the caller may see by that id.
    #[error("{0}")]
    NotFound(String),
    /// The caller's role may not (a parent starting a lesson).
    #[error("{0}")]
    Forbidden(String),
    /// What is stored does not allow it (already started, too early …).
    #[error("{0}")]
    Conflict(String),
    /// The request is wrong (attendance missing a student …).
    #[error("{0}")]
    Invalid(String),
    /// The store failed; logged by the server, worded generically here.
    #[error("{0}")]
    Unavailable(String),
}

impl LessonPortError {
    pub fn reply(&self) -> Reply {
        let why = match self {
            Self::NotFound(_) => reason::NOT_FOUND,
            Self::Forbidden(_) => reason::FORBIDDEN,
            Self::Conflict(_) => reason::CONFLICT,
            Self::Invalid(_) => reason::BAD_REQUEST,
            Self::Unavailable(_) => reason::UNAVAILABLE,
        };
        Reply::error(why, self.to_string())
    }
}

#[async_trait]
pub trait LessonPort: Send + Sync + 'static {
    /// The lesson and who may enter. `NotFound` when there is none.
    async fn load(&self, lesson_id: &str) -> Result<LessonView, LessonPortError>;

    /// Starts the lesson as `who` (`booked`/`open` → `live`), with every
    /// rule and the version guard of `POST /lessons/{id}/start`.
    async fn start(&self, who: &Identity, lesson_id: &str)
    -> Result<Transitioned, LessonPortError>;

    /// Ends the lesson as `who` (`live` → `completed`) with attendance.
    async fn end(
        &self,
        who: &Identity,
        lesson_id: &str,
        req: EndLesson,
    ) -> Result<Transitioned, LessonPortError>;

    /// `who`'s own `video:ready` payload for the lesson (a token of their
    /// own; moderator only for the tutor), or `None` without video. Pure
    /// and quick: no IO, so it is called per socket inside the actor.
    fn video(&self, who: &Identity, lesson: &LessonView) -> Option<Value>;

    /// The admins' board at `at`: every lesson of its window as stored,
    /// `in_room` left empty (the rooms fill it in; the server does not
    /// know who is in them). Without a board, an empty one.
    async fn board(&self, _at: DateTime<Utc>) -> Result<Vec<BoardLesson>, LessonPortError> {
        Ok(Vec::new())
    }

    /// Someone entered or left the lesson's room, which now holds
    /// `in_room`: the server pushes the lesson's `board:lesson` (`change:
    /// presence`) with them to `admin:monitor`. Without a board, nothing.
    async fn presence_changed(&self, _lesson_id: &str, _in_room: Vec<RoomPerson>) {}

    /// `who` entered (their first socket joined) or left (their last socket
    /// went) the lesson's room: the server writes it to the lesson's log.
    async fn room_entered(&self, _lesson_id: &str, _who: &Identity, _entered: bool) {}
}

/// The port of a registry started without lessons (actor tests): every
/// lesson is missing, so every room join is refused like a stranger's.
pub struct NoLessons;

#[async_trait]
impl LessonPort for NoLessons {
    async fn load(&self, _: &str) -> Result<LessonView, LessonPortError> {
        Err(LessonPortError::NotFound("no such lesson".into()))
    }

    async fn start(&self, _: &Identity, _: &str) -> Result<Transitioned, LessonPortError> {
        Err(LessonPortError::NotFound("no such lesson".into()))
    }

    async fn end(
        &self,
        _: &Identity,
        _: &str,
        _: EndLesson,
    ) -> Result<Transitioned, LessonPortError> {
        Err(LessonPortError::NotFound("no such lesson".into()))
    }

    fn video(&self, _: &Identity, _: &LessonView) -> Option<Value> {
        None
    }
}
