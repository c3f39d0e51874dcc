//! One actor per WebSocket: reads Phoenix v2 frames, keeps the channels the
//! client has joined, forwards pushes, and enforces the socket's limits.
//!
//! This is the only module that knows the WebSocket library
//! (actix-web-actors): the server upgrades a request with [`start`], so a
//! move to another library (actix-ws) changes this file alone.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use actix::dev::ToEnvelope;
use actix::prelude::*;
use actix_http::ws::Item;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use cms_protocol::reply::reason;
use cms_protocol::topic::PHOENIX;
use cms_protocol::{Frame, NoEvents, Reply, Topic, TopicEvents, event};
use serde_json::{Value, json};

use crate::conversation::ConversationActor;
use crate::group::{self, GroupActor};
use crate::identity::Identity;
use crate::messages::{ClientEvent, Close, Join, Joined, Leave, Push, SocketId};
use crate::policy;
use crate::rate_limit::{RateLimit, TokenBucket, Verdict};
use crate::registry::{Connect, Disconnect, GetConversation, GetGroup, Registry};

/// How often the socket checks that the client is still there.
pub const HEARTBEAT_CHECK: Duration = Duration::from_secs(5);
/// Largest frame accepted, also after joining continuation frames.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Limits, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct SocketConfig {
    /// Close a socket that has sent nothing (not even a heartbeat) this long.
    pub client_timeout: Duration,
    pub rate: RateLimit,
}

/// Upgrades `req` to a Phoenix socket for `identity` (already
/// authenticated), with the `phoenix` subprotocol and the frame limit.
pub fn start(
    identity: Identity,
    registry: Addr<Registry>,
    config: SocketConfig,
    req: &HttpRequest,
    stream: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let session = SocketSession::new(identity, registry, config);
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
    /// `user:<id>`: pushes come through the registry.
    User,
}

struct Channel {
    /// The topic as the client spelled it, written into every push frame.
    name: String,
    join_ref: Option<String>,
    target: Target,
}

pub struct SocketSession {
    identity: Identity,
    registry: Addr<Registry>,
    config: SocketConfig,
    /// Set once the registry has accepted the socket.
    id: Option<SocketId>,
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
    partial: Option<Vec<u8>>,
}

impl SocketSession {
    pub fn new(identity: Identity, registry: Addr<Registry>, config: SocketConfig) -> Self {
        let now = Instant::now();
        Self {
            identity,
            registry,
            config,
            id: None,
            channels: HashMap::new(),
            joining: HashMap::new(),
            last_heard: now,
            bucket: TokenBucket::new(config.rate, now),
            partial: None,
        }
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

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        match self.bucket.check(Instant::now()) {
            Verdict::Allow => {}
            Verdict::Refuse => {
                let (jr, r, t) = salvage_refs(text);
                let reply = Reply::error(reason::RATE_LIMITED, "slow down");
                return Self::reply(ctx, jr, r, &t, reply);
            }
            Verdict::Close => {
                return Self::close(ctx, ws::CloseCode::Policy, "rate limit exceeded");
            }
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
        // The conversation actor decodes its own events; every other topic
        // a socket can join only pushes.
        let Target::Conversation(addr) = &ch.target else {
            let r = match NoEvents::decode(&parsed, &event, payload) {
                Err(e) => e.reply(),
                Ok(none) => match none {},
            };
            return Self::reply(ctx, join_ref, msg_ref, &topic, r);
        };
        let req = addr.send(ClientEvent {
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
        let connect = Connect {
            identity: self.identity.clone(),
            push: ctx.address().recipient(),
            close: ctx.address().recipient(),
        };
        // Nothing is read until the registry knows the socket.
        ctx.wait(
            self.registry
                .send(connect)
                .into_actor(self)
                .map(|res, act, ctx| match res {
                    Ok(Some(id)) => act.id = Some(id),
                    _ => Self::close(ctx, ws::CloseCode::Away, "server shutting down"),
                }),
        );
        ctx.run_interval(HEARTBEAT_CHECK, |act, ctx| {
            if act.last_heard.elapsed() > act.config.client_timeout {
                tracing::debug!(user = %act.identity.user_id, "heartbeat timeout");
                Self::close(ctx, ws::CloseCode::Normal, "heartbeat timeout");
            }
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
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
        Self::close(ctx, ws::CloseCode::from(msg.code), msg.reason);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for SocketSession {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        let msg = match item {
            Ok(m) => m,
            Err(ws::ProtocolError::Overflow) => {
                return Self::close(ctx, ws::CloseCode::Size, "frame larger than 64 KiB");
            }
            Err(e) => {
                tracing::debug!(error = %e, "websocket protocol error");
                return Self::close(ctx, ws::CloseCode::Protocol, "protocol error");
            }
        };
        match msg {
            ws::Message::Text(text) => self.on_text(&text, ctx),
            ws::Message::Ping(p) => ctx.pong(&p),
            ws::Message::Pong(_) | ws::Message::Nop => {}
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
    fn on_continuation(&mut self, item: Item, ctx: &mut ws::WebsocketContext<Self>) {
        let (bytes, last) = match item {
            Item::FirstText(b) => {
                self.partial = Some(Vec::new());
                (b, false)
            }
            Item::FirstBinary(_) => {
                return Self::close(
                    ctx,
                    ws::CloseCode::Unsupported,
                    "binary frames are not supported",
                );
            }
            Item::Continue(b) => (b, false),
            Item::Last(b) => (b, true),
        };
        let Some(buf) = self.partial.as_mut() else {
            return Self::close(
                ctx,
                ws::CloseCode::Protocol,
                "continuation without a first frame",
            );
        };
        buf.extend_from_slice(&bytes);
        if buf.len() > MAX_FRAME_BYTES {
            return Self::close(ctx, ws::CloseCode::Size, "message larger than 64 KiB");
        }
        if last {
            let buf = self.partial.take().unwrap_or_default();
            match String::from_utf8(buf) {
                Ok(text) => self.on_text(&text, ctx),
                Err(_) => Self::close(ctx, ws::CloseCode::Invalid, "text is not UTF-8"),
            }
        }
    }
}
