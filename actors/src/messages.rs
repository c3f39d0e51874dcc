//! Typed messages between actors.

use std::sync::Arc;

use actix::prelude::*;
use cms_protocol::{Reply, presence};
use serde_json::Value;

use crate::identity::Identity;

/// Identifies one socket for the lifetime of the process.
pub type SocketId = u64;

/// A server push to one socket on one topic. The payload is encoded once and
/// shared by every recipient of a broadcast; each socket adds its join_ref.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Push {
    pub topic: Arc<str>,
    pub event: &'static str,
    pub payload: Arc<str>,
}

impl Push {
    pub fn new(topic: Arc<str>, event: &'static str, payload: &impl serde::Serialize) -> Self {
        Self {
            topic,
            event,
            payload: serde_json::to_string(payload)
                .unwrap_or_else(|_| "null".to_owned())
                .into(),
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

/// A client event on a joined topic; answered by a `phx_reply`.
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
    pub topic: Arc<str>,
}

/// The registry's answer: the actor may stop (it has been forgotten).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;
