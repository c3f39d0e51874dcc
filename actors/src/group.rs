//! One actor per active family, per active tutor, and one for the admins.
//!
//! It owns who may hear `family:<id>` (the family's parents), `tutor:<id>`
//! (the tutor) or `admin:monitor` (admins), loaded from the store, and fans
//! pushes out to the sockets joined there: `calendar:changed` arrives
//! through the broker. Its lifecycle (sockets, idle retire, restart) is the
//! shared [`TopicCore`]; what is its own is the member cache.
//!
//! The admins' actor also serves the live board ([`crate::board`]): a join
//! is answered with the board as it is now, and each `board:lesson` gets
//! its room's people as last heard ([`board::RoomsSeen`]) as it goes out,
//! in the order the rows were published.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use cms_protocol::reply::reason;
use cms_protocol::{Reply, Topic, event};
use serde_json::json;

use crate::board;
use crate::clock::Clock;
use crate::guard::{Panicked, guarded};
use crate::lesson_port::LessonPort;
use crate::messages::{Broadcast, Join, Joined, Leave, Retire};
use crate::policy;
use crate::registry::Registry;
use crate::store::{ChatStore, GroupKind, StoreError};
use crate::subscribers::Subscriber;
use crate::topic_actor::{TopicActor, TopicCore};

/// The id the registry files the admins' actor under: there is one admin
/// topic, `admin:monitor`.
const ADMIN_MONITOR_ID: &str = "monitor";

/// Mailbox size: pushes from publishers and joins queue here.
const MAILBOX: usize = 1024;

/// The topic a group actor serves.
pub fn topic_of(kind: GroupKind, id: &str) -> Topic {
    match kind {
        GroupKind::Family => Topic::Family(id.into()),
        GroupKind::Tutor => Topic::Tutor(id.into()),
        GroupKind::Admins => Topic::AdminMonitor,
    }
}

/// The group actor behind a topic (kind and id), if a group actor serves it.
pub fn group_of(topic: &Topic) -> Option<(GroupKind, &str)> {
    match topic {
        Topic::Family(id) => Some((GroupKind::Family, id)),
        Topic::Tutor(id) => Some((GroupKind::Tutor, id)),
        Topic::AdminMonitor => Some((GroupKind::Admins, ADMIN_MONITOR_ID)),
        Topic::Phoenix | Topic::Conversation(_) | Topic::User(_) | Topic::Session(_) => None,
    }
}

pub struct GroupActor {
    core: TopicCore,
    kind: GroupKind,
    id: String,
    store: Arc<dyn ChatStore>,
    /// Users allowed to join, from the store; `None` until loaded.
    members: Option<Arc<Vec<String>>>,
    /// The lessons the admins' board reads and the clock its window
    /// follows; `None` for families and tutors.
    board: Option<(Arc<dyn LessonPort>, Arc<dyn Clock>)>,
    /// The board's rooms as last heard; empty for families and tutors.
    rooms: board::RoomsSeen,
    registry: Addr<Registry>,
}

impl GroupActor {
    pub fn new(
        kind: GroupKind,
        id: String,
        store: Arc<dyn ChatStore>,
        registry: Addr<Registry>,
        idle_after: Duration,
    ) -> Self {
        Self {
            core: TopicCore::new(topic_of(kind, &id), registry.clone(), idle_after),
            kind,
            id,
            store,
            members: None,
            board: None,
            rooms: board::RoomsSeen::default(),
            registry,
        }
    }

    /// The admins' actor serves the board from `port`, its window on
    /// `clock`; other groups have no board and ignore it.
    pub fn with_board(mut self, port: Arc<dyn LessonPort>, clock: Arc<dyn Clock>) -> Self {
        if self.kind == GroupKind::Admins {
            self.board = Some((port, clock));
        }
        self
    }
}

impl TopicActor for GroupActor {
    fn core(&self) -> &TopicCore {
        &self.core
    }
}

impl Actor for GroupActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.core.started(ctx, MAILBOX);
    }
}

