//! The socket against abuse: a token's socket ends at its expiry, a
//! suspended account's sockets close, fragments and pings pay the rate
//! limit and the size limit, text must be UTF-8, and the per-user caps
//! (sockets, topics per socket, chat messages a second across sockets).
//! Raw frames go through tokio-tungstenite; time moves on a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::sync::Arc;

use cms_actors::ManualClock;
use cms_loadtest::{ClientError, PhxClient};
use cms_protocol::ReplyStatus;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Raw = WebSocketStream<MaybeTlsStream<TcpStream>>;

const NOW: &str = "2026-11-23T10:00:00Z";

/// A server on a manual clock standing at [`NOW`], with `config`.
async fn app_at(config: cms_server::config::Config) -> (TestApp, Arc<ManualClock>) {
    let now = chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Arc::new(ManualClock::new(now));
    (spawn_app_on(config, clock.clone()).await, clock)
}

async fn raw(app: &TestApp, user: &User) -> Raw {
    let (ws, _) = tokio_tungstenite::connect_async(app.ws_url(&user.token))
        .await
        .expect("upgrade");
    ws
}

fn fragment(data: &[u8], opcode: Data, last: bool) -> Message {
    Message::Frame(Frame::message(data.to_vec(), OpCode::Data(opcode), last))
}

/// Sends every message, stopping quietly once the server has closed.
async fn send_all(ws: &mut Raw, msgs: impl IntoIterator<Item = Message>) {
    for m in msgs {
        if ws.feed(m).await.is_err() {
            return;
        }
    }
    let _ = ws.flush().await;
}

/// What came back until the server closed: the text frames (decoded), the
/// number of pongs, and the close code.
async fn drain(ws: &mut Raw) -> (Vec<Value>, usize, Option<u16>) {
    let (mut texts, mut pongs) = (Vec::new(), 0);
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => texts.push(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(Message::Pong(_)))) => pongs += 1,
            Ok(Some(Ok(Message::Close(f)))) => {
                return (texts, pongs, f.map(|f| u16::from(f.code)));
            }
            Ok(Some(Ok(_))) => {}
            // Reset after the close frame, or never closed at all.
            Ok(Some(Err(_)) | None) => return (texts, pongs, None),
            Err(_) => panic!("the server did not close the socket within {WAIT:?}"),
        }
    }
}

fn reasons(texts: &[Value]) -> Vec<String> {
    texts
        .iter()
        .filter_map(|f| f[4]["response"]["reason"].as_str().map(str::to_owned))
        .collect()
}

fn tight_rate() -> cms_server::config::Config {
    let mut config = test_config();
    config.socket.rate_per_second = 5.0;
    config.socket.rate_burst = 5.0;
    config.socket.rate_close_after = 20;
    config
}

#[actix_web::test]
async fn an_expired_tokens_socket_closes_with_4001_and_cannot_join() {
    let mut config = test_config();
    config.auth.token_ttl_secs = 3600;
    let (app, clock) = app_at(config).await;
    let t = thread(&app).await;
    let c = app.joined(&t.parent1, &topic(&t.conversation)).await;
    // A minute before expiry the socket still works.
    clock.advance(chrono::Duration::minutes(59));
    c.heartbeat().await.expect("open before expiry");
    let mine = format!("user:{}", t.parent1.id);
    clock.advance(chrono::Duration::minutes(1));
    // Whatever wins the race, the expiry timer or this join, the join
    // is not let through.
    match c.join(&mine, json!({})).await {
        Ok(r) => {
            assert_eq!(r.status, ReplyStatus::Error, "{:?}", r.response);
            assert_eq!(r.response["reason"], "unauthorized");
        }
        Err(ClientError::Closed | ClientError::ClosedWith { .. }) => {}
        Err(e) => panic!("join after expiry: {e}"),
    }
    let closed = c.closed(WAIT).await.expect("closed at expiry");
    assert_eq!(closed, Some((4001, "token expired".to_owned())));
    // Nor does the token open a new socket.
    match PhxClient::connect(&app.ws_url(&t.parent1.token)).await {
        Err(ClientError::Http(403)) => {}
        other => panic!("expired token upgraded: {:?}", other.map(|_| ())),
    }
}

