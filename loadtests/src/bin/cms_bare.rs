//! `cms-bare`: the ceiling. A broadcast server on bare tokio-tungstenite
//! that speaks the same Phoenix v2 frames the load scenarios use — join,
//! `message:send` answered and fanned out as `message:new`, heartbeat —
//! with no auth, no actors and nothing stored. Whatever the CMS server
//! costs above this is the price of actors, checks and persistence.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use clap::Parser;
use cms_protocol::{Frame, event};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

#[derive(Parser, Debug)]
#[command(about = "Bare broadcast baseline for cms-loadtest")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:4100")]
    listen: String,
}

/// Topic → the sockets joined to it, by socket number.
type Topics = Arc<Mutex<HashMap<String, HashMap<u64, mpsc::UnboundedSender<Utf8Bytes>>>>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let listener = TcpListener::bind(&args.listen).await?;
    println!("cms-bare listening on http://{}", listener.local_addr()?);
    let topics: Topics = Arc::default();
    let ids = AtomicU64::new(1);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // Out of descriptors: keep serving those already here.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = ids.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(serve(stream, id, topics.clone()));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn serve(stream: TcpStream, id: u64, topics: Topics) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Utf8Bytes>();
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(Message::Text(text)).await.is_err() {
                break;
            }
        }
    });
    let mut joined: Vec<String> = Vec::new();
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else {
            if matches!(msg, Message::Close(_)) {
                break;
            }
            continue;
        };
        let Ok(frame) = Frame::decode(&text) else {
            continue;
        };
        let reply = |response| {
            Frame {
                join_ref: frame.join_ref.clone(),
                msg_ref: frame.msg_ref.clone(),
                topic: frame.topic.clone(),
                event: event::REPLY.into(),
                payload: json!({ "status": "ok", "response": response }),
            }
            .encode()
        };
        match frame.event.as_str() {
            event::JOIN => {
                lock(&topics)
                    .entry(frame.topic.clone())
                    .or_default()
                    .insert(id, tx.clone());
                joined.push(frame.topic.clone());
                let _ = tx.send(reply(json!({})).into());
            }
            event::MESSAGE_SEND => {
                let body = frame.payload["body"].clone();
                let push: Utf8Bytes = Frame {
                    join_ref: None,
                    msg_ref: None,
                    topic: frame.topic.clone(),
                    event: event::MESSAGE_NEW.into(),
                    payload: json!({ "body": body }),
                }
                .encode()
                .into();
                // Encoded once; every subscriber gets the same bytes.
                let subs: Vec<_> = lock(&topics)
                    .get(&frame.topic)
                    .map(|m| m.values().cloned().collect())
                    .unwrap_or_default();
                for s in subs {
                    let _ = s.send(push.clone());
                }
                let _ = tx.send(reply(json!({ "message": { "body": body } })).into());
            }
            _ => {
                let _ = tx.send(reply(json!({})).into());
            }
        }
    }
    let mut t = lock(&topics);
    for topic in joined {
        if let Some(m) = t.get_mut(&topic) {
            m.remove(&id);
            if m.is_empty() {
                t.remove(&topic);
            }
        }
    }
    drop(t);
    writer.abort();
}
