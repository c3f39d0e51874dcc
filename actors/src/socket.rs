//! One actor per WebSocket: reads Phoenix v2 frames, keeps the channels the
//! client has joined, forwards pushes, and enforces the socket's limits:
//! every frame (text, continuation, ping, pong) costs a token of the
//! socket's bucket; a message is at most 64 KiB however it is fragmented;
//! text must be UTF-8 (1007 otherwise); at most `topics_per_socket` topics;
//! chat messages draw on the user's bucket shared by all their sockets; the
//! socket closes when its token expires.
//!
//! This is the only module that knows the WebSocket library
//! (actix-web-actors): the server upgrades a request with [`start`], so a
//! move to another library (actix-ws) changes this file alone.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::dev::ToEnvelope;
use actix::prelude::*;
use actix_http::ws::Item;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use chrono::{DateTime, Utc};
use cms_protocol::reply::reason;
use cms_protocol::topic::PHOENIX;
use cms_protocol::{Frame, NoEvents, Reply, Topic, TopicEvents, event};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::conversation::ConversationActor;
use crate::group::{self, GroupActor};
use crate::identity::Identity;
use crate::lesson::LessonActor;
use crate::messages::{ClientEvent, Close, Join, Joined, Leave, Push, SocketId};
use crate::policy;
use crate::rate_limit::{RateLimit, SharedMessageRate, TokenBucket, Verdict};
use crate::registry::{
    Admit, Connect, Disconnect, GetConversation, GetGroup, GetLesson, Registry, Ticket,
    TooManySockets,
};

/// How often the socket checks that the client is still there.
pub const HEARTBEAT_CHECK: Duration = Duration::from_secs(5);
/// Largest frame accepted, also after joining continuation frames.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The reason of the error reply to a join past `topics_per_socket`.
pub const TOO_MANY_TOPICS: &str = "too_many_topics";

/// Limits, from configuration (`[socket]` and `[limits]`), and the clock
/// token expiry and the per-user message bucket run on.
#[derive(Clone)]
pub struct SocketConfig {
    /// Close a socket that has sent nothing (not even a heartbeat) this long.
    pub client_timeout: Duration,
    /// Frames per socket.
    pub rate: RateLimit,
    /// Open sockets per user; the next upgrade is refused.
    pub sockets_per_user: u32,
    /// Topics joined on one socket; the next join is refused.
    pub topics_per_socket: u32,
    /// `message:send` per user per second, across all their sockets.
    pub messages_per_user_per_second: u32,
    pub clock: Arc<dyn Clock>,
}

/// A socket the registry has made room for, not yet upgraded.
#[derive(Debug)]
pub struct Admitted {
    identity: Identity,
    expires_at: DateTime<Utc>,
    ticket: Ticket,
}

