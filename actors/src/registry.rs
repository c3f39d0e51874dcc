//! The hub: finds or starts the actor behind a topic, and knows every live
//! socket by user and by login session. It admits sockets up to the
//! per-user cap and hands each user's sockets their shared chat-message
//! bucket.
//!
//! It is the only owner of those maps. Topic actors are started on first use
//! under a `Supervisor` and forgotten when they report themselves idle.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::clock::Clock;
use cms_protocol::Topic;
use cms_protocol::board::RoomPerson;

use crate::board::{RoomPresence, RoomsPresence};
use crate::conversation::ConversationActor;
use crate::group::{self, GroupActor};
use crate::identity::Identity;
use crate::lesson::LessonActor;
use crate::lesson_port::{LessonPort, NoLessons};
use crate::messages::{Broadcast, Close, Idle, Push, Retire, SocketId};
use crate::rate_limit::{MessageRate, SharedMessageRate};
use crate::store::{ChatStore, GroupKind};

pub struct Registry {
    store: Arc<dyn ChatStore>,
    clock: Arc<dyn Clock>,
    /// How long a topic actor with no sockets lives on.
    idle_after: Duration,
    conversations: HashMap<String, Addr<ConversationActor>>,
    groups: HashMap<(GroupKind, String), Addr<GroupActor>>,
    /// Lesson rooms (`session:<id>`), by lesson id.
    lessons: HashMap<String, Addr<LessonActor>>,
    /// What lesson rooms read and do, served by the server.
    lesson_port: Arc<dyn LessonPort>,
    sockets: HashMap<SocketId, SocketEntry>,
    by_user: HashMap<String, HashSet<SocketId>>,
    by_session: HashMap<String, HashSet<SocketId>>,
    next_socket: SocketId,
    /// Set at shutdown: new sockets are refused.
    closing: bool,
    /// Sockets admitted ([`Admit`]) but not yet connected, by user: they
    /// count toward the cap so two upgrades at once cannot both take the
    /// last place.
    pending: HashMap<String, u32>,
    /// Each connected user's chat-message bucket, shared by their sockets;
    /// forgotten with their last socket.
    message_rates: HashMap<String, SharedMessageRate>,
}

struct SocketEntry {
    user_id: String,
    session_id: String,
    push: Recipient<Push>,
    close: Recipient<Close>,
}

impl Registry {
    pub fn new(store: Arc<dyn ChatStore>, clock: Arc<dyn Clock>, idle_after: Duration) -> Self {
        Self {
            store,
            clock,
            idle_after,
            conversations: HashMap::new(),
            groups: HashMap::new(),
            lessons: HashMap::new(),
            lesson_port: Arc::new(NoLessons),
            sockets: HashMap::new(),
            by_user: HashMap::new(),
            by_session: HashMap::new(),
            next_socket: 1,
            closing: false,
            pending: HashMap::new(),
            message_rates: HashMap::new(),
        }
    }

    /// Serves lesson rooms through `port`; without it every room join is
    /// refused as a stranger's.
    pub fn with_lessons(mut self, port: Arc<dyn LessonPort>) -> Self {
        self.lesson_port = port;
        self
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(16 * 1024);
    }
}

/// Asks for a place for one more socket of `user_id`, before the upgrade:
/// refused when the user already holds `limit` sockets (open or admitted).
#[derive(Message)]
#[rtype(result = "Result<Ticket, TooManySockets>")]
pub struct Admit {
    pub user_id: String,
    pub limit: u32,
}

/// The user already holds as many sockets as they may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at most {limit} sockets per user")]
pub struct TooManySockets {
    pub limit: u32,
}

/// A place held for a socket between [`Admit`] and [`Connect`]. Dropped
/// without connecting (the upgrade failed, the actor never started), it
/// gives the place back.
#[derive(Debug)]
pub struct Ticket {
    user_id: String,
    registry: Addr<Registry>,
    held: bool,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.held {
            self.registry.do_send(Release {
                user_id: std::mem::take(&mut self.user_id),
            });
        }
    }
}

