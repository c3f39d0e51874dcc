//! The lesson room's wire types: what `session:<lesson_id>` answers a join
//! with, what its clients send (`lesson:start`, `lesson:end`,
//! `webrtc:signal`) and what it pushes (`lesson:status`, `video:ready`,
//! `webrtc:signal`). docs/protocol.md ("Events on `session:<id>`")
//! describes them.

use chrono::{DateTime, Utc};
use cms_domain::lesson::{Attendance, LessonStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::calendar::{AttendanceMark, Person, StudentRef};

/// Largest `data` of one `webrtc:signal`, encoded: an SDP offer is a few
/// KiB; anything bigger is not signalling.
pub const MAX_SIGNAL_BYTES: usize = 16 * 1024;

/// The lesson as the room shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonInfo {
    pub id: String,
    pub status: LessonStatus,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub tutor: Person,
    pub students: Vec<StudentRef>,
    /// One entry per student once the lesson has ended; absent before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendance: Vec<AttendanceMark>,
}

/// The `ok` response to joining `session:<id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinReply {
    pub lesson: LessonInfo,
    /// The joiner's own `video:ready` payload, only while the lesson is
    /// live (and a video provider is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Value>,
}

/// What a tutor may record for a student over the socket; `unconfirmed`
/// is the server's own word, never a tutor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    Present,
    Late,
    Absent,
}

impl From<Mark> for Attendance {
    fn from(m: Mark) -> Self {
        match m {
            Mark::Present => Self::Present,
            Mark::Late => Self::Late,
            Mark::Absent => Self::Absent,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttendanceEntry {
    pub student_id: String,
    pub status: Mark,
}

/// `lesson:end`: the same body as `POST /api/v1/lessons/{id}/end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndLesson {
    pub attendance: Vec<AttendanceEntry>,
    pub notes: String,
    #[serde(default)]
    pub homework_hint: Option<String>,
}

/// What a WebRTC signal carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Offer,
    Answer,
    Ice,
}

/// `webrtc:signal` as a client sends it: for one participant's sockets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    /// The addressee's user id.
    pub to: String,
    pub kind: SignalKind,
    /// Opaque to the server (an SDP or an ICE candidate); never stored.
    pub data: Value,
}

/// `webrtc:signal` as the addressee receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalPush {
    pub from: String,
    pub kind: SignalKind,
    pub data: Value,
}

/// `lesson:status`: the lesson went live or ended. Pushed after the
/// transition commits, whether a socket or REST made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonStatusPush {
    pub status: LessonStatus,
    pub at: DateTime<Utc>,
    /// Who made it; absent for the server itself (a timer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}