/// Why a socket was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    #[error(transparent)]
    TooManySockets(#[from] TooManySockets),
    #[error("the registry is not running")]
    Unavailable(#[source] MailboxError),
}

/// Holds a place for one more socket of `identity`, whose token is good
/// until `expires_at`: refused when the user already holds
/// `sockets_per_user` sockets. Asked before the upgrade so a refusal is an
/// HTTP answer rather than an upgrade closed at once.
pub async fn admit(
    registry: &Addr<Registry>,
    identity: Identity,
    expires_at: DateTime<Utc>,
    config: &SocketConfig,
) -> Result<Admitted, AdmitError> {
    let ticket = registry
        .send(Admit {
            user_id: identity.user_id.clone(),
            limit: config.sockets_per_user,
        })
        .await
        .map_err(AdmitError::Unavailable)??;
    Ok(Admitted {
        identity,
        expires_at,
        ticket,
    })
}

/// Upgrades `req` to a Phoenix socket for an admitted user, with the
/// `phoenix` subprotocol and the frame limit.
pub fn start(
    admitted: Admitted,
    registry: Addr<Registry>,
    config: SocketConfig,
    req: &HttpRequest,
    stream: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let session = SocketSession::new(admitted, registry, config);
    ws::WsResponseBuilder::new(session, req, stream)
        .protocols(&["phoenix"])
        .frame_size(MAX_FRAME_BYTES)
        .start()
}

/// The actor behind a joined topic.
#[derive(Clone)]
enum Target {
    Conversation(Addr<ConversationActor>),
    Group(Addr<GroupActor>),
    Lesson(Addr<LessonActor>),
    /// `user:<id>`: pushes come through the registry.
    User,
}

struct Channel {
    /// The topic as the client spelled it, written into every push frame.
    name: String,
    join_ref: Option<String>,
    target: Target,
}

/// A message arriving in fragments.
enum Assembly {
    Idle,
    Building(Vec<u8>),
    /// A fragment was refused by the rate limit: the rest of this message
    /// is read and dropped (it still costs tokens).
    Dropped,
}

pub struct SocketSession {
    identity: Identity,
    /// When the socket's token expires: it closes then.
    expires_at: DateTime<Utc>,
    registry: Addr<Registry>,
    config: SocketConfig,
    /// The place the registry holds, until [`Connect`] takes it.
    ticket: Option<Ticket>,
    /// Set once the registry has accepted the socket.
    id: Option<SocketId>,
    /// The user's chat-message bucket, from the registry.
    message_rate: Option<SharedMessageRate>,
    /// Joined topics.
    channels: HashMap<Topic, Channel>,
    /// Pushes for topics whose join is on its way back: the topic's actor
    /// subscribes this socket before the answer arrives here, and what it
    /// broadcasts in between comes after the join's catch-up, so it is
    /// held and sent right after the join reply rather than dropped.
    joining: HashMap<Topic, Vec<Push>>,
    last_heard: Instant,
    bucket: TokenBucket,
    /// A fragmented message being put together.
    partial: Assembly,
}

impl SocketSession {
    fn new(admitted: Admitted, registry: Addr<Registry>, config: SocketConfig) -> Self {
        let now = Instant::now();
        Self {
            identity: admitted.identity,
            expires_at: admitted.expires_at,
            registry,
            bucket: TokenBucket::new(config.rate, now),
            config,
            ticket: Some(admitted.ticket),
            id: None,
            message_rate: None,
            channels: HashMap::new(),
            joining: HashMap::new(),
            last_heard: now,
            partial: Assembly::Idle,
        }
    }

    fn expired(&self) -> bool {
        self.config.clock.now() >= self.expires_at
    }

    fn send_frame(ctx: &mut ws::WebsocketContext<Self>, frame: &Frame) {
        ctx.text(frame.encode());
    }

    fn reply(
        ctx: &mut ws::WebsocketContext<Self>,
        join_ref: Option<String>,
        msg_ref: Option<String>,
        topic: &str,
        reply: Reply,
    ) {
        Self::send_frame(
            ctx,
            &Frame {
                join_ref,
                msg_ref,
                topic: topic.to_owned(),
                event: event::REPLY.to_owned(),
                payload: reply.to_value(),
            },
        );
    }

    fn close(ctx: &mut ws::WebsocketContext<Self>, code: ws::CloseCode, why: &str) {
        ctx.close(Some(ws::CloseReason {
            code,
            description: Some(why.to_owned()),
        }));
        ctx.stop();
    }

    fn close_with(ctx: &mut ws::WebsocketContext<Self>, close: &Close) {
        Self::close(ctx, ws::CloseCode::from(close.code), close.reason);
    }

    /// Takes a token for one incoming frame; on `Close` the socket is
    /// already closing.
    fn charge(&mut self, ctx: &mut ws::WebsocketContext<Self>) -> Verdict {
        let verdict = self.bucket.check(Instant::now());
        if verdict == Verdict::Close {
            Self::close(ctx, ws::CloseCode::Policy, "rate limit exceeded");
        }
        verdict
    }

    fn rate_limited(ctx: &mut ws::WebsocketContext<Self>, text: &str) {
        let (jr, r, t) = salvage_refs(text);
        Self::reply(
            ctx,
            jr,
            r,
            &t,
            Reply::error(reason::RATE_LIMITED, "slow down"),
        );
    }

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        match self.charge(ctx) {
            Verdict::Allow => self.on_message(text, ctx),
            Verdict::Refuse => Self::rate_limited(ctx, text),
            Verdict::Close => {}
        }
    }

    /// A whole text message whose frames have been paid for.
    fn on_message(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        if self.expired() {
            // The expiry timer is about to close the socket (or a frame
            // raced it): nothing more is done on this token's authority.
            let (jr, r, t) = salvage_refs(text);
            let reply = Reply::error(reason::UNAUTHORIZED, "token expired");
            Self::reply(ctx, jr, r, &t, reply);
            return Self::close_with(ctx, &Close::TOKEN_EXPIRED);
        }
        let frame = match Frame::decode(text) {
            Ok(f) => f,
            Err(e) => {
                let (jr, r, t) = salvage_refs(text);
                return Self::reply(
                    ctx,
                    jr,
                    r,
                    &t,
                    Reply::error(reason::MALFORMED, e.to_string()),
                );
            }
        };
        match (frame.topic.as_str(), frame.event.as_str()) {
            (PHOENIX, event::HEARTBEAT) => {
                Self::reply(ctx, None, frame.msg_ref, PHOENIX, Reply::ok(json!({})));
            }
            (_, event::JOIN) => self.join(frame, ctx),
            (_, event::LEAVE) => self.leave(frame, ctx),
            _ => self.client_event(frame, ctx),
        }
    }

    fn join(&mut self, frame: Frame, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(socket_id) = self.id else {
            return;
        };
        let Frame {
            join_ref,
            msg_ref,
            topic: name,
            payload,
            ..
        } = frame;
        let err = |r: Reply, ctx: &mut ws::WebsocketContext<Self>| {
            Self::reply(ctx, join_ref.clone(), msg_ref.clone(), &name, r);
        };
        let Some(topic) = Topic::parse(&name) else {
            return err(Reply::error(reason::UNMATCHED_TOPIC, "no such topic"), ctx);
        };
        // A new topic past the cap is refused; joining a topic again
        // replaces the earlier join and takes no new place.
        let held = self.channels.len() + self.joining.len();
        let again = self.channels.contains_key(&topic) || self.joining.contains_key(&topic);
        let cap = self.config.topics_per_socket;
        if !again && held >= usize::try_from(cap).unwrap_or(usize::MAX) {
            let why = format!("at most {cap} topics per socket; leave one first");
            return err(Reply::error(TOO_MANY_TOPICS, why), ctx);
        }
        // Joining again replaces the earlier join, as Phoenix does.
        if let Some(old) = self.channels.remove(&topic) {
            leave_target(&old.target, socket_id);
            Self::send_frame(
                ctx,
                &Frame {
                    join_ref: old.join_ref,
                    msg_ref: None,
                    topic: name.clone(),
                    event: event::CLOSE.to_owned(),
                    payload: json!({}),
                },
            );
        }
        let me = &self.identity;
        let recipient = ctx.address().recipient::<Push>();
        let join = Join {
            socket_id,
            identity: me.clone(),
            recipient,
            params: if payload.is_null() {
                json!({})
            } else {
                payload
            },
        };
        if let Err(refusal) = policy::join(me, &topic) {
            return err(refusal.reply(), ctx);
        }
        let registry = self.registry.clone();
        let work: JoinFuture = match &topic {
            // `user:<id>`: no actor; pushes come through the registry.
            Topic::User(_) => Box::pin(async {
                Ok((
                    Target::User,
                    Joined {
                        response: json!({}),
                        presence: None,
                    },
                ))
            }),
            Topic::Conversation(id) => Box::pin(join_with_retry(
                registry,
                GetConversation(id.to_string()),
                join,
                Target::Conversation,
            )),
            Topic::Session(id) => Box::pin(join_with_retry(
                registry,
                GetLesson(id.to_string()),
                join,
                Target::Lesson,
            )),
            t => match group::group_of(t) {
                Some((kind, id)) => Box::pin(join_with_retry(
                    registry,
                    GetGroup(kind, id.to_owned()),
                    join,
                    Target::Group,
                )),
                // The policy has refused every topic no actor serves.
                None => return err(policy::Refusal::NotServed.reply(), ctx),
            },
        };
        self.joining.insert(topic.clone(), Vec::new());
        ctx.spawn(work.into_actor(self).map(move |res, act, ctx| match res {
            Ok((target, joined)) => {
                let kind = name.split(':').next().unwrap_or("").to_owned();
                metrics::counter!("cms_joins_total", "kind" => kind).increment(1);
                let held = act.joining.remove(&topic).unwrap_or_default();
                act.channels.insert(
                    topic.clone(),
                    Channel {
                        name: name.clone(),
                        join_ref: join_ref.clone(),
                        target,
                    },
                );
                Self::reply(
                    ctx,
                    join_ref.clone(),
                    msg_ref,
                    &name,
                    Reply::ok(joined.response),
                );
                if let Some(state) = joined.presence {
                    Self::send_frame(
                        ctx,
                        &Frame {
                            join_ref,
                            msg_ref: None,
                            topic: name.clone(),
                            event: event::PRESENCE_STATE.to_owned(),
                            payload: serde_json::to_value(state).unwrap_or(Value::Null),
                        },
                    );
                }
                if let Some(ch) = act.channels.get(&topic) {
                    for push in &held {
                        Self::write_push(ctx, ch, push);
                    }
                }
            }
            Err(r) => {
                act.joining.remove(&topic);
                Self::reply(ctx, join_ref, msg_ref, &name, r)
            }
        }));
    }

    fn leave(&mut self, frame: Frame, ctx: &mut ws::WebsocketContext<Self>) {
        let channel = Topic::parse(&frame.topic).and_then(|t| self.channels.remove(&t));
        if let (Some(ch), Some(id)) = (channel, self.id) {
            leave_target(&ch.target, id);
        }
        Self::reply(
            ctx,
            frame.join_ref,
            frame.msg_ref,
            &frame.topic,
            Reply::ok(json!({})),
        );
    }

    fn client_event(&mut self, frame: Frame, ctx: &mut ws::WebsocketContext<Self>) {
        let Frame {
            join_ref,
            msg_ref,
            topic,
            event,
            payload,
        } = frame;
        let joined = Topic::parse(&topic).and_then(|t| {
            let ch = self.channels.get(&t)?;
            Some((t, ch))
        });
        let (Some((parsed, ch)), Some(socket_id)) = (joined, self.id) else {
            let r = Reply::error(reason::UNMATCHED_TOPIC, "join the topic first");
            return Self::reply(ctx, join_ref, msg_ref, &topic, r);
        };
        // Conversation and lesson actors decode their own events; every
        // other topic a socket can join only pushes.
        let actor: Recipient<ClientEvent> = match &ch.target {
            Target::Conversation(addr) => addr.clone().recipient(),
            Target::Lesson(addr) => addr.clone().recipient(),
            Target::Group(_) | Target::User => {
                let r = match NoEvents::decode(&parsed, &event, payload) {
                    Err(e) => e.reply(),
                    Ok(none) => match none {},
                };
                return Self::reply(ctx, join_ref, msg_ref, &topic, r);
            }
        };
        // Chat messages draw on the user's bucket, shared by all their
        // sockets, so opening more sockets sends no faster. A refused
        // message never reaches the conversation, so it is not stored.
        if event == cms_protocol::event::MESSAGE_SEND && !self.take_message_token() {
            let per = self.config.messages_per_user_per_second;
            let r = Reply::error(
                reason::RATE_LIMITED,
                format!("at most {per} messages a second per user"),
            );
            return Self::reply(ctx, join_ref, msg_ref, &topic, r);
        }
        let req = actor.send(ClientEvent {
            socket_id,
            identity: self.identity.clone(),
            event,
            payload,
        });
        ctx.spawn(req.into_actor(self).map(move |res, _act, ctx| {
            let reply = match res {
                Ok(Ok(v)) => Reply::ok(v),
                Ok(Err(r)) => r,
                Err(_) => unavailable(),
            };
            Self::reply(ctx, join_ref, msg_ref, &topic, reply);
        }));
    }
}

