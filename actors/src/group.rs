//! One actor per active family, per active tutor, and one for the admins.
//!
//! It owns who may hear `family:<id>` (the family's parents), `tutor:<id>`
//! (the tutor) or `admin:monitor` (admins), loaded from the store, and fans
//! pushes out to the sockets joined there: `calendar:changed` arrives
//! through the registry's `Publish`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use cms_protocol::reply::reason;
use cms_protocol::{Reply, event};
use serde_json::json;

use crate::conversation::IDLE_CHECK;
use crate::guard::{Panicked, guarded};
use crate::identity::Role;
use crate::messages::{Idle, Join, Joined, Leave, Push, Retire};
use crate::registry::Registry;
use crate::store::{ChatStore, GroupKind, StoreError};
use crate::subscribers::{Subscriber, Subscribers};

pub struct GroupActor {
    kind: GroupKind,
    id: String,
    topic: Arc<str>,
    store: Arc<dyn ChatStore>,
    registry: Addr<Registry>,
    idle_after: Duration,
    /// Users allowed to join, from the store; `None` until loaded.
    members: Option<Arc<Vec<String>>>,
    subscribers: Subscribers,
    last_active: Instant,
    retired: bool,
    idle_timer: Option<SpawnHandle>,
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
            kind,
            topic: format!("{}:{id}", kind.prefix()).into(),
            id,
            store,
            registry,
            idle_after,
            members: None,
            subscribers: Subscribers::default(),
            last_active: Instant::now(),
            retired: false,
            idle_timer: None,
        }
    }
}

impl Actor for GroupActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        self.idle_timer = Some(ctx.run_interval(IDLE_CHECK, |act, _ctx| {
            if act.subscribers.is_empty() && act.last_active.elapsed() >= act.idle_after {
                act.registry.do_send(Idle {
                    topic: act.topic.clone(),
                });
            }
        }));
    }
}

impl Supervised for GroupActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        tracing::warn!(topic = %self.topic, "group actor restarting");
        self.members = None;
    }
}

impl Handler<Join> for GroupActor {
    type Result = AtomicResponse<Self, Result<Joined, Reply>>;

    fn handle(&mut self, msg: Join, _ctx: &mut Self::Context) -> Self::Result {
        if self.retired {
            let r = Err(Reply::error(reason::RETIRED, "the topic actor is stopping"));
            return AtomicResponse::new(Box::pin(fut::ready(r)));
        }
        let cached = self.members.clone();
        let store = self.store.clone();
        let (kind, id) = (self.kind, self.id.clone());
        let load = async move {
            match cached {
                Some(m) => Ok(m),
                None => store.group_members(kind, &id).await.map(Arc::new),
            }
        };
        AtomicResponse::new(Box::pin(guarded(load).into_actor(self).map(
            move |res, act, ctx| {
                let members = match res {
                    Err(Panicked) => {
                        ctx.stop();
                        return Err(Reply::error(reason::INTERNAL, "internal error"));
                    }
                    Ok(Err(StoreError::NotFound)) => {
                        return Err(Reply::error(reason::UNAUTHORIZED, "not a member"));
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, topic = %act.topic, "loading members failed");
                        return Err(Reply::error(reason::UNAVAILABLE, "try again"));
                    }
                    Ok(Ok(m)) => m,
                };
                act.members = Some(members.clone());
                let who = &msg.identity;
                if who.role != Role::Admin && !members.contains(&who.user_id) {
                    return Err(Reply::error(reason::UNAUTHORIZED, "not a member"));
                }
                act.last_active = Instant::now();
                act.subscribers.insert(
                    msg.socket_id,
                    Subscriber {
                        user_id: who.user_id.clone(),
                        recipient: msg.recipient,
                    },
                );
                Ok(Joined {
                    response: json!({}),
                    presence: None,
                })
            },
        )))
    }
}

impl Handler<Leave> for GroupActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, _ctx: &mut Self::Context) {
        self.subscribers.remove(msg.socket_id);
        self.last_active = Instant::now();
    }
}

impl Handler<Retire> for GroupActor {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        self.retired = true;
        if let Some(h) = self.idle_timer.take() {
            ctx.cancel_future(h);
        }
        // A socket joined between the idle report and now: it holds an
        // actor nobody else will find. phx_error makes Phoenix clients
        // rejoin, through the registry, on the live actor.
        if !self.subscribers.is_empty() {
            let push = Push::new(self.topic.clone(), event::ERROR, &json!({}));
            self.subscribers.broadcast(&push, None);
            self.subscribers = Subscribers::default();
        }
    }
}

/// Pushes an event to every socket on this topic.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Broadcast(pub Push);

impl Handler<Broadcast> for GroupActor {
    type Result = ();

    fn handle(&mut self, msg: Broadcast, _ctx: &mut Self::Context) {
        self.subscribers.broadcast(&msg.0, None);
    }
}
