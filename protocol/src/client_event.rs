//! Client events, typed: what a client may send on a joined topic, decoded
//! from a frame's event name and payload into one enum per topic kind.
//!
//! Decoding checks the shape only (known name, payload fields and types);
//! rules that need the server (body length, membership) stay with the
//! handler. A failure is an [`EventError`], which maps to the `phx_reply`
//! error the server has always sent for it: the reason code and the text
//! are part of the wire contract, so they are pinned by the tests below.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::chat;
use crate::event;
use crate::lesson;
use crate::reply::{Reply, reason};
use crate::topic::Topic;

/// The events one kind of topic takes. Each kind has exactly one
/// implementation, so a new kind of topic says here what it accepts.
pub trait TopicEvents: Sized {
    /// Decodes an event sent on `topic` (a topic of this kind).
    fn decode(topic: &Topic, event: &str, payload: Value) -> Result<Self, EventError>;
}

/// Why a client event was refused before any handler saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    /// The topic kind has no event of this name.
    Unknown { event: String },
    /// The topic kind takes no client events at all (it only pushes).
    NoEvents { topic: Topic },
    /// A known event whose payload does not fit; `error` is the decoder's
    /// text, which clients have always been sent.
    BadPayload { event: &'static str, error: String },
}

impl EventError {
    /// The stable reason code of the error reply.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unknown { .. } | Self::NoEvents { .. } => reason::UNKNOWN_EVENT,
            Self::BadPayload { .. } => reason::BAD_REQUEST,
        }
    }

    /// The `phx_reply` error payload sent to the client.
    pub fn reply(&self) -> Reply {
        Reply::error(self.reason(), self.to_string())
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown { event } => write!(f, "unknown event {event:?}"),
            Self::NoEvents { topic } => write!(f, "{topic} takes no events"),
            Self::BadPayload { error, .. } => f.write_str(error),
        }
    }
}

impl std::error::Error for EventError {}

impl From<EventError> for Reply {
    fn from(e: EventError) -> Self {
        e.reply()
    }
}

/// What a member may send on `conversation:<id>`.
#[derive(Debug, Clone)]
pub enum ConversationEvent {
    /// `message:send`.
    Send(chat::Send),
    /// `message:history`.
    History(chat::History),
    /// `message:read`.
    Read(chat::ReadMark),
    /// `message:edit`.
    Edit(chat::Edit),
    /// `message:delete`.
    Delete(chat::Delete),
    /// `typing`: ephemeral. Its payload is ignored, as it always has been
    /// (clients send `{}`), so no payload is refused.
    Typing,
}

impl ConversationEvent {
    /// The event's wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Send(_) => event::MESSAGE_SEND,
            Self::History(_) => event::MESSAGE_HISTORY,
            Self::Read(_) => event::MESSAGE_READ,
            Self::Edit(_) => event::MESSAGE_EDIT,
            Self::Delete(_) => event::MESSAGE_DELETE,
            Self::Typing => event::TYPING,
        }
    }
}

impl TopicEvents for ConversationEvent {
    fn decode(_topic: &Topic, name: &str, payload: Value) -> Result<Self, EventError> {
        Ok(match name {
            event::MESSAGE_SEND => Self::Send(payload_of(event::MESSAGE_SEND, payload)?),
            event::MESSAGE_HISTORY => Self::History(payload_of(event::MESSAGE_HISTORY, payload)?),
            event::MESSAGE_READ => Self::Read(payload_of(event::MESSAGE_READ, payload)?),
            event::MESSAGE_EDIT => Self::Edit(payload_of(event::MESSAGE_EDIT, payload)?),
            event::MESSAGE_DELETE => Self::Delete(payload_of(event::MESSAGE_DELETE, payload)?),
            event::TYPING => Self::Typing,
            other => {
                return Err(EventError::Unknown {
                    event: other.to_owned(),
                });
            }
        })
    }
}

/// What someone in a lesson room may send on `session:<id>`. Who may do
/// what (a parent may not start a lesson) is the handler's question.
#[derive(Debug, Clone)]
pub enum LessonEvent {
    /// `lesson:start`. Its payload is ignored (clients send `{}`): there
    /// is nothing to say but "now".
    Start,
    /// `lesson:end`: attendance, notes, an optional homework hint.
    End(lesson::EndLesson),
    /// `webrtc:signal`: relayed to one participant, never stored.
    Signal(lesson::Signal),
}

impl LessonEvent {
    /// The event's wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Start => event::LESSON_START,
            Self::End(_) => event::LESSON_END,
            Self::Signal(_) => event::WEBRTC_SIGNAL,
        }
    }
}

