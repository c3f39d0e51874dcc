//! One simulated user's socket on whichever system is under test, wired
//! to the run's [`Tracker`]: pushes are counted as they arrive, on the
//! socket's reader task.

use std::sync::Arc;
use std::time::Instant;

use cms_protocol::topic::PHOENIX;
use cms_protocol::{Frame, Topic, event};
use serde_json::{Value, json};

use crate::client::{PhxClient, socket_url};
use crate::error::ClientError;
use crate::nats::NatsConn;
use crate::track::Tracker;
use crate::world::{Member, Target, World};

#[allow(clippy::large_enum_variant)] // one per socket, held in an Arc
pub enum Conn {
    Phx(PhxClient),
    Nats(NatsConn),
}

/// What opening a socket took.
pub struct Opened {
    pub conn: Conn,
    /// Connect plus every join, in microseconds.
    pub join_us: u64,
}

/// The channel topic (or NATS subject) of conversation `c`.
pub fn topic(world: &World, c: usize) -> String {
    let id = world.conversations.get(c).map_or("", |x| x.id.as_str());
    match world.target {
        Target::Nats => format!("conv.{id}"),
        _ => Topic::Conversation(id.into()).to_string(),
    }
}

impl Conn {
    /// Opens socket `r` (`member` of conversation `c`) and joins its topics: the
    /// user topic too when `user_topic`, and with `since_seq` the
    /// conversation's missed messages are fetched and counted as recovered.
    pub async fn open(
        world: &World,
        tracker: &Arc<Tracker>,
        r: usize,
        c: usize,
        member: &Member,
        user_topic: bool,
        since_seq: Option<u64>,
    ) -> Result<Opened, ClientError> {
        let started = Instant::now();
        let conv = topic(world, c);
        let conn = match world.target {
            Target::Nats => {
                let t = tracker.clone();
                let e = tracker.clone();
                let n = NatsConn::connect_from(
                    &world.url,
                    world.source(r),
                    Arc::new(move |_subject, payload| t.deliver(r, payload, None)),
                    Arc::new(move || e.error()),
                )
                .await?;
                n.subscribe(&conv).await?;
                Conn::Nats(n)
            }
            Target::Cms | Target::Bare => {
                let url = socket_url(&world.url, &member.token);
                let client =
                    PhxClient::connect_from(&url, world.source(r), phx_hook(tracker.clone(), r, c))
                        .await?;
                if user_topic {
                    expect_ok(
                        client
                            .join(
                                &Topic::User(member.id.as_str().into()).to_string(),
                                json!({}),
                            )
                            .await?,
                    )?;
                }
                let params = match since_seq {
                    Some(s) => json!({ "since_seq": s }),
                    None => json!({}),
                };
                let reply = expect_ok(client.join(&conv, params).await?)?;
                match since_seq {
                    Some(_) => catch_up(&client, tracker, r, &conv, &reply).await?,
                    None => {
                        if let Some(latest) = reply["latest_seq"].as_u64() {
                            tracker.note_seq(r, latest);
                        }
                    }
                }
                Conn::Phx(client)
            }
        };
        Ok(Opened {
            conn,
            join_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        })
    }

    /// Sends one chat message without waiting for the system's answer.
    pub async fn send(
        &self,
        topic: &str,
        body: &str,
        client_msg_id: &str,
    ) -> Result<(), ClientError> {
        match self {
            Conn::Phx(c) => {
                c.push_no_wait(
                    topic,
                    event::MESSAGE_SEND,
                    json!({ "client_msg_id": client_msg_id, "body": body }),
                )
                .await
            }
            Conn::Nats(n) => n.publish(topic, body).await,
        }
    }

    /// Keeps an idle socket alive (Phoenix closes silent sockets).
    pub async fn heartbeat(&self) {
        if let Conn::Phx(c) = self {
            let _ = c.push_no_wait(PHOENIX, event::HEARTBEAT, json!({})).await;
        }
    }

    /// Waits until the system has taken everything sent on this socket.
    pub async fn flush(&self) -> Result<(), ClientError> {
        match self {
            Conn::Phx(c) => c.heartbeat().await.map(|_| ()),
            Conn::Nats(n) => n.flush().await,
        }
    }

    pub async fn close(&self) {
        match self {
            Conn::Phx(c) => {
                c.close().await;
                let _ = c.closed(std::time::Duration::from_secs(5)).await;
            }
            Conn::Nats(n) => n.close().await,
        }
    }
}

/// Counts `message:new` pushes as deliveries and the answers to sends as
/// acks (or errors).
fn phx_hook(t: Arc<Tracker>, r: usize, c: usize) -> crate::client::EventHook {
    Arc::new(move |f: Frame| match f.event.as_str() {
        event::MESSAGE_NEW => match f.payload["body"].as_str() {
            Some(body) => t.deliver(r, body, f.payload["seq"].as_u64()),
            None => t.error(),
        },
        event::REPLY => {
            let ok = f.payload["status"] == "ok";
            match f.payload["response"]["message"]["body"].as_str() {
                Some(body) if ok => t.ack(c, body),
                // A heartbeat's answer.
                None if ok => {}
                _ => t.error(),
            }
        }
        event::ERROR | event::CLOSE => t.error(),
        _ => {}
    })
}

fn expect_ok(reply: cms_protocol::Reply) -> Result<Value, ClientError> {
    if reply.status == cms_protocol::ReplyStatus::Ok {
        Ok(reply.response)
    } else {
        Err(ClientError::Refused(reply.response.to_string()))
    }
}

/// Counts the join reply's messages and pages on while the server says
/// there are more.
async fn catch_up(
    client: &PhxClient,
    t: &Tracker,
    r: usize,
    conv: &str,
    reply: &Value,
) -> Result<(), ClientError> {
    let mut page = reply.clone();
    loop {
        let mut last = None;
        for m in page["messages"].as_array().into_iter().flatten() {
            if let Some(body) = m["body"].as_str() {
                t.recover(r, body, m["seq"].as_u64());
                last = m["seq"].as_u64();
            }
        }
        match (page["more"].as_bool(), last) {
            (Some(true), Some(after)) => {
                page = expect_ok(
                    client
                        .push(
                            conv,
                            event::MESSAGE_HISTORY,
                            json!({ "after_seq": after, "limit": 100 }),
                        )
                        .await?,
                )?;
            }
            _ => return Ok(()),
        }
    }
}