impl SocketSession {
    fn take_message_token(&self) -> bool {
        let Some(rate) = &self.message_rate else {
            return false;
        };
        // A poisoned lock only means another socket panicked mid-update of
        // two numbers; the bucket is still usable.
        let mut rate = rate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rate.try_take(self.config.clock.now())
    }
}

impl Join {
    /// A copy for a retry on another actor.
    fn clone_join(&self) -> Join {
        Join {
            socket_id: self.socket_id,
            identity: self.identity.clone(),
            recipient: self.recipient.clone(),
            params: self.params.clone(),
        }
    }
}

type JoinFuture = Pin<Box<dyn Future<Output = Result<(Target, Joined), Reply>>>>;

/// Asks the registry for the topic's actor and joins it. An actor that has
/// just retired (idle) turns the join away; the registry then has a fresh one.
async fn join_with_retry<A, M>(
    registry: Addr<Registry>,
    get: M,
    join: Join,
    target: fn(Addr<A>) -> Target,
) -> Result<(Target, Joined), Reply>
where
    A: Actor + Handler<Join>,
    A::Context: ToEnvelope<A, Join>,
    M: Message<Result = Addr<A>> + Clone + Send + 'static,
    Registry: Handler<M>,
{
    for _ in 0..3 {
        let addr = registry
            .send(get.clone())
            .await
            .map_err(|_| unavailable())?;
        match addr
            .send(join.clone_join())
            .await
            .map_err(|_| unavailable())?
        {
            Err(r) if is_retired(&r) => continue,
            other => return other.map(|j| (target(addr), j)),
        }
    }
    Err(unavailable())
}

