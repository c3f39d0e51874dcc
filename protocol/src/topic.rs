//! Topic names: `kind:id`, plus Phoenix's own `phoenix` topic for heartbeats.
//!
//! Every topic name the server or a client builds goes through [`Topic`], so
//! the spelling of a kind lives in one place (`parse` and `Display` here).

use std::fmt;
use std::sync::Arc;

/// A channel a socket can join. Ids are opaque strings (record keys), held
/// as `Arc<str>` because a topic rides on every push of a broadcast: cloning
/// it for each recipient is a reference-count bump, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Phoenix's socket-level topic: heartbeats only.
    Phoenix,
    Conversation(Arc<str>),
    Family(Arc<str>),
    Tutor(Arc<str>),
    User(Arc<str>),
    /// The live lesson room: `session:<lesson_id>`.
    Session(Arc<str>),
    /// The admins' live board: every calendar change, later live lessons.
    AdminMonitor,
}

/// Longest id accepted in a topic; record keys are far shorter.
const MAX_ID_LEN: usize = 128;

impl Topic {
    /// Parses a topic string; `None` for names the server does not serve.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            PHOENIX => return Some(Self::Phoenix),
            "admin:monitor" => return Some(Self::AdminMonitor),
            _ => {}
        }
        let (kind, id) = s.split_once(':')?;
        let valid = !id.is_empty()
            && id.len() <= MAX_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return None;
        }
        let id: Arc<str> = id.into();
        Some(match kind {
            "conversation" => Self::Conversation(id),
            "family" => Self::Family(id),
            "tutor" => Self::Tutor(id),
            "user" => Self::User(id),
            "session" => Self::Session(id),
            _ => return None,
        })
    }
}

/// The name of Phoenix's socket-level topic, for frames that need it as text
/// (heartbeats).
pub const PHOENIX: &str = "phoenix";

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Phoenix => f.write_str(PHOENIX),
            Self::AdminMonitor => f.write_str("admin:monitor"),
            Self::Conversation(id) => write!(f, "conversation:{id}"),
            Self::Family(id) => write!(f, "family:{id}"),
            Self::Tutor(id) => write!(f, "tutor:{id}"),
            Self::User(id) => write!(f, "user:{id}"),
            Self::Session(id) => write!(f, "session:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        for s in [
            "phoenix",
            "admin:monitor",
            "conversation:0193-ab_c",
            "family:f1",
            "tutor:t1",
            "user:u1",
            "session:s1",
        ] {
            let t = Topic::parse(s).expect(s);
            assert_eq!(t.to_string(), s);
        }
    }

    #[test]
    fn built_topics_print_as_parsed() {
        let t = Topic::Conversation("c1".into());
        assert_eq!(t.to_string(), "conversation:c1");
        assert_eq!(Topic::parse("conversation:c1"), Some(t));
        assert_eq!(Topic::User("u1".into()).to_string(), "user:u1");
    }

    #[test]
    fn refuses_unknown_or_odd_topics() {
        for s in [
            "",
            "room:lobby",
            "conversation:",
            "conversation:a:b",
            "user:../x",
            "conversation:⟨x⟩",
        ] {
            assert_eq!(Topic::parse(s), None, "{s}");
        }
    }
}
