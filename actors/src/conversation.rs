//! One actor per active conversation: the only writer of its messages, the
//! keeper of who is present, and the fan-out to its sockets.
//!
//! Store work runs under `AtomicResponse`, so one conversation handles one
//! write at a time: the order of broadcasts is the order of seqs, and a join
//! reads its catch-up page and subscribes in one step, so no message falls in
//! between. The seq itself is assigned by the store in a transaction.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use cms_protocol::chat::{self, JoinParams, JoinReply, MAX_PAGE};
use cms_protocol::reply::reason;
use cms_protocol::{ConversationEvent, Reply, Topic, TopicEvents, event};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::guard::{Panicked, guarded};
use crate::messages::{Broadcast, ClientEvent, Join, Joined, Leave, Push, Retire, SocketId};
use crate::policy::{self, Refusal};
use crate::presence::Presence;
use crate::registry::Registry;
use crate::store::{Appended, ChatStore, ConversationInfo, StoreError};
use crate::subscribers::Subscriber;
use crate::topic_actor::{TopicActor, TopicCore};

/// Mailbox size: sends from many sockets queue here, never block them.
const MAILBOX: usize = 4096;

pub struct ConversationActor {
    core: TopicCore,
    id: String,
    store: Arc<dyn ChatStore>,
    clock: Arc<dyn Clock>,
    /// Members, loaded from the store on start and after a restart.
    info: Option<Arc<ConversationInfo>>,
    /// Presence metas per socket. Kept across a restart, like the sockets.
    presence: Presence,
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
            core: TopicCore::new(
                Topic::Conversation(id.as_str().into()),
                registry,
                idle_after,
            ),
            id,
            store,
            clock,
            info: None,
            presence: Presence::default(),
        }
    }

    fn push(&self, event: &'static str, payload: &impl serde::Serialize) -> Push {
        self.core.push(event, payload)
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

impl TopicActor for ConversationActor {
    fn core(&self) -> &TopicCore {
        &self.core
    }
}

impl Actor for ConversationActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.core.started(ctx, MAILBOX);
    }
}

impl Supervised for ConversationActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        // The cache may be what made the handler panic: drop it and let the
        // next handler reload from the store. Sockets and presence stay.
        self.core.restarting();
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

impl Handler<Join> for ConversationActor {
    type Result = AtomicResponse<Self, Result<Joined, Reply>>;

    fn handle(&mut self, msg: Join, _ctx: &mut Self::Context) -> Self::Result {
        if let Err(r) = self.core.refuse_if_retired() {
            return AtomicResponse::new(Box::pin(fut::ready(Err(r))));
        }
        let info = self.info_future();
        let store = self.store.clone();
        let id = self.id.clone();
        let work = async move {
            let params: JoinParams = serde_json::from_value(msg.params.clone())
                .map_err(|e| Reply::error(reason::BAD_REQUEST, e.to_string()))?;
            let info = info.await.map_err(|e| match e {
                // Unknown and foreign conversations look the same.
                StoreError::NotFound => Refusal::NotMember.reply(),
                other => store_reply(other),
            })?;
            policy::join_as_member(&msg.identity, &info.member_ids)?;
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
            Ok::<_, Reply>((
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
                let online_at = act.clock.now().timestamp();
                // The others hear of the join (and, on a rejoin from the
                // same socket, of its old meta leaving) before it subscribes.
                for diff in act.presence.join(msg.socket_id, &msg.identity, online_at) {
                    let push = act.push(event::PRESENCE_DIFF, &diff);
                    act.core.broadcast(&push, Some(msg.socket_id));
                }
                act.core.subscribe(
                    msg.socket_id,
                    Subscriber {
                        user_id: msg.identity.user_id.clone(),
                        recipient: msg.recipient,
                    },
                );
                Ok(Joined {
                    response: to_value(&reply),
                    presence: Some(act.presence.state()),
                })
            },
        )))
    }
}

impl Handler<Leave> for ConversationActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, _ctx: &mut Self::Context) {
        self.core.unsubscribe(msg.socket_id);
        if let Some(diff) = self.presence.leave(msg.socket_id) {
            let push = self.push(event::PRESENCE_DIFF, &diff);
            self.core.broadcast(&push, None);
        }
    }
}