fn unavailable() -> Reply {
    Reply::error(reason::UNAVAILABLE, "try again")
}

fn is_retired(r: &Reply) -> bool {
    r.response.get("reason").and_then(Value::as_str) == Some(reason::RETIRED)
}

fn leave_target(target: &Target, socket_id: SocketId) {
    match target {
        Target::Conversation(a) => a.do_send(Leave { socket_id }),
        Target::Group(a) => a.do_send(Leave { socket_id }),
        Target::Lesson(a) => a.do_send(Leave { socket_id }),
        Target::User => {}
    }
}

/// Refs and topic of a frame that failed to decode, when they can be read,
/// so the error reply still reaches the right callback.
fn salvage_refs(text: &str) -> (Option<String>, Option<String>, String) {
    let v: Option<Vec<Value>> = serde_json::from_str(text).ok();
    let s = |i: usize| {
        v.as_ref()
            .and_then(|a| a.get(i))
            .and_then(|x| x.as_str().map(str::to_owned))
    };
    (s(0), s(1), s(2).unwrap_or_else(|| PHOENIX.to_owned()))
}

impl Actor for SocketSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::gauge!("cms_sockets_open").increment(1.0);
        let Some(ticket) = self.ticket.take() else {
            // `new` always holds one; a socket without a place is not let in.
            return Self::close_with(ctx, &Close::SHUTTING_DOWN);
        };
        let connect = Connect {
            identity: self.identity.clone(),
            push: ctx.address().recipient(),
            close: ctx.address().recipient(),
            ticket,
            messages_per_second: self.config.messages_per_user_per_second,
        };
        // Nothing is read until the registry knows the socket.
        ctx.wait(
            self.registry
                .send(connect)
                .into_actor(self)
                .map(|res, act, ctx| match res {
                    Ok(Some(c)) => {
                        act.id = Some(c.id);
                        act.message_rate = Some(c.message_rate);
                    }
                    _ => Self::close_with(ctx, &Close::SHUTTING_DOWN),
                }),
        );
        // The token's authority ends at its expiry, on the injected clock:
        // the socket closes then and the client must log in again.
        let expiry = self.config.clock.sleep_until(self.expires_at);
        ctx.spawn(expiry.into_actor(self).map(|(), act, ctx| {
            tracing::debug!(user = %act.identity.user_id, "token expired; closing socket");
            Self::close_with(ctx, &Close::TOKEN_EXPIRED);
        }));
        ctx.run_interval(HEARTBEAT_CHECK, |act, ctx| {
            if act.last_heard.elapsed() > act.config.client_timeout {
                tracing::debug!(user = %act.identity.user_id, "heartbeat timeout");
                Self::close(ctx, ws::CloseCode::Normal, "heartbeat timeout");
            }
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        metrics::gauge!("cms_sockets_open").decrement(1.0);
        let Some(id) = self.id else {
            return;
        };
        for ch in self.channels.values() {
            leave_target(&ch.target, id);
        }
        self.registry.do_send(Disconnect { socket_id: id });
    }
}

