//! Typed messages between actors.

use std::sync::Arc;

use actix::prelude::*;
use cms_protocol::{Reply, Topic, presence};
use serde_json::Value;

use crate::identity::Identity;

/// Identifies one socket for the lifetime of the process.
pub type SocketId = u64;

/// A server push to one socket on one topic. The payload is encoded once and
/// shared by every recipient of a broadcast; each socket adds its join_ref.
/// Cloning is cheap (reference counts only): a broadcast clones per socket.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Push {
    pub topic: Topic,
    pub event: &'static str,
    pub payload: Arc<str>,
}

impl Push {
    /// Encodes `payload` once for every recipient.
    ///
    /// Wire payloads are plain structs and JSON values, so encoding cannot
    /// fail in practice; if a future type makes it fail, the push still goes
    /// out (with a `null` payload, so clients refetch) and the failure is
    /// logged at error level rather than swallowed. Returning a `Result`
    /// would put an unreachable error arm in every publisher.
    pub fn new(topic: Topic, event: &'static str, payload: &impl serde::Serialize) -> Self {
        let payload = match serde_json::to_string(payload) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(%topic, event, error = %e, "push payload failed to encode; sending null");
                "null".to_owned()
            }
        };
        Self {
            topic,
            event,
            payload: payload.into(),
        }
    }
}

/// Closes a socket with a WebSocket close code (logout, shutdown).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
}

/// The closes the server sends for the account's sake, one place for the
/// codes docs/protocol.md lists. 4000–4999 are the application's own
/// (RFC 6455 §7.4.2): 4001 says "get a new token", 4003 "you may not".
impl Close {
    pub const LOGGED_OUT: Close = Close {
        code: 1008,
        reason: "logged out",
    };
    pub const TOKEN_EXPIRED: Close = Close {
        code: 4001,
        reason: "token expired",
    };
    pub const SUSPENDED: Close = Close {
        code: 4003,
        reason: "account suspended",
    };
    pub const SHUTTING_DOWN: Close = Close {
        code: 1001,
        reason: "server shutting down",
    };
}

/// A socket asks to join a topic actor's topic.
#[derive(Message)]
#[rtype(result = "Result<Joined, Reply>")]
pub struct Join {
    pub socket_id: SocketId,
    pub identity: Identity,
    pub recipient: Recipient<Push>,
    pub params: Value,
}

/// A successful join: the reply payload and, on presence topics, the
/// `presence_state` the socket pushes right after the reply.
#[derive(Debug)]
pub struct Joined {
    pub response: Value,
    pub presence: Option<presence::State>,
}

/// The socket left the topic or closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub socket_id: SocketId,
}

/// A client event on a joined topic, as the frame carried it; answered by a
/// `phx_reply`. The topic actor decodes it first thing with its kind's event
/// enum (`cms_protocol::client_event`), so the frame's name and payload are
/// read in one place.
#[derive(Message)]
#[rtype(result = "Result<Value, Reply>")]
pub struct ClientEvent {
    pub socket_id: SocketId,
    pub identity: Identity,
    pub event: String,
    pub payload: Value,
}

/// A topic actor has had no sockets for its idle time.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Idle {
    pub topic: Topic,
}

/// Pushes an event to every socket joined to a topic actor's topic (from
/// the broker: a calendar change, a failed delivery …).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Broadcast(pub Push);

/// The registry's answer: the actor may stop (it has been forgotten).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;
