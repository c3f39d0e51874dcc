//! The v2 frame: `[join_ref, ref, topic, event, payload]` as one JSON array.
//!
//! Pushes from the server that answer nothing carry `null` refs; replies echo
//! the client's `join_ref` and `ref` so the client can match them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One Phoenix v2 message, in either direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawFrame", into = "RawFrame")]
pub struct Frame {
    /// Ref of the `phx_join` that opened the channel; ties every later frame
    /// to one join so a client can drop frames of a channel it has left.
    pub join_ref: Option<String>,
    /// Per-push ref chosen by the client; a reply echoes it.
    pub msg_ref: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Value,
}

/// The tuple the JSON array maps onto.
#[derive(Serialize, Deserialize)]
struct RawFrame(Option<String>, Option<String>, String, String, Value);

impl From<RawFrame> for Frame {
    fn from(RawFrame(join_ref, msg_ref, topic, event, payload): RawFrame) -> Self {
        Self {
            join_ref,
            msg_ref,
            topic,
            event,
            payload,
        }
    }
}

impl From<Frame> for RawFrame {
    fn from(f: Frame) -> Self {
        RawFrame(f.join_ref, f.msg_ref, f.topic, f.event, f.payload)
    }
}

/// Why a text frame could not be read as a Phoenix message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON, or not a five-element array of the right types.
    Malformed(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed frame: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl Frame {
    /// A server push that answers no request (a broadcast).
    pub fn push(topic: impl Into<String>, event: impl Into<String>, payload: Value) -> Self {
        Self {
            join_ref: None,
            msg_ref: None,
            topic: topic.into(),
            event: event.into(),
            payload,
        }
    }

    /// Reads one text frame. Refs sent as numbers (some older clients) are
    /// accepted and kept as their decimal text.
    pub fn decode(text: &str) -> Result<Self, FrameError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| FrameError::Malformed(e.to_string()))?;
        let Value::Array(mut items) = value else {
            return Err(FrameError::Malformed("expected a JSON array".into()));
        };
        if items.len() != 5 {
            return Err(FrameError::Malformed(format!(
                "expected 5 elements, got {}",
                items.len()
            )));
        }
        let payload = items.pop().unwrap_or(Value::Null);
        let event = take_string(items.pop(), "event")?;
        let topic = take_string(items.pop(), "topic")?;
        let msg_ref = take_ref(items.pop(), "ref")?;
        let join_ref = take_ref(items.pop(), "join_ref")?;
        Ok(Self {
            join_ref,
            msg_ref,
            topic,
            event,
            payload,
        })
    }

    /// The frame as the JSON text sent on the socket.
    pub fn encode(&self) -> String {
        // A Frame holds only strings and a JSON value: serialising cannot fail.
        serde_json::to_string(&RawFrame(
            self.join_ref.clone(),
            self.msg_ref.clone(),
            self.topic.clone(),
            self.event.clone(),
            self.payload.clone(),
        ))
        .unwrap_or_default()
    }
}

fn take_string(v: Option<Value>, what: &str) -> Result<String, FrameError> {
    match v {
        Some(Value::String(s)) => Ok(s),
        _ => Err(FrameError::Malformed(format!("{what} must be a string"))),
    }
}

fn take_ref(v: Option<Value>, what: &str) -> Result<Option<String>, FrameError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        _ => Err(FrameError::Malformed(format!(
            "{what} must be a string or null"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_a_phoenix_join() {
        let f = Frame::decode(r#"["1","1","conversation:abc","phx_join",{"since_seq":3}]"#)
            .expect("valid frame");
        assert_eq!(f.join_ref.as_deref(), Some("1"));
        assert_eq!(f.msg_ref.as_deref(), Some("1"));
        assert_eq!(f.topic, "conversation:abc");
        assert_eq!(f.event, "phx_join");
        assert_eq!(f.payload, json!({"since_seq": 3}));
    }

    #[test]
    fn encodes_nulls_for_a_broadcast() {
        let f = Frame::push("user:u1", "notification", json!({"a": 1}));
        assert_eq!(
            f.encode(),
            r#"[null,null,"user:u1","notification",{"a":1}]"#
        );
        assert_eq!(Frame::decode(&f.encode()).expect("round trip"), f);
    }

    #[test]
    fn refuses_what_is_not_a_five_array() {
        for bad in [
            "{}",
            "not json",
            r#"["1","1","t","e"]"#,
            r#"[1,"1",5,"e",{}]"#,
            r#"["1","1","t",null,{}]"#,
        ] {
            assert!(Frame::decode(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn numeric_refs_become_text() {
        let f = Frame::decode(r#"[null,7,"phoenix","heartbeat",{}]"#).expect("valid");
        assert_eq!(f.msg_ref.as_deref(), Some("7"));
        assert_eq!(f.join_ref, None);
    }
}