impl TopicEvents for LessonEvent {
    fn decode(_topic: &Topic, name: &str, payload: Value) -> Result<Self, EventError> {
        Ok(match name {
            event::LESSON_START => Self::Start,
            event::LESSON_END => Self::End(payload_of(event::LESSON_END, payload)?),
            event::WEBRTC_SIGNAL => Self::Signal(payload_of(event::WEBRTC_SIGNAL, payload)?),
            other => {
                return Err(EventError::Unknown {
                    event: other.to_owned(),
                });
            }
        })
    }
}

/// The events of a topic that only pushes (`family:<id>`, `tutor:<id>`,
/// `user:<id>`, `admin:monitor`): none. The type has no values, so decoding
/// always fails, and a handler given one cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEvents {}

impl TopicEvents for NoEvents {
    fn decode(topic: &Topic, _event: &str, _payload: Value) -> Result<Self, EventError> {
        Err(EventError::NoEvents {
            topic: topic.clone(),
        })
    }
}

/// A client event decoded for whichever kind of topic it was sent on.
#[derive(Debug, Clone)]
pub enum TopicEvent {
    Conversation(ConversationEvent),
    Lesson(LessonEvent),
}

impl TopicEvent {
    /// Decodes with the event enum of `topic`'s kind. The match is
    /// exhaustive on purpose: a new kind of topic must choose its enum.
    pub fn decode(topic: &Topic, event: &str, payload: Value) -> Result<Self, EventError> {
        match topic {
            Topic::Conversation(_) => {
                ConversationEvent::decode(topic, event, payload).map(Self::Conversation)
            }
            Topic::Session(_) => LessonEvent::decode(topic, event, payload).map(Self::Lesson),
            Topic::Family(_)
            | Topic::Tutor(_)
            | Topic::User(_)
            | Topic::AdminMonitor
            | Topic::Phoenix => NoEvents::decode(topic, event, payload).map(|n| match n {}),
        }
    }
}