impl Handler<Push> for SocketSession {
    type Result = ();

    fn handle(&mut self, msg: Push, ctx: &mut Self::Context) {
        match self.channels.get(&msg.topic) {
            Some(ch) => Self::write_push(ctx, ch, &msg),
            // Left, or never joined: dropped.
            None => {
                if let Some(held) = self.joining.get_mut(&msg.topic) {
                    held.push(msg);
                }
            }
        }
    }
}

impl SocketSession {
    /// Writes a push on its joined channel.
    fn write_push(ctx: &mut ws::WebsocketContext<Self>, ch: &Channel, msg: &Push) {
        // The payload is shared, already encoded: splice it in.
        let head =
            serde_json::to_string(&(&ch.join_ref, (), &ch.name, msg.event)).unwrap_or_default();
        let mut text = String::with_capacity(head.len() + msg.payload.len() + 1);
        text.push_str(&head[..head.len() - 1]);
        text.push(',');
        text.push_str(&msg.payload);
        text.push(']');
        ctx.text(text);
    }
}

impl Handler<Close> for SocketSession {
    type Result = ();

    fn handle(&mut self, msg: Close, ctx: &mut Self::Context) {
        Self::close_with(ctx, &msg);
    }
}

/// Whether a protocol error is a text frame that is not UTF-8.
/// actix-web-actors reports that as an `Io` error carrying the
/// `std::str::Utf8Error`'s text ("invalid utf-8 sequence …", "incomplete
/// utf-8 byte sequence …"); every other `Io` error is the connection
/// failing, where the close code reaches nobody. Pinned by a test below, so
/// a library change that words it otherwise fails there.
fn is_bad_utf8(e: &ws::ProtocolError) -> bool {
    matches!(e, ws::ProtocolError::Io(io) if io.to_string().contains("utf-8"))
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for SocketSession {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        let msg = match item {
            Ok(m) => m,
            Err(ws::ProtocolError::Overflow) => {
                return Self::close(ctx, ws::CloseCode::Size, "frame larger than 64 KiB");
            }
            // RFC 6455 §8.1: text that is not UTF-8 fails the connection
            // with 1007 (invalid frame payload data).
            Err(e) if is_bad_utf8(&e) => {
                return Self::close(ctx, ws::CloseCode::Invalid, "text is not UTF-8");
            }
            Err(e) => {
                tracing::debug!(error = %e, "websocket protocol error");
                return Self::close(ctx, ws::CloseCode::Protocol, "protocol error");
            }
        };
        match msg {
            ws::Message::Text(text) => self.on_text(&text, ctx),
            // Control frames cost a token too: a ping flood is a flood.
            ws::Message::Ping(p) => {
                if self.charge(ctx) == Verdict::Allow {
                    ctx.pong(&p);
                }
            }
            ws::Message::Pong(_) => {
                self.charge(ctx);
            }
            ws::Message::Nop => {}
            ws::Message::Binary(_) => Self::close(
                ctx,
                ws::CloseCode::Unsupported,
                "binary frames are not supported",
            ),
            ws::Message::Continuation(item) => self.on_continuation(item, ctx),
            ws::Message::Close(reason) => {
                ctx.close(reason);
                ctx.stop();
            }
        }
    }
}

