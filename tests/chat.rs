//! Chat over the socket: delivery, ordering, catch-up and idempotency.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use common::*;
use serde_json::{Value, json};

fn ok(reply: &cms_protocol::Reply) -> &Value {
    assert_eq!(
        reply.status,
        cms_protocol::ReplyStatus::Ok,
        "{:?}",
        reply.response
    );
    &reply.response
}

#[actix_web::test]
async fn two_parents_and_a_tutor_chat() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let (p1, p2, tu) = (
        app.connect(&t.parent1).await,
        app.connect(&t.parent2).await,
        app.connect(&t.tutor).await,
    );
    for c in [&p1, &p2, &tu] {
        let r = c.join(&topic, json!({})).await.expect("join");
        assert_eq!(ok(&r)["latest_seq"], 0);
    }
    let sent = send(&p1, &topic, "Can we move Tuesday?").await;
    assert_eq!(sent["seq"], 1);
    assert_eq!(sent["sender_id"], t.parent1.id.as_str());
    for c in [&p1, &p2, &tu] {
        let f = c
            .next_event_named(&topic, "message:new", WAIT)
            .await
            .expect("message:new");
        assert_eq!(f.payload, sent, "every member gets the stored message");
    }
    let r = tu
        .push(
            &topic,
            "message:send",
            json!({ "client_msg_id": "t1", "body": "Yes, Wednesday 5pm?" }),
        )
        .await
        .expect("send");
    assert_eq!(ok(&r)["message"]["seq"], 2);
    for c in [&p1, &p2] {
        let f = c
            .next_event_named(&topic, "message:new", WAIT)
            .await
            .expect("reply arrives");
        assert_eq!(f.payload["body"], "Yes, Wednesday 5pm?");
        assert_eq!(f.payload["sender_id"], t.tutor.id.as_str());
    }
    // Typing reaches the others, not the typist.
    ok(&p2.push(&topic, "typing", json!({})).await.expect("typing"));
    let f = tu
        .next_event_named(&topic, "typing", WAIT)
        .await
        .expect("typing");
    assert_eq!(f.payload["user_id"], t.parent2.id.as_str());
    // Read marks are stored and announced.
    let r = p2
        .push(&topic, "message:read", json!({ "seq": 2 }))
        .await
        .expect("read");
    assert_eq!(ok(&r)["seq"], 2);
    let f = p1
        .next_event_named(&topic, "read", WAIT)
        .await
        .expect("read event");
    assert_eq!(f.payload, json!({ "user_id": t.parent2.id, "seq": 2 }));
    // The conversation list shows unread counts per member.
    let (status, list) = app
        .get("/api/v1/conversations", Some(&t.parent1.token))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["unread"], 1, "{list}");
    assert_eq!(list[0]["last_message"]["seq"], 2);
    let (_, list) = app
        .get("/api/v1/conversations", Some(&t.parent2.token))
        .await;
    assert_eq!(list[0]["unread"], 0, "{list}");
}

#[actix_web::test]
async fn a_client_that_rejoins_with_since_seq_gets_exactly_what_it_missed() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let tutor = app.joined(&t.tutor, &topic).await;
    let parent = app.joined(&t.parent1, &topic).await;
    for i in 1..=3 {
        let body = format!("before {i}");
        send(&tutor, &topic, &body).await;
    }
    let mut last = 0;
    for _ in 0..3 {
        last = parent
            .next_event_named(&topic, "message:new", WAIT)
            .await
            .expect("live")
            .payload["seq"]
            .as_u64()
            .expect("seq");
    }
    assert_eq!(last, 3);
    parent.close().await;
    for i in 1..=5 {
        let body = format!("while away {i}");
        send(&tutor, &topic, &body).await;
    }
    let parent = app.connect(&t.parent1).await;
    let r = parent
        .join(&topic, json!({ "since_seq": last }))
        .await
        .expect("rejoin");
    let resp = ok(&r);
    let seqs: Vec<u64> = resp["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, vec![4, 5, 6, 7, 8]);
    assert_eq!(resp["messages"][0]["body"], "while away 1");
    assert_eq!(resp["latest_seq"], 8);
    assert_eq!(resp["more"], false);
    // Nothing from the catch-up is pushed again.
    parent
        .expect_no_event(&topic, "message:new", std::time::Duration::from_millis(300))
        .await;
}

