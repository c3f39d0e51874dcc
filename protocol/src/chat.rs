//! Chat payloads on `conversation:<id>` topics.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest message body, in characters (not bytes).
pub const MAX_BODY_CHARS: usize = 4_000;
/// Longest client_msg_id; clients use UUIDs.
pub const MAX_CLIENT_MSG_ID_LEN: usize = 64;
/// Messages in one join catch-up or history page, at most.
pub const MAX_PAGE: usize = 100;

/// A stored chat message as every client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `<conversation_id>.<seq>`: unique and stable.
    pub id: String,
    pub conversation_id: String,
    /// Position in the conversation: 1, 2, 3 … with no gaps.
    pub seq: u64,
    pub sender_id: String,
    /// Empty once deleted.
    pub body: String,
    /// RFC 3339, UTC.
    pub sent_at: DateTime<Utc>,
    pub client_msg_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// `phx_join` params on a conversation.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JoinParams {
    /// The last seq the client holds; the reply carries what came after.
    #[serde(default)]
    pub since_seq: Option<u64>,
}

/// The `phx_join` reply on a conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinReply {
    pub conversation_id: String,
    /// Messages after `since_seq`, oldest first (empty without `since_seq`).
    pub messages: Vec<Message>,
    pub latest_seq: u64,
    /// True when more messages follow the page: fetch them with
    /// `message:history {after_seq}`.
    pub more: bool,
}

/// `message:send`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Send {
    pub client_msg_id: String,
    pub body: String,
}

/// `message:history`: give `before_seq` to page backwards (newest first
/// within the window, returned oldest first), or `after_seq` to page forwards.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    #[serde(default)]
    pub before_seq: Option<u64>,
    #[serde(default)]
    pub after_seq: Option<u64>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The reply to `message:history`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryPage {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// True when the window holds more in the direction asked.
    pub more: bool,
}

/// `message:read`: the member has read up to and including `seq`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReadMark {
    pub seq: u64,
}

/// `read`, pushed to the other members.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReadEvent {
    pub user_id: String,
    pub seq: u64,
}

/// `typing`, pushed to the other members.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TypingEvent {
    pub user_id: String,
}

/// `message:edit`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    pub seq: u64,
    pub body: String,
}

/// `message:delete`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Delete {
    pub seq: u64,
}

/// Checks a body the way the server does, so clients can check early.
pub fn check_body(body: &str) -> Result<(), &'static str> {
    if body.trim().is_empty() {
        return Err("body must not be empty");
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err("body is longer than 4000 characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_limit_counts_characters_not_bytes() {
        let ok = "é".repeat(MAX_BODY_CHARS);
        assert!(ok.len() > MAX_BODY_CHARS);
        assert!(check_body(&ok).is_ok());
        assert!(check_body(&"a".repeat(MAX_BODY_CHARS + 1)).is_err());
        assert!(check_body("  ").is_err());
    }

    #[test]
    fn send_refuses_unknown_fields() {
        let r: Result<Send, _> =
            serde_json::from_str(r#"{"client_msg_id":"a","body":"b","admin":true}"#);
        assert!(r.is_err());
    }
}