impl Handler<Retire> for ConversationActor {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        if self.core.retire(ctx) {
            self.presence.clear();
        }
    }
}

impl Handler<Broadcast> for ConversationActor {
    type Result = ();

    fn handle(&mut self, msg: Broadcast, _ctx: &mut Self::Context) {
        self.core.broadcast(&msg.0, None);
    }
}

impl Handler<ClientEvent> for ConversationActor {
    type Result = AtomicResponse<Self, Result<Value, Reply>>;

    fn handle(&mut self, msg: ClientEvent, _ctx: &mut Self::Context) -> Self::Result {
        self.core.touch();
        let ClientEvent {
            socket_id,
            identity: who,
            event: name,
            payload,
        } = msg;
        // Only joined sockets get here; the socket checks.
        let decoded = ConversationEvent::decode(self.core.topic(), &name, payload);
        // Typing is ephemeral: it touches no store and waits for no write.
        if let Ok(ConversationEvent::Typing) = decoded {
            let typing = chat::TypingEvent {
                user_id: who.user_id.clone(),
            };
            let push = self.push(event::TYPING, &typing);
            self.core.broadcast(&push, Some(socket_id));
            return AtomicResponse::new(Box::pin(fut::ready(Ok(json!({})))));
        }
        let info = self.info_future();
        let store = self.store.clone();
        let now = self.clock.now();
        let id = self.id.clone();
        let work = async move {
            let info = info.await.map_err(store_reply)?;
            // Members are loaded before an undecodable event is refused,
            // the order clients have always seen.
            let outcome = match decoded? {
                ConversationEvent::Send(send) => {
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
                    policy::write_as_member(&who, &info.member_ids)?;
                    match store
                        .append_message(&id, &who.user_id, &send.client_msg_id, &send.body, now)
                        .await
                        .map_err(store_reply)?
                    {
                        Appended::New(m) => Outcome::Broadcast {
                            reply: json!({ "message": m }),
                            event: event::MESSAGE_NEW,
                            payload: to_value(&m),
                            except: None,
                        },
                        Appended::Duplicate(m) => Outcome::Reply(json!({ "message": m })),
                    }
                }
                ConversationEvent::History(h) => {
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
                    Outcome::Reply(to_value(&chat::HistoryPage {
                        messages: page,
                        more,
                    }))
                }
                ConversationEvent::Read(r) => {
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
                        payload: to_value(&ev),
                        except: Some(socket_id),
                    }
                }
                ConversationEvent::Edit(chat::Edit { seq, body }) => {
                    chat::check_body(&body).map_err(|m| Reply::error(reason::BAD_REQUEST, m))?;
                    revise(&*store, &id, seq, &who.user_id, Some(&body), now).await?
                }
                ConversationEvent::Delete(chat::Delete { seq }) => {
                    revise(&*store, &id, seq, &who.user_id, None, now).await?
                }
                // Answered above, without the store.
                ConversationEvent::Typing => Outcome::Reply(json!({})),
            };
            Ok::<_, Reply>((info, outcome))
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
                        let sent = act.core.broadcast(&push, except);
                        if event == event::MESSAGE_NEW {
                            metrics::counter!("cms_messages_delivered_total")
                                .increment(sent as u64);
                        }
                        reply
                    }
                })
            },
        )))
    }
}

/// Edits (`Some(body)`) or deletes (`None`) a message; everyone hears of it.
async fn revise(
    store: &dyn ChatStore,
    id: &str,
    seq: u64,
    editor: &str,
    body: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Outcome, Reply> {
    let m = store
        .revise_message(id, seq, editor, body, now)
        .await
        .map_err(store_reply)?;
    Ok(Outcome::Broadcast {
        reply: json!({ "message": m }),
        event: event::MESSAGE_UPDATED,
        payload: to_value(&m),
        except: None,
    })
}

/// A reply or push payload as JSON. Wire types always encode; should one
/// ever fail, it is logged rather than silently sent as `null`.
fn to_value(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_else(|e| {
        tracing::error!(error = %e, "payload failed to encode; sending null");
        Value::Null
    })
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