#[actix_web::test]
async fn catch_up_is_paged_with_more() {
    let mut config = test_config();
    config.socket.rate_burst = 1000.0;
    config.limits.messages_per_user_per_second = 1000;
    let app = spawn_app_with(config).await;
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let tutor = app.joined(&t.tutor, &topic).await;
    for i in 0..130 {
        tutor
            .push_no_wait(
                &topic,
                "message:send",
                json!({ "client_msg_id": format!("c{i}"), "body": format!("n{i}") }),
            )
            .await
            .expect("send");
    }
    ok(&tutor
        .push(
            &topic,
            "message:send",
            json!({ "client_msg_id": "last", "body": "last" }),
        )
        .await
        .expect("send"));
    let parent = app.connect(&t.parent1).await;
    let r = parent
        .join(&topic, json!({ "since_seq": 0 }))
        .await
        .expect("join");
    let resp = ok(&r);
    assert_eq!(resp["messages"].as_array().expect("page").len(), 100);
    assert_eq!(resp["more"], true);
    assert_eq!(resp["latest_seq"], 131);
    let r = parent
        .push(
            &topic,
            "message:history",
            json!({ "after_seq": 100, "limit": 100 }),
        )
        .await
        .expect("page 2");
    let page = ok(&r);
    assert_eq!(page["messages"].as_array().expect("page").len(), 31);
    assert_eq!(page["more"], false);
    let r = parent
        .push(
            &topic,
            "message:history",
            json!({ "before_seq": 11, "limit": 5 }),
        )
        .await
        .expect("back");
    let seqs: Vec<u64> = ok(&r)["messages"]
        .as_array()
        .expect("page")
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, vec![6, 7, 8, 9, 10]);
    assert_eq!(ok(&r)["more"], true);
}

#[actix_web::test]
async fn the_same_client_msg_id_returns_the_original_and_broadcasts_nothing() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let parent = app.connect(&t.parent1).await;
    let tutor = app.connect(&t.tutor).await;
    ok(&parent.join(&topic, json!({})).await.expect("join"));
    ok(&tutor.join(&topic, json!({})).await.expect("join"));
    let first = parent
        .push(
            &topic,
            "message:send",
            json!({ "client_msg_id": "dup-1", "body": "hello" }),
        )
        .await
        .expect("send");
    let original = ok(&first)["message"].clone();
    tutor
        .next_event_named(&topic, "message:new", WAIT)
        .await
        .expect("first broadcast");
    // A retry after a lost ack, even on a new socket and with another body.
    let again = app.joined(&t.parent1, &topic).await;
    let second = again
        .push(
            &topic,
            "message:send",
            json!({ "client_msg_id": "dup-1", "body": "hello (retry)" }),
        )
        .await
        .expect("resend");
    assert_eq!(ok(&second)["message"], original);
    tutor
        .expect_no_event(&topic, "message:new", std::time::Duration::from_millis(300))
        .await;
    let r = parent
        .push(&topic, "message:history", json!({}))
        .await
        .expect("history");
    assert_eq!(ok(&r)["messages"].as_array().expect("page").len(), 1);
}

#[actix_web::test]
async fn concurrent_senders_get_gap_free_seqs() {
    let mut config = test_config();
    // Bursts far above a person's rate: not what the limits are for.
    config.limits.messages_per_user_per_second = 1000;
    let app = spawn_app_with(config).await;
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let users = [&t.parent1, &t.parent2, &t.tutor, &t.parent1];
    let mut clients = Vec::new();
    for u in users {
        let c = app.connect(u).await;
        ok(&c.join(&topic, json!({})).await.expect("join"));
        clients.push(c);
    }
    const EACH: usize = 25;
    let sends = clients.iter().enumerate().map(|(ci, c)| {
        let topic = topic.clone();
        async move {
            let mut seqs = Vec::new();
            let pending: Vec<_> = (0..EACH)
                .map(|i| c.push(&topic, "message:send", json!({ "client_msg_id": format!("{ci}-{i}"), "body": format!("{ci}/{i}") })))
                .collect();
            for r in futures_util::future::join_all(pending).await {
                seqs.push(ok(&r.expect("ack"))["message"]["seq"].as_u64().expect("seq"));
            }
            seqs
        }
    });
    let mut all: Vec<u64> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .flatten()
        .collect();
    all.sort_unstable();
    let expected: Vec<u64> = (1..=(EACH * clients.len()) as u64).collect();
    assert_eq!(all, expected, "every seq once, none skipped");
    // Each socket saw every message, in seq order.
    for c in &clients {
        let mut seen = Vec::new();
        while seen.len() < expected.len() {
            let f = c
                .next_event_named(&topic, "message:new", WAIT)
                .await
                .expect("delivery");
            seen.push(f.payload["seq"].as_u64().expect("seq"));
        }
        assert_eq!(seen, expected);
    }
}

