//! One actor per active conversation: the only writer of its messages, the
//! keeper of who is present, and the fan-out to its sockets.
//!
//! Store work runs under `AtomicResponse`, so one conversation handles one
//! write at a time: the order of broadcasts is the order of seqs, and a join
//! reads its catch-up page and subscribes in one step, so no message falls in
//! between. The seq itself is assigned by the store in a transaction.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use cms_protocol::chat::{self, JoinParams, JoinReply, MAX_PAGE};
use cms_protocol::presence::{Diff, Meta, State};
use cms_protocol::reply::reason;
use cms_protocol::{Reply, event};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::guard::{Panicked, guarded};
use crate::identity::{Identity, Role};
use crate::messages::{ClientEvent, Idle, Join, Joined, Leave, Push, Retire, SocketId};
use crate::registry::Registry;
use crate::store::{Appended, ChatStore, ConversationInfo, StoreError};
use crate::subscribers::{Subscriber, Subscribers};

/// How often an actor checks whether it has been idle long enough to stop.
pub const IDLE_CHECK: Duration = Duration::from_secs(15);
/// Mailbox size: sends from many sockets queue here, never block them.
const MAILBOX: usize = 4096;

pub struct ConversationActor {
    id: String,
    topic: Arc<str>,
    store: Arc<dyn ChatStore>,
    clock: Arc<dyn Clock>,
    registry: Addr<Registry>,
    idle_after: Duration,
    /// Members, loaded from the store on start and after a restart.
    info: Option<Arc<ConversationInfo>>,
    /// Joined sockets. Kept across a restart: they are live connections, not
    /// cached data.
    subscribers: Subscribers,
    /// Presence metas per socket (user id, meta).
    presence: std::collections::HashMap<SocketId, (String, Meta)>,
    last_active: Instant,
    next_presence_ref: u64,
    /// Set once the registry has forgotten this actor: joins go elsewhere.
    retired: bool,
    idle_timer: Option<SpawnHandle>,
}

impl ConversationActor {
    pub fn new(
        id: String,
        store: Arc<dyn ChatStore>,
        clock: Arc<dyn Clock>,
        registry: Addr<Registry>,
        idle_after: Duration,
    ) -> Self {
        Self {
            topic: format!("conversation:{id}").into(),
            id,
            store,
            clock,
            registry,
            idle_after,
            info: None,
            subscribers: Subscribers::default(),
            presence: Default::default(),
            last_active: Instant::now(),
            next_presence_ref: 0,
            retired: false,
            idle_timer: None,
        }
    }

    fn presence_state(&self) -> State {
        let mut state = State::new();
        for (user, meta) in self.presence.values() {
            state
                .entry(user.clone())
                .or_default()
                .metas
                .push(meta.clone());
        }
        state
    }

    fn push(&self, event: &'static str, payload: &impl serde::Serialize) -> Push {
        Push::new(self.topic.clone(), event, payload)
    }

    /// Loads the members if they are not cached. Used by every handler so an
    /// actor restarted after a panic, or started for a missing conversation,
    /// answers from the store.
    fn info_future(
        &self,
    ) -> impl Future<Output = Result<Arc<ConversationInfo>, StoreError>> + 'static {
        let cached = self.info.clone();
        let store = self.store.clone();
        let id = self.id.clone();
        async move {
            match cached {
                Some(info) => Ok(info),
                None => store.conversation(&id).await.map(Arc::new),
            }
        }
    }
}

impl Actor for ConversationActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        self.last_active = Instant::now();
        self.idle_timer = Some(ctx.run_interval(IDLE_CHECK, |act, _ctx| {
            if act.subscribers.is_empty() && act.last_active.elapsed() >= act.idle_after {
                act.registry.do_send(Idle {
                    topic: act.topic.clone(),
                });
            }
        }));
    }
}

impl Supervised for ConversationActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        // The cache may be what made the handler panic: drop it and let the
        // next handler reload from the store. Sockets and presence stay.
        tracing::warn!(conversation = %self.id, "conversation actor restarting");
        self.info = None;
    }
}

/// Maps a store failure to the socket's error reply.
fn store_reply(e: StoreError) -> Reply {
    match e {
        StoreError::NotFound => Reply::error(reason::NOT_FOUND, "no such message or conversation"),
        StoreError::Forbidden(m) => Reply::error(reason::FORBIDDEN, m),
        StoreError::Conflict(m) => Reply::error(reason::UNAVAILABLE, m),
        StoreError::Backend(m) => {
            tracing::error!(error = %m, "store failed");
            Reply::error(
                reason::UNAVAILABLE,
                "the message store is unavailable; try again",
            )
        }
    }
}

fn panicked_reply() -> Reply {
    Reply::error(
        reason::INTERNAL,
        "internal error; the conversation was restarted",
    )
}

fn parse<T: serde::de::DeserializeOwned>(payload: Value) -> Result<T, Reply> {
    serde_json::from_value(payload).map_err(|e| Reply::error(reason::BAD_REQUEST, e.to_string()))
}