/// Gives back a [`Ticket`]'s place.
#[derive(Message)]
#[rtype(result = "()")]
struct Release {
    user_id: String,
}

impl Registry {
    fn open_sockets(&self, user_id: &str) -> u32 {
        let open = self.by_user.get(user_id).map_or(0, HashSet::len);
        let pending = self.pending.get(user_id).copied().unwrap_or(0);
        u32::try_from(open)
            .unwrap_or(u32::MAX)
            .saturating_add(pending)
    }

    fn unpend(&mut self, user_id: &str) {
        if let Some(n) = self.pending.get_mut(user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.pending.remove(user_id);
            }
        }
    }
}

impl Handler<Admit> for Registry {
    type Result = Result<Ticket, TooManySockets>;

    fn handle(&mut self, msg: Admit, ctx: &mut Self::Context) -> Self::Result {
        if self.open_sockets(&msg.user_id) >= msg.limit {
            return Err(TooManySockets { limit: msg.limit });
        }
        *self.pending.entry(msg.user_id.clone()).or_default() += 1;
        Ok(Ticket {
            user_id: msg.user_id,
            registry: ctx.address(),
            held: true,
        })
    }
}

impl Handler<Release> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Release, _ctx: &mut Self::Context) {
        self.unpend(&msg.user_id);
    }
}

/// A socket has opened with the place its [`Ticket`] holds; answers its id
/// and its user's chat-message bucket, or `None` while shutting down.
#[derive(Message)]
#[rtype(result = "Option<Connected>")]
pub struct Connect {
    pub identity: Identity,
    pub push: Recipient<Push>,
    pub close: Recipient<Close>,
    pub ticket: Ticket,
    /// The user's chat messages a second, for a bucket made now.
    pub messages_per_second: u32,
}

/// The registry knows the socket.
#[derive(Debug)]
pub struct Connected {
    pub id: SocketId,
    pub message_rate: SharedMessageRate,
}

impl Handler<Connect> for Registry {
    type Result = Option<Connected>;

    fn handle(&mut self, mut msg: Connect, _ctx: &mut Self::Context) -> Option<Connected> {
        // The place turns into an open socket (or, when shutting down, is
        // simply given back).
        msg.ticket.held = false;
        self.unpend(&msg.ticket.user_id);
        if self.closing {
            return None;
        }
        let id = self.next_socket;
        self.next_socket += 1;
        let Identity {
            user_id,
            session_id,
            ..
        } = msg.identity;
        let clock = &self.clock;
        let message_rate = self
            .message_rates
            .entry(user_id.clone())
            .or_insert_with(|| {
                Arc::new(std::sync::Mutex::new(MessageRate::new(
                    msg.messages_per_second,
                    clock.now(),
                )))
            })
            .clone();
        self.by_user.entry(user_id.clone()).or_default().insert(id);
        self.by_session
            .entry(session_id.clone())
            .or_default()
            .insert(id);
        self.sockets.insert(
            id,
            SocketEntry {
                user_id,
                session_id,
                push: msg.push,
                close: msg.close,
            },
        );
        Some(Connected { id, message_rate })
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub socket_id: SocketId,
}

fn remove_from(map: &mut HashMap<String, HashSet<SocketId>>, key: &str, id: SocketId) {
    if let Some(set) = map.get_mut(key) {
        set.remove(&id);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

impl Handler<Disconnect> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, _ctx: &mut Self::Context) {
        if let Some(entry) = self.sockets.remove(&msg.socket_id) {
            remove_from(&mut self.by_user, &entry.user_id, msg.socket_id);
            remove_from(&mut self.by_session, &entry.session_id, msg.socket_id);
            if !self.by_user.contains_key(&entry.user_id) {
                self.message_rates.remove(&entry.user_id);
            }
        }
    }
}

/// The conversation's actor, started if need be.
#[derive(Message, Clone)]
#[rtype(result = "Addr<ConversationActor>")]
pub struct GetConversation(pub String);

impl Handler<GetConversation> for Registry {
    type Result = MessageResult<GetConversation>;

