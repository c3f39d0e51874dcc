//! The lifecycle every topic actor shares, in one place: its topic, the
//! sockets joined to it, the idle check that reports it to the registry, and
//! retirement. Conversation and group actors embed a [`TopicCore`]; a new
//! kind of topic actor (a live lesson) embeds one too and writes only what
//! is its own: its cache, its join rule and its events.
//!
//! actix does not let this crate implement `Handler<Leave>` or
//! `Handler<Retire>` once for every topic actor (the orphan rule forbids a
//! blanket impl of a foreign trait), so each actor keeps a two-line handler
//! that calls into the core.

use std::time::{Duration, Instant};

use actix::prelude::*;
use cms_protocol::reply::reason;
use cms_protocol::{Reply, Topic, event};
use serde_json::json;

use crate::messages::{Idle, Push, SocketId};
use crate::registry::Registry;
use crate::subscribers::{Subscriber, Subscribers};

/// How often an actor checks whether it has been idle long enough to stop.
pub const IDLE_CHECK: Duration = Duration::from_secs(15);

/// A topic actor: an actor that embeds a [`TopicCore`].
pub trait TopicActor: Actor<Context = Context<Self>> {
    fn core(&self) -> &TopicCore;
}

/// The state every topic actor keeps the same way.
pub struct TopicCore {
    topic: Topic,
    registry: Addr<Registry>,
    /// How long the actor lives on with no sockets.
    idle_after: Duration,
    /// Joined sockets. Kept across a supervised restart: they are live
    /// connections, not cached data.
    subscribers: Subscribers,
    last_active: Instant,
    /// Set once the registry has forgotten this actor: joins go elsewhere.
    retired: bool,
    idle_timer: Option<SpawnHandle>,
}

impl TopicCore {
    pub fn new(topic: Topic, registry: Addr<Registry>, idle_after: Duration) -> Self {
        Self {
            topic,
            registry,
            idle_after,
            subscribers: Subscribers::default(),
            last_active: Instant::now(),
            retired: false,
            idle_timer: None,
        }
    }

    pub fn topic(&self) -> &Topic {
        &self.topic
    }

    /// Call from `Actor::started`, which also runs after a supervised
    /// restart: sizes the mailbox and starts the idle check.
    pub fn started<A: TopicActor>(&mut self, ctx: &mut Context<A>, mailbox: usize) {
        ctx.set_mailbox_capacity(mailbox);
        self.last_active = Instant::now();
        self.idle_timer = Some(ctx.run_interval(IDLE_CHECK, |act: &mut A, _ctx| {
            act.core().report_if_idle();
        }));
    }

    /// Tells the registry once the actor has had no sockets for its idle
    /// time; the registry forgets it and answers with `Retire`.
    fn report_if_idle(&self) {
        if self.subscribers.is_empty() && self.last_active.elapsed() >= self.idle_after {
            self.registry.do_send(Idle {
                topic: self.topic.clone(),
            });
        }
    }

    /// Call from `Supervised::restarting`; the actor drops its own cache.
    pub fn restarting(&self) {
        tracing::warn!(topic = %self.topic, "topic actor restarting");
    }

    /// A retired actor turns joins away with `retired`, which the socket
    /// takes as "ask the registry again" (it is never sent to a client).
    pub fn refuse_if_retired(&self) -> Result<(), Reply> {
        if self.retired {
            return Err(Reply::error(reason::RETIRED, "the topic actor is stopping"));
        }
        Ok(())
    }

    /// Marks activity, so the idle clock starts again.
    pub fn touch(&mut self) {
        self.last_active = Instant::now();
    }

    /// Adds (or replaces) a joined socket.
    pub fn subscribe(&mut self, socket_id: SocketId, subscriber: Subscriber) {
        self.touch();
        self.subscribers.insert(socket_id, subscriber);
    }

    /// Removes a socket that left or closed.
    pub fn unsubscribe(&mut self, socket_id: SocketId) {
        self.subscribers.remove(socket_id);
        self.touch();
    }

    /// A push on this actor's topic.
    pub fn push(&self, event: &'static str, payload: &impl serde::Serialize) -> Push {
        Push::new(self.topic.clone(), event, payload)
    }

    /// Sends to every joined socket but `except`.
    /// Sends to every joined socket but `except`; answers how many.
    pub fn broadcast(&self, push: &Push, except: Option<SocketId>) -> usize {
        self.subscribers.broadcast(push, except)
    }

    /// Sends to one joined socket (a push that differs per person, such
    /// as a video token); false if it is not joined.
    pub fn send_to(&self, socket_id: SocketId, push: &Push) -> bool {
        self.subscribers.send_to(socket_id, push)
    }

    /// Sends to the joined sockets of one user but `except` (a signal
    /// for one participant); answers how many.
    pub fn send_to_user(&self, user_id: &str, push: &Push, except: Option<SocketId>) -> usize {
        self.subscribers.send_to_user(user_id, push, except)
    }

    /// The registry has dropped this actor's address. Stops the idle timer
    /// so nothing keeps the actor alive (it ends once the last address is
    /// gone). Answers true if sockets had joined in between, which have
    /// been told so and dropped: the actor forgets their presence too.
    pub fn retire<A: TopicActor>(&mut self, ctx: &mut Context<A>) -> bool {
        self.retired = true;
        if let Some(h) = self.idle_timer.take() {
            ctx.cancel_future(h);
        }
        if self.subscribers.is_empty() {
            return false;
        }
        // A socket joined between the idle report and now: it holds an
        // actor nobody else will find. phx_error makes Phoenix clients
        // rejoin, through the registry, on the live actor.
        let push = self.push(event::ERROR, &json!({}));
        self.subscribers.broadcast(&push, None);
        self.subscribers = Subscribers::default();
        true
    }
}