fn may_access(info: &ConversationInfo, who: &Identity) -> bool {
    who.role == Role::Admin || info.member_ids.contains(&who.user_id)
}

impl Handler<Join> for ConversationActor {
    type Result = AtomicResponse<Self, Result<Joined, Reply>>;

    fn handle(&mut self, msg: Join, _ctx: &mut Self::Context) -> Self::Result {
        if self.retired {
            return AtomicResponse::new(Box::pin(fut::ready(Err(Reply::error(
                reason::RETIRED,
                "the conversation actor is stopping",
            )))));
        }
        let info = self.info_future();
        let store = self.store.clone();
        let id = self.id.clone();
        let work = async move {
            let params: JoinParams = parse(msg.params.clone())?;
            let info = info.await.map_err(|e| match e {
                // Unknown and foreign conversations look the same.
                StoreError::NotFound => Reply::error(reason::UNAUTHORIZED, "not a member"),
                other => store_reply(other),
            })?;
            if !may_access(&info, &msg.identity) {
                return Err(Reply::error(reason::UNAUTHORIZED, "not a member"));
            }
            let latest = store.latest_seq(&id).await.map_err(store_reply)?;
            let (messages, more) = match params.since_seq {
                Some(since) if since < latest => {
                    let mut page = store
                        .messages_after(&id, since, MAX_PAGE + 1)
                        .await
                        .map_err(store_reply)?;
                    let more = page.len() > MAX_PAGE;
                    page.truncate(MAX_PAGE);
                    (page, more)
                }
                _ => (Vec::new(), false),
            };
            Ok((
                info,
                msg,
                JoinReply {
                    conversation_id: id,
                    messages,
                    latest_seq: latest,
                    more,
                },
            ))
        };
        AtomicResponse::new(Box::pin(guarded(work).into_actor(self).map(
            |res, act, ctx| {
                let (info, msg, reply) = match res {
                    Err(Panicked) => {
                        ctx.stop();
                        return Err(panicked_reply());
                    }
                    Ok(r) => r?,
                };
                act.info = Some(info);
                act.last_active = Instant::now();
                act.next_presence_ref += 1;
                let meta = Meta {
                    phx_ref: format!("{}-{}", msg.socket_id, act.next_presence_ref),
                    name: msg.identity.name.clone(),
                    role: msg.identity.role.as_str().to_owned(),
                    online_at: act.clock.now().timestamp(),
                };
                let user = msg.identity.user_id.clone();
                // A rejoin from the same socket replaces its old presence.
                if let Some((old_user, old_meta)) = act.presence.remove(&msg.socket_id) {
                    let leave = act.push(event::PRESENCE_DIFF, &Diff::leave(&old_user, old_meta));
                    act.subscribers.broadcast(&leave, Some(msg.socket_id));
                }
                let diff = act.push(event::PRESENCE_DIFF, &Diff::join(&user, meta.clone()));
                act.subscribers.broadcast(&diff, Some(msg.socket_id));
                act.subscribers.insert(
                    msg.socket_id,
                    Subscriber {
                        user_id: user.clone(),
                        recipient: msg.recipient,
                    },
                );
                act.presence.insert(msg.socket_id, (user, meta));
                Ok(Joined {
                    response: serde_json::to_value(&reply).unwrap_or(Value::Null),
                    presence: Some(act.presence_state()),
                })
            },
        )))
    }
}

impl Handler<Leave> for ConversationActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, _ctx: &mut Self::Context) {
        self.subscribers.remove(msg.socket_id);
        if let Some((user, meta)) = self.presence.remove(&msg.socket_id) {
            let diff = self.push(event::PRESENCE_DIFF, &Diff::leave(&user, meta));
            self.subscribers.broadcast(&diff, None);
        }
        self.last_active = Instant::now();
    }
}

impl Handler<Retire> for ConversationActor {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        // The registry has dropped our address. Stop the timer so nothing
        // keeps the actor alive; it ends once the last address is gone.
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
            self.presence.clear();
        }
    }
}

impl Handler<ClientEvent> for ConversationActor {
    type Result = AtomicResponse<Self, Result<Value, Reply>>;