    fn handle(&mut self, msg: GetConversation, ctx: &mut Self::Context) -> Self::Result {
        let addr = self
            .conversations
            .entry(msg.0.clone())
            .or_insert_with(|| {
                let (store, clock, me, idle) = (
                    self.store.clone(),
                    self.clock.clone(),
                    ctx.address(),
                    self.idle_after,
                );
                let id = msg.0;
                Supervisor::start(move |_| ConversationActor::new(id, store, clock, me, idle))
            })
            .clone();
        MessageResult(addr)
    }
}

/// The family's or tutor's actor, started if need be.
#[derive(Message, Clone)]
#[rtype(result = "Addr<GroupActor>")]
pub struct GetGroup(pub GroupKind, pub String);

impl Handler<GetGroup> for Registry {
    type Result = MessageResult<GetGroup>;

    fn handle(&mut self, msg: GetGroup, ctx: &mut Self::Context) -> Self::Result {
        let addr = self
            .groups
            .entry((msg.0, msg.1.clone()))
            .or_insert_with(|| {
                let (store, me, idle) = (self.store.clone(), ctx.address(), self.idle_after);
                let (port, clock) = (self.lesson_port.clone(), self.clock.clone());
                let GetGroup(kind, id) = msg;
                Supervisor::start(move |_| {
                    GroupActor::new(kind, id, store, me, idle).with_board(port, clock)
                })
            })
            .clone();
        MessageResult(addr)
    }
}

/// The lesson room's actor, started if need be.
#[derive(Message, Clone)]
#[rtype(result = "Addr<LessonActor>")]
pub struct GetLesson(pub String);

impl Handler<GetLesson> for Registry {
    type Result = MessageResult<GetLesson>;

    fn handle(&mut self, msg: GetLesson, ctx: &mut Self::Context) -> Self::Result {
        let addr = self
            .lessons
            .entry(msg.0.clone())
            .or_insert_with(|| {
                let (port, clock, me, idle) = (
                    self.lesson_port.clone(),
                    self.clock.clone(),
                    ctx.address(),
                    self.idle_after,
                );
                let id = msg.0;
                Supervisor::start(move |_| LessonActor::new(id, port, clock, me, idle))
            })
            .clone();
        MessageResult(addr)
    }
}

impl Handler<RoomsPresence> for Registry {
    type Result = ResponseFuture<HashMap<String, Vec<RoomPerson>>>;

    fn handle(&mut self, msg: RoomsPresence, _ctx: &mut Self::Context) -> Self::Result {
        // Only the rooms running here: a lesson without one is empty.
        let rooms: Vec<(String, Addr<LessonActor>)> = msg
            .0
            .into_iter()
            .filter_map(|id| self.lessons.get(&id).cloned().map(|a| (id, a)))
            .collect();
        Box::pin(async move {
            let asked = rooms.into_iter().map(|(id, room)| async move {
                // A room retiring as it is asked has nobody in it.
                (id, room.send(RoomPresence).await.unwrap_or_default())
            });
            futures_util::future::join_all(asked)
                .await
                .into_iter()
                .filter(|(_, people)| !people.is_empty())
                .collect()
        })
    }
}

impl Handler<Idle> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Idle, _ctx: &mut Self::Context) {
        // Forget the actor, then let it go; sockets that still hold its
        // address are told it retired and come back here for a new one.
        if let Topic::Conversation(id) = &msg.topic {
            if let Some(addr) = self.conversations.remove(&**id) {
                addr.do_send(Retire);
            }
        } else if let Topic::Session(id) = &msg.topic {
            if let Some(addr) = self.lessons.remove(&**id) {
                addr.do_send(Retire);
            }
        } else if let Some((kind, id)) = group::group_of(&msg.topic)
            && let Some(addr) = self.groups.remove(&(kind, id.to_owned()))
        {
            addr.do_send(Retire);
        }
    }
}