fn payload_of<T: DeserializeOwned>(event: &'static str, payload: Value) -> Result<T, EventError> {
    serde_json::from_value(payload).map_err(|e| EventError::BadPayload {
        event,
        error: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::ReplyStatus;
    use serde_json::json;

    fn topic(s: &str) -> Topic {
        Topic::parse(s).expect(s)
    }

    #[test]
    fn conversation_events_decode_to_their_variants() {
        let t = topic("conversation:c1");
        let ok = [
            (
                event::MESSAGE_SEND,
                json!({"client_msg_id": "a", "body": "hi"}),
            ),
            (event::MESSAGE_HISTORY, json!({"before_seq": 9, "limit": 5})),
            (event::MESSAGE_READ, json!({"seq": 3})),
            (event::MESSAGE_EDIT, json!({"seq": 3, "body": "hello"})),
            (event::MESSAGE_DELETE, json!({"seq": 3})),
            (event::TYPING, json!({})),
            // Typing has always ignored its payload.
            (event::TYPING, json!("anything")),
        ];
        for (name, payload) in ok {
            let ev = ConversationEvent::decode(&t, name, payload.clone())
                .unwrap_or_else(|e| panic!("{name} {payload}: {e}"));
            assert_eq!(ev.name(), name);
        }
        match ConversationEvent::decode(
            &t,
            event::MESSAGE_SEND,
            json!({"client_msg_id": "a", "body": "hi"}),
        ) {
            Ok(ConversationEvent::Send(s)) => {
                assert_eq!((s.client_msg_id.as_str(), s.body.as_str()), ("a", "hi"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn conversation_refuses_unknown_events() {
        let t = topic("conversation:c1");
        for name in ["no:such", "", "phx_join", "message:new", "calendar:changed"] {
            let e = ConversationEvent::decode(&t, name, json!({})).expect_err(name);
            assert_eq!(e, EventError::Unknown { event: name.into() });
            let r = e.reply();
            assert_eq!(r.status, ReplyStatus::Error);
            assert_eq!(r.response["reason"], "unknown_event");
            // The text the server has always sent: the name, debug-quoted.
            assert_eq!(r.response["message"], format!("unknown event {name:?}"));
        }
    }

    #[test]
    fn conversation_refuses_bad_payloads() {
        let t = topic("conversation:c1");
        let bad = [
            (event::MESSAGE_SEND, json!({"body": "no id"})),
            (
                event::MESSAGE_SEND,
                json!({"client_msg_id": "a", "body": 5}),
            ),
            (event::MESSAGE_SEND, json!("text")),
            (
                event::MESSAGE_SEND,
                json!({"client_msg_id": "a", "body": "x", "extra": 1}),
            ),
            (event::MESSAGE_HISTORY, json!({"before_seq": "x"})),
            (event::MESSAGE_HISTORY, json!({"page": 1})),
            (event::MESSAGE_READ, json!({})),
            (event::MESSAGE_READ, json!({"seq": -1})),
            (event::MESSAGE_EDIT, json!({"seq": 1})),
            (event::MESSAGE_DELETE, json!(null)),
        ];
        for (name, payload) in bad {
            let e = ConversationEvent::decode(&t, name, payload.clone())
                .expect_err(&format!("{name} {payload}"));
            let EventError::BadPayload { event, error } = &e else {
                panic!("{name} {payload}: {e:?}");
            };
            assert_eq!(*event, name);
            let r = e.reply();
            assert_eq!(r.response["reason"], "bad_request", "{name} {payload}");
            // The decoder's own text, as before typed events.
            assert_eq!(r.response["message"], error.as_str());
        }
        let e = ConversationEvent::decode(&t, event::MESSAGE_READ, json!({})).expect_err("no seq");
        assert_eq!(e.to_string(), "missing field `seq`");
    }

    #[test]
    fn push_only_topics_refuse_every_event() {
        for name in ["family:f1", "tutor:t1", "user:u1", "admin:monitor"] {
            let t = topic(name);
            for (event, payload) in [
                ("no:such", json!({})),
                (
                    event::MESSAGE_SEND,
                    json!({"client_msg_id": "a", "body": "hi"}),
                ),
                (event::TYPING, json!({})),
                (event::MESSAGE_READ, json!("bad payload")),
            ] {
                let e = NoEvents::decode(&t, event, payload.clone()).expect_err(name);
                let r = e.reply();
                assert_eq!(r.response["reason"], "unknown_event", "{name} {event}");
                assert_eq!(r.response["message"], format!("{name} takes no events"));
                let e2 = TopicEvent::decode(&t, event, payload).expect_err(name);
                assert_eq!(e2, e);
            }
        }
    }

    #[test]
    fn topic_event_picks_the_enum_of_the_topic_kind() {
        let t = topic("conversation:c1");
        assert!(matches!(
            TopicEvent::decode(&t, event::MESSAGE_READ, json!({"seq": 1})),
            Ok(TopicEvent::Conversation(ConversationEvent::Read(
                chat::ReadMark { seq: 1 }
            )))
        ));
        assert_eq!(
            TopicEvent::decode(&t, "no:such", json!({})).map(|_| ()),
            Err(EventError::Unknown {
                event: "no:such".into()
            })
        );
    }

    #[test]
    fn lesson_events_decode_and_refuse_like_the_others() {
        let t = topic("session:l1");
        assert!(matches!(
            TopicEvent::decode(&t, event::LESSON_START, json!({})),
            Ok(TopicEvent::Lesson(LessonEvent::Start))
        ));
        let end = json!({
            "attendance": [{"student_id": "s1", "status": "late"}], "notes": "fractions"
        });
        match LessonEvent::decode(&t, event::LESSON_END, end) {
            Ok(LessonEvent::End(e)) => {
                assert_eq!(e.attendance[0].status, lesson::Mark::Late);
                assert_eq!(e.homework_hint, None);
            }
            other => panic!("{other:?}"),
        }
        let signal = json!({"to": "u2", "kind": "ice", "data": {"candidate": "x"}});
        match LessonEvent::decode(&t, event::WEBRTC_SIGNAL, signal) {
            Ok(ev @ LessonEvent::Signal(_)) => assert_eq!(ev.name(), event::WEBRTC_SIGNAL),
            other => panic!("{other:?}"),
        }
        for (name, payload) in [
            (
                event::WEBRTC_SIGNAL,
                json!({"to": "u2", "kind": "hello", "data": 1}),
            ),
            (event::WEBRTC_SIGNAL, json!({"kind": "offer", "data": 1})),
            (event::LESSON_END, json!({"attendance": [], "notes": 5})),
            (
                event::LESSON_END,
                json!({"attendance": [{"student_id": "s1", "status": "unconfirmed"}], "notes": ""}),
            ),
        ] {
            let e = LessonEvent::decode(&t, name, payload.clone()).expect_err(name);
            assert_eq!(e.reason(), "bad_request", "{name} {payload}");
        }
        let e = LessonEvent::decode(&t, event::MESSAGE_SEND, json!({})).expect_err("chat");
        assert_eq!(e.reply().response["reason"], "unknown_event");
    }

    #[test]
    fn error_converts_into_the_same_reply() {
        let e = EventError::Unknown { event: "x".into() };
        assert_eq!(Reply::from(e.clone()), e.reply());
    }
}
