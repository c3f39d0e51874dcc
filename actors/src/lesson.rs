//! One actor per active lesson room, `session:<lesson_id>`: who is in the
//! room (Phoenix Presence), the lesson as last read (a cache; the store,
//! through the [`LessonPort`], is the truth), starting and ending the
//! lesson over the socket, each person's own video handoff, and WebRTC
//! signals relayed from one participant to another.
//!
//! Transitions are the server's use cases, the ones REST calls: of two
//! starts at once (two sockets, or a socket and REST) the store lets one
//! through. The use case publishes `lesson:status` to this topic through
//! the broker after it commits, whoever asked, so the room hears of every
//! transition exactly once; this actor forwards it and, when the lesson
//! goes live, sends each socket its own `video:ready` (a token per person,
//! so never one broadcast).
//!
//! Who is in the room is told to the admins' board: a person entering or
//! leaving asks the server (the port) to push the lesson's `board:lesson`
//! with the room's people in it, and the board keeps them for the lesson's
//! other rows. A board starting afresh asks this actor ([`RoomPresence`]).
//!
//! Its lifecycle (sockets, idle retire, restart) is the shared
//! [`TopicCore`]: it retires once the room has been empty for the idle
//! time, and after a restart or a retire it reads the lesson again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use cms_domain::lesson::LessonStatus;
use cms_protocol::lesson::{JoinReply, LessonStatusPush, MAX_SIGNAL_BYTES, Signal, SignalPush};
use cms_protocol::reply::reason;
use cms_protocol::{LessonEvent, Reply, Topic, TopicEvents, event};
use serde_json::{Value, json};

use crate::board::{self, RoomPresence};
use crate::clock::Clock;
use crate::guard::{Panicked, guarded};
use crate::identity::Identity;
use crate::lesson_port::{LessonPort, LessonPortError, LessonView, Transitioned};
use crate::messages::{Broadcast, ClientEvent, Join, Joined, Leave, Retire, SocketId};
use crate::policy::{self, Refusal};
use crate::presence::Presence;
use crate::registry::Registry;
use crate::subscribers::Subscriber;
use crate::topic_actor::{TopicActor, TopicCore};

/// Mailbox size: signals from every socket in the room queue here.
const MAILBOX: usize = 1024;

pub struct LessonActor {
    core: TopicCore,
    id: String,
    port: Arc<dyn LessonPort>,
    clock: Arc<dyn Clock>,
    /// The lesson, read on every join; `None` after a restart.
    view: Option<Arc<LessonView>>,
    /// Presence metas per socket. Kept across a restart, like the sockets.
    presence: Presence,
    /// Who is behind each joined socket: video tokens are minted per
    /// person. Kept across a restart, like the sockets.
    people: HashMap<SocketId, Identity>,
    /// A `board:lesson` presence push is being asked for; `again` when the
    /// room changed meanwhile, so one more follows (never one per socket
    /// in a burst, never none after the last change).
    board_asking: bool,
    board_again: bool,
}

impl LessonActor {
    pub fn new(
        id: String,
        port: Arc<dyn LessonPort>,
        clock: Arc<dyn Clock>,
        registry: Addr<Registry>,
        idle_after: Duration,
    ) -> Self {
        Self {
            core: TopicCore::new(Topic::Session(id.as_str().into()), registry, idle_after),
            id,
            port,
            clock,
            view: None,
            presence: Presence::default(),
            people: HashMap::new(),
            board_asking: false,
            board_again: false,
        }
    }

    fn is_in_room(&self, user_id: &str) -> bool {
        self.people.values().any(|p| p.user_id == user_id)
    }

    /// Someone entered or left: the lesson's log records it (through the
    /// server; a failed write is logged there and changes nothing here).
    fn log_entry(&self, who: &Identity, entered: bool, ctx: &mut Context<Self>) {
        let (port, id, who) = (self.port.clone(), self.id.clone(), who.clone());
        let write = async move { port.room_entered(&id, &who, entered).await };
        ctx.spawn(guarded(write).into_actor(self).map(|_, _, _| ()));
    }

    /// Someone entered or left: the board hears of it through the server.
    fn tell_board(&mut self, ctx: &mut Context<Self>) {
        if self.board_asking {
            self.board_again = true;
            return;
        }
        self.board_asking = true;
        let port = self.port.clone();
        let id = self.id.clone();
        // Who is in the room as the row is asked for; a change meanwhile
        // asks again with the room as it is then.
        let in_room = board::in_room(&self.people);
        let ask = async move { port.presence_changed(&id, in_room).await };
        ctx.spawn(guarded(ask).into_actor(self).map(|_, act, ctx| {
            act.board_asking = false;
            if std::mem::take(&mut act.board_again) {
                act.tell_board(ctx);
            }
        }));
    }