/// Pushes an event to the sockets on its topic; see
/// [`crate::broker::Broker::publish`], the way publishers reach this.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish(pub Push);

impl Handler<Publish> for Registry {
    type Result = ();

    fn handle(&mut self, Publish(push): Publish, _ctx: &mut Self::Context) {
        match &push.topic {
            // Nobody listens to a topic without a live actor, so there is
            // nothing to do then.
            Topic::Conversation(id) => {
                if let Some(addr) = self.conversations.get(&**id) {
                    addr.do_send(Broadcast(push));
                }
            }
            // Every socket of the user; each forwards it only if it has
            // joined `user:<id>`.
            Topic::User(user_id) => {
                for id in self.by_user.get(&**user_id).into_iter().flatten() {
                    if let Some(s) = self.sockets.get(id) {
                        s.push.do_send(push.clone());
                    }
                }
            }
            Topic::Family(_) | Topic::Tutor(_) | Topic::AdminMonitor => {
                if let Some((kind, id)) = group::group_of(&push.topic)
                    && let Some(addr) = self.groups.get(&(kind, id.to_owned()))
                {
                    addr.do_send(Broadcast(push));
                }
            }
            // A lesson's transitions: its room, if anyone is in it.
            Topic::Session(id) => {
                if let Some(addr) = self.lessons.get(&**id) {
                    addr.do_send(Broadcast(push));
                }
            }
            Topic::Phoenix => {
                tracing::debug!(topic = %push.topic, "push on a topic nobody can join; dropped");
            }
        }
    }
}

/// Closes every socket opened with a login session (logout). Answers how
/// many were closed.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseSession {
    pub session_id: String,
}

impl Handler<CloseSession> for Registry {
    type Result = usize;

    fn handle(&mut self, msg: CloseSession, _ctx: &mut Self::Context) -> usize {
        let ids = self
            .by_session
            .get(&msg.session_id)
            .cloned()
            .unwrap_or_default();
        for id in &ids {
            if let Some(s) = self.sockets.get(id) {
                s.close.do_send(Close::LOGGED_OUT);
            }
        }
        ids.len()
    }
}

/// Closes every socket of a user with `close` (an admin suspended the
/// account: [`Close::SUSPENDED`]). Answers how many were closed.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseUser {
    pub user_id: String,
    pub close: Close,
}

impl Handler<CloseUser> for Registry {
    type Result = usize;

    fn handle(&mut self, msg: CloseUser, _ctx: &mut Self::Context) -> usize {
        let ids = self.by_user.get(&msg.user_id).cloned().unwrap_or_default();
        for id in &ids {
            if let Some(s) = self.sockets.get(id) {
                s.close.do_send(msg.close.clone());
            }
        }
        ids.len()
    }
}

/// Shutdown: refuse new sockets, close every open one with 1001 (going
/// away). Answers how many were closed.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseAll;

impl Handler<CloseAll> for Registry {
    type Result = usize;

    fn handle(&mut self, _: CloseAll, _ctx: &mut Self::Context) -> usize {
        self.closing = true;
        for s in self.sockets.values() {
            s.close.do_send(Close::SHUTTING_DOWN);
        }
        self.sockets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};
    use cms_protocol::chat::Message as ChatMessage;

    use crate::clock::ManualClock;
    use crate::identity::Role;
    use crate::store::{Appended, ConversationInfo, StoreError};

    /// The admission tests never reach the store.
    struct NoStore;

    #[async_trait]
    impl ChatStore for NoStore {
        async fn conversation(&self, _: &str) -> Result<ConversationInfo, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn group_members(&self, _: GroupKind, _: &str) -> Result<Vec<String>, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn latest_seq(&self, _: &str) -> Result<u64, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn append_message(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: &str,
            _: DateTime<Utc>,
        ) -> Result<Appended, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn messages_after(
            &self,
            _: &str,
            _: u64,
            _: usize,
        ) -> Result<Vec<ChatMessage>, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn messages_before(
            &self,
            _: &str,
            _: u64,
            _: usize,
        ) -> Result<Vec<ChatMessage>, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn set_read_mark(
            &self,
            _: &str,
            _: &str,
            _: u64,
            _: DateTime<Utc>,
        ) -> Result<u64, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn revise_message(
            &self,
            _: &str,
            _: u64,
            _: &str,
            _: Option<&str>,
            _: DateTime<Utc>,
        ) -> Result<ChatMessage, StoreError> {
            Err(StoreError::NotFound)
        }
    }