#[actix_web::test]
async fn edits_and_deletes_by_the_author_are_broadcast_and_audited() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let parent = app.connect(&t.parent1).await;
    let tutor = app.connect(&t.tutor).await;
    ok(&parent.join(&topic, json!({})).await.expect("join"));
    ok(&tutor.join(&topic, json!({})).await.expect("join"));
    ok(&parent
        .push(
            &topic,
            "message:send",
            json!({ "client_msg_id": "e1", "body": "See you at 4" }),
        )
        .await
        .expect("send"));
    let r = tutor
        .push(
            &topic,
            "message:edit",
            json!({ "seq": 1, "body": "hijack" }),
        )
        .await
        .expect("edit");
    assert_eq!(
        r.response["reason"], "forbidden",
        "only the author may edit"
    );
    let r = parent
        .push(
            &topic,
            "message:edit",
            json!({ "seq": 1, "body": "See you at 5" }),
        )
        .await
        .expect("edit");
    assert_eq!(ok(&r)["message"]["body"], "See you at 5");
    let f = tutor
        .next_event_named(&topic, "message:updated", WAIT)
        .await
        .expect("updated");
    assert_eq!(f.payload["body"], "See you at 5");
    assert!(f.payload["edited_at"].is_string());
    ok(&parent
        .push(&topic, "message:delete", json!({ "seq": 1 }))
        .await
        .expect("delete"));
    let f = tutor
        .next_event_named(&topic, "message:updated", WAIT)
        .await
        .expect("deleted");
    assert_eq!(f.payload["body"], "");
    assert!(f.payload["deleted_at"].is_string());
    // Admins read the original texts; others may not.
    let (status, _) = app
        .get(
            &format!("/api/v1/conversations/{}/audit", t.conversation),
            Some(&t.parent1.token),
        )
        .await;
    assert_eq!(status, 403);
    let admin = common::admin(&app).await;
    let (status, audit) = app
        .get(
            &format!("/api/v1/conversations/{}/audit", t.conversation),
            Some(&admin.token),
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    let previous: Vec<&str> = audit
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["previous_body"].as_str().expect("text"))
        .collect();
    assert_eq!(previous, vec!["See you at 4", "See you at 5"]);
}

/// A socket joining a conversation while messages flow gets, live, every
/// message after the join reply's `latest_seq`: none falls between the
/// actor subscribing it and the socket learning of its join.
#[actix_web::test]
async fn joining_while_messages_flow_misses_nothing_after_latest_seq() {
    const MESSAGES: u64 = 300;
    let mut config = test_config();
    // One sender, as fast as it can: not what the rate limit is for.
    config.socket.rate_per_second = 10_000.0;
    config.socket.rate_burst = 10_000.0;
    config.limits.messages_per_user_per_second = 10_000;
    // The sender's family parent joins from 15 sockets.
    config.limits.sockets_per_user = 20;
    let app = spawn_app_with(config).await;
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let sender = std::sync::Arc::new(app.joined(&t.tutor, &topic).await);
    let s = sender.clone();
    let tp = topic.clone();
    let sending = actix_web::rt::spawn(async move {
        for i in 0..MESSAGES {
            let id = format!("flow-{i}");
            s.push_no_wait(
                &tp,
                "message:send",
                json!({ "client_msg_id": id, "body": id }),
            )
            .await
            .unwrap();
            actix_web::rt::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    });
    let mut joiners = Vec::new();
    for _ in 0..15 {
        let c = app.connect(&t.parent1).await;
        let r = c.join(&topic, json!({})).await.unwrap();
        let latest = r.response["latest_seq"].as_u64().unwrap();
        joiners.push((c, latest));
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    sending.await.unwrap();
    for (c, latest) in joiners {
        let mut seqs = Vec::new();
        while latest < MESSAGES && seqs.last().copied() != Some(MESSAGES) {
            let f = c
                .next_event_named(&topic, "message:new", WAIT)
                .await
                .unwrap_or_else(|e| panic!("after {latest}: got {seqs:?}, then {e}"));
            seqs.push(f.payload["seq"].as_u64().unwrap());
        }
        let want: Vec<u64> = (latest + 1..=MESSAGES).collect();
        assert_eq!(seqs, want, "joined at {latest}");
    }
}
