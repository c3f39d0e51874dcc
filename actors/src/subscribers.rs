//! The sockets joined to one topic, and fan-out to them.

use actix::Recipient;
use std::collections::HashMap;

use crate::messages::{Push, SocketId};

pub struct Subscriber {
    pub user_id: String,
    pub recipient: Recipient<Push>,
}

#[derive(Default)]
pub struct Subscribers {
    by_socket: HashMap<SocketId, Subscriber>,
}

impl Subscribers {
    pub fn insert(&mut self, id: SocketId, sub: Subscriber) -> Option<Subscriber> {
        self.by_socket.insert(id, sub)
    }

    pub fn remove(&mut self, id: SocketId) -> Option<Subscriber> {
        self.by_socket.remove(&id)
    }

    pub fn is_empty(&self) -> bool {
        self.by_socket.is_empty()
    }

    /// Sends to one socket; false if it has not joined.
    pub fn send_to(&self, id: SocketId, push: &Push) -> bool {
        match self.by_socket.get(&id) {
            Some(sub) => {
                sub.recipient.do_send(push.clone());
                true
            }
            None => false,
        }
    }

    /// Sends to every joined socket of `user_id` but `except`; answers
    /// how many it went to.
    pub fn send_to_user(&self, user_id: &str, push: &Push, except: Option<SocketId>) -> usize {
        let mut sent = 0;
        for (id, sub) in &self.by_socket {
            if sub.user_id == user_id && Some(*id) != except {
                sub.recipient.do_send(push.clone());
                sent += 1;
            }
        }
        sent
    }

    /// Sends to every socket but `except`; answers how many it went to. A
    /// full or closed mailbox is not waited on: a slow socket must not hold
    /// up a conversation, and a socket that misses a push recovers it by
    /// rejoining with `since_seq`.
    pub fn broadcast(&self, push: &Push, except: Option<SocketId>) -> usize {
        let mut sent = 0;
        for (id, sub) in &self.by_socket {
            if Some(*id) != except {
                sub.recipient.do_send(push.clone());
                sent += 1;
            }
        }
        sent
    }
}