#[actix_web::test]
async fn an_idle_socket_closes_at_expiry_without_any_frame() {
    let mut config = test_config();
    config.auth.token_ttl_secs = 3600;
    let (app, clock) = app_at(config).await;
    let t = thread(&app).await;
    let c = app.connect(&t.parent1).await;
    let other = app.connect(&t.tutor).await;
    c.heartbeat().await.expect("open");
    clock.advance(chrono::Duration::hours(1));
    let closed = c.closed(WAIT).await.expect("closed at expiry");
    assert_eq!(closed.map(|(code, _)| code), Some(4001));
    // The tutor's token was issued at the same instant: closed as well.
    assert_eq!(
        other.closed(WAIT).await.expect("closed").map(|(c, _)| c),
        Some(4001)
    );
}

#[actix_web::test]
async fn suspending_a_tutor_closes_their_sockets_with_4003_only() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let tutor = sched::approved_tutor(&app, &admin, "Tess Tutor").await;
    let parent = app.register("parent", "Pam Parent").await;
    let a = app.joined(&tutor, &format!("tutor:{}", tutor.id)).await;
    let b = app.connect(&tutor).await;
    let bystander = app.connect(&parent).await;
    sched::set_status(&app, &admin, &tutor, "suspended").await;
    for c in [&a, &b] {
        let closed = c.closed(WAIT).await.expect("closed on suspension");
        assert_eq!(closed, Some((4003, "account suspended".to_owned())));
    }
    bystander.heartbeat().await.expect("others untouched");
    // The token they still hold opens no new socket.
    match PhxClient::connect(&app.ws_url(&tutor.token)).await {
        Err(ClientError::Http(403)) => {}
        other => panic!("a suspended tutor upgraded: {:?}", other.map(|_| ())),
    }
}

#[actix_web::test]
async fn a_flood_of_empty_continuation_frames_is_refused_then_closed() {
    let app = spawn_app_with(tight_rate()).await;
    let t = thread(&app).await;
    let mut ws = raw(&app, &t.parent1).await;
    let first = std::iter::once(fragment(b"", Data::Text, false));
    let empties = (0..300).map(|_| fragment(b"", Data::Continue, false));
    send_all(&mut ws, first.chain(empties)).await;
    let (texts, _, code) = drain(&mut ws).await;
    assert!(
        reasons(&texts).iter().any(|r| r == "rate_limited"),
        "a refused fragment is answered rate_limited: {texts:?}"
    );
    assert_eq!(code, Some(1008));
}

#[actix_web::test]
async fn a_ping_flood_is_limited_then_closed() {
    let app = spawn_app_with(tight_rate()).await;
    let t = thread(&app).await;
    let mut ws = raw(&app, &t.parent1).await;
    send_all(&mut ws, (0..300).map(|_| Message::Ping(Vec::new().into()))).await;
    let (_, pongs, code) = drain(&mut ws).await;
    assert!(pongs <= 6, "only the burst is answered, got {pongs} pongs");
    assert_eq!(code, Some(1008));
}

#[actix_web::test]
async fn a_fragmented_message_works_and_an_oversized_one_closes_with_1009() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let mut ws = raw(&app, &t.parent1).await;
    // A heartbeat in three fragments is one message, answered once.
    let beat = br#"[null,"7","phoenix","heartbeat",{}]"#;
    let (a, rest) = beat.split_at(10);
    let (b, c) = rest.split_at(10);
    send_all(
        &mut ws,
        [
            fragment(a, Data::Text, false),
            fragment(b, Data::Continue, false),
            fragment(c, Data::Continue, true),
        ],
    )
    .await;
    let reply = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap();
    let reply: Value = serde_json::from_str(reply.unwrap().to_text().unwrap()).unwrap();
    assert_eq!(reply[1], "7");
    assert_eq!(reply[4]["status"], "ok");
    // Two 40 KiB fragments: each under the frame limit, together over it.
    let half = vec![b' '; 40 * 1024];
    send_all(
        &mut ws,
        [
            fragment(&half, Data::Text, false),
            fragment(&half, Data::Continue, true),
        ],
    )
    .await;
    let (_, _, code) = drain(&mut ws).await;
    assert_eq!(code, Some(1009));
}

#[actix_web::test]
async fn text_that_is_not_utf8_closes_with_1007() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    // In one frame.
    let mut ws = raw(&app, &t.parent1).await;
    send_all(&mut ws, [fragment(b"[null,\"1\",\xff]", Data::Text, true)]).await;
    assert_eq!(drain(&mut ws).await.2, Some(1007));
    // Split so each fragment's bytes are an incomplete character.
    let mut ws = raw(&app, &t.parent1).await;
    send_all(
        &mut ws,
        [
            fragment(b"[\xe2", Data::Text, false),
            fragment(b"\x28]", Data::Continue, true),
        ],
    )
    .await;
    assert_eq!(drain(&mut ws).await.2, Some(1007));
}