    /// Each socket in the room gets its own `video:ready`.
    fn hand_out_video(&self, view: &LessonView) {
        for (socket, who) in &self.people {
            if let Some(handoff) = self.port.video(who, view) {
                let push = self.core.push(event::VIDEO_READY, &handoff);
                self.core.send_to(*socket, &push);
            }
        }
    }

    /// A transition committed (the broker's `lesson:status`): the cache
    /// follows and, if the lesson went live, everyone gets video.
    fn status_changed(&mut self, status: LessonStatus, ctx: &mut Context<Self>) {
        if let Some(view) = &mut self.view {
            Arc::make_mut(view).info.status = status;
        }
        if status != LessonStatus::Live {
            return;
        }
        if let Some(view) = self.view.clone() {
            return self.hand_out_video(&view);
        }
        // Restarted since the last join: read the lesson first.
        let port = self.port.clone();
        let id = self.id.clone();
        let load = async move { port.load(&id).await };
        ctx.spawn(
            guarded(load)
                .into_actor(self)
                .map(|res, act, _ctx| match res {
                    Ok(Ok(view)) => {
                        let view = Arc::new(view);
                        act.view = Some(view.clone());
                        if view.status() == LessonStatus::Live {
                            act.hand_out_video(&view);
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(lesson = %act.id, error = %e, "no video handed out: the lesson could not be read");
                    }
                    Err(Panicked) => {}
                }),
        );
    }

    /// Relays a signal to the addressee's sockets in this room only.
    fn relay(&self, from: SocketId, who: &Identity, signal: Signal) -> Result<Value, Reply> {
        let size = serde_json::to_string(&signal.data).map_or(usize::MAX, |s| s.len());
        if size > MAX_SIGNAL_BYTES {
            return Err(Reply::error(
                reason::TOO_LARGE,
                format!("a signal's data is at most {MAX_SIGNAL_BYTES} bytes"),
            ));
        }
        let push = self.core.push(
            event::WEBRTC_SIGNAL,
            &SignalPush {
                from: who.user_id.clone(),
                kind: signal.kind,
                data: signal.data,
            },
        );
        if self.core.send_to_user(&signal.to, &push, Some(from)) == 0 {
            return Err(Reply::error(
                reason::NOT_FOUND,
                "that participant is not in the room",
            ));
        }
        Ok(json!({}))
    }
}

impl TopicActor for LessonActor {
    fn core(&self) -> &TopicCore {
        &self.core
    }
}

impl Actor for LessonActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.core.started(ctx, MAILBOX);
    }
}

impl Supervised for LessonActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        // The cache may be what made the handler panic: the next join or
        // status change reads the lesson again. Sockets, presence and who
        // is behind them stay.
        self.core.restarting();
        self.view = None;
    }
}

fn panicked_reply() -> Reply {
    Reply::error(reason::INTERNAL, "internal error; the room was restarted")
}

/// A reply or push payload as JSON; a failure is logged, never silent.
fn to_value(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_else(|e| {
        tracing::error!(error = %e, "payload failed to encode; sending null");
        Value::Null
    })
}

impl Handler<Join> for LessonActor {
    // Atomic: a status change published while the lesson is read waits
    // until this socket has joined, so it is not missed in between.
    type Result = AtomicResponse<Self, Result<Joined, Reply>>;