impl SocketSession {
    /// One fragment of a message. Each costs a token, even an empty one (a
    /// flood of empty fragments is a flood); the message put together is
    /// bounded like a single frame (1009) and must be UTF-8 (1007).
    fn on_continuation(&mut self, item: Item, ctx: &mut ws::WebsocketContext<Self>) {
        let (bytes, first, last) = match item {
            Item::FirstText(b) => (b, true, false),
            Item::FirstBinary(_) => {
                return Self::close(
                    ctx,
                    ws::CloseCode::Unsupported,
                    "binary frames are not supported",
                );
            }
            Item::Continue(b) => (b, false, false),
            Item::Last(b) => (b, false, true),
        };
        if first {
            self.partial = Assembly::Building(Vec::new());
        }
        match self.charge(ctx) {
            Verdict::Allow => {}
            Verdict::Close => return,
            Verdict::Refuse => {
                // The message cannot be answered on its own refs (it is
                // not whole), so it is dropped and refused once, on
                // `phoenix`.
                if matches!(self.partial, Assembly::Building(_)) {
                    Self::rate_limited(ctx, "");
                }
                self.partial = if last {
                    Assembly::Idle
                } else {
                    Assembly::Dropped
                };
                return;
            }
        }
        let buf = match &mut self.partial {
            Assembly::Building(buf) => buf,
            Assembly::Dropped => {
                if last {
                    self.partial = Assembly::Idle;
                }
                return;
            }
            // The codec refuses a continuation with no first frame; this
            // is only belt and braces.
            Assembly::Idle => {
                return Self::close(
                    ctx,
                    ws::CloseCode::Protocol,
                    "continuation without a first frame",
                );
            }
        };
        if buf.len() + bytes.len() > MAX_FRAME_BYTES {
            self.partial = Assembly::Idle;
            return Self::close(ctx, ws::CloseCode::Size, "message larger than 64 KiB");
        }
        buf.extend_from_slice(&bytes);
        if last {
            let buf = match std::mem::replace(&mut self.partial, Assembly::Idle) {
                Assembly::Building(buf) => buf,
                Assembly::Idle | Assembly::Dropped => Vec::new(),
            };
            match String::from_utf8(buf) {
                Ok(text) => self.on_message(&text, ctx),
                Err(_) => Self::close(ctx, ws::CloseCode::Invalid, "text is not UTF-8"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How actix-web-actors reports a text frame that is not UTF-8 (it maps
    /// `ByteString::try_from`'s `Utf8Error` into an `Io` error by its text).
    #[test]
    fn bad_utf8_is_recognised_and_other_io_errors_are_not() {
        for bytes in [&[0x61, 0xff, 0x62][..], &[0xe2, 0x82][..]] {
            let Err(e) = std::str::from_utf8(bytes) else {
                panic!("{bytes:?} is not UTF-8");
            };
            let as_actix = ws::ProtocolError::Io(std::io::Error::other(format!("{e}")));
            assert!(is_bad_utf8(&as_actix), "{e}");
        }
        let reset = ws::ProtocolError::Io(std::io::Error::other("connection reset"));
        assert!(!is_bad_utf8(&reset));
        assert!(!is_bad_utf8(&ws::ProtocolError::Overflow));
    }
}