#[actix_web::test]
async fn a_user_may_hold_at_most_sockets_per_user_sockets() {
    let mut config = test_config();
    config.limits.sockets_per_user = 3;
    let app = spawn_app_with(config).await;
    let t = thread(&app).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(app.connect(&t.parent1).await);
    }
    match tokio_tungstenite::connect_async(app.ws_url(&t.parent1.token)).await {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429);
            let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"], "too_many_requests", "{body}");
            assert!(body["message"].as_str().unwrap().contains('3'), "{body}");
        }
        other => panic!("a fourth socket: {:?}", other.map(|_| ())),
    }
    // The cap is per user: the second parent of the family is let in.
    app.connect(&t.parent2)
        .await
        .heartbeat()
        .await
        .expect("open");
    // Closing one frees its place (once the registry has heard of it).
    let gone = open.pop().unwrap();
    gone.close().await;
    gone.closed(WAIT).await.expect("closed");
    let mut again = None;
    for _ in 0..200 {
        match PhxClient::connect(&app.ws_url(&t.parent1.token)).await {
            Ok(c) => {
                again = Some(c);
                break;
            }
            Err(ClientError::Http(429)) => tokio::task::yield_now().await,
            Err(e) => panic!("{e}"),
        }
    }
    again
        .expect("a place freed")
        .heartbeat()
        .await
        .expect("open");
}

#[actix_web::test]
async fn a_socket_may_join_at_most_topics_per_socket_topics() {
    let mut config = test_config();
    config.limits.topics_per_socket = 2;
    let app = spawn_app_with(config).await;
    let t = thread(&app).await;
    let conversation = topic(&t.conversation);
    let mine = format!("user:{}", t.parent1.id);
    let family = format!("family:{}", t.parent1.family_id.as_deref().unwrap());
    let c = app.joined(&t.parent1, &conversation).await;
    let r = c.join(&mine, json!({})).await.expect("reply");
    assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
    // Joining a joined topic again replaces it; it takes no new place.
    let r = c.join(&mine, json!({})).await.expect("reply");
    assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
    let r = c.join(&family, json!({})).await.expect("reply");
    assert_eq!(r.status, ReplyStatus::Error);
    assert_eq!(r.response["reason"], "too_many_topics", "{:?}", r.response);
    // The socket lives on, and leaving one makes room.
    let r = c.push(&mine, "phx_leave", json!({})).await.expect("left");
    assert_eq!(r.status, ReplyStatus::Ok);
    let r = c.join(&family, json!({})).await.expect("reply");
    assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
}

async fn say(c: &PhxClient, topic: &str, body: &str) -> cms_protocol::Reply {
    let payload = json!({ "client_msg_id": body, "body": body });
    c.push(topic, "message:send", payload).await.expect("reply")
}

#[actix_web::test]
async fn chat_messages_are_limited_per_user_across_sockets_and_refused_ones_are_not_stored() {
    let mut config = test_config();
    config.limits.messages_per_user_per_second = 3;
    config.auth.token_ttl_secs = 24 * 3600;
    // The clock stands still, so nothing refills until the test moves it.
    let (app, clock) = app_at(config).await;
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let a = app.joined(&t.parent1, &topic).await;
    let b = app.joined(&t.parent1, &topic).await;
    for (c, body) in [(&a, "one"), (&b, "two"), (&a, "three")] {
        let r = say(c, &topic, body).await;
        assert_eq!(r.status, ReplyStatus::Ok, "{body}: {:?}", r.response);
    }
    // The fourth, on the other socket, is over the user's three a second.
    let r = say(&b, &topic, "four").await;
    assert_eq!(r.status, ReplyStatus::Error);
    assert_eq!(r.response["reason"], "rate_limited", "{:?}", r.response);
    // Another user is not held back by it.
    let tutor = app.joined(&t.tutor, &topic).await;
    assert_eq!(say(&tutor, &topic, "hello").await.status, ReplyStatus::Ok);
    // The refused message was never stored.
    let r = a
        .push(&topic, "message:history", json!({}))
        .await
        .expect("history");
    let bodies: Vec<&str> = r.response["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["one", "two", "three", "hello"]);
    // A second later the user may send again.
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(say(&b, &topic, "five").await.status, ReplyStatus::Ok);
}
