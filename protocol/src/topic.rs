//! Topic names: `kind:id`, plus Phoenix's own `phoenix` topic for heartbeats.

use std::fmt;

/// A channel a socket can join. Ids are opaque strings (record keys).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Phoenix's socket-level topic: heartbeats only.
    Phoenix,
    Conversation(String),
    Family(String),
    Tutor(String),
    User(String),
    /// Reserved: the live lesson room.
    Session(String),
    /// The admins' live board: every calendar change, later live lessons.
    AdminMonitor,
}

/// Longest id accepted in a topic; record keys are far shorter.
const MAX_ID_LEN: usize = 128;

impl Topic {
    /// Parses a topic string; `None` for names the server does not serve.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "phoenix" => return Some(Self::Phoenix),
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
        let id = id.to_owned();
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

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Phoenix => f.write_str("phoenix"),
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