    fn handle(&mut self, msg: Join, _ctx: &mut Self::Context) -> Self::Result {
        if let Err(r) = self.core.refuse_if_retired() {
            return AtomicResponse::new(Box::pin(fut::ready(Err(r))));
        }
        // Read on every join: who may enter and the status change (seats,
        // a reschedule, another node's start), and joins are rare.
        let port = self.port.clone();
        let id = self.id.clone();
        let load = async move { port.load(&id).await };
        AtomicResponse::new(Box::pin(guarded(load).into_actor(self).map(
            move |res, act, ctx| {
                let view = match res {
                    Err(Panicked) => {
                        ctx.stop();
                        return Err(panicked_reply());
                    }
                    // Unknown and foreign lessons look the same.
                    Ok(Err(LessonPortError::NotFound(_))) => return Err(Refusal::NotMember.reply()),
                    Ok(Err(e)) => {
                        tracing::error!(lesson = %act.id, error = %e, "loading the lesson failed");
                        return Err(Reply::error(reason::UNAVAILABLE, "try again"));
                    }
                    Ok(Ok(v)) => Arc::new(v),
                };
                act.view = Some(view.clone());
                let who = msg.identity;
                policy::join_lesson(
                    &who,
                    &view.member_ids,
                    view.status(),
                    view.rescheduled_to.as_deref(),
                )?;
                let video = match view.status() {
                    LessonStatus::Live => act.port.video(&who, &view),
                    _ => None,
                };
                let online_at = act.clock.now().timestamp();
                for diff in act.presence.join(msg.socket_id, &who, online_at) {
                    let push = act.core.push(event::PRESENCE_DIFF, &diff);
                    act.core.broadcast(&push, Some(msg.socket_id));
                }
                act.core.subscribe(
                    msg.socket_id,
                    Subscriber {
                        user_id: who.user_id.clone(),
                        recipient: msg.recipient,
                    },
                );
                let entering = !act.is_in_room(&who.user_id);
                if entering {
                    act.log_entry(&who, true, ctx);
                }
                act.people.insert(msg.socket_id, who);
                if entering {
                    act.tell_board(ctx);
                }
                let reply = JoinReply {
                    lesson: view.info.clone(),
                    video,
                };
                Ok(Joined {
                    response: to_value(&reply),
                    presence: Some(act.presence.state()),
                })
            },
        )))
    }
}

impl Handler<Leave> for LessonActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Self::Context) {
        self.core.unsubscribe(msg.socket_id);
        let left = self.people.remove(&msg.socket_id);
        if let Some(diff) = self.presence.leave(msg.socket_id) {
            let push = self.core.push(event::PRESENCE_DIFF, &diff);
            self.core.broadcast(&push, None);
        }
        // Their last socket here: they left the room.
        if let Some(who) = left
            && !self.is_in_room(&who.user_id)
        {
            self.log_entry(&who, false, ctx);
            self.tell_board(ctx);
        }
    }
}

impl Handler<RoomPresence> for LessonActor {
    type Result = MessageResult<RoomPresence>;

    fn handle(&mut self, _: RoomPresence, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(board::in_room(&self.people))
    }
}

impl Handler<Retire> for LessonActor {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        if self.core.retire(ctx) {
            self.presence.clear();
            self.people.clear();
        }
    }
}

impl Handler<Broadcast> for LessonActor {
    type Result = ();

    fn handle(&mut self, msg: Broadcast, ctx: &mut Self::Context) {
        self.core.broadcast(&msg.0, None);
        if msg.0.event != event::LESSON_STATUS {
            return;
        }
        match serde_json::from_str::<LessonStatusPush>(&msg.0.payload) {
            Ok(change) => self.status_changed(change.status, ctx),
            Err(e) => {
                tracing::error!(lesson = %self.id, error = %e, "lesson:status did not decode");
            }
        }
    }
}

impl Handler<ClientEvent> for LessonActor {
    // Not atomic: a start or an end waits on the store, and signals must
    // not wait behind it.
    type Result = ResponseActFuture<Self, Result<Value, Reply>>;

    fn handle(&mut self, msg: ClientEvent, _ctx: &mut Self::Context) -> Self::Result {
        self.core.touch();
        let ClientEvent {
            socket_id,
            identity: who,
            event: name,
            payload,
        } = msg;
        // Only joined sockets get here; the socket checks.
        let port = self.port.clone();
        let id = self.id.clone();
        let work: std::pin::Pin<Box<dyn Future<Output = _>>> =
            match LessonEvent::decode(self.core.topic(), &name, payload) {
                Err(e) => return Box::pin(fut::ready(Err(e.reply()))),
                Ok(LessonEvent::Signal(signal)) => {
                    return Box::pin(fut::ready(self.relay(socket_id, &who, signal)));
                }
                Ok(LessonEvent::Start) => Box::pin(async move { port.start(&who, &id).await }),
                Ok(LessonEvent::End(req)) => {
                    Box::pin(async move { port.end(&who, &id, req).await })
                }
            };
        Box::pin(
            guarded(work)
                .into_actor(self)
                .map(|res, act, ctx| match res {
                    Err(Panicked) => {
                        ctx.stop();
                        Err(panicked_reply())
                    }
                    Ok(Err(e)) => Err(e.reply()),
                    Ok(Ok(Transitioned { info, .. })) => {
                        // Everyone, this socket too, hears `lesson:status`
                        // from the use case through the broker; the reply
                        // carries the lesson as it is now.
                        if let Some(view) = &mut act.view {
                            Arc::make_mut(view).info = info.clone();
                        }
                        Ok(json!({ "lesson": to_value(&info) }))
                    }
                }),
        )
    }
}