    /// Stands in for a socket: records the closes it is sent.
    struct FakeSocket {
        closes: Arc<std::sync::Mutex<Vec<u16>>>,
    }

    impl Actor for FakeSocket {
        type Context = Context<Self>;
    }

    impl Handler<Push> for FakeSocket {
        type Result = ();
        fn handle(&mut self, _: Push, _: &mut Context<Self>) {}
    }

    impl Handler<Close> for FakeSocket {
        type Result = ();
        fn handle(&mut self, msg: Close, _: &mut Context<Self>) {
            self.closes.lock().unwrap().push(msg.code);
        }
    }

    fn registry() -> Addr<Registry> {
        let clock = Arc::new(ManualClock::new(DateTime::<Utc>::UNIX_EPOCH));
        Registry::new(Arc::new(NoStore), clock, Duration::from_secs(60)).start()
    }

    async fn admit(r: &Addr<Registry>, user: &str) -> Result<Ticket, TooManySockets> {
        r.send(Admit {
            user_id: user.into(),
            limit: 2,
        })
        .await
        .unwrap()
    }

    async fn connect(r: &Addr<Registry>, user: &str, socket: &Addr<FakeSocket>) -> Connected {
        let ticket = admit(r, user).await.unwrap();
        let identity = Identity {
            user_id: user.into(),
            name: user.into(),
            role: Role::Parent,
            session_id: format!("{user}-session"),
        };
        r.send(Connect {
            identity,
            push: socket.clone().recipient(),
            close: socket.clone().recipient(),
            ticket,
            messages_per_second: 5,
        })
        .await
        .unwrap()
        .unwrap()
    }

    #[actix_rt::test]
    async fn admitted_places_count_and_a_dropped_ticket_gives_its_place_back() {
        let r = registry();
        let _a = admit(&r, "u").await.unwrap();
        let b = admit(&r, "u").await.unwrap();
        // Neither has connected yet, and still the third is refused.
        assert_eq!(
            admit(&r, "u").await.unwrap_err(),
            TooManySockets { limit: 2 }
        );
        assert!(admit(&r, "v").await.is_ok(), "the cap is per user");
        // An upgrade that failed drops its ticket.
        drop(b);
        assert!(admit(&r, "u").await.is_ok());
    }

    #[actix_rt::test]
    async fn a_users_sockets_share_one_message_bucket_and_close_together() {
        let r = registry();
        let closes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let socket = FakeSocket {
            closes: closes.clone(),
        }
        .start();
        let one = connect(&r, "u", &socket).await;
        let two = connect(&r, "u", &socket).await;
        let other = connect(&r, "v", &socket).await;
        assert!(Arc::ptr_eq(&one.message_rate, &two.message_rate));
        assert!(!Arc::ptr_eq(&one.message_rate, &other.message_rate));
        // Two open sockets fill the user's places.
        assert!(admit(&r, "u").await.is_err());
        let closed = r
            .send(CloseUser {
                user_id: "u".into(),
                close: Close::SUSPENDED,
            })
            .await
            .unwrap();
        assert_eq!(closed, 2);
        // A disconnect frees a place.
        r.send(Disconnect { socket_id: one.id }).await.unwrap();
        assert!(admit(&r, "u").await.is_ok());
        // The fake socket has had both closes by now (its mailbox is
        // drained before this answer comes back).
        socket
            .send(Push::new(Topic::Phoenix, "x", &()))
            .await
            .unwrap();
        assert_eq!(*closes.lock().unwrap(), [4003, 4003]);
    }
}