    fn handle(&mut self, msg: ClientEvent, _ctx: &mut Self::Context) -> Self::Result {
        self.last_active = Instant::now();
        // Only joined sockets get here; the socket checks. Typing is
        // ephemeral and touches no store.
        if msg.event == event::TYPING {
            let push = self.push(
                event::TYPING,
                &chat::TypingEvent {
                    user_id: msg.identity.user_id.clone(),
                },
            );
            self.subscribers.broadcast(&push, Some(msg.socket_id));
            return AtomicResponse::new(Box::pin(fut::ready(Ok(json!({})))));
        }
        let info = self.info_future();
        let store = self.store.clone();
        let now = self.clock.now();
        let id = self.id.clone();
        let work = async move {
            let info = info.await.map_err(store_reply)?;
            let who = &msg.identity;
            let outcome = match msg.event.as_str() {
                event::MESSAGE_SEND => {
                    let send: chat::Send = parse(msg.payload)?;
                    chat::check_body(&send.body).map_err(|m| {
                        let r = if send.body.trim().is_empty() {
                            reason::BAD_REQUEST
                        } else {
                            reason::BODY_TOO_LONG
                        };
                        Reply::error(r, m)
                    })?;
                    if send.client_msg_id.is_empty()
                        || send.client_msg_id.len() > chat::MAX_CLIENT_MSG_ID_LEN
                    {
                        return Err(Reply::error(
                            reason::BAD_REQUEST,
                            "client_msg_id must be 1 to 64 characters",
                        ));
                    }
                    if !may_access(&info, who) {
                        return Err(Reply::error(reason::FORBIDDEN, "not a member"));
                    }
                    match store
                        .append_message(&id, &who.user_id, &send.client_msg_id, &send.body, now)
                        .await
                        .map_err(store_reply)?
                    {
                        Appended::New(m) => Outcome::Broadcast {
                            reply: json!({ "message": m }),
                            event: event::MESSAGE_NEW,
                            payload: serde_json::to_value(&m).unwrap_or(Value::Null),
                            except: None,
                        },
                        Appended::Duplicate(m) => Outcome::Reply(json!({ "message": m })),
                    }
                }
                event::MESSAGE_HISTORY => {
                    let h: chat::History = parse(msg.payload)?;
                    let limit = h.limit.unwrap_or(50).clamp(1, MAX_PAGE);
                    let forward = h.after_seq.is_some();
                    let mut page = match (h.before_seq, h.after_seq) {
                        (Some(_), Some(_)) => {
                            return Err(Reply::error(
                                reason::BAD_REQUEST,
                                "give before_seq or after_seq, not both",
                            ));
                        }
                        (_, Some(after)) => store.messages_after(&id, after, limit + 1).await,
                        (before, None) => {
                            let before = before.unwrap_or(u64::MAX);
                            store.messages_before(&id, before, limit + 1).await
                        }
                    }
                    .map_err(store_reply)?;
                    // One extra was read to learn whether more remain.
                    let more = page.len() > limit;
                    if more {
                        if forward {
                            page.truncate(limit);
                        } else {
                            page.remove(0);
                        }
                    }
                    let reply = chat::HistoryPage {
                        messages: page,
                        more,
                    };
                    Outcome::Reply(serde_json::to_value(reply).unwrap_or(Value::Null))
                }
                event::MESSAGE_READ => {
                    let r: chat::ReadMark = parse(msg.payload)?;
                    let seq = store
                        .set_read_mark(&id, &who.user_id, r.seq, now)
                        .await
                        .map_err(store_reply)?;
                    let ev = chat::ReadEvent {
                        user_id: who.user_id.clone(),
                        seq,
                    };
                    Outcome::Broadcast {
                        reply: json!({ "seq": seq }),
                        event: event::READ,
                        payload: serde_json::to_value(&ev).unwrap_or(Value::Null),
                        except: Some(msg.socket_id),
                    }
                }
                event::MESSAGE_EDIT | event::MESSAGE_DELETE => {
                    let (seq, body) = if msg.event == event::MESSAGE_EDIT {
                        let e: chat::Edit = parse(msg.payload)?;
                        chat::check_body(&e.body)
                            .map_err(|m| Reply::error(reason::BAD_REQUEST, m))?;
                        (e.seq, Some(e.body))
                    } else {
                        let d: chat::Delete = parse(msg.payload)?;
                        (d.seq, None)
                    };
                    let m = store
                        .revise_message(&id, seq, &who.user_id, body.as_deref(), now)
                        .await
                        .map_err(store_reply)?;
                    Outcome::Broadcast {
                        reply: json!({ "message": m }),
                        event: event::MESSAGE_UPDATED,
                        payload: serde_json::to_value(&m).unwrap_or(Value::Null),
                        except: None,
                    }
                }
                other => {
                    return Err(Reply::error(
                        reason::UNKNOWN_EVENT,
                        format!("unknown event {other:?}"),
                    ));
                }
            };
            Ok((info, outcome))
        };
        AtomicResponse::new(Box::pin(guarded(work).into_actor(self).map(
            |res, act, ctx| {
                let (info, outcome) = match res {
                    Err(Panicked) => {
                        ctx.stop();
                        return Err(panicked_reply());
                    }
                    Ok(r) => r?,
                };
                act.info = Some(info);
                Ok(match outcome {
                    Outcome::Reply(v) => v,
                    Outcome::Broadcast {
                        reply,
                        event,
                        payload,
                        except,
                    } => {
                        // Persisted already: now everyone hears of it.
                        let push = act.push(event, &payload);
                        act.subscribers.broadcast(&push, except);
                        reply
                    }
                })
            },
        )))
    }
}

/// What a client event produced, applied back inside the actor.
enum Outcome {
    Reply(Value),
    Broadcast {
        reply: Value,
        event: &'static str,
        payload: Value,
        except: Option<SocketId>,
    },
}
