//! `phx_reply` payloads: `{status, response}`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyStatus {
    Ok,
    Error,
}

/// The payload of a `phx_reply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub status: ReplyStatus,
    pub response: Value,
}

impl Reply {
    pub fn ok(response: Value) -> Self {
        Self {
            status: ReplyStatus::Ok,
            response,
        }
    }

    /// An error reply. `reason` is a stable machine code (phoenix.js shows it
    /// as `resp.reason`); `message` is for people.
    pub fn error(reason: &str, message: impl Into<String>) -> Self {
        Self {
            status: ReplyStatus::Error,
            response: json!({"reason": reason, "message": message.into()}),
        }
    }

    pub fn to_value(&self) -> Value {
        json!({"status": self.status, "response": self.response})
    }
}

/// Stable error reasons sent in error replies.
pub mod reason {
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const UNMATCHED_TOPIC: &str = "unmatched topic";
    pub const NOT_JOINED: &str = "not_joined";
    pub const ALREADY_JOINED: &str = "already_joined";
    pub const BAD_REQUEST: &str = "bad_request";
    pub const MALFORMED: &str = "malformed";
    pub const BODY_TOO_LONG: &str = "body_too_long";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const NOT_FOUND: &str = "not_found";
    pub const FORBIDDEN: &str = "forbidden";
    pub const UNKNOWN_EVENT: &str = "unknown_event";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const INTERNAL: &str = "internal";
    /// What is stored does not allow it (a lesson already started, over …).
    pub const CONFLICT: &str = "conflict";
    /// A payload over its own limit (a `webrtc:signal` over 16 KiB).
    pub const TOO_LARGE: &str = "too_large";
    /// A lesson room joined after the lesson was cancelled or moved.
    pub const LESSON_NOT_ACTIVE: &str = "lesson_not_active";
    /// Between actors only: the topic actor is stopping; ask the registry
    /// again. Never sent to a client.
    pub const RETIRED: &str = "retired";
}