impl Supervised for GroupActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        // The cache may be what made the handler panic: reload it.
        self.core.restarting();
        self.members = None;
    }
}

impl Handler<Join> for GroupActor {
    type Result = AtomicResponse<Self, Result<Joined, Reply>>;

    fn handle(&mut self, msg: Join, _ctx: &mut Self::Context) -> Self::Result {
        if let Err(r) = self.core.refuse_if_retired() {
            return AtomicResponse::new(Box::pin(fut::ready(Err(r))));
        }
        let cached = self.members.clone();
        let store = self.store.clone();
        let (kind, id) = (self.kind, self.id.clone());
        // The board is read inside the join's atomic step: a change pushed
        // meanwhile waits in the mailbox and follows the snapshot.
        let board = self.board.clone().map(|(port, clock)| {
            let at = clock.now();
            board::snapshot(port, self.registry.clone(), at)
        });
        let who = msg.identity.clone();
        let load = async move {
            let members = match cached {
                Some(m) => m,
                None => Arc::new(store.group_members(kind, &id).await?),
            };
            // Only read for someone who may see it; the refusal itself is
            // answered below.
            let snapshot = match board {
                Some(read) if policy::join_as_member(&who, &members).is_ok() => Some(read.await),
                _ => None,
            };
            Ok((members, snapshot))
        };
        AtomicResponse::new(Box::pin(guarded(load).into_actor(self).map(
            move |res, act, ctx| {
                let members = match res {
                    Err(Panicked) => {
                        ctx.stop();
                        return Err(Reply::error(reason::INTERNAL, "internal error"));
                    }
                    Ok(Err(StoreError::NotFound)) => {
                        return Err(policy::Refusal::NotMember.reply());
                    }
                    Ok(Err(e)) => {
                        let topic = act.core.topic();
                        tracing::error!(error = %e, %topic, "loading members failed");
                        return Err(Reply::error(reason::UNAVAILABLE, "try again"));
                    }
                    Ok(Ok(m)) => m,
                };
                let (members, snapshot) = members;
                act.members = Some(members.clone());
                let who = &msg.identity;
                policy::join_as_member(who, &members)?;
                let response = match snapshot {
                    None => json!({}),
                    Some(Ok(board)) => {
                        act.rooms.remember(&board.lessons);
                        serde_json::to_value(&board).map_err(|e| {
                            tracing::error!(error = %e, "the board did not encode");
                            Reply::error(reason::INTERNAL, "internal error")
                        })?
                    }
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "reading the board failed");
                        return Err(Reply::error(reason::UNAVAILABLE, "try again"));
                    }
                };
                act.core.subscribe(
                    msg.socket_id,
                    Subscriber {
                        user_id: who.user_id.clone(),
                        recipient: msg.recipient,
                    },
                );
                Ok(Joined {
                    response,
                    presence: None,
                })
            },
        )))
    }
}

impl Handler<Leave> for GroupActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, _ctx: &mut Self::Context) {
        self.core.unsubscribe(msg.socket_id);
    }
}

impl Handler<Retire> for GroupActor {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        self.core.retire(ctx);
    }
}

impl Handler<Broadcast> for GroupActor {
    type Result = ();

    fn handle(&mut self, msg: Broadcast, _ctx: &mut Self::Context) {
        if msg.0.event != event::BOARD_LESSON || self.board.is_none() {
            self.core.broadcast(&msg.0, None);
            return;
        }
        let push = self.rooms.complete(msg.0);
        self.core.broadcast(&push, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_topics_round_trip() {
        for (kind, id, text) in [
            (GroupKind::Family, "f1", "family:f1"),
            (GroupKind::Tutor, "t1", "tutor:t1"),
            (GroupKind::Admins, ADMIN_MONITOR_ID, "admin:monitor"),
        ] {
            let topic = topic_of(kind, id);
            assert_eq!(topic.to_string(), text);
            assert_eq!(group_of(&topic), Some((kind, id)));
        }
        assert_eq!(group_of(&Topic::Conversation("c".into())), None);
    }
}
